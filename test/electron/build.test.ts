// The Electron bundles import only what a packaged app has: Node built-ins, `electron`, and the
// production dependencies electron-builder packs (a devDependency would be missing at run time).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metafile } from 'esbuild';
import { buildElectron } from '../../scripts/build-electron.mjs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  main: string;
  dependencies: Record<string, string>;
};

let dir: string;
let meta: { main: Metafile; preload: Metafile };

function externals(m: Metafile): string[] {
  const all = Object.values(m.outputs).flatMap((o) =>
    o.imports.filter((i) => i.external).map((i) => i.path),
  );
  return [...new Set(all)].sort();
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-electron-build-'));
  meta = await buildElectron({ outdir: dir, quiet: true });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build:electron', () => {
  it('writes main.js, preload.cjs and the tray icon', () => {
    for (const f of ['main.js', 'preload.cjs', 'tray.png'])
      expect(existsSync(join(dir, f)), f).toBe(true);
    expect(pkg.main).toBe('dist/electron/main.js');
  });

  it('leaves only Node built-ins, electron and production dependencies outside main.js', () => {
    const allowed = (spec: string) =>
      spec.startsWith('node:') ||
      builtinModules.includes(spec) ||
      spec === 'electron' ||
      packageName(spec) in pkg.dependencies;
    const imports = externals(meta.main);
    expect(imports).toContain('electron');
    expect(imports.filter((s) => !allowed(s))).toEqual([]);
  });

  it('bundles the preload as CommonJS that requires nothing but electron', () => {
    expect(externals(meta.preload)).toEqual(['electron']);
    const code = readFileSync(join(dir, 'preload.cjs'), 'utf8');
    expect([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
  });
});
