// The fake network of the in-process message-order tests (DKG report, reshare abort, repair
// abort): each node's host hands a message straight to the addressee's service, one node's
// messages go through the test-only tampering layer, and a test can hold any delivery back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { requestContext } from '../../shared/requests/index.js';
import { decodeGroupMessage, type GroupMessage } from '../../shared/protocol/wire.js';
import { makeTamper } from '../../main/node/adversary.js';
import { groupContextOf } from '../../main/node/common.js';
import { Inboxes } from '../../main/node/inbox.js';
import type { RequestRow } from '../../main/store/index.js';
import type { Harness, Peer } from './fixtures.js';

/** A node on the network: its identity and its harness (whose fake host this network drives). */
export interface OrderNode {
  p: Peer;
  h: Harness;
}

/**
 * What happens to one delivery before it is made: a promise delays it, 'withheld' drops it (the
 * sender sees it delivered, the addressee never gets it), undefined lets it through.
 */
export type Hold<N, M> = (from: N, to: N, msg: M) => Promise<void> | 'withheld' | undefined;

/** Runs once a delivery was taken (the addressee's handler was called). */
export type After<N, M> = (from: N, to: N, msg: M) => void;

export interface OrderNetwork<N extends OrderNode, T extends GroupMessage['type']> {
  /** The one message type delivered; a message of another type is answered ok and dropped. */
  type: T;
  /** Hands `msg` from `from` to `to`'s service; what it returns is the sender's answer. */
  deliver: (from: N, to: N, msg: Extract<GroupMessage, { type: T }>) => unknown;
  /**
   * The node whose outgoing messages go through the tampering layer `kase` (main/node/adversary.ts;
   * undefined: honest), its state in a temporary folder of its own.
   */
  liar?: { node: N; kase: string | undefined };
  hold: Hold<N, Extract<GroupMessage, { type: T }>>;
  after?: After<N, Extract<GroupMessage, { type: T }>>;
}

/**
 * Wires `nodes` to each other: a request from one node to another is decoded as the wire would
 * (a copy, through JSON), tampered with when it is the liar's, held as `hold` says and delivered;
 * nothing reaches a peer that is not one of `nodes`. Every node is stopped, and the liar's
 * folder removed, when the running test ends.
 */
export function wireOrderNetwork<N extends OrderNode, T extends GroupMessage['type']>(
  nodes: N[],
  net: OrderNetwork<N, T>,
): void {
  type M = Extract<GroupMessage, { type: T }>;
  const { liar } = net;
  const dir = liar ? mkdtempSync(join(tmpdir(), 'conclave-order-')) : undefined;
  onTestFinished(() => {
    for (const n of nodes) n.h.ctx.stopped = true;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const tamper =
    liar &&
    makeTamper(liar.kase, {
      me: liar.node.p,
      members: (g) => liar.node.h.store.members.list(g),
      scheme: () => 'ed25519',
      stateFile: join(dir!, 'sent.json'),
      log: () => undefined,
    });
  for (const n of nodes) {
    const host = n.h.ctx.host as unknown as {
      request: (peer: string, protocol: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.request = async (to, _protocol, raw) => {
      await Promise.resolve();
      const sent = decodeGroupMessage(JSON.parse(JSON.stringify(raw)));
      if (sent.type !== net.type) return { ok: true };
      // The tampering layer withholds a message by returning none.
      const msg = n === liar?.node ? tamper!.out(to, sent as M) : (sent as M);
      const dest = nodes.find((x) => x.p.peerId === to);
      if (msg === undefined || !dest) return { ok: true };
      const held = net.hold(n, dest, msg);
      if (held === 'withheld') return { ok: true };
      await held;
      const answer = net.deliver(n, dest, msg);
      net.after?.(n, dest, msg);
      return answer;
    };
  }
}

/**
 * What a ceremony service (CeremonyService and the one running the ceremony) asks of the other
 * services on `h`'s node `me`, for a 'ed25519' group: member names by identifier, no former
 * members, a real inbox, request contexts under the default policy; a finished request's failure
 * is pushed to `failures` and stored. A test adds what its ceremony also calls.
 */
export function ceremonyDeps(h: Harness, me: Peer, failures: string[]) {
  return {
    groups: {
      isFormerMember: () => false,
      nameOfIdentifier: (g: string, hex: string) =>
        h.store.members
          .list(g)
          .find((m) => identifierHex(getSuite('ed25519'), BigInt(m.index)) === hex)?.name ?? hex,
    },
    inboxes: new Inboxes(h.ctx),
    reconstruct: {},
    requests: {
      contextOf: (r: RequestRow) =>
        requestContext(
          { createdBy: r.createdBy, policy: '' },
          groupContextOf(h.store, h.store.groups.get(r.groupId)!, defaultPolicy(), me.peerId),
        ),
      updateRequest: (id: string, patch: Partial<RequestRow>) => h.store.requests.update(id, patch),
      finish: (id: string, patch: Partial<RequestRow> & { failure: string }) => {
        failures.push(patch.failure);
        h.store.requests.update(id, { status: 'failed', failure: patch.failure });
      },
    },
  };
}
