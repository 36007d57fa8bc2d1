// The ECDH service alone: the requester blames a wrong partial (culprit, audit entry) and asks
// another approver, combines s·E that opens the age file, and keeps it for itself; an approver
// answers only the requester, only for a request it approved, after its own audit entry.
import { Decrypter, Encrypter } from 'age-encryption';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ageRecipient,
  headerMacMatches,
  montgomeryOf,
  parseAgeHeader,
  sharedSecretOf,
  unwrapX25519,
} from '../../shared/crypto/age.js';
import {
  combineEcdh,
  ecdhPartial,
  ecdhPartialToJSON,
  verifyEcdhPartial,
  ecdhPartialFromJSON,
} from '../../shared/crypto/ecdh.js';
import { SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { signStatement } from '../../shared/protocol/wire.js';
import { ageMessage } from '../../shared/requests/age.js';
import { executionOf } from '../../shared/requests/index.js';
import type { NodeServices } from '../../main/node/context.js';
import { EcdhService } from '../../main/node/ecdh.js';
import { dealerKeys } from '../crypto/helpers.js';
import { ctx as requestCtx } from '../requests/fixtures.js';
import { harness, peer, readyGroup, requestEnvelope, type Peer } from './fixtures.js';

const RID = 'ef'.repeat(16);
const suite = getSuite('ed25519');
let alice: Peer, bob: Peer, carol: Peer;
const keys = dealerKeys('ed25519', 2, 3);
const groupKey = keys[0]!.public.groupKey.toBytes();
let file: Uint8Array;
let message: Uint8Array;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
  const e = new Encrypter();
  e.addRecipient(ageRecipient(groupKey));
  file = await e.encrypt('the board minutes');
  const header = file.slice(0, parseAgeHeader(file).length);
  message = ageMessage({ name: 'minutes.txt.age', size: file.length, header });
});

/** A node (`me`, holding `key`) with the age request by `author`, approved by `approvers`. */
function setup(me: Peer, key: KeyPackage, author: Peer, approvers: Peer[]) {
  const h = harness(me);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  h.ctx.keys.set(groupId, key);
  const now = Date.now();
  h.store.requests.insert({
    id: RID,
    groupId,
    kind: 'age',
    message,
    createdBy: author.peerId,
    createdAt: now,
    expiresAt: now + 60_000,
    status: 'pending',
    culprits: [],
    envelope: requestEnvelope(author, groupId, 'age', message),
    updatedAt: now,
  });
  for (const who of approvers)
    h.store.decisions.insert({
      requestId: RID,
      peerId: who.peerId,
      decision: 'approve',
      statement: '{}',
      at: now,
    });
  const approversOf = () => h.store.decisions.list(RID).map((d) => d.peerId);
  const deps = {
    requests: {
      approversOf,
      decisionsOf: () => h.store.decisions.list(RID),
      contextOf: () => requestCtx({ scheme: 'ed25519', groupId, author: author.peerId }),
      updateRequest: (id: string, patch: object) => h.store.requests.update(id, patch),
      finish: (id: string, patch: object, type: string, body: Record<string, unknown>) =>
        h.store.tx(() => {
          h.store.requests.update(id, patch);
          h.ctx.audit(type, body, groupId);
        }),
      policyRefusal: () => undefined,
      needed: () => 2,
      refreshOwed: () => undefined,
      acceptStatement: () => undefined,
      announceOutcome: () => undefined,
    },
  } as unknown as NodeServices;
  const service = new EcdhService(h.ctx, deps);
  const entries = (type: string) =>
    h.store.audit.list({ author: `${me.peerId}/${groupId}` }).filter((e) => e.type === type);
  return { ...h, groupId, service, entries };
}

/** The one point the request multiplies (the stanza's share on the Edwards curve). */
function point(): Uint8Array {
  const ex = executionOf('age', message, requestCtx({ scheme: 'ed25519' }));
  if (ex.op !== 'ecdh') throw new Error('not an ECDH');
  return ex.points[0]!;
}

async function decrypt(points: Uint8Array[]): Promise<string> {
  const header = parseAgeHeader(file);
  const key = unwrapX25519(header.stanzas[0]!, sharedSecretOf(points[0]!), montgomeryOf(groupKey));
  expect(key && headerMacMatches(header, key)).toBe(true);
  const d = new Decrypter();
  d.addIdentity({ unwrapFileKey: () => key! });
  return d.decrypt(file, 'text');
}

describe('EcdhService (requester)', () => {
  it('blames a wrong partial, asks another approver, and combines s·E that opens the file', async () => {
    // Alice asked and approved; bob and carol approved. The first one asked (sorted) cheats.
    const h = setup(alice, keys[0]!, alice, [alice, bob, carol]);
    const [first, second] = [bob, carol].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
    const keyOf = (p: Peer) => keys[p === bob ? 1 : 2]!;
    const asked: string[] = [];
    const host = h.ctx.host as unknown as {
      isConnected: (p: string) => boolean;
      request: (p: string, proto: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.isConnected = () => true;
    host.request = async (p, _proto, msg) => {
      if (msg.type !== 'ecdh') return { ok: true };
      asked.push(p);
      const k = keyOf(p === first!.peerId ? first! : second!);
      // The cheat uses its share plus one: its proof, made for that scalar, cannot verify.
      const used: KeyPackage =
        p === first!.peerId
          ? {
              public: k.public,
              share: new SecretShare(
                'ed25519',
                k.share.identifier,
                suite.Fn.add(k.share.scalar(), 1n),
                0,
              ),
            }
          : k;
      return { partials: [ecdhPartialToJSON(suite, ecdhPartial(used, point()))] };
    };
    await h.service.coordinate(RID);
    expect(asked).toEqual([first!.peerId, second!.peerId]);
    const r = h.store.requests.get(RID)!;
    expect(r.status).toBe('done');
    expect(r.culprits).toEqual([first!.peerId]);
    const blamed = h.entries('request.ecdh_partial_invalid');
    expect(blamed).toHaveLength(1);
    expect(blamed[0]!.body).toMatchObject({ id: RID, culprit: first!.peerId });
    expect(String(blamed[0]!.body.reason)).toMatch(/DLEQ/);
    const done = h.entries('request.ecdh_done');
    expect(done).toHaveLength(1);
    expect(done[0]!.body).toMatchObject({ id: RID, helpers: [alice.peerId, second!.peerId] });
    // The result: s·E, as any two honest shares give it, and it opens the file.
    const result = h.service.resultOf(RID)!;
    const expected = combineEcdh(keys[0]!.public, point(), [
      ecdhPartial(keys[0]!, point()),
      ecdhPartial(keys[1]!, point()),
    ]);
    expect(Buffer.from(result[0]!).equals(Buffer.from(suite.encodePoint(expected)))).toBe(true);
    expect(await decrypt(result)).toBe('the board minutes');
    // Nothing of the result is in the audit log or the node's log.
    const hex = Buffer.from(result[0]!).toString('hex');
    expect(JSON.stringify(h.store.audit.list({}))).not.toContain(hex);
    expect(h.logs.join('\n')).not.toContain(hex);
  });

  it('blames a partial for another point (a replay of an honest one for another request)', async () => {
    const h = setup(alice, keys[0]!, alice, [alice, bob]);
    const host = h.ctx.host as unknown as {
      isConnected: (p: string) => boolean;
      request: (p: string, proto: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.isConnected = () => true;
    const other = suite.G.multiply(12345n);
    host.request = async () => ({
      partials: [ecdhPartialToJSON(suite, ecdhPartial(keys[1]!, other))],
    });
    await h.service.coordinate(RID);
    const r = h.store.requests.get(RID)!;
    expect(r.culprits).toEqual([bob.peerId]);
    expect(r.status).not.toBe('done');
    expect(h.service.resultOf(RID)).toBeUndefined();
  });

  it('relays only the stored approvals that still decode as signed statements', async () => {
    const h = setup(alice, keys[0]!, alice, []);
    // Alice's approval as it was stored; bob's row is damaged (valid JSON, not a statement).
    const good = signStatement(
      {
        v: 1,
        type: 'decision',
        groupId: h.groupId,
        requestId: RID,
        requestHash: 'cd'.repeat(32),
        decision: 'approve',
        by: alice.peerId,
        at: Date.now(),
      },
      (m) => alice.sign(m),
    );
    for (const [who, statement] of [
      [alice, JSON.stringify(good)],
      [bob, '{"body":7}'],
    ] as const)
      h.store.decisions.insert({
        requestId: RID,
        peerId: who.peerId,
        decision: 'approve',
        statement,
        at: Date.now(),
      });
    const relayed: unknown[][] = [];
    const host = h.ctx.host as unknown as {
      isConnected: (p: string) => boolean;
      request: (p: string, proto: string, msg: Record<string, unknown>) => Promise<unknown>;
    };
    host.isConnected = () => true;
    host.request = async (_p, _proto, msg) => {
      if (msg.type !== 'ecdh') return { ok: true };
      relayed.push(msg.approvals as unknown[]);
      return { partials: [ecdhPartialToJSON(suite, ecdhPartial(keys[1]!, point()))] };
    };
    await h.service.coordinate(RID);
    expect(relayed).toEqual([[good]]);
    expect(h.store.requests.get(RID)!.status).toBe('done');
  });

  it('waits (pending) while too few approvers are online, and gives nothing to another request', async () => {
    const h = setup(alice, keys[0]!, alice, [alice, bob]);
    await h.service.coordinate(RID);
    expect(h.store.requests.get(RID)!.status).toBe('pending');
    expect(h.service.resultOf(RID)).toBeUndefined();
  });

  it('never coordinates a request another member made', async () => {
    const h = setup(alice, keys[0]!, bob, [alice, bob]);
    const host = h.ctx.host as unknown as { isConnected: () => boolean };
    host.isConnected = () => true;
    await h.service.coordinate(RID);
    expect(h.sent).toHaveLength(0);
    expect(h.service.resultOf(RID)).toBeUndefined();
  });
});

describe('EcdhService (approver)', () => {
  const ask = (h: ReturnType<typeof setup>, from: Peer) =>
    h.service.onEcdh(from.peerId, { v: 1, type: 'ecdh', groupId: h.groupId, requestId: RID });

  it('returns a partial that verifies, after one audit entry', async () => {
    const h = setup(bob, keys[1]!, alice, [alice, bob]);
    const res = (await ask(h, alice)) as { partials: unknown[] };
    expect(res.partials).toHaveLength(1);
    const p = ecdhPartialFromJSON(suite, res.partials[0]);
    expect(verifyEcdhPartial(keys[0]!.public, point(), p)).toBe(true);
    const released = h.entries('request.ecdh_released');
    expect(released).toHaveLength(1);
    expect(released[0]!.body).toMatchObject({ id: RID, to: alice.peerId, points: 1 });
  });

  it('answers nobody but the requester', async () => {
    const h = setup(bob, keys[1]!, alice, [alice, bob, carol]);
    expect(await ask(h, carol)).toEqual({
      error: 'only the member who asked may combine an ECDH',
    });
    expect(h.entries('request.ecdh_released')).toHaveLength(0);
  });

  it('refuses a request it did not approve, or one short of approvals', async () => {
    const h = setup(bob, keys[1]!, alice, [alice, carol]);
    expect(await ask(h, alice)).toEqual({ error: 'this custodian did not approve the request' });
    const h2 = setup(bob, keys[1]!, alice, [bob]);
    expect(await ask(h2, alice)).toEqual({ error: 'not enough approvals under the group policy' });
    expect(h.entries('request.ecdh_released')).toHaveLength(0);
  });

  it('releases nothing when its audit entry cannot be written', async () => {
    const h = setup(bob, keys[1]!, alice, [alice, bob]);
    vi.spyOn(h.store.audit, 'append').mockImplementation(() => {
      throw new Error('disk full');
    });
    await expect(ask(h, alice)).rejects.toThrow(/disk full/);
    vi.restoreAllMocks();
  });

  it('never answers for a signing request', async () => {
    const h = setup(bob, keys[1]!, alice, [alice, bob]);
    h.store.requests.update(RID, { kind: 'sign' });
    expect(await ask(h, alice)).toEqual({ error: 'a sign request is not an ECDH' });
  });
});
