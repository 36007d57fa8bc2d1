// The audit service alone: a member's replicated entries are kept only when signed by their author
// and only in chain order; entries that overtook an earlier one wait for it.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import { AuditService } from '../../main/node/audit.js';
import type { NodeServices } from '../../main/node/context.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});

function setup() {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const audit = new AuditService(h.ctx, {} as NodeServices);
  /** Bob's chain in the group: `n` entries, each signed by `signer` (bob unless forged). */
  const chain = (n: number, signer: Peer = bob): AuditEntry[] => {
    const out: AuditEntry[] = [];
    for (let i = 0; i < n; i++)
      out.push(
        makeEntry(
          out[i - 1],
          {
            author: `${bob.peerId}/${groupId}`,
            at: 1000 + i,
            type: 'test.entry',
            group: groupId,
            body: { i },
          },
          (h) => signer.sign(h),
        ),
      );
    return out;
  };
  const deliver = (from: Peer, entries: AuditEntry[]) =>
    audit.acceptAudit(from.peerId, {
      v: 1,
      type: 'audit',
      groupId,
      entries: entries as unknown as Record<string, unknown>[],
    });
  return { ...h, groupId, audit, chain, deliver };
}

describe('AuditService', () => {
  it("keeps a member's chain in order, holding an entry that overtook an earlier one", () => {
    const { store, chain, deliver } = setup();
    const [e0, e1, e2] = chain(3);
    const author = e0!.author;
    deliver(bob, [e2!]);
    expect(store.audit.head(author)).toBeUndefined();
    deliver(bob, [e0!]);
    expect(store.audit.head(author)?.seq).toBe(0);
    // e1 fills the gap, and e2 that waited follows it.
    deliver(carol, [e1!]);
    expect(store.audit.head(author)?.seq).toBe(2);
  });

  it('drops an entry not signed by its author, and one of another group', () => {
    const { store, chain, deliver, groupId } = setup();
    const [forged] = chain(1, carol);
    expect(() => deliver(carol, [forged!])).toThrow(/bad_signature/);
    const [e0] = chain(1);
    const elsewhere = { ...e0!, group: 'cd'.repeat(16) };
    expect(() => deliver(bob, [elsewhere])).toThrow(/wrong_group/);
    expect(store.audit.list({ group: groupId })).toEqual([]);
  });

  it('drops entries from a peer that is not a member of the group', async () => {
    const { chain, deliver } = setup();
    const dave = await peer('dave');
    expect(() => deliver(dave, chain(1))).toThrow(/non_member/);
  });
});
