// Tools for the attack tests: turn a real member (one that took part in the DKG) into a rogue
// libp2p host holding its identity key, which sends crafted, validly signed messages to the others.
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import {
  LIMITS,
  PROTOCOL,
  signStatement,
  type DecisionBody,
  type OutcomeBody,
  type RequestBody,
  type Signed,
  type StatementBody,
} from '../../shared/protocol/wire.js';
import {
  createHost,
  generateIdentity,
  privateKeyFromBytes,
  type Host,
} from '../../main/net/index.js';
import { openStore } from '../../main/store/index.js';
import { openKeychainVault } from '../../main/vault/index.js';
import type { TestNode } from './harness.js';

/** One message the rogue host received on the group protocol. */
export interface Received {
  from: string;
  msg: Record<string, unknown>;
}

/** A member's identity, taken from its stopped node, speaking through a libp2p host of our own. */
export class Rogue {
  readonly received: Received[] = [];

  constructor(
    readonly name: string,
    readonly peerId: string,
    readonly host: Host,
    private readonly seed: Uint8Array,
  ) {}

  sign(h: Uint8Array): Uint8Array {
    return ed25519.sign(h, this.seed);
  }

  /** Signs a statement with this member's identity key, as its own node would. */
  statement<B extends StatementBody>(body: B): Signed<B> {
    return signStatement(body, (h) => this.sign(h));
  }

  /** Sends one group-protocol message to `to`; resolves with the answer, rejects if refused. */
  async send(to: TestNode, msg: unknown): Promise<unknown> {
    const { addrs } = await to.api('node.status', {});
    return this.host.request(to.peerId, PROTOCOL.group, msg, { addrs, timeoutMs: 10_000 });
  }

  /**
   * Offers signed statements to `to`. Whether the node took them is read from its state
   * afterwards (a refusal rejects today's request/response, a future fix may answer otherwise):
   * resolves with true when the node answered ok.
   */
  async offer(to: TestNode, items: Signed[]): Promise<boolean> {
    try {
      const r = await this.send(to, { v: 1, type: 'statements', items });
      return (r as { ok?: unknown }).ok === true;
    } catch {
      return false;
    }
  }

  /** Relays raw audit entries of `groupId` to `to`, as a member syncing the group's log does. */
  async relayAudit(to: TestNode, groupId: string, entries: AuditEntry[]): Promise<boolean> {
    try {
      const r = await this.send(to, { v: 1, type: 'audit', groupId, entries });
      return (r as { ok?: unknown }).ok === true;
    } catch {
      return false;
    }
  }

  /** Messages of one type (and ceremony step) received so far. */
  got(type: string, step?: string): Received[] {
    return this.received.filter(
      (r) => r.msg.type === type && (step === undefined || r.msg.step === step),
    );
  }

  stop(): Promise<void> {
    return this.host.stop();
  }
}

/**
 * The Ed25519 identity key of a node that is not running, read from its vault as the node reads
 * it (the OS keychain entry 'identity' in the home's namespace; the tests run inside the same
 * D-Bus session as the nodes' keychain).
 */
export async function identityKeyOf(n: TestNode): Promise<Uint8Array> {
  if (n.proc && n.proc.exitCode === null) throw new Error(`stop ${n.name} before reading its key`);
  const store = openStore(join(n.home, 'conclave.db'));
  let namespace: string | undefined;
  try {
    namespace = store.meta.get('vaultNamespace');
  } finally {
    store.close();
  }
  if (!namespace) throw new Error(`${n.name}'s home has no keychain namespace`);
  const vault = await openKeychainVault({ namespace });
  const bytes = await vault.get('identity');
  if (!bytes) throw new Error(`${n.name}'s identity key is not in the keychain`);
  return bytes;
}

/** Answers every group-protocol message with ok and keeps it in `received`. */
async function listen(host: Host, received: Received[]): Promise<void> {
  await host.handle(
    PROTOCOL.group,
    async (from, msg) => {
      received.push({ from, msg });
      return { ok: true };
    },
    { allow: () => true, maxBytes: LIMITS.group },
  );
}

/**
 * Stops member `n`'s node and brings up a rogue host with its identity on a new loopback port;
 * it tells each of `peers` where it is now (a hello, as the node does on every connection).
 */
export async function turnRogue(n: TestNode, peers: TestNode[]): Promise<Rogue> {
  await n.kill();
  const privateKey = privateKeyFromBytes(await identityKeyOf(n));
  const host = await createHost({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] });
  if (host.peerId !== n.peerId) throw new Error(`the key read for ${n.name} is not its identity`);
  const rogue = new Rogue(n.name, n.peerId, host, privateKey.raw.slice(0, 32));
  await listen(host, rogue.received);
  await host.start();
  for (const p of peers) await rogue.send(p, { v: 1, type: 'hello', addrs: host.addrs() });
  return rogue;
}

/** A host with a fresh identity that is nobody's member. */
export async function outsider(): Promise<{ peerId: string; host: Host; seed: Uint8Array }> {
  const id = await generateIdentity();
  const host = await createHost({ privateKey: id.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] });
  await host.start();
  return { peerId: id.peerId, host, seed: id.privateKey.raw.slice(0, 32) };
}

/** The hash of the policy `n` holds for `group` (a request must carry it to be considered). */
export async function policyHashOn(n: TestNode, group: string): Promise<string> {
  return (await n.api('group.policy', { group })).hash;
}

/** A request body by `by`, open for a day from now unless `over` says otherwise. */
export function requestBody(
  by: string,
  groupId: string,
  kind: RequestBody['kind'],
  message: string | Uint8Array,
  policy: string,
  over: Partial<RequestBody> = {},
): RequestBody {
  const now = Date.now();
  return {
    v: 1,
    type: 'request',
    groupId,
    kind,
    message: bytesToHex(typeof message === 'string' ? utf8ToBytes(message) : message),
    createdBy: by,
    createdAt: now,
    expiresAt: now + 24 * 3600_000,
    nonce: bytesToHex(randomBytes(16)),
    policy,
    ...over,
  };
}

export function decisionBody(
  by: string,
  groupId: string,
  requestId: string,
  requestHash: string,
  decision: 'approve' | 'deny' = 'approve',
): DecisionBody {
  return { v: 1, type: 'decision', groupId, requestId, requestHash, decision, by, at: Date.now() };
}

export function outcomeBody(
  by: string,
  groupId: string,
  requestId: string,
  over: Partial<OutcomeBody>,
): OutcomeBody {
  return { v: 1, type: 'outcome', groupId, requestId, culprits: [], by, at: Date.now(), ...over };
}

/** An audit entry of `author`'s chain (`<peer>/<group>`), signed with `seed`. */
export function auditEntry(
  seed: Uint8Array,
  author: string,
  group: string,
  type: string,
  body: Record<string, unknown>,
  prev?: AuditEntry,
): AuditEntry {
  return makeEntry(prev, { author, at: Date.now(), type, group, body }, (h) =>
    ed25519.sign(h, seed),
  );
}

/**
 * Resolves if `n`'s process is still running `ms` from now; rejects as soon as it exits. The
 * crash under test comes from a timer inside the node: there is no event for "did not crash",
 * so the test watches for a window of a few of those timer periods.
 */
export function staysUp(n: TestNode, ms: number): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null)
    return Promise.reject(new Error(`${n.name} is not running: ${tail(n.logs)}`));
  return new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(t);
      reject(new Error(`${n.name} exited (${code ?? signal}): ${tail(n.logs)}`));
    };
    const t = setTimeout(() => {
      p.off('exit', onExit);
      resolve();
    }, ms);
    p.once('exit', onExit);
  });
}

/**
 * Starts `n` and resolves once it is ready; rejects at once if the process exits first
 * (TestNode.start would keep waiting until its deadline).
 */
export async function startOrExit(n: TestNode): Promise<void> {
  const started = n.start();
  const p = n.proc!;
  let onExit = (): void => {};
  const exited = new Promise<never>((_, reject) => {
    onExit = () => reject(new Error(`${n.name} exited on start: ${tail(n.logs)}`));
    p.once('exit', onExit);
  });
  try {
    await Promise.race([started, exited]);
  } finally {
    p.off('exit', onExit);
    // The losing wait ends by itself (TestNode.start gives up at its deadline).
    started.catch(() => undefined);
    exited.catch(() => undefined);
  }
}

/** The last lines of a node's log, for failure messages. */
export function tail(logs: string, lines = 8): string {
  return logs.trim().split('\n').slice(-lines).join('\n');
}
