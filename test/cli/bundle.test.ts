// The `conclave` command's bundle (npm run build:node): it runs as the sources do, and
// bin/conclave.mjs takes it only when no source is newer.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM script without types
import { buildNode } from '../../scripts/build-node.mjs';
// @ts-expect-error: plain ESM script without types
import { newestSource } from '../../bin/sources.mjs';

const dir = mkdtempSync(join(tmpdir(), 'conclave-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the bundle', () => {
  it('runs the command: help and a usage error, as from the sources', async () => {
    // Inside the checkout, so native modules resolve from its node_modules as in dist/node.
    const out = join(process.cwd(), 'dist', 'test-bundle', `conclave-${process.pid}.mjs`);
    await buildNode({ outfile: out, quiet: true });
    try {
      // A script of its own, as bin/conclave.mjs is: the command reads process.argv from [2].
      writeFileSync(`${out}.run.mjs`, `(await import(${JSON.stringify(out)})).runAsProcess();\n`);
      const run = (...args: string[]) =>
        spawnSync(process.execPath, [`${out}.run.mjs`, ...args], {
          encoding: 'utf8',
          timeout: 60_000,
        });
      const help = run('--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/request result ID/);
      const bad = run('request', 'show');
      expect(bad.status).toBe(64);
      expect(bad.stderr).toMatch(/ID/);
    } finally {
      rmSync(out, { force: true });
      rmSync(`${out}.map`, { force: true });
      rmSync(`${out}.run.mjs`, { force: true });
      rmSync(out.replace(/\.mjs$/, '-chunks'), { recursive: true, force: true });
    }
  });

  it('is stale as soon as any source under main/ or shared/ is newer', () => {
    mkdirSync(join(dir, 'main', 'node'), { recursive: true });
    mkdirSync(join(dir, 'shared'), { recursive: true });
    const a = join(dir, 'main', 'node', 'a.ts');
    const b = join(dir, 'shared', 'b.ts');
    writeFileSync(a, '');
    writeFileSync(b, '');
    writeFileSync(join(dir, 'shared', 'notes.md'), '');
    utimesSync(a, 1000, 1000);
    utimesSync(b, 2000, 2000);
    utimesSync(join(dir, 'shared', 'notes.md'), 9000, 9000);
    expect(newestSource(dir)).toBe(2_000_000);
    utimesSync(a, 3000, 3000);
    expect(newestSource(dir)).toBe(3_000_000);
  });
});
