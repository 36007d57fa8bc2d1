// The OS keychain vault: secrets in the platform's credential store (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows) through @napi-rs/keyring, each call under a
// deadline.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { checkName, checkSecret, show, VaultError, type Vault } from './types.js';

export interface KeychainVaultOptions {
  /**
   * Keeps this node's entries apart from other nodes' on the same machine: a random id chosen
   * once per node home (see newKeychainNamespace). 1 to 100 characters from A-Z a-z 0-9 . _ : -
   */
  namespace: string;
  /** Deadline of each keychain call in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** Every entry's service; the account is `${namespace}/${name}`. */
export const KEYCHAIN_SERVICE = 'conclave';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 600_000;
// No '/' so that `${namespace}/${name}` splits one way only.
const NAMESPACE_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

// Without `store` the binding silently falls back to the kernel keyring on Linux, which does not
// survive a reboot; pinned, it throws instead. Other platforms ignore the `linux` bag and use
// their one store.
const ENTRY_OPTIONS = { linux: { store: 'secret-service' } } as const;

const FILE_VAULT_HINT =
  'or choose the passphrase-protected file vault with `conclave init --vault file`.';

/** A fresh random namespace for a new node home (128 bits, hex). */
export function newKeychainNamespace(): string {
  return randomBytes(16).toString('hex');
}

/** How a keychain error reads to a custodian, from the binding's message (see the tests). */
export function classifyKeychainError(message: string, timeoutMs: number): VaultError {
  const cause = new Error(message);
  // The binding reports the store locked when it could not unlock it: headless, gnome-keyring's
  // prompt cannot open and is "dismissed"; macOS refuses interaction; or the user cancelled.
  if (/prompt was dismissed|\block(ed)?\b|interaction is not allowed|cancel+ed/i.test(message))
    return new VaultError(
      'keychain_locked',
      'The OS keychain is locked, or has no default keyring yet. Unlock or create it (log in ' +
        'to your desktop session, or open your keyring app) and try again, ' +
        FILE_VAULT_HINT,
      { cause },
    );
  if (/NoReply|timed? ?out/i.test(message)) return timeoutError(timeoutMs, cause);
  // A Secret Service that runs but has no default collection to write to.
  if (/no result found/i.test(message))
    return new VaultError(
      'no_keychain',
      'The OS keychain has no default keyring to keep secrets in. Create one (for example with ' +
        'your desktop\u2019s "Passwords and Keys" app, or by logging in to a desktop session), ' +
        FILE_VAULT_HINT,
      { cause },
    );
  if (
    /DBUS_SESSION_BUS_ADDRESS|autolaunch|org\.freedesktop\.secrets|ServiceUnknown|Failed to connect to socket|not provided by any \.service files/i.test(
      message,
    )
  )
    return noKeychain(cause);
  return new VaultError(
    'keychain_failure',
    `The OS keychain reported an error: ${message.replace(/\.?$/, '.')} Try again; if it ` +
      `persists, check your keyring app, ${FILE_VAULT_HINT}`,
    { cause },
  );
}

function noKeychain(cause?: unknown): VaultError {
  return new VaultError(
    'no_keychain',
    'No OS keychain is available (Secret Service not running). Start a keyring such as ' +
      'gnome-keyring, ' +
      FILE_VAULT_HINT,
    { cause },
  );
}

function timeoutError(timeoutMs: number, cause?: unknown): VaultError {
  const within = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
  return new VaultError(
    'keychain_timeout',
    `The OS keychain did not answer within ${within}. It may be waiting for you to unlock it ` +
      'in a dialog, or its service may be stuck. Unlock your keyring or restart it and try ' +
      'again, ' +
      FILE_VAULT_HINT,
    { cause },
  );
}

// ---- the keychain thread ----
//
// The binding's constructors connect to D-Bus synchronously: measured 4 ms normally, 24 ms when
// D-Bus first starts gnome-keyring, and forever when the session bus accepts the connection but
// never answers. AsyncEntry's operations run on libuv's pool, but its AbortSignal does not stop a
// call that has started (measured with 2.1.2). So every binding call runs in one worker thread and
// the deadline is a timer on this thread. A call that misses it leaves the worker stuck in native
// code: the worker is abandoned (terminated as soon as the call returns) and the next call starts
// a new one. A thread stuck forever also keeps Node from exiting; only a signal ends the process.

type Op = 'set' | 'get' | 'delete';
interface Request {
  id: number;
  op: Op;
  service: string;
  account: string;
  secret?: Uint8Array;
}
type Reply =
  | { id: number; ok: true; value: Uint8Array | boolean | null }
  | { id: number; ok: false; code: string; message: string };

// Plain CommonJS so it runs the same under tsx, vitest, compiled output and Electron.
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
let Entry, loadError;
try {
  ({ Entry } = require(workerData.modulePath));
} catch (err) {
  loadError = err;
}
const entries = new Map();
parentPort.on('message', ({ id, op, service, account, secret }) => {
  const key = service + '\\u0000' + account;
  try {
    if (loadError) throw Object.assign(new Error(String(loadError.message)), { code: 'LoadFailure' });
    let entry = entries.get(key);
    if (!entry) {
      entry = new Entry(service, account, workerData.options);
      entries.set(key, entry);
    }
    let value = null;
    if (op === 'set') {
      entry.setSecret(secret);
      secret.fill(0);
    } else if (op === 'get') {
      const found = entry.getSecret();
      if (found !== null) {
        value = Uint8Array.from(found);
        found.fill(0);
      }
    } else if (op === 'delete') {
      value = entry.deleteCredential();
    } else throw new Error('unknown operation ' + op);
    parentPort.postMessage({ id, ok: true, value }, value instanceof Uint8Array ? [value.buffer] : []);
  } catch (err) {
    if (secret) secret.fill(0);
    // A broken connection is not reused.
    entries.delete(key);
    parentPort.postMessage({
      id,
      ok: false,
      code: String((err && err.code) || ''),
      message: String((err && err.message) || err),
    });
  }
});
`;

interface Pending {
  resolve: (value: Uint8Array | boolean | null) => void;
  reject: (err: VaultError) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
}

class KeychainThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #broken = false;

  constructor(modulePath: string) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The source is plain CommonJS: no loaders (tsx, vitest) needed, and none to keep it alive.
      execArgv: [],
      workerData: { modulePath, options: ENTRY_OPTIONS },
    });
    this.#worker.on('message', (reply: Reply) => this.#settle(reply));
    this.#worker.on('error', (err) =>
      this.#abandon(
        new VaultError(
          'keychain_failure',
          `The OS keychain helper thread failed: ${err.message}. Try again.`,
          { cause: err },
        ),
      ),
    );
    this.#worker.on('exit', () =>
      this.#abandon(
        new VaultError('keychain_failure', 'The OS keychain helper thread stopped. Try again.'),
      ),
    );
    // An idle keychain must not keep the process alive (a pending call's deadline timer does).
    // After the listeners: adding a 'message' listener refs the worker again.
    this.#worker.unref();
  }

  get broken(): boolean {
    return this.#broken;
  }

  /** Ends the thread (tests switching the binding); pending calls fail as after a crash. */
  stop(): void {
    this.#broken = true;
    void this.#worker.terminate().catch(() => undefined);
  }

  call(req: Omit<Request, 'id'>, timeoutMs: number): Promise<Uint8Array | boolean | null> {
    if (this.#broken) return Promise.reject(timeoutError(timeoutMs));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(timeoutError(timeoutMs));
        // Calls queued behind the stuck one would miss their deadlines too.
        this.#abandon(timeoutError(timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, timeoutMs });
      // The worker gets its own copy of the secret; the caller's array stays untouched.
      this.#worker.postMessage({ ...req, id } satisfies Request);
    });
  }

  #settle(reply: Reply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok) p.resolve(reply.value);
    else if (reply.code === 'LoadFailure')
      p.reject(
        new VaultError(
          'no_keychain',
          `The OS keychain module could not be loaded on this system (${reply.message}). ` +
            `Reinstall Conclave, ${FILE_VAULT_HINT}`,
          { cause: new Error(reply.message) },
        ),
      );
    else p.reject(classifyKeychainError(reply.message, p.timeoutMs));
  }

  #abandon(err: VaultError): void {
    if (!this.#broken) {
      this.#broken = true;
      // Takes effect when the native call returns; until then the thread stays blocked.
      void this.#worker.terminate().catch(() => undefined);
    }
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

let thread: KeychainThread | undefined;
let modulePath: string | undefined;

/** How long a call whose keyring daemon went away waits before it is asked once more. */
export const KEYCHAIN_RETRY_MS = 250;

/** The keyring service disconnected from D-Bus without answering: it exited mid-call. */
function keychainWentAway(err: unknown): boolean {
  return (
    err instanceof VaultError &&
    err.code === 'keychain_failure' &&
    err.cause instanceof Error &&
    /recipient disconnected from message bus without replying/i.test(err.cause.message)
  );
}

/**
 * For tests: the module the keychain thread loads instead of @napi-rs/keyring (a fake binding
 * with the same `Entry` class), or undefined for the real one. Ends the current thread.
 */
export function setKeychainModuleForTests(path: string | undefined): void {
  modulePath = path;
  thread?.stop();
  thread = undefined;
}

function keychainThread(): KeychainThread {
  if (!thread || thread.broken) {
    try {
      modulePath ??= createRequire(import.meta.url).resolve('@napi-rs/keyring');
    } catch (err) {
      throw new VaultError(
        'no_keychain',
        `The OS keychain module is not installed (${(err as Error).message}). Reinstall ` +
          `Conclave, ${FILE_VAULT_HINT}`,
        { cause: err },
      );
    }
    thread = new KeychainThread(modulePath);
  }
  return thread;
}

// ---- the vault ----

class KeychainVault implements Vault {
  readonly kind = 'keychain' as const;
  readonly #namespace: string;
  readonly #timeoutMs: number;

  constructor(namespace: string, timeoutMs: number) {
    this.#namespace = namespace;
    this.#timeoutMs = timeoutMs;
  }

  async #call(op: Op, name: string, secret?: Uint8Array): Promise<Uint8Array | boolean | null> {
    const account = `${this.#namespace}/${name}`;
    const once = () =>
      keychainThread().call({ op, service: KEYCHAIN_SERVICE, account, secret }, this.#timeoutMs);
    try {
      return await once();
    } catch (err) {
      if (!keychainWentAway(err)) throw err;
      // The keyring daemon died with this call in flight (gnome-keyring aborts now and then);
      // D-Bus starts it again on the next call. Every operation here is idempotent (set the same
      // value, read, delete), so it is asked once more, after a moment.
      await new Promise((r) => setTimeout(r, KEYCHAIN_RETRY_MS));
      return once();
    }
  }

  async put(name: string, secret: Uint8Array): Promise<void> {
    checkName(name);
    checkSecret(secret);
    await this.#call('set', name, secret);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    checkName(name);
    const value = await this.#call('get', name);
    return value instanceof Uint8Array ? value : undefined;
  }

  async delete(name: string): Promise<void> {
    checkName(name);
    await this.#call('delete', name);
  }
}

/**
 * Opens the OS keychain and proves it works: writes, reads back and deletes a probe entry, so a
 * missing, locked or broken keychain is reported here rather than when a share is first stored.
 * Errors: `bad_input`, `no_keychain`, `keychain_locked`, `keychain_timeout`, `keychain_failure`.
 */
export async function openKeychainVault(opts: KeychainVaultOptions): Promise<Vault> {
  const namespace: unknown = opts?.namespace;
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace))
    throw new VaultError(
      'bad_input',
      `A keychain namespace must be 1 to 100 characters from A-Z a-z 0-9 . _ : -, got ${show(namespace)}.`,
    );
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)
    throw new VaultError(
      'bad_input',
      `The keychain timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${show(timeoutMs)}.`,
    );

  const vault = new KeychainVault(namespace, timeoutMs);
  const probeName = `.probe.${randomBytes(8).toString('hex')}`;
  const probe = new Uint8Array(randomBytes(32));
  let written = false;
  try {
    await vault.put(probeName, probe);
    written = true;
    const back = await vault.get(probeName);
    if (!back || back.length !== probe.length || !back.every((b, i) => b === probe[i]))
      throw new VaultError(
        'keychain_failure',
        'The OS keychain did not return the value just stored in it. Check your keyring app, ' +
          FILE_VAULT_HINT,
      );
    await vault.delete(probeName);
    written = false;
  } finally {
    // Best effort: the error that got us here is the one to report.
    if (written) await vault.delete(probeName).catch(() => undefined);
  }
  return vault;
}
