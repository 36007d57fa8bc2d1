// `npm run build:electron`: bundles Electron's main process (ESM, for Electron 45's Node 22) and the
// sandboxed preload (CommonJS, only `electron` left outside) into dist/electron/, with the tray icon.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into `outdir` (default dist/electron) and returns esbuild's metafiles, for tests. */
export async function buildElectron({
  outdir = join(root, 'dist', 'electron'),
  quiet = false,
} = {}) {
  mkdirSync(outdir, { recursive: true });
  const common = {
    absWorkingDir: root,
    bundle: true,
    sourcemap: true,
    metafile: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
  };
  const main = await build({
    ...common,
    entryPoints: ['main/electron/main.ts'],
    outfile: join(outdir, 'main.js'),
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // Dependencies stay in node_modules (electron-builder packs the production ones, native
    // binaries included); only our own TypeScript is bundled.
    packages: 'external',
  });
  const preload = await build({
    ...common,
    entryPoints: ['main/electron/preload.ts'],
    outfile: join(outdir, 'preload.cjs'),
    // A sandboxed preload has a browser-like global scope and a `require` that knows `electron`.
    platform: 'browser',
    format: 'cjs',
    target: 'chrome140',
    external: ['electron'],
  });
  copyFileSync(join(root, 'build', 'tray.png'), join(outdir, 'tray.png'));
  return { main: main.metafile, preload: preload.metafile };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildElectron();
  console.log('built dist/electron/main.js, dist/electron/preload.cjs');
}
