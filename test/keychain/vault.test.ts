// The keychain vault against a real Secret Service (scripts/test.sh starts one), plus its refusal
// without one and its deadline against a bus that never answers (both in child processes).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Entry } from '@napi-rs/keyring';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  KEYCHAIN_SERVICE,
  newKeychainNamespace,
  openKeychainVault,
  openVault,
  VaultError,
  type Vault,
} from '../../main/vault/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VAULT_MODULE = pathToFileURL(join(ROOT, 'main/vault/index.ts')).href;

// Every entry a test writes, so that afterEach removes it even when the test fails.
const written: { vault: Vault; name: string }[] = [];
async function put(vault: Vault, name: string, secret: Uint8Array): Promise<void> {
  written.push({ vault, name });
  await vault.put(name, secret);
}
afterEach(async () => {
  for (const { vault, name } of written.splice(0)) await vault.delete(name);
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VaultError);
    return (err as VaultError).code;
  }
  return 'resolved';
}

/** Runs `body` (an ES module that prints one JSON line) with tsx; resolves with that line. */
function runChild(
  body: string,
  env: NodeJS.ProcessEnv,
): { line: Promise<Record<string, unknown>>; kill: () => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const line = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (status) =>
      reject(new Error(`child exited (${status}) without a result; stderr: ${err}`)),
    );
  });
  return { line, kill: () => child.kill('SIGKILL') };
}

/** The environment of a process with no session bus: no address and nothing to fall back to. */
async function envWithoutDbus(): Promise<NodeJS.ProcessEnv> {
  const env = { ...process.env };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  // libdbus also tries $XDG_RUNTIME_DIR/bus: point it at an empty directory.
  env.XDG_RUNTIME_DIR = await mkdtemp(join(tmpdir(), 'conclave-nobus-'));
  return env;
}

describe('keychain vault (Secret Service)', () => {
  it('stores binary secrets, reads them back exactly, and deletes them', async () => {
    const vault = await openKeychainVault({ namespace: newKeychainNamespace() });
    expect(vault.kind).toBe('keychain');
    const secrets = {
      'share/zeros': new Uint8Array(32),
      'share/nul-inside': new Uint8Array([0x41, 0x00, 0x42, 0x00, 0x00, 0xff]),
      'identity:ed25519': new Uint8Array(randomBytes(64)),
      'every.byte': Uint8Array.from({ length: 256 }, (_, i) => i),
    };
    for (const [name, secret] of Object.entries(secrets)) await put(vault, name, secret);
    for (const [name, secret] of Object.entries(secrets))
      expect(await vault.get(name)).toEqual(secret);
    for (const name of Object.keys(secrets)) {
      await vault.delete(name);
      expect(await vault.get(name)).toBeUndefined();
    }
  });

  it('keeps each secret under service "conclave", account "<namespace>/<name>", in the Secret Service', async () => {
    const namespace = newKeychainNamespace();
    const vault = await openKeychainVault({ namespace });
    const secret = new Uint8Array(randomBytes(32));
    await put(vault, 'group-1/share', secret);
    // Read without the vault, pinned to the Secret Service: the entry is not in the kernel keyring.
    const raw = new Entry(KEYCHAIN_SERVICE, `${namespace}/group-1/share`, {
      linux: { store: 'secret-service' },
    }).getSecret();
    expect(Uint8Array.from(raw ?? [])).toEqual(secret);
  });

  it('replaces a secret that is put again under the same name', async () => {
    const vault = await openKeychainVault({ namespace: newKeychainNamespace() });
    await put(vault, 'share', new Uint8Array([1, 2, 3]));
    await put(vault, 'share', new Uint8Array([4, 5]));
    expect(await vault.get('share')).toEqual(new Uint8Array([4, 5]));
  });

  it('two namespaces do not see each other’s entries', async () => {
    const a = await openKeychainVault({ namespace: newKeychainNamespace() });
    const b = await openKeychainVault({ namespace: newKeychainNamespace() });
    await put(a, 'share', new Uint8Array([1]));
    expect(await b.get('share')).toBeUndefined();
    await put(b, 'share', new Uint8Array([2]));
    await b.delete('share');
    expect(await a.get('share')).toEqual(new Uint8Array([1]));
  });

  it('get of an absent name is undefined and delete of an absent name succeeds', async () => {
    const vault = await openKeychainVault({ namespace: newKeychainNamespace() });
    expect(await vault.get('never-written')).toBeUndefined();
    await expect(vault.delete('never-written')).resolves.toBeUndefined();
  });

  it('a second vault with the same namespace reads what the first wrote', async () => {
    const namespace = newKeychainNamespace();
    const first = await openKeychainVault({ namespace });
    const secret = new Uint8Array(randomBytes(64));
    await put(first, 'identity', secret);
    const second = await openVault('keychain', { namespace, timeoutMs: 5000 });
    expect(await second.get('identity')).toEqual(secret);
  });

  it('refuses invalid names, secrets, namespaces and timeouts with bad_input', async () => {
    const vault = await openKeychainVault({ namespace: newKeychainNamespace() });
    const badNames: unknown[] = ['', 'a b', 'share\n', 'nul\0', 'é', 'x'.repeat(201), 7, null];
    for (const name of badNames) {
      expect(await code(vault.put(name as string, new Uint8Array([1])))).toBe('bad_input');
      expect(await code(vault.get(name as string))).toBe('bad_input');
      expect(await code(vault.delete(name as string))).toBe('bad_input');
    }
    expect(await code(vault.get('x'.repeat(200)))).toBe('resolved');
    for (const secret of [new Uint8Array(0), new Uint8Array(2049), [1, 2, 3], 'secret'])
      expect(await code(vault.put('share', secret as Uint8Array))).toBe('bad_input');
    for (const namespace of ['', 'a/b', 'sp ace', 'x'.repeat(101), undefined])
      expect(await code(openKeychainVault({ namespace: namespace as string }))).toBe('bad_input');
    for (const timeoutMs of [0, -1, 1.5, Infinity, 600_001])
      expect(await code(openKeychainVault({ namespace: 'ns', timeoutMs }))).toBe('bad_input');
  });
});

describe('keychain vault without a Secret Service', () => {
  it('refuses to open without a D-Bus session, with no_keychain and a message saying what to do', async () => {
    const body = `
      const { openKeychainVault } = await import(${JSON.stringify(VAULT_MODULE)});
      try {
        await openKeychainVault({ namespace: 'no-bus-test' });
        console.log(JSON.stringify({ opened: true }));
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, message: err.message }));
      }`;
    const child = runChild(body, await envWithoutDbus());
    const result = await child.line;
    child.kill();
    expect(result).toEqual({
      code: 'no_keychain',
      message:
        'No OS keychain is available (Secret Service not running). Start a keyring such as ' +
        'gnome-keyring, or choose the passphrase-protected file vault with `conclave init --vault file`.',
    });
  });

  describe.runIf(process.platform === 'linux')('against a session bus that never answers', () => {
    let server: Server | undefined;
    const sockets: Socket[] = [];
    let dir: string | undefined;
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('gives up at the deadline with keychain_timeout', async () => {
      dir = await mkdtemp(join(tmpdir(), 'conclave-deafbus-'));
      const path = join(dir, 'bus');
      // Accepts the connection, reads the client's AUTH line and never replies: the binding's
      // constructor blocks in libdbus, as it would against a stopped dbus-daemon.
      server = createServer((s) => sockets.push(s.on('data', () => undefined)));
      await new Promise<void>((resolve) => server!.listen(path, resolve));
      const env = await envWithoutDbus();
      env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${path}`;
      const body = `
        const { openKeychainVault } = await import(${JSON.stringify(VAULT_MODULE)});
        const t0 = performance.now();
        try {
          await openKeychainVault({ namespace: 'deaf-bus-test', timeoutMs: 300 });
          console.log(JSON.stringify({ opened: true }));
        } catch (err) {
          const ms = Math.round(performance.now() - t0);
          console.log(JSON.stringify({ code: err.code, message: err.message, ms }));
        }`;
      const child = runChild(body, env);
      try {
        const result = await child.line;
        expect(result.code).toBe('keychain_timeout');
        expect(result.message).toMatch(/^The OS keychain did not answer within 300 ms\. /);
        expect(result.ms).toBeGreaterThanOrEqual(300);
        expect(result.ms).toBeLessThan(2000);
      } finally {
        // The helper thread stays blocked in libdbus until the bus answers, which also keeps the
        // child from exiting on its own.
        child.kill();
      }
    });
  });
});
