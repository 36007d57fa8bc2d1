// Custodian node entry points used by the CLI and Electron main: init, start, relay.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ApiError, type Api, type ApiEvent } from '../../shared/api/index.js';
import { makeEntry } from '../../shared/audit/chain.js';
import { ed25519Signer, warmEd25519 } from '../crypto/ed25519.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import { logSafe } from '../../shared/protocol/text.js';
import {
  createHost,
  createRelay,
  generateIdentity,
  privateKeyFromBytes,
  privateKeyToBytes,
  publicKeyFromPeerId,
  type ConnectionLimits,
} from '../net/index.js';
import { openStore, type Store } from '../store/index.js';
import { openFileVault, openKeychainVault, VaultError, type Vault } from '../vault/index.js';
import { badRowError, isPeerId, readRelays } from './common.js';
import { CUSTODIAN_FAULTS, Custodian, type Identity } from './custodian.js';
import { Sandbox } from './sandbox.js';

export interface InitOptions {
  /** The node's home directory (SQLite database, control socket). Created if missing. */
  home: string;
  name: string;
  vault: 'keychain' | 'file';
  /** Required for the file vault. */
  passphrase?: string;
}

export interface InitResult {
  peerId: string;
  name: string;
  fingerprint: string;
  vault: 'keychain' | 'file';
  home: string;
}

export interface StartOptions {
  home: string;
  /** Multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/0. */
  listen: string[];
  /** Relay multiaddrs (ending in /p2p/<relayPeerId>) to reserve a slot on. */
  relays: string[];
  mdns: boolean;
  passphrase?: string;
  /** One log line (no secrets); the CLI writes them to stderr. */
  log: (line: string) => void;
}

export interface RunningNode {
  readonly api: Api;
  readonly peerId: string;
  addrs(): string[];
  /** Change notifications for clients such as the UI; returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void;
  stop(): Promise<void>;
}

const IDENTITY = 'identity';

/** The log of every node running in this process, for the process-level handlers below. */
const processLogs = new Set<{ log: (line: string) => void }>();

/** One line about an error nobody caught: its name, message and where it was thrown, no data. */
function unexpected(what: string, e: unknown): void {
  const err = e instanceof Error ? e : undefined;
  const where = err?.stack
    ?.split('\n')
    .find((l) => /^\s+at /.test(l))
    ?.trim();
  const line = `unexpected ${what}, the node keeps serving: ${err?.name ?? typeof e}: ${logSafe(err ? err.message : String(e), 300)}${where ? ` (${logSafe(where, 200)})` : ''}`;
  for (const { log } of processLogs) {
    try {
      log(line);
    } catch {
      // A log that fails cannot be told about it.
    }
  }
}
const onRejection = (e: unknown) => unexpected('rejection', e);
const onException = (e: unknown) => unexpected('exception', e);

/**
 * Keeps the process serving through an error that escaped every handler (issue 9 finding 1: a
 * request that made a timer throw took the node down on every restart): it is logged instead.
 * Installed while at least one node runs in this process; returns the uninstaller.
 */
export function watchProcess(log: (line: string) => void): () => void {
  if (processLogs.size === 0) {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
  }
  // One entry per node, even when two nodes share a log function (the sandbox's do).
  const entry = { log };
  processLogs.add(entry);
  return () => {
    if (!processLogs.delete(entry) || processLogs.size > 0) return;
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

/** The vault entry holding the practice members' file-vault passphrase (see Sandbox). */
const SANDBOX_SECRET = 'sandbox-passphrase';

function dbPath(home: string): string {
  return join(home, 'conclave.db');
}

async function openNodeVault(
  store: Store,
  home: string,
  kind: 'keychain' | 'file',
  passphrase: string | undefined,
  create: boolean,
): Promise<Vault> {
  try {
    if (kind === 'file') {
      if (!passphrase)
        // `locked`: the desktop app and browser mode then ask for it on their unlock screen.
        throw new ApiError(
          'locked',
          'the file vault is locked: it needs its passphrase (set CONCLAVE_PASSPHRASE or pass ' +
            '--passphrase-file FILE, or start with --ui to type it in the browser)',
        );
      return await openFileVault({ dir: join(home, 'vault'), passphrase, create });
    }
    let ns = store.meta.get('vaultNamespace');
    if (!ns) {
      ns = randomBytes(12).toString('hex');
      store.meta.set('vaultNamespace', ns);
    }
    return await openKeychainVault({ namespace: ns });
  } catch (e) {
    // Distinct from a locked keychain: there is nothing to unlock, so the UI offers the file vault.
    if (e instanceof VaultError && e.code === 'no_keychain') throw keychainUnavailable(e);
    if (e instanceof VaultError) throw new ApiError('vault', e.message);
    throw e;
  }
}

export const KEYCHAIN_UNAVAILABLE =
  'This computer has no keychain service (Secret Service) running, so your shares cannot be ' +
  'kept in it. Keep them in a file protected by a passphrase instead, or start a keyring ' +
  '(such as gnome-keyring) and try again.';

function keychainUnavailable(e: VaultError): ApiError {
  // The library's own words (which store, which socket) stay for whoever reads the details.
  const detail = e.cause instanceof Error ? ` (${logSafe(e.cause.message, 200)})` : '';
  return new ApiError('keychain_unavailable', KEYCHAIN_UNAVAILABLE + detail);
}

/**
 * Connection limits from CONCLAVE_NET_LIMITS, a JSON object such as {"maxOutsiders":4} (tests use
 * small ones); each limit not given keeps its default (see DEFAULT_CONNECTION_LIMITS).
 */
function limitsFromEnv(): Partial<ConnectionLimits> | undefined {
  const raw = process.env.CONCLAVE_NET_LIMITS;
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ApiError(
      'bad_input',
      `CONCLAVE_NET_LIMITS must be a JSON object of connection limits, got ${JSON.stringify(raw.slice(0, 200))}`,
    );
  return v as Partial<ConnectionLimits>;
}

/** Whether a home already holds a custodian identity (so the node can start). */
export function isInitialized(home: string): boolean {
  if (!existsSync(dbPath(home))) return false;
  const store = openStore(dbPath(home));
  try {
    return store.meta.get('peerId') !== undefined;
  } finally {
    store.close();
  }
}

/** Where this home's identity keeps its secrets, or undefined when it has no identity yet. */
export function vaultKind(home: string): 'keychain' | 'file' | undefined {
  if (!existsSync(dbPath(home))) return undefined;
  const store = openStore(dbPath(home));
  try {
    if (store.meta.get('peerId') === undefined) return undefined;
    const kind = store.meta.get('vault');
    return kind === 'file' || kind === 'keychain' ? kind : undefined;
  } finally {
    store.close();
  }
}

/** Creates the custodian identity: an Ed25519 libp2p key kept in the vault, and a display name. */
export async function initIdentity(opts: InitOptions): Promise<InitResult> {
  const name = opts.name.trim();
  if (!name || name.length > 64) throw new ApiError('bad_input', 'name: 1 to 64 characters');
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  const store = openStore(dbPath(opts.home));
  try {
    const existing = store.meta.get('peerId');
    if (existing)
      throw new ApiError(
        'conflict',
        `this home is already initialised as ${store.meta.get('name')} (${existing}); use another --home`,
      );
    const vault = await openNodeVault(store, opts.home, opts.vault, opts.passphrase, true);
    const id = await generateIdentity();
    await vault.put(IDENTITY, privateKeyToBytes(id.privateKey));
    const fp = fingerprint(id.publicKeyRaw);
    store.tx(() => {
      store.meta.set('peerId', id.peerId);
      store.meta.set('name', name);
      store.meta.set('vault', opts.vault);
      store.meta.set('createdAt', String(Date.now()));
      const seed = id.privateKey.raw.subarray(0, 32);
      store.audit.append(
        makeEntry(
          undefined,
          {
            author: id.peerId,
            at: Date.now(),
            type: 'identity.created',
            body: { name, fingerprint: fp, vault: opts.vault },
          },
          ed25519Signer(seed),
        ),
      );
    });
    return { peerId: id.peerId, name, fingerprint: fp, vault: opts.vault, home: opts.home };
  } finally {
    store.close();
  }
}

/** Starts the custodian node: vault, store, libp2p host, protocol handlers. */
export async function startCustodian(opts: StartOptions): Promise<RunningNode> {
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  const store = openStore(dbPath(opts.home));
  let host: Awaited<ReturnType<typeof createHost>> | undefined;
  try {
    const peerId = store.meta.get('peerId');
    const name = store.meta.get('name');
    const kind = store.meta.get('vault');
    if (!peerId || !name || !kind)
      throw new ApiError(
        'not_ready',
        `no identity in ${opts.home}; create one with: conclave --home ${opts.home} init --name YOUR_NAME`,
      );
    // Named when damaged, before the vault opens (a bad peer id threw a raw error after it).
    if (kind !== 'keychain' && kind !== 'file') throw badRowError('vault', '"keychain" or "file"');
    if (!isPeerId(peerId)) throw badRowError('peerId', 'a peer id');
    const opening = openNodeVault(store, opts.home, kind, opts.passphrase, false);
    // The main thread is idle while the vault's scrypt runs in the thread pool: the identity
    // signer's self-test (right after) finds noble's base-point table built.
    warmEd25519();
    const vault = await opening;
    const keyBytes = await vault.get(IDENTITY);
    if (!keyBytes)
      throw new ApiError(
        'vault',
        `the identity key of ${name} is missing from the ${kind === 'keychain' ? 'OS keychain' : 'file vault'}`,
      );
    const privateKey = privateKeyFromBytes(keyBytes);
    keyBytes.fill(0);
    const seed = privateKey.raw.slice(0, 32);
    const identity: Identity = {
      peerId,
      name,
      publicKey: publicKeyFromPeerId(peerId),
      sign: ed25519Signer(seed),
    };
    // Relays from the command line and from the settings (the UI's), each once.
    const storedRelays = readRelays(store, opts.log);
    const relays = [...new Set([...opts.relays, ...storedRelays])];
    host = await createHost({
      privateKey,
      listen: opts.listen,
      relays,
      mdns: opts.mdns,
      limits: limitsFromEnv(),
      log: opts.log,
    });
    if (host.peerId !== peerId)
      throw new ApiError('vault', 'the identity key in the vault does not match this home');
    await host.start();
    const faultEnv = process.env.CONCLAVE_FAULT;
    const node = new Custodian({
      store,
      vault,
      host,
      identity,
      log: opts.log,
      signTimeoutMs: Number(process.env.CONCLAVE_SIGN_TIMEOUT_MS) || undefined,
      ceremonyTimeoutMs: Number(process.env.CONCLAVE_CEREMONY_TIMEOUT_MS) || undefined,
      fault: CUSTODIAN_FAULTS.find((f) => f === faultEnv),
      tamper: process.env.CONCLAVE_TAMPER
        ? { kase: process.env.CONCLAVE_TAMPER, stateFile: join(opts.home, 'adversary.json') }
        : undefined,
    });
    await node.start();
    const unwatch = watchProcess(opts.log);
    const h = host;
    // The practice group is kept under the home and brought back at the next start (not a new one).
    const sandbox = new Sandbox(node.api(), { initIdentity, startCustodian }, opts.log, {
      dir: join(opts.home, 'sandbox'),
      getSecret: async () => {
        const b = await vault.get(SANDBOX_SECRET);
        return b ? new TextDecoder().decode(b) : undefined;
      },
      putSecret: (v) => vault.put(SANDBOX_SECRET, new TextEncoder().encode(v)),
      introduce: async (peer, addrs) => void (await h.connect(peer, { addrs, timeoutMs: 5000 })),
    });
    const api: Api = {
      ...node.api(),
      'identity.init': async () => {
        throw new ApiError('conflict', `this node already has an identity: ${name} (${peerId})`);
      },
      'vault.unlock': async () => {
        throw new ApiError('conflict', 'this node is already running: its vault is open');
      },
      'sandbox.start': () => sandbox.start(),
      'sandbox.members': () => sandbox.members(),
      'sandbox.decide': (i) => sandbox.decide(i.member, i.id, i.decision, i.reason),
    };
    return {
      api,
      peerId,
      addrs: () => h.addrs(),
      onEvent: (cb) => node.onEvent(cb),
      async stop() {
        unwatch();
        await sandbox.stop();
        await node.stop();
        await h.stop();
        seed.fill(0);
        store.close();
      },
    };
  } catch (e) {
    await host?.stop().catch(() => undefined);
    store.close();
    throw e;
  }
}

/** Runs a circuit-relay-v2 server that any custodian can use to be reachable behind NAT. */
export async function runRelay(opts: {
  listen: string[];
  log: (line: string) => void;
}): Promise<{ addrs: string[]; stop(): Promise<void> }> {
  const relay = await createRelay({ listen: opts.listen, log: opts.log });
  return { addrs: relay.addrs(), stop: () => relay.stop() };
}
