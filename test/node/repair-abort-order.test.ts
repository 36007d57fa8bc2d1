// The verdict of a repair does not depend on message order: a helper's 'abort' ends the wait for
// that helper's messages only, so a lying helper's abort blaming an honest one, reaching the new
// device before the honest helper's sum, does not stop the device from judging the sums it was
// sent and naming the liar; a lying abort with nothing else wrong does not stop the repair at all.
// Whoever stops tells the others, who quote it as its word (never as their own finding) instead of
// waiting out the deadline and naming it as missing. In-process ceremony and repair services over
// a fake network that can hold a message back (as reshare-abort-order.test.ts for the refresh).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { requestContext } from '../../shared/requests/index.js';
import {
  decodeGroupMessage,
  type CeremonyMessage,
  type GroupMessage,
} from '../../shared/protocol/wire.js';
import { HONEST, makeTamper } from '../../main/node/adversary.js';
import { abortMessage, CeremonyService } from '../../main/node/ceremonies/ceremony.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { groupContextOf, shareName } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { Inboxes } from '../../main/node/inbox.js';
import type { MemberRow, RequestRow } from '../../main/store/index.js';
import { dealerKeys } from '../crypto/helpers.js';
import {
  harness,
  insertRequest,
  peer,
  readyGroup,
  repairParams,
  type Harness,
  type Peer,
  until,
} from './fixtures.js';

const REQUEST = 'cd'.repeat(16);
const SESSION = 'ef'.repeat(32);

interface Node {
  p: Peer;
  h: Harness;
  ceremony: CeremonyService;
  repair: RepairService;
  /** The failures its requests ended with. */
  failures: string[];
}

let ann: Peer, ben: Peer, cal: Peer, dan: Peer;
beforeAll(async () => {
  [ann, ben, cal, dan] = await Promise.all(['ann', 'ben', 'cal', 'dan'].map((n) => peer(n)));
});

const live: Node[] = [];
afterEach(() => {
  for (const n of live.splice(0)) n.h.ctx.stopped = true;
});

/**
 * A 2-of-3 ed25519 group of ann, ben and cal; cal lost his device and dan's device takes his place
 * in the approved repair REQUEST, with ann and ben helping. ann and ben hold their shares; dan knows
 * the group from its invitation. ben's outgoing messages go through the test-only tampering
 * layer `lie` (main/node/adversary.ts; none: honest). `hold(from, to, msg)` may return a promise
 * that delays that delivery, or 'withheld': the sender sees it delivered, the addressee never gets
 * it; `after(from, to, msg)` runs once a delivery was taken.
 */
function network(
  lie: string | undefined,
  hold: (from: Node, to: Node, msg: CeremonyMessage) => Promise<void> | 'withheld' | undefined,
  after: (from: Node, to: Node, msg: CeremonyMessage) => void = () => undefined,
) {
  const keys = dealerKeys('ed25519', 2, 3);
  let groupId = '';
  const nodes: Node[] = [ann, ben, dan].map((p, i) => {
    const secrets = new Map<string, Uint8Array>();
    const h = harness(p, { secrets, connected: true });
    (h.ctx as { ceremonyTimeoutMs: number }).ceremonyTimeoutMs = 20_000;
    groupId = readyGroup(h.store, [ann, ben, cal], 2);
    const pub = JSON.stringify(publicPackageToJSON(keys[0]!.public));
    if (p === dan) {
      h.store.groups.update(groupId, { status: 'forming', error: 'waiting to be added' });
      h.store.meta.set(`newcomer-package:${groupId}`, pub);
    } else {
      h.store.groups.update(groupId, { publicPackage: pub });
      secrets.set(shareName(groupId, 0), keys[i]!.share.toBytes());
    }
    insertRequest(h.store, repairParams(groupId, cal, dan), {
      id: REQUEST,
      groupId,
      kind: 'repair',
      createdBy: ann.peerId,
      status: 'pending',
    });
    const failures: string[] = [];
    const noop = () => undefined;
    const deps = {
      auditLog: { syncAuditWithAll: noop },
      groups: {
        isFormerMember: () => false,
        nameOfIdentifier: (g: string, hex: string) =>
          h.store.members
            .list(g)
            .find((m) => identifierHex(getSuite('ed25519'), BigInt(m.index)) === hex)?.name ?? hex,
        deleteMember: (g: string, peerId: string) => h.store.members.delete(g, peerId),
        upsertMember: (row: MemberRow) => h.store.members.upsert(row),
        updateGroup: (id: string, patch: object) => h.store.groups.update(id, patch),
      },
      inboxes: new Inboxes(h.ctx),
      reconstruct: {},
      signing: { forgetSigner: noop, applyEarlyNonces: noop, sendNonces: async () => undefined },
      requests: {
        contextOf: (r: RequestRow) =>
          requestContext(
            { createdBy: r.createdBy, policy: '' },
            groupContextOf(h.store, h.store.groups.get(r.groupId)!, defaultPolicy(), p.peerId),
          ),
        updateRequest: (id: string, patch: Partial<RequestRow>) =>
          h.store.requests.update(id, patch),
        finish: (id: string, patch: Partial<RequestRow> & { failure: string }) => {
          failures.push(patch.failure);
          h.store.requests.update(id, { status: 'failed', failure: patch.failure });
        },
      },
    } as unknown as NodeServices;
    deps.ceremony = new CeremonyService(h.ctx, deps);
    deps.repair = new RepairService(h.ctx, deps);
    const n = { p, h, ceremony: deps.ceremony, repair: deps.repair, failures };
    live.push(n);
    return n;
  });
  const b = nodes[1]!;
  const liar = lie
    ? makeTamper(lie, {
        me: b.p,
        members: (g) => b.h.store.members.list(g),
        scheme: () => 'ed25519',
        stateFile: '/nonexistent/conclave-repair-order.json',
        log: () => undefined,
      })
    : HONEST;
  for (const n of nodes) {
    const host = n.h.ctx.host as unknown as {
      request: (peer: string, protocol: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.request = async (to, _protocol, raw) => {
      await Promise.resolve();
      let msg: GroupMessage = decodeGroupMessage(JSON.parse(JSON.stringify(raw)));
      if (msg.type !== 'ceremony') return { ok: true };
      if (n === b) msg = liar.out(to, msg)!;
      // cal's device is gone: nothing reaches it.
      const dest = nodes.find((x) => x.p.peerId === to);
      if (!dest) return { ok: true };
      const held = hold(n, dest, msg as CeremonyMessage);
      if (held === 'withheld') return { ok: true };
      await held;
      const answer = dest.ceremony.onCeremony(n.p.peerId, msg as CeremonyMessage);
      after(n, dest, msg as CeremonyMessage);
      return answer;
    };
  }
  const run = () =>
    Promise.all(
      nodes.map((n) =>
        n.repair.runRepair(groupId, REQUEST, SESSION, [ann.peerId, ben.peerId], {
          ...repairParams(groupId, cal, dan),
          ceremony: 'repair',
        }),
      ),
    );
  return { nodes, groupId, run };
}

/** ben's abort to `to`, blaming ann for what ben itself did. */
function benBlamesAnn(groupId: string, to: Node): void {
  to.ceremony.onCeremony(
    ben.peerId,
    abortMessage(groupId, REQUEST, SESSION, 'bad_share: ann misbehaved'),
  );
}

const names = (n: Node, groupId: string) =>
  n.h.store.members
    .list(groupId)
    .map((m) => `${m.index}:${m.name}`)
    .sort();

describe('the verdict of a repair does not depend on message order', () => {
  it("a lying helper's abort blaming ann, reaching the new device after its wrong sum and before ann's, does not replace the device's own check: the device names the liar", async () => {
    // ben's wrong sum reaches dan, then ben's abort blaming ann (to dan and ann); ann's sum to
    // dan is held until that abort is in.
    let benAborted = false;
    const { nodes, groupId, run } = network(
      'repair-bad-sum',
      (from, to, msg) =>
        from.p === ann && to.p === dan && msg.step === 'round2'
          ? until("ben's abort to dan", () => benAborted)
          : undefined,
      (from, to, msg) => {
        if (from.p === ben && to.p === dan && msg.step === 'round2' && !benAborted) {
          benBlamesAnn(groupId, to);
          benBlamesAnn(groupId, nodes[0]!);
          benAborted = true;
        }
      },
    );
    await run();
    const [a, , d] = nodes;
    expect(benAborted).toBe(true);
    expect(d!.failures).toEqual([
      'repair failed: bad_share: ben misbehaved; it can be proposed again',
    ]);
    // ann waited for dan, not for ben, and quotes dan's finding as dan's word.
    expect(a!.failures).toEqual([
      'repair failed: dan stopped it: "bad_share: ben misbehaved"; it can be proposed again',
    ]);
    // No share on the device, every roster as it was.
    expect(d!.h.store.groups.get(groupId)!.status).toBe('forming');
    for (const n of nodes) expect(names(n, groupId)).toEqual(['1:ann', '2:ben', '3:cal']);
  });

  it('a lying abort from a helper that otherwise sends everything right stops nothing: the repair completes everywhere', async () => {
    const { nodes, groupId, run } = network(undefined, () => undefined);
    const [a, , d] = nodes;
    // ben's abort reaches ann and dan before anything else of this session.
    benBlamesAnn(groupId, a!);
    benBlamesAnn(groupId, d!);
    await run();
    for (const n of nodes) {
      expect(n.failures, n.p.name).toEqual([]);
      expect(n.h.store.requests.get(REQUEST)!.status, n.p.name).toBe('done');
      expect(names(n, groupId), n.p.name).toEqual(['1:ann', '2:ben', '3:dan']);
    }
    expect(d!.h.store.groups.get(groupId)!.status).toBe('ready');
  });

  it('a helper that aborts instead of sending the device its sum: the device quotes it, and ann, waiting for the device, quotes the device instead of naming it as missing', async () => {
    const { nodes, groupId, run } = network(undefined, (from, to, msg) => {
      if (from.p !== ben || to.p !== dan || msg.step !== 'round2') return undefined;
      benBlamesAnn(groupId, to);
      return 'withheld';
    });
    await run();
    const [a, , d] = nodes;
    expect(d!.failures).toEqual([
      'repair failed: ben stopped it: "bad_share: ann misbehaved"; it can be proposed again',
    ]);
    expect(a!.failures).toHaveLength(1);
    expect(a!.failures[0]).toMatch(/^repair failed: dan stopped it: "ben stopped it: /);
    expect(a!.failures[0]).not.toMatch(/did not/);
  });
});
