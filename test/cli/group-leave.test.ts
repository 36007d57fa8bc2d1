// `conclave group leave`: says what leaving costs, has the custodian type the group's name (or
// --yes), then sends group.leave with confirm: true and prints what the node says it means.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../main/cli.js';
import { serveControl, type ControlServer } from '../../main/server/control.js';
import { fakeApi, type FakeApi } from '../server/fake-api.js';

let root: string;
let home: string;
let api: FakeApi;
let server: ControlServer | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'conclave-cli-leave-'));
  home = join(root, 'home');
  api = fakeApi();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function leave(extra: string[], ask?: CliIO['ask']) {
  server ??= await serveControl(home, api);
  let out = '';
  let err = '';
  const code = await main(['--home', home, 'group', 'leave', 'treasury', ...extra], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    ask,
  });
  return { code, out, err };
}
const leaves = () => api.calls.filter((c) => c.method === 'group.leave');

describe('conclave group leave', () => {
  it('without a terminal and without --yes it refuses and leaves nothing', async () => {
    const r = await leave([], async () => undefined);
    expect(r.code).toBe(64);
    expect(r.err).toContain('no terminal to confirm at; pass --yes');
    expect(leaves()).toEqual([]);
  });

  it('spells out the cost for a ready group and refuses another name', async () => {
    const questions: string[] = [];
    const r = await leave([], async (q) => {
      questions.push(q);
      return 'treasure';
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain('deletes your share of its key from this computer, for good');
    expect(r.err).toContain('needs 2 of 3 shares to sign; 2 would be left');
    expect(r.err).toContain('not left: you typed "treasure"');
    expect(questions).toEqual(['Type the group name (treasury) to leave it: ']);
    expect(leaves()).toEqual([]);
  });

  it('leaves once the name is typed, with confirm: true, and prints the warning', async () => {
    const r = await leave([], async () => 'treasury\n');
    expect(r.code).toBe(0);
    expect(leaves()).toEqual([
      { method: 'group.leave', input: { group: 'g-7f3a', confirm: true } },
    ]);
    expect(r.out).toContain('left treasury: your share is deleted from this computer');
    expect(r.out).toContain('2 are left');
  });

  it('--yes leaves without asking', async () => {
    const r = await leave(['--yes'], async () => {
      throw new Error('asked despite --yes');
    });
    expect(r.code).toBe(0);
    expect(leaves()).toHaveLength(1);
  });
});
