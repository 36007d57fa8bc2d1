// The verdict of a repair does not depend on message order: a helper's 'abort' ends the wait for
// that helper's messages only, so a lying helper's abort blaming an honest one, reaching the new
// device before the honest helper's sum, does not stop the device from judging the sums it was
// sent and naming the liar; a lying abort with nothing else wrong does not stop the repair at all.
// Whoever stops tells the others, who quote it as its word (never as their own finding) instead of
// waiting out the deadline and naming it as missing. In-process ceremony and repair services over
// a fake network that can hold a message back (as reshare-abort-order.test.ts for the refresh).
import { beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import type { CeremonyMessage } from '../../shared/protocol/wire.js';
import { abortMessage, CeremonyService } from '../../main/node/ceremonies/ceremony.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { shareName } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import type { MemberRow } from '../../main/store/index.js';
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
import { ceremonyDeps, wireOrderNetwork, type After, type Hold } from './order-network.js';

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

/**
 * A 2-of-3 ed25519 group of ann, ben and cal; cal lost his device and dan's device takes his place
 * in the approved repair REQUEST, with ann and ben helping. ann and ben hold their shares; dan knows
 * the group from its invitation. They are wired to each other (order-network.ts); cal's device is
 * gone: nothing reaches it. ben's outgoing messages go through the test-only tampering layer `lie`
 * (main/node/adversary.ts; none: honest). `hold(from, to, msg)` may return a promise that delays
 * that delivery, or 'withheld': the sender sees it delivered, the addressee never gets it;
 * `after(from, to, msg)` runs once a delivery was taken.
 */
function network(
  lie: string | undefined,
  hold: Hold<Node, CeremonyMessage>,
  after: After<Node, CeremonyMessage> = () => undefined,
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
    const base = ceremonyDeps(h, p, failures);
    const deps = {
      ...base,
      auditLog: { syncAuditWithAll: noop },
      groups: {
        ...base.groups,
        deleteMember: (g: string, peerId: string) => h.store.members.delete(g, peerId),
        upsertMember: (row: MemberRow) => h.store.members.upsert(row),
        updateGroup: (id: string, patch: object) => h.store.groups.update(id, patch),
      },
      signing: { forgetSigner: noop, applyEarlyNonces: noop, sendNonces: async () => undefined },
    } as unknown as NodeServices;
    deps.ceremony = new CeremonyService(h.ctx, deps);
    deps.repair = new RepairService(h.ctx, deps);
    return { p, h, ceremony: deps.ceremony, repair: deps.repair, failures };
  });
  wireOrderNetwork(nodes, {
    type: 'ceremony',
    liar: { node: nodes[1]!, kase: lie },
    hold,
    after,
    deliver: (from, to, msg) => to.ceremony.onCeremony(from.p.peerId, msg),
  });
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
