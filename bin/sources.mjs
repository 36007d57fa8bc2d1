// When the TypeScript sources of the `conclave` command last changed: the bundle in dist/node is
// used only when it is at least that new (bin/conclave.mjs, scripts/build-node.mjs).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'node', 'conclave.mjs');

/** Newest modification time (ms) of the .ts files under main/ and shared/. */
export function newestSource(root = ROOT) {
  let newest = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const s of ['main', 'shared']) if (existsSync(join(root, s))) walk(join(root, s));
  return newest;
}

/** Whether the bundle exists and is at least as new as every source. */
export function bundleIsFresh() {
  return existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= newestSource();
}
