// The key generation's messages, run in-process between DkgServices over a fake network that hands
// each message to the addressee's onMessage: what a run sends, and who answers a member's 'done'.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { decodeGroupMessage, type GroupMessage } from '../../shared/protocol/wire.js';
import type { DkgService } from '../../main/node/dkg.js';
import { dkgService, harness, peer, readyGroup, type Harness, type Peer } from './fixtures.js';

const HASH = 'cd'.repeat(32);

type DkgMsg = Extract<GroupMessage, { type: 'dkg' }>;

interface Member {
  p: Peer;
  h: Harness;
  svc: DkgService;
  /** The 'dkg' messages this member sent, in order, with their addressee. */
  out: { to: string; msg: DkgMsg }[];
}

let peers: Peer[];
beforeAll(async () => {
  peers = await Promise.all(['ann', 'ben', 'cal'].map((n) => peer(n)));
});

const live: Member[] = [];
afterEach(() => {
  // Ends the audit flushes and nonce retries the runs left behind.
  for (const m of live.splice(0)) m.h.ctx.stopped = true;
});

/** A 2-of-3 group in key generation on every member, wired to each other. */
function network(): { members: Member[]; id: string } {
  const members: Member[] = peers.map((p) => {
    const h = harness(p, { secrets: new Map(), connected: true });
    return { p, h, svc: dkgService(h), out: [] };
  });
  let id = '';
  for (const m of members) {
    id = readyGroup(m.h.store, peers, 2);
    m.h.store.groups.update(id, { status: 'dkg', rosterHash: HASH });
    const host = m.h.ctx.host as unknown as {
      request: (peer: string, protocol: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.request = async (to, _protocol, raw) => {
      await Promise.resolve();
      const msg = decodeGroupMessage(JSON.parse(JSON.stringify(raw)));
      if (msg.type !== 'dkg') return { ok: true };
      m.out.push({ to, msg });
      return members.find((x) => x.p.peerId === to)!.svc.onMessage(m.p.peerId, msg);
    };
    live.push(m);
  }
  return { members, id };
}

const dones = (m: Member) => m.out.filter((o) => o.msg.step === 'done');
const answers = (m: Member) =>
  dones(m).filter((o) => (o.msg.payload as { echo?: unknown }).echo === true);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('a key generation over the network', () => {
  it("sends each member's 'done' once to each other member, and nobody answers it", async () => {
    const { members, id } = network();
    await Promise.all(members.map((m) => m.svc.runDkg(id, HASH)));
    const views = members.map((m) => m.h.store.groups.get(id)!);
    expect(views.map((g) => g.status)).toEqual(['ready', 'ready', 'ready']);
    expect(new Set(views.map((g) => g.publicPackage)).size).toBe(1);
    for (const m of members) {
      const steps = m.out.map((o) => o.msg.step);
      for (const step of ['round1', 'echo', 'round2', 'done'])
        expect(
          steps.filter((s) => s === step),
          `${m.p.name} ${step}`,
        ).toHaveLength(2);
      // Answers are for a member that lost the others' 'done' (it restarted): nobody here did.
      expect(answers(m)).toEqual([]);
      expect(dones(m).every((o) => (o.msg.payload as { ask?: unknown }).ask === undefined)).toBe(
        true,
      );
    }
  });

  it("reads each member's stored package as a package a run built, without decoding the row again", async () => {
    const { members, id } = network();
    await Promise.all(members.map((m) => m.svc.runDkg(id, HASH)));
    // Every member derived the same package, so the same text: any member's object may serve it.
    const built = members.map((m) => m.h.ctx.keys.get(id)!.public);
    for (const m of members) {
      const pub = m.h.ctx.publicPackage(id)!;
      expect(built).toContain(pub);
      expect(m.h.store.groups.get(id)!.publicPackage).toBe(
        JSON.stringify(publicPackageToJSON(pub)),
      );
    }
  });

  it("a member that resumes its stored run asks, and only an asking 'done' is answered", async () => {
    const { members, id } = network();
    await Promise.all(members.map((m) => m.svc.runDkg(id, HASH)));
    const [ann, ben, cal] = members;
    const pub = cal!.h.store.groups.get(id)!.publicPackage!;
    // ben stored its share and waits for the others' 'done'; cal restarted after storing its own.
    for (const m of [ben!, cal!]) {
      m.h.store.groups.update(id, { status: 'dkg' });
      m.h.store.meta.set(`dkg-stored:${id}`, JSON.stringify({ attempt: 0, publicPackage: pub }));
      m.out.length = 0;
    }
    const annDone = dones(ann!).find((o) => o.to === ben!.p.peerId)!.msg;
    const benAnswers = () => answers(ben!).filter((o) => o.to === ann!.p.peerId).length;
    // A first 'done' (the sender still runs and gets ben's own): not answered.
    ben!.svc.onMessage(ann!.p.peerId, annDone);
    await new Promise((r) => setImmediate(r));
    expect(benAnswers()).toBe(0);
    // One that asks is.
    ben!.svc.onMessage(ann!.p.peerId, { ...annDone, payload: { ...annDone.payload, ask: true } });
    await until("ben's answer to ann", () => benAnswers() === 1);

    // cal, restarted (a new service over the same store): its 'done' asks; ann (ready) and ben
    // (stored, waiting) answer it, and cal ends ready.
    const restarted = dkgService(cal!.h);
    cal!.svc = restarted;
    restarted.resume(id);
    await until('cal ready', () => cal!.h.store.groups.get(id)!.status === 'ready');
    const calDones = dones(cal!).filter((o) => !(o.msg.payload as { echo?: unknown }).echo);
    expect(calDones.map((o) => (o.msg.payload as { ask?: unknown }).ask)).toEqual([true, true]);
    expect(answers(ann!).filter((o) => o.to === cal!.p.peerId)).toHaveLength(1);
    expect(answers(ben!).filter((o) => o.to === cal!.p.peerId)).toHaveLength(1);
  });
});
