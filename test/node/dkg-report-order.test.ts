// The key generation's verdict does not depend on message order: a liar's report blaming an honest
// member, reaching that member before the other honest member's echo, does not stand in for that
// echo, and the honest members still name the liar from what they were sent. In-process
// DkgServices over a fake network that can hold a message back.
import { beforeAll, describe, expect, it } from 'vitest';
import { identifierHex, getSuite } from '../../shared/crypto/suite.js';
import type { GroupMessage } from '../../shared/protocol/wire.js';
import type { DkgService } from '../../main/node/dkg.js';
import { Inboxes } from '../../main/node/inbox.js';
import type { GroupRow } from '../../main/store/index.js';
import {
  dkgService,
  harness,
  peer,
  readyGroup,
  type Harness,
  type Peer,
  until,
} from './fixtures.js';
import { wireOrderNetwork, type Hold } from './order-network.js';

const HASH = 'cd'.repeat(32);

type DkgMsg = Extract<GroupMessage, { type: 'dkg' }>;

interface Member {
  p: Peer;
  h: Harness;
  svc: DkgService;
  inboxes: Inboxes;
}

let peers: Peer[];
beforeAll(async () => {
  peers = await Promise.all(['ann', 'ben', 'cal'].map((n) => peer(n)));
});

/**
 * A 2-of-3 group in key generation, wired to each other (order-network.ts); cal lies with `kase`
 * (the test-only tampering layer). `hold(from, to, msg)` may return a promise that delays that
 * delivery, or 'withheld': the sender sees it delivered, the addressee never gets it.
 */
function network(kase: string, hold: Hold<Member, DkgMsg>): { members: Member[]; id: string } {
  const members: Member[] = peers.map((p) => {
    const h = harness(p, { secrets: new Map(), connected: true });
    const inboxes = new Inboxes(h.ctx);
    return { p, h, svc: dkgService(h, inboxes), inboxes };
  });
  let id = '';
  for (const m of members) {
    id = readyGroup(m.h.store, peers, 2);
    m.h.store.groups.update(id, { status: 'dkg', rosterHash: HASH });
  }
  wireOrderNetwork(members, {
    type: 'dkg',
    liar: { node: members[2]!, kase },
    hold,
    deliver: (from, to, msg) => to.svc.onMessage(from.p.peerId, msg),
  });
  return { members, id };
}

const hex = (i: number) => identifierHex(getSuite('ed25519'), BigInt(i));

/** An honest member's verdict: the key generation failed for equivocation, naming cal (3) alone. */
function expectLiarNamed(g: GroupRow): void {
  expect(g.status).toBe('failed');
  expect(g.error).toMatch(/^key generation failed \(equivocation\)/);
  expect(g.error).toContain(hex(3));
  expect(g.error).not.toContain(hex(1));
  expect(g.error).not.toContain(hex(2));
}

describe('the verdict of a key generation does not depend on message order', () => {
  it("a liar's report blaming ann, reaching her before ben's echo, does not replace her own check: both honest members name the liar", async () => {
    // cal sends ann another round-1 package than ben's. cal's own check then blames ann (her echo
    // shows a package cal says it never sent) and cal reports that. ben's echo to ann (and what
    // ben sends her after it) is held until cal's report reached her.
    let calReported = false;
    const { members, id } = network('dkg-equivocate', (from, to, msg) => {
      if (from.p.name === 'cal' && to.p.name === 'ann' && msg.step === 'done')
        calReported ||= typeof (msg.payload as { failure?: unknown }).failure === 'string';
      if (from.p.name === 'ben' && to.p.name === 'ann' && msg.step !== 'round1')
        return until("cal's report to ann", () => calReported);
      return undefined;
    });
    await Promise.all(members.map((m) => m.svc.runDkg(id, HASH)));
    const [ann, ben, cal] = members.map((m) => m.h.store.groups.get(id)!);
    expect(calReported).toBe(true);
    // cal, lying, blames ann.
    expect(cal!.status).toBe('failed');
    expect(cal!.error).toContain(hex(1));
    for (const g of [ann!, ben!]) expectLiarNamed(g);
  });

  it("a liar that reports without sending ann its echo: ann judges by ben's echo alone and names the liar", async () => {
    // ann never gets cal's echo: once ben's is in, cal's report is all that could still come.
    // ben's echo carries cal's signature over the package ben got, which is not ann's.
    let calReported = false;
    const { members, id } = network('dkg-equivocate', (from, to, msg) => {
      if (from.p.name !== 'cal' || to.p.name !== 'ann') return undefined;
      if (msg.step === 'echo') return 'withheld';
      if (msg.step === 'done')
        calReported ||= typeof (msg.payload as { failure?: unknown }).failure === 'string';
      return undefined;
    });
    await Promise.all(members.map((m) => m.svc.runDkg(id, HASH)));
    const [ann, ben] = members.map((m) => m.h.store.groups.get(id)!);
    expect(calReported).toBe(true);
    for (const g of [ann!, ben!]) expectLiarNamed(g);
  });
});
