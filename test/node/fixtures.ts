// Builds one node service alone: an in-memory store, real identities, and fakes for the network,
// the vault and whatever other services the one under test calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { onTestFinished } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { defaultPolicy, policyHash } from '../../shared/policy/policy.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import { signStatement, type RequestBody } from '../../shared/protocol/wire.js';
import { generateIdentity, type Host } from '../../main/net/index.js';
import { joinToken } from '../../main/node/common.js';
import { NodeContext, type Identity, type NodeServices } from '../../main/node/context.js';
import { ReconstructService } from '../../main/node/ceremonies/reconstruct.js';
import { DkgService } from '../../main/node/dkg.js';
import { Inboxes } from '../../main/node/inbox.js';
import { openStore, type GroupRow, type RequestRow, type Store } from '../../main/store/index.js';
import type { Vault } from '../../main/vault/index.js';
import { dealerKeys } from '../crypto/helpers.js';

export interface Peer {
  peerId: string;
  name: string;
  publicKey: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

export async function peer(name: string): Promise<Peer> {
  const id = await generateIdentity();
  const seed = id.privateKey.raw.slice(0, 32);
  return {
    peerId: id.peerId,
    name,
    publicKey: id.publicKeyRaw,
    sign: (m) => ed25519.sign(m, seed),
  };
}

/** What the fake host was asked to send, by peer. */
export interface Sent {
  peer: string;
  msg: Record<string, unknown>;
}

export interface Harness {
  store: Store;
  ctx: NodeContext;
  sent: Sent[];
  logs: string[];
}

export interface HarnessOptions {
  /** What the fake host says of every peer when asked whether it is connected (default: not). */
  connected?: boolean;
  /**
   * The vault's secrets, by name: with it the vault gets, puts and deletes in this map (copies,
   * so a caller wiping its buffer does not wipe the stored secret); without it the vault has no
   * secrets to give (only its kind).
   */
  secrets?: Map<string, Uint8Array>;
  /**
   * The store in a file of its own temporary folder, removed when the test ends, instead of in
   * memory: plantGroupColumns can then write rows the store's own methods refuse.
   */
  file?: boolean;
}

/** A NodeContext for `me` over an in-memory store, a fake host that records what it sends, a fake vault. */
export function harness(me: Identity, opts: HarnessOptions = {}): Harness {
  // Its timers (the audit flush) stop before the file's store is closed at the test's end.
  const store = opts.file ? tempFileStore(() => void (ctx.stopped = true)) : openStore(':memory:');
  const sent: Sent[] = [];
  const logs: string[] = [];
  const host = {
    addrs: () => ['/ip4/127.0.0.1/tcp/1'],
    isConnected: () => opts.connected ?? false,
    addAddresses: async () => undefined,
    request: async (peer: string, _protocol: string, msg: Record<string, unknown>) => {
      sent.push({ peer, msg });
      return { ok: true };
    },
  } as unknown as Host;
  const secrets = opts.secrets;
  const vault = (secrets
    ? {
        kind: 'file',
        put: async (name: string, s: Uint8Array) => void secrets.set(name, s.slice()),
        get: async (name: string) => secrets.get(name)?.slice(),
        delete: async (name: string) => void secrets.delete(name),
      }
    : { kind: 'file' }) as unknown as Vault;
  const ctx = new NodeContext({ store, vault, host, identity: me, log: (l) => logs.push(l) });
  return { store, ctx, sent, logs };
}

/**
 * A store in a file of a temporary folder, closed and removed when the running test ends (after
 * `beforeClose`, which stops what would use it).
 */
export function tempFileStore(beforeClose?: () => void): Store {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-store-'));
  const store = openStore(join(dir, 'conclave.db'));
  onTestFinished(() => {
    beforeClose?.();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/**
 * Writes columns of a group's row (SQL names and values) as a damaged file or an older version of
 * the app may hold them, past the checks of the store's own methods: through a second connection
 * to the store's file (a store of `harness(me, { file: true })` or tempFileStore()).
 */
export function plantGroupColumns(
  store: Store,
  groupId: string,
  columns: Record<string, string | number | null>,
): void {
  const db = new Database(store.path);
  try {
    const sets = Object.keys(columns).map((c) => `${c} = @${c}`);
    const sql = `UPDATE groups SET ${sets.join(', ')} WHERE id = @id`;
    if (db.prepare(sql).run({ ...columns, id: groupId }).changes !== 1)
      throw new Error(`no group ${groupId} in ${store.path}`);
  } finally {
    db.close();
  }
  // The store counts its own writes only (Store.version): an empty update counts this one, so
  // what caches the groups table (the membership index) reads it again.
  store.groups.update(groupId, {});
}

/** What readyGroup stores other than a ready group of exactly its members, named treasury. */
export interface GroupOptions {
  /** Default 'ab' × 16. */
  id?: string;
  name?: string;
  /** Default 'ready'. */
  status?: GroupRow['status'];
  /** Default the number of members. */
  size?: number;
  /** Whether the members confirmed the roster (default true). */
  confirmed?: boolean;
}

/**
 * A ready group of these members (the first is the creator), as the store holds it, or another
 * group as `opts` says (a forming one, say). Returns its id.
 */
export function readyGroup(
  store: Store,
  members: Peer[],
  threshold: number,
  opts: GroupOptions = {},
): string {
  const id = opts.id ?? 'ab'.repeat(16);
  const now = Date.now();
  store.groups.insert({
    id,
    name: opts.name ?? 'treasury',
    threshold,
    size: opts.size ?? members.length,
    scheme: 'ed25519',
    status: opts.status ?? 'ready',
    creatorPeerId: members[0]!.peerId,
    epoch: 0,
    createdAt: now,
    updatedAt: now,
  });
  members.forEach((m, i) =>
    store.members.upsert({
      groupId: id,
      peerId: m.peerId,
      name: m.name,
      identityKey: bytesToHex(m.publicKey),
      fingerprint: fingerprint(m.publicKey),
      index: i + 1,
      addrs: [],
      confirmed: opts.confirmed ?? true,
      joinedAt: now,
    }),
  );
  return id;
}

/** Stores each peer's approval of a request (its statement left empty: read by no check here). */
export function approve(store: Store, requestId: string, peers: Peer[], at = Date.now()): void {
  for (const who of peers)
    store.decisions.insert({
      requestId,
      peerId: who.peerId,
      decision: 'approve',
      statement: '{}',
      at,
    });
}

/** The join message `who` sends to a group with an invite's secret. */
export function joinMessage(groupId: string, secret: string, who: Peer, addrs: string[] = []) {
  return {
    v: 1 as const,
    type: 'join' as const,
    groupId,
    token: joinToken(secret, groupId, who.peerId),
    name: who.name,
    addrs,
  };
}

/** A group's public key package as the node stores it (a real one: it decodes), of a new key. */
export const publicPackageJSON = (t = 2, n = 3): string =>
  JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', t, n)[0]!.public));

/** The parameters of a repair from epoch 0 that puts `newcomer`'s device in `lost`'s place. */
export function repairParams(groupId: string, lost: Peer, newcomer: Peer) {
  return {
    ceremony: 'repair',
    group: groupId,
    fromEpoch: 0,
    lost: lost.peerId,
    newcomer: { peerId: newcomer.peerId, name: newcomer.name, addrs: [] as string[] },
  };
}

/**
 * Inserts a request row carrying `params` as its message (canonical JSON): by default 'r1', made
 * now, expiring in a minute, with no culprits and an empty envelope. Returns the row.
 */
export function insertRequest(
  store: Store,
  params: object,
  row: Pick<RequestRow, 'groupId' | 'kind' | 'createdBy' | 'status'> & Partial<RequestRow>,
): RequestRow {
  const now = Date.now();
  const full: RequestRow = {
    id: 'r1',
    message: utf8ToBytes(canonicalJSON(params)),
    createdAt: now,
    expiresAt: now + 60_000,
    culprits: [],
    envelope: '{}',
    updatedAt: now,
    ...row,
  };
  store.requests.insert(full);
  return full;
}

/**
 * A request's envelope as the store keeps it: its body signed by `author` under the default
 * policy. It decodes as a signed statement (a node re-checks stored envelopes before using them).
 */
export function requestEnvelope(
  author: Peer,
  groupId: string,
  kind: RequestBody['kind'],
  message: Uint8Array,
): string {
  const now = Date.now();
  const body: RequestBody = {
    v: 1,
    type: 'request',
    groupId,
    kind,
    message: bytesToHex(message),
    createdBy: author.peerId,
    createdAt: now,
    expiresAt: now + 60_000,
    nonce: bytesToHex(randomBytes(16)),
    policy: policyHash(defaultPolicy()),
  };
  return JSON.stringify(signStatement(body, (m) => author.sign(m)));
}

/**
 * A DkgService on `h`'s node, its group changes written to `h`'s store, with `inboxes` (default: a
 * real one of its own) and fakes for the audit sync and the signing service.
 */
export function dkgService(h: Harness, inboxes: Inboxes = new Inboxes(h.ctx)): DkgService {
  const store = h.store;
  const deps = {
    auditLog: { syncAuditWithAll: () => undefined },
    groups: {
      updateGroup: (id: string, patch: object) => store.groups.update(id, patch),
      failGroup: (id: string, error: string) =>
        store.groups.update(id, { status: 'failed', error, updatedAt: Date.now() }),
      nameOfIdentifier: (_g: string, c: string) => c,
      confirmations: new Map(),
      noteConfirmation: () => undefined,
      maybeStartDkg: () => undefined,
    },
    inboxes,
    signing: { applyEarlyNonces: () => undefined, sendNonces: async () => undefined },
  } as unknown as NodeServices;
  return new DkgService(
    h.ctx,
    deps as Pick<NodeServices, 'auditLog' | 'groups' | 'inboxes' | 'signing'>,
  );
}

/**
 * The requests service a ReconstructService calls, over `store`: the default policy; the request
 * it creates is inserted pending as r1, made by `createdBy`; a finished one's failure is pushed to
 * `failures` and stored.
 */
export function reconstructRequests(store: Store, createdBy: string, failures: string[]) {
  return {
    policyOf: () => defaultPolicy(),
    createRequest: (g: GroupRow, kind: RequestRow['kind'], message: Uint8Array) => {
      insertRequest(store, {}, { groupId: g.id, kind, createdBy, status: 'pending', message });
      return { id: 'r1' };
    },
    updateRequest: (id: string, patch: Partial<RequestRow>) => store.requests.update(id, patch),
    finish: (id: string, patch: { status: 'failed'; failure: string }) => {
      failures.push(patch.failure);
      store.requests.update(id, patch);
    },
  };
}

/**
 * Inserts the repair request r1 (made by `createdBy`, `status` by default pending) that puts
 * `newcomer` in `lost`'s place in the group. Returns its params.
 */
export function insertRepairRequest(
  store: Store,
  groupId: string,
  lost: Peer,
  newcomer: Peer,
  createdBy: Peer,
  status: RequestRow['status'] = 'pending',
) {
  const params = { ...repairParams(groupId, lost, newcomer), ceremony: 'repair' as const };
  insertRequest(store, params, { groupId, kind: 'repair', createdBy: createdBy.peerId, status });
  return params;
}

/**
 * A ReconstructService on `h`'s node over `deps`, that has asked to export the group 'treasury'
 * to `out` under `passphrase` (request r1), the request approved by `approvers`.
 */
export function approvedExport(
  h: Harness,
  deps: NodeServices,
  out: string,
  passphrase: string,
  approvers: Peer[],
): ReconstructService {
  const svc = new ReconstructService(h.ctx, deps);
  svc.createReconstructRequest({
    group: 'treasury',
    purpose: 'migration',
    operation: 'export',
    out,
    passphrase,
  });
  approve(h.store, 'r1', approvers);
  return svc;
}

/** Waits until `ok()` holds, looking every few ms, or throws naming `what` past `ms`. */
export async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
