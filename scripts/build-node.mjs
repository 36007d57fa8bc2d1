// `npm run build:node`: bundles the `conclave` command (main/cli.ts and everything of ours it
// imports) into dist/node/conclave.mjs, so the command and the node start without compiling
// TypeScript or resolving hundreds of modules at run time (bin/conclave.mjs falls back to tsx when
// the bundle is missing or older than the sources).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE, ROOT, newestSource } from '../bin/sources.mjs';

export { BUNDLE, newestSource };

export async function buildNode({ outfile = BUNDLE, quiet = false } = {}) {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['main/cli.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies are bundled too (loading hundreds of small ESM files is most of the start-up
    // time); native modules and Electron stay outside. `require` for the CommonJS ones inside.
    external: ['libsql', '@napi-rs/keyring', 'electron'],
    banner: {
      js: "import { createRequire as __conclaveRequire } from 'node:module'; const require = __conclaveRequire(import.meta.url);",
    },
    sourcemap: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildNode();
