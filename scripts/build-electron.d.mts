// Types of scripts/build-electron.mjs, for the test that checks what the bundles import.
import type { Metafile } from 'esbuild';

export function buildElectron(options?: {
  outdir?: string;
  quiet?: boolean;
}): Promise<{ main: Metafile; preload: Metafile }>;
