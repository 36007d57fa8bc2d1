// `conclave start --ui` on a fresh home: the first-run API creates the identity and starts the
// node; the "try it alone" sandbox then runs a real 2-of-3 group with two simulated custodians.
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView, SandboxMember } from '../../shared/api/index.js';
import { tempRoot, waitFor } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempRoot();
let proc: ChildProcess | undefined;
let logs = () => '';
const openers: number[] = [];

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (p && p.exitCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) console.log(logs());
  await stop(proc);
  // The fake browser openers run detached, each in a process group of its own.
  for (const pid of openers) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch (_) {
      // Already gone.
    }
  }
  tmp.cleanup();
});

/** Every process's command line, as `ps` shows it to any user on the machine. */
function allCommandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch (_) {
      // It exited meanwhile.
    }
  }
  return lines;
}

it.runIf(process.platform === 'linux')(
  '`start --ui --open` opens the browser without the token on any command line',
  async () => {
    const home = join(tmp.root, 'opener');
    const bin = join(tmp.root, 'bin');
    const record = join(tmp.root, 'opened.txt');
    mkdirSync(bin, { recursive: true });
    // A stand-in for xdg-open that stays alive (so its argv is in /proc) and records what it got.
    writeFileSync(
      join(bin, 'xdg-open'),
      `#!/bin/sh\nprintf '%s\\n%s\\n' "$$" "$1" > "${record}.tmp" && mv "${record}.tmp" "${record}"\nsleep 60\n`,
    );
    chmodSync(join(bin, 'xdg-open'), 0o755);
    let out = '';
    let err = '';
    const ui = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'conclave.mjs'),
        '--home',
        home,
        'start',
        '--ui',
        '--open',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DISPLAY: ':99' },
      },
    );
    try {
      ui.stdout!.on('data', (d) => (out += d));
      ui.stderr!.on('data', (d) => (err += d));
      const url = await waitFor('the UI line', () => {
        if (ui.exitCode !== null) throw new Error(err);
        return /^UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(out)?.[1];
      });
      const token = url.replace(/.*token=/, '');
      const [pid, target] = await waitFor('the browser opener', () => {
        if (!existsSync(record)) return undefined;
        const lines = readFileSync(record, 'utf8').split('\n');
        openers.push(Number(lines[0]));
        return [Number(lines[0]), lines[1]!] as const;
      });
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(target);
      const leaks = allCommandLines().filter((line) => line.includes(token));
      expect(leaks).toEqual([]);

      // The opener got a private file holding a one-time link, not the token.
      expect(target).toMatch(/^file:\/\//);
      const file = fileURLToPath(target);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
      const page = readFileSync(file, 'utf8');
      expect(page).not.toContain(token);
      const link = /url=(http:\/\/127\.0\.0\.1:\d+\/open\/[\w-]+)"/.exec(page)?.[1];
      expect(link).toBeDefined();
      const opened = await fetch(link!, { redirect: 'manual' });
      expect(opened.status).toBe(200);
      expect(opened.headers.get('set-cookie')).toMatch(/^conclave_session_\d+=/);
      // Used once: the link is spent and the file is gone.
      expect((await fetch(link!, { redirect: 'manual' })).status).toBe(401);
      await waitFor('the open file to be deleted', () => !existsSync(dirname(file)));
    } finally {
      await stop(ui);
    }
  },
  60_000,
);

it('creates the identity from the first-run API, then walks the sandbox to a verified signature', async () => {
  const home = join(tmp.root, 'solo');
  let out = '';
  let err = '';
  proc = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'conclave.mjs'),
      '--home',
      home,
      'start',
      '--ui',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  logs = () => err;
  const url = await waitFor(
    'the UI line',
    () => {
      if (proc!.exitCode !== null) throw new Error(err);
      return /^UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(out)?.[1];
    },
    60_000,
  );
  const base = url.replace(/\/\?token=.*/, '');
  const token = url.replace(/.*token=/, '');
  const call = async <T>(method: string, body: unknown = {}): Promise<T> => {
    const res = await fetch(`${base}/api/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as T & { error?: { code: string; message: string } };
    if (json.error) throw Object.assign(new Error(json.error.message), { code: json.error.code });
    return json;
  };
  // Without the token only the token page answers.
  expect((await fetch(`${base}/api/node.status`, { method: 'POST', body: '{}' })).status).toBe(401);
  await expect(call('node.status')).rejects.toMatchObject({ code: 'not_ready' });
  const me = await call<{ name: string; peerId: string }>('identity.init', {
    name: 'solo',
    vault: 'keychain',
  });
  expect(me.name).toBe('solo');
  await expect(call('identity.init', { name: 'again', vault: 'keychain' })).rejects.toMatchObject({
    code: 'conflict',
  });

  const sandbox = await call<GroupView>('sandbox.start');
  expect(sandbox).toMatchObject({ threshold: 2, size: 3, scheme: 'ed25519' });
  await waitFor(
    'the roster',
    async () =>
      (await call<GroupView>('group.show', { group: sandbox.id })).status === 'confirming',
  );
  await call('group.confirm', { group: sandbox.id });
  const ready = await waitFor(
    'the sandbox key',
    async () => {
      const g = await call<GroupView>('group.show', { group: sandbox.id });
      return g.status === 'ready' ? g : undefined;
    },
    60_000,
  );
  expect(ready.members.map((m) => m.name).sort()).toEqual([
    'Bob (simulated)',
    'Carol (simulated)',
    'solo',
  ]);

  const req = await call<RequestView>('request.sign', {
    group: sandbox.id,
    message: 'hello from the sandbox',
    encoding: 'utf8',
  });
  await call('request.approve', { id: req.id });
  const sims = await waitFor('Bob to have it pending', async () => {
    const m = await call<SandboxMember[]>('sandbox.members');
    return m[0]!.pending.includes(req.id) ? m : undefined;
  });
  await call('sandbox.decide', { member: sims[0]!.name, id: req.id, decision: 'approve' });
  const done = await waitFor(
    'the signature',
    async () => {
      const r = await call<RequestView>('request.show', { id: req.id });
      return r.status === 'done' ? r : undefined;
    },
    60_000,
  );
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(hexToBytes(ready.publicKey!)).toString('base64url'),
    },
    format: 'jwk',
  });
  expect(
    nodeVerify(
      null,
      utf8ToBytes('hello from the sandbox'),
      key,
      Buffer.from(hexToBytes(done.signature!)),
    ),
  ).toBe(true);
}, 180_000);
