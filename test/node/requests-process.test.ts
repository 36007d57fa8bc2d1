// The node's process-level handlers (issue 9 finding 1): an error that escapes every handler, from a
// timer or a promise nobody awaited, is logged as one escaped line and the process keeps serving.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs a module in a fresh Node process (through tsx, as bin/conclave.mjs does). */
function run(source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const SCRIPT = (watch: boolean) => `
import { watchProcess } from './main/node/index.ts';
const lines = [];
const unwatch = ${watch} ? watchProcess((l) => lines.push(l)) : () => {};
setTimeout(() => { throw new Error('from a timer\\nforged: line'); }, 0);
Promise.reject(new Error('nobody awaited this'));
setTimeout(() => {
  unwatch();
  console.log(JSON.stringify({ alive: true, lines }));
}, 200);
`;

describe('process-level handlers', () => {
  it('log an uncaught exception and an unhandled rejection, escaped, and keep the process running', async () => {
    const r = await run(SCRIPT(true));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      alive: boolean;
      lines: string[];
    };
    expect(out.alive).toBe(true);
    expect(out.lines).toHaveLength(2);
    expect(out.lines.join('\n')).toMatch(/unexpected rejection.*nobody awaited this/);
    expect(out.lines.join('\n')).toMatch(/unexpected exception.*from a timer\\u\{a\}forged: line/);
    for (const l of out.lines) expect(l).not.toContain('\n');
  }, 60_000);

  it('without them, the same errors end the process (what the test above guards against)', async () => {
    const r = await run(SCRIPT(false));
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain('alive');
  }, 60_000);
});
