// Browser mode on a computer without a keychain service, and a file-vault node restarted without
// its passphrase: the first-run API says `keychain_unavailable` (the real keyring library, no
// stub) and takes the file vault instead; the restarted node waits `locked` until `vault.unlock`.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { tempRoot, waitFor } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempRoot();
const home = join(tmp.root, 'filevault');
const PASSPHRASE = 'unlock test passphrase 7f3a';
const running: ChildProcess[] = [];

afterAll(async () => {
  for (const p of running) await stop(p);
  tmp.cleanup();
});

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

interface Ui {
  proc: ChildProcess;
  logs(): string;
  call<T>(method: string, body?: unknown): Promise<T>;
}

/** `conclave start --ui` on `home`, with no passphrase anywhere and no keychain service. */
async function startUi(): Promise<Ui> {
  const env = { ...process.env };
  delete env.CONCLAVE_PASSPHRASE;
  // A session bus that does not exist: no Secret Service can answer.
  env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(tmp.root, 'no-such-bus')}`;
  let out = '';
  let err = '';
  const proc = spawn(
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
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  running.push(proc);
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const url = await waitFor(
    'the UI line',
    () => {
      if (proc.exitCode !== null) throw new Error(err);
      return /^UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(out)?.[1];
    },
    60_000,
  );
  const base = url.replace(/\/\?token=.*/, '');
  const token = url.replace(/.*token=/, '');
  return {
    proc,
    logs: () => out + err,
    async call<T>(method: string, body: unknown = {}): Promise<T> {
      const res = await fetch(`${base}/api/${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as T & { error?: { code: string; message: string } };
      if (json.error)
        throw Object.assign(new Error(json.error.message), {
          code: json.error.code,
          status: res.status,
        });
      return json;
    },
  };
}

/** Every file under `dir` that holds `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    if (readFileSync(path).includes(needle)) hits.push(path);
  }
  return hits;
}

it('without a Secret Service, first run answers keychain_unavailable and takes the file vault', async () => {
  const ui = await startUi();
  await expect(ui.call('node.status')).rejects.toMatchObject({ code: 'not_ready' });
  const refused = ui.call('identity.init', { name: 'filer', vault: 'keychain' });
  await expect(refused).rejects.toMatchObject({ code: 'keychain_unavailable', status: 503 });
  await expect(refused).rejects.toThrow(/no keychain service \(Secret Service\) running/);
  await expect(refused).rejects.not.toThrow(/unlock|conclave init/i);
  // Same server, same screen: the file vault works.
  const me = await ui.call<{ name: string; vault: string }>('identity.init', {
    name: 'filer',
    vault: 'file',
    passphrase: PASSPHRASE,
  });
  expect(me).toMatchObject({ name: 'filer', vault: 'file' });
  await stop(ui.proc);
}, 90_000);

it('a file-vault node started without its passphrase is locked until vault.unlock', async () => {
  const ui = await startUi();
  expect(ui.logs()).toMatch(/file vault is locked/);
  await expect(ui.call('node.status')).rejects.toMatchObject({ code: 'locked', status: 423 });
  await expect(ui.call('group.list')).rejects.toMatchObject({ code: 'locked' });

  // A wrong passphrase: a clear error, answered after the added delay.
  const t0 = Date.now();
  await expect(ui.call('vault.unlock', { passphrase: 'not the passphrase' })).rejects.toMatchObject(
    { code: 'vault' },
  );
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  await expect(ui.call('node.status')).rejects.toMatchObject({ code: 'locked' });

  const status = await ui.call<{ name: string; vault: string }>('vault.unlock', {
    passphrase: PASSPHRASE,
  });
  expect(status).toMatchObject({ name: 'filer', vault: 'file' });
  // It serves: the node's own operations answer.
  expect(await ui.call<unknown[]>('group.list')).toEqual([]);
  await expect(ui.call('vault.unlock', { passphrase: PASSPHRASE })).rejects.toMatchObject({
    code: 'conflict',
  });
  await waitFor('the ready line', () => /ready: /.test(ui.logs()));

  // The passphrase went nowhere but the vault: not the logs, argv or any file in the home.
  expect(ui.logs()).not.toContain(PASSPHRASE);
  expect(readFileSync(`/proc/${ui.proc.pid}/cmdline`, 'utf8')).not.toContain(PASSPHRASE);
  expect(filesHolding(home, PASSPHRASE)).toEqual([]);
  await stop(ui.proc);
}, 90_000);
