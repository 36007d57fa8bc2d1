// `npm run build:node`: bundles the `conclave` command (main/cli-entry.ts, main/cli.ts and
// everything of ours they import) into dist/node/conclave.mjs and its chunks, so the command and the
// node start without compiling TypeScript or resolving hundreds of modules at run time
// (bin/conclave.mjs falls back to tsx when the bundle is missing or older than the sources).
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE, ROOT, newestSource } from '../bin/sources.mjs';

export { BUNDLE, newestSource };

/** A chunk no build has written for this long is no longer loaded by any starting process. */
const STALE_CHUNK_MS = 10 * 60_000;

/** Where the chunks of the bundle `outfile` go (dist/node/conclave.mjs → dist/node/conclave-chunks). */
export function chunkDir(outfile = BUNDLE) {
  const out = resolve(ROOT, outfile);
  return join(dirname(out), `${basename(out, '.mjs')}-chunks`);
}

export async function buildNode({ outfile: out = BUNDLE, quiet = false } = {}) {
  const outfile = resolve(ROOT, out);
  const outdir = dirname(outfile);
  const stem = basename(outfile, '.mjs');
  const chunks = chunkDir(outfile);
  mkdirSync(chunks, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    // The entry is small: it begins a `start`'s scrypt (in the thread pool) before the rest loads.
    entryPoints: { [stem]: 'main/cli-entry.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    // Split at dynamic imports: main/cli.ts, and the node that `start` imports, load only when used
    // (a command that only talks to the node never parses libp2p).
    splitting: true,
    chunkNames: `${relative(outdir, chunks)}/[name]-[hash]`,
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
    write: false,
  });
  // Chunks first and the entry last, each renamed into place whole: a `conclave` starting meanwhile
  // loads the previous build or this one, never a half-written file or an entry without its chunks.
  const entry = [outfile, `${outfile}.map`];
  const files = [...result.outputFiles].sort(
    (a, b) => entry.indexOf(a.path) - entry.indexOf(b.path),
  );
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  // Earlier builds' chunks, once no process can still be starting from them (each build rewrites
  // the chunks it uses, so an old mtime means no recent entry refers to it).
  const written = new Set(files.map((f) => f.path));
  const now = Date.now();
  for (const name of readdirSync(chunks)) {
    const p = join(chunks, name);
    if (!written.has(p) && now - statSync(p).mtimeMs > STALE_CHUNK_MS) rmSync(p, { force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildNode();
