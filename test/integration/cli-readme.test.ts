// The README's `conclave` walk, word for word, on three nodes started as it says (`start`, no
// flags): create, join, confirm, `request sign --approve`, one `approve`, and `request wait`
// ends with exit 0 and a signature, printing the approvals as they arrive.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import { tempRoot, TestNode, waitFor } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/conclave.mjs', import.meta.url));

describe('the README signing example', () => {
  const tmp = tempRoot('conclave-readme-');
  const [a, b, c] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));

  afterAll(async () => {
    await Promise.all([a, b, c].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('works as written: one approve after sign --approve is enough in a 2-of-3 group', async () => {
    await Promise.all([a, b, c].map((n) => n.init()));
    await Promise.all([a, b, c].map((n) => n.start([])));

    const create = await a.cli(
      'group create --name treasury --threshold 2 --size 3 --scheme ed25519'.split(' '),
    );
    expect(create.code, create.stderr).toBe(0);
    const invite = create.stdout.trim().split('\n').at(-1)!;
    expect(invite).toMatch(/^conclave-invite:/);
    for (const n of [b, c]) {
      const joined = await n.cli(['group', 'join', invite]);
      expect(joined.code, joined.stderr).toBe(0);
    }
    // Each member looks at the roster and safety code (`group show`) before confirming.
    for (const n of [a, b, c]) {
      await waitFor(`${n.name} sees the full roster`, async () => {
        const g = await n.cliJson<GroupView>(['group', 'show', 'treasury']);
        return g.status === 'confirming';
      });
      const shown = await n.cli(['group', 'show', 'treasury']);
      expect(shown.stdout).toMatch(/safety code: /);
      const confirmed = await n.cli(['group', 'confirm', 'treasury']);
      expect(confirmed.code, confirmed.stderr).toBe(0);
    }
    await waitFor(
      'the group key on every node',
      async () => {
        const gs = await Promise.all(
          [a, b, c].map((n) => n.api('group.show', { group: 'treasury' })),
        );
        if (gs.some((g) => g.status === 'failed')) throw new Error('the DKG failed');
        return gs.every((g) => g.status === 'ready');
      },
      90_000,
    );

    const sign = await a.cli([
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'pay 1 BTC to X',
      '--approve',
    ]);
    expect(sign.code, sign.stderr).toBe(0);
    const id = /^request: +(\S+)$/m.exec(sign.stdout)![1]!;
    expect(sign.stdout).toContain('needs 2 of 3 approvals; approved so far: alice\n');

    // Bob sees the request in his list, then approves it.
    await waitFor('bob to receive the request', async () =>
      (await b.api('request.list', { pending: true })).some((r) => r.id === id),
    );
    const approve = await b.cli(['approve', id]);
    expect(approve.code, approve.stderr).toBe(0);

    const wait = await a.cli(['request', 'wait', id, '--timeout', '60']);
    expect(wait.code, wait.stdout + wait.stderr).toBe(0);
    expect(wait.stdout).toMatch(/^status: +done$/m);
    expect(wait.stdout).toMatch(/^signature: +[0-9a-f]{128}$/m);
    expect(wait.stdout).toMatch(/^approvals: +alice /m);

    // Waiting while the approval comes in: a line for the approvals so far, then the outcome.
    const second = await a.cli([
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'pay 2 BTC to Y',
      '--approve',
    ]);
    const id2 = /^request: +(\S+)$/m.exec(second.stdout)![1]!;
    // The wait runs as its own process; bob approves once it has printed its first line.
    const proc = spawn(process.execPath, [BIN, '--home', a.home, 'request', 'wait', id2], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((done) => proc.on('close', done));
    await waitFor('the wait to print the approvals so far', () => out.includes('\n'));
    await waitFor('bob to receive the second request', async () =>
      (await b.api('request.list', { pending: true })).some((r) => r.id === id2),
    );
    expect((await b.cli(['approve', id2])).code).toBe(0);
    const code = await exited;
    expect(code, out).toBe(0);
    const waited = { stdout: out };
    const lines = waited.stdout.split('\n');
    expect(lines[0]).toBe(`${id2}: needs 2 of 3 approvals; approved so far: alice`);
    expect(lines).toContain(`${id2}: done, signed`);
  }, 240_000);
});
