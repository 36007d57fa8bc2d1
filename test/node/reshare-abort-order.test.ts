// The verdict of a refresh (or reshare) does not depend on message order: a liar's 'abort' blaming
// an honest member, reaching another honest member before the first one's echo, ends the wait for
// the liar's messages only; the honest members still judge what they were sent and name the liar.
// An abort is quoted as its sender's word, never as this node's finding. In-process ceremony and
// refresh services over a fake network that can hold a message back.
import { beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import type { CeremonyMessage } from '../../shared/protocol/wire.js';
import { abortMessage, CeremonyService } from '../../main/node/ceremonies/ceremony.js';
import { RefreshReshareService } from '../../main/node/ceremonies/refresh-reshare.js';
import { SettleService } from '../../main/node/ceremonies/settle.js';
import { shareName } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { dealerKeys } from '../crypto/helpers.js';
import {
  harness,
  insertRequest,
  peer,
  readyGroup,
  type Harness,
  type Peer,
  until,
} from './fixtures.js';
import { ceremonyDeps, wireOrderNetwork, type After, type Hold } from './order-network.js';

const REQUEST = 'cd'.repeat(16);
const SESSION = 'ef'.repeat(32);

interface Member {
  p: Peer;
  h: Harness;
  ceremony: CeremonyService;
  refresh: RefreshReshareService;
  /** The failures its requests ended with. */
  failures: string[];
}

let peers: Peer[];
beforeAll(async () => {
  peers = await Promise.all(['ann', 'ben', 'cal'].map((n) => peer(n)));
});

/**
 * ann, ben and cal of a 2-of-3 ed25519 group, each holding its share of epoch 0 and the approved
 * refresh REQUEST, wired to each other (order-network.ts). cal's echo lies about ann's round-1
 * package (the test-only tampering layer, `reshare-lying-echo`): it carries ann's signature over
 * her real package, so the honest members can tell the echo lies. `hold(from, to, msg)` may
 * return a promise that delays that delivery, or 'withheld': the sender sees it delivered, the
 * addressee never gets it; `after(from, to, msg)` runs once a delivery was taken. Each member's
 * ceremony deadline is `timeoutMs` away.
 */
function network(
  hold: Hold<Member, CeremonyMessage>,
  after: After<Member, CeremonyMessage> = () => undefined,
  timeoutMs = 20_000,
): { members: Member[]; groupId: string } {
  const keys = dealerKeys('ed25519', 2, 3);
  let groupId = '';
  const members: Member[] = peers.map((p, i) => {
    const secrets = new Map<string, Uint8Array>();
    const h = harness(p, { secrets, connected: true });
    (h.ctx as { ceremonyTimeoutMs: number }).ceremonyTimeoutMs = timeoutMs;
    groupId = readyGroup(h.store, peers, 2);
    h.store.groups.update(groupId, {
      publicPackage: JSON.stringify(publicPackageToJSON(keys[i]!.public)),
    });
    secrets.set(shareName(groupId, 0), keys[i]!.share.toBytes());
    insertRequest(
      h.store,
      { ceremony: 'refresh', group: groupId, fromEpoch: 0 },
      { id: REQUEST, groupId, kind: 'refresh', createdBy: peers[0]!.peerId, status: 'pending' },
    );
    const failures: string[] = [];
    const base = ceremonyDeps(h, p, failures);
    const deps = {
      ...base,
      repair: {},
      requests: { ...base.requests, announceOutcome: () => undefined },
    } as unknown as NodeServices;
    deps.ceremony = new CeremonyService(h.ctx, deps);
    deps.settle = new SettleService(h.ctx, deps);
    deps.reshare = new RefreshReshareService(h.ctx, deps);
    return { p, h, ceremony: deps.ceremony, refresh: deps.reshare, failures };
  });
  wireOrderNetwork(members, {
    type: 'ceremony',
    liar: { node: members[2]!, kase: 'reshare-lying-echo' },
    hold,
    after,
    deliver: (from, to, msg) => to.ceremony.onCeremony(from.p.peerId, msg),
  });
  return { members, groupId };
}

/** Every member runs the refresh; each ends it (failed, here) on its own. */
async function runAll(members: Member[], groupId: string): Promise<void> {
  const dealers = members.map((m) => m.p.peerId);
  await Promise.all(members.map((m) => m.refresh.runCeremony(groupId, REQUEST, SESSION, dealers)));
}

/** cal's abort to `to`, blaming ann for what cal itself did. */
function calBlamesAnn(members: Member[], groupId: string, to: Member): void {
  const [, , cal] = members;
  to.ceremony.onCeremony(
    cal!.p.peerId,
    abortMessage(groupId, REQUEST, SESSION, 'equivocation: ann misbehaved'),
  );
}

describe('the verdict of a refresh does not depend on message order', () => {
  it("a liar's abort blaming ann, reaching ben before ann's echo, does not replace ben's own check: both honest members name the liar", async () => {
    // cal's lying echo reaches ben, then cal's abort blaming ann; everything ann sends ben after
    // her round-1 package is held until that abort is in.
    let calAborted = false;
    const { members, groupId } = network(
      (from, to, msg) => {
        if (from.p.name === 'ann' && to.p.name === 'ben' && msg.step !== 'round1')
          return until("cal's abort to ben", () => calAborted);
        return undefined;
      },
      (from, to, msg) => {
        if (from.p.name === 'cal' && to.p.name === 'ben' && msg.step === 'echo' && !calAborted) {
          calBlamesAnn(members, groupId, to);
          calAborted = true;
        }
      },
    );
    await runAll(members, groupId);
    const [ann, ben] = members;
    expect(calAborted).toBe(true);
    for (const m of [ann!, ben!]) {
      expect(m.failures, m.p.name).toHaveLength(1);
      expect(m.failures[0]).toMatch(/^refresh failed: equivocation: cal misbehaved;/);
      expect(m.failures[0]).not.toContain('ann');
    }
    // Nobody moved: every member is still at epoch 0.
    for (const m of members) expect(m.h.store.groups.get(groupId)!.epoch).toBe(0);
  });

  it("past the deadline, with ann silent and cal's abort in, ben judges the echo he has and names the liar", async () => {
    // Nothing ann sends ben after her round-1 package arrives; cal's lying echo does, then its
    // abort blaming ann. ben waits for ann until his deadline, then judges cal's echo.
    let calAborted = false;
    const { members, groupId } = network(
      (from, to, msg) =>
        from.p.name === 'ann' && to.p.name === 'ben' && msg.step !== 'round1'
          ? 'withheld'
          : undefined,
      (from, to, msg) => {
        if (from.p.name === 'cal' && to.p.name === 'ben' && msg.step === 'echo' && !calAborted) {
          calBlamesAnn(members, groupId, to);
          calAborted = true;
        }
      },
      3000,
    );
    await runAll(members, groupId);
    const [ann, ben] = members;
    expect(calAborted).toBe(true);
    for (const m of [ann!, ben!]) {
      expect(m.failures, m.p.name).toHaveLength(1);
      expect(m.failures[0]).toMatch(/^refresh failed: equivocation: cal misbehaved;/);
      expect(m.failures[0]).not.toContain('ann');
    }
  });

  it("a liar that aborts instead of sending ben its echo: ben, shown nothing wrong, quotes cal's word and blames nobody himself", async () => {
    const { members, groupId } = network((from, to, msg) => {
      if (from.p.name !== 'cal' || to.p.name !== 'ben' || msg.step !== 'echo') return undefined;
      calBlamesAnn(members, groupId, to);
      return 'withheld';
    });
    await runAll(members, groupId);
    const [ann, ben] = members;
    // ann got cal's lying echo: she names cal.
    expect(ann!.failures[0]).toMatch(/^refresh failed: equivocation: cal misbehaved;/);
    // ben waited for ann's echo (it showed nothing wrong) and quotes cal, as cal's word.
    expect(ben!.failures).toHaveLength(1);
    expect(ben!.failures[0]).toMatch(
      /^refresh failed: cal stopped it: "equivocation: ann misbehaved"; the group stays at epoch 0/,
    );
  });
});
