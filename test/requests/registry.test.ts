// The registry: the kinds it lists, the checks every request body gets when it arrives, the single
// receive-time verdict the node uses, and the approver's cards (decoded, never thrown).
import { peerIdFromString } from '@libp2p/peer-id';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, REQUEST_KINDS as POLICY_KINDS } from '../../shared/policy/policy.js';
import { decodeSigned } from '../../shared/protocol/wire.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import {
  CLOCK_SKEW_MS,
  KINDS,
  REFRESH_AFTER_REPAIR,
  REQUEST_KINDS,
  RequestParamError,
  checkRequestBody,
  decodeRequest,
  decodeRequestBody,
  fingerprintOf,
  peerIdKey,
  validateIncomingRequest,
  USE_KINDS,
  beyondLimits,
  describeLimits,
} from '../../shared/requests/index.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  MALLORY,
  NOW,
  body,
  ctx,
  group,
  json,
  raw,
  reconstructParams,
  repairParams,
  reshareParams,
  policyParams,
} from './fixtures.js';

const hex = (b: Uint8Array) => bytesToHex(b);
const incoming = (over = {}) => ({ ...group(), receivedAt: NOW, ...over });

describe('the registry', () => {
  it('has one module per kind, in the policy’s order, each naming its own kind', () => {
    // The uses follow the policy's kinds: a policy treats them as signing (shared/policy).
    expect(KINDS).toEqual([...POLICY_KINDS, ...USE_KINDS]);
    expect(Object.keys(REQUEST_KINDS).sort()).toEqual([...KINDS].sort());
    for (const k of KINDS) expect(REQUEST_KINDS[k].kind).toBe(k);
  });

  it('lists exactly the kinds the wire accepts', () => {
    const sig = '00'.repeat(64);
    for (const k of KINDS)
      expect(() => decodeSigned({ body: body({ kind: k }), sig })).not.toThrow();
    expect(() => decodeSigned({ body: body({ kind: 'import' as never }), sig })).toThrow();
  });

  it('declares policy defaults that agree with the default policy', () => {
    const d = defaultPolicy();
    for (const k of KINDS) {
      const p = REQUEST_KINDS[k].policy;
      expect(p.allowedByDefault, k).toBe(
        d.allowedKinds.includes(USE_KINDS.includes(k) ? 'sign' : k),
      );
      expect(p.needsReconstructEnabled, k).toBe(k === 'reconstruct');
      expect(p.canBeForbidden, k).toBe(k !== 'policy');
    }
  });

  it('reads peer ids exactly as libp2p does, and fingerprints them as the roster does', () => {
    for (const p of [ALICE, BOB, DAVE]) {
      const lib = peerIdFromString(p);
      expect(lib.type).toBe('Ed25519');
      expect(peerIdKey(p)).toEqual(lib.publicKey!.raw);
      expect(fingerprintOf(p)).toBe(fingerprint(lib.publicKey!.raw));
    }
    expect(peerIdKey('12D3KooWnew')).toBeUndefined();
    expect(peerIdKey(`${ALICE}1`)).toBeUndefined();
  });
});

describe('checks on every request body', () => {
  const refused = (b: ReturnType<typeof body>, field: string, over = {}) => {
    let err: unknown;
    try {
      checkRequestBody(b, incoming(over));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RequestParamError);
    expect((err as RequestParamError).code).toBe('bad_request');
    expect((err as RequestParamError).field).toBe(field);
  };

  it('accepts a request by a member that expires within the policy’s maximum', () => {
    expect(() => checkRequestBody(body(), incoming())).not.toThrow();
    const max = defaultPolicy().maxExpirySec * 1000;
    expect(() => checkRequestBody(body({ expiresAt: NOW + max }), incoming())).not.toThrow();
  });

  it('refuses a request whose author is not a member', () => {
    refused(body({ createdBy: MALLORY }), 'createdBy');
  });

  it('refuses a request for another group', () => {
    refused(body({ groupId: 'cd'.repeat(16) }), 'groupId');
  });

  it('refuses a request that expires before it was created', () => {
    refused(body({ expiresAt: NOW }), 'expiresAt');
    refused(body({ expiresAt: NOW - 1 }), 'expiresAt');
  });

  it('refuses a request that outlives the policy’s maximum expiry whatever createdAt it claims', () => {
    const max = defaultPolicy().maxExpirySec * 1000;
    // Claims to be old, so expiresAt − createdAt looks like the maximum: still too far from now.
    refused(
      body({ createdAt: NOW - 1000, expiresAt: NOW + max + CLOCK_SKEW_MS + 10_000 }),
      'expiresAt',
    );
    refused(body({ createdAt: 0, expiresAt: NOW + 10 * max }), 'expiresAt');
    // A shorter policy bounds it more tightly.
    refused(body({ expiresAt: NOW + 2 * 3600_000 }), 'expiresAt', {
      policy: { ...defaultPolicy(), defaultExpirySec: 600, maxExpirySec: 3600 },
    });
  });

  it('refuses a request created in the future beyond the clock skew', () => {
    refused(
      body({ createdAt: NOW + CLOCK_SKEW_MS + 1000, expiresAt: NOW + CLOCK_SKEW_MS + 60_000 }),
      'createdAt',
    );
  });
});

describe('validateIncomingRequest', () => {
  it('returns the parameters of a valid request', () => {
    const v = validateIncomingRequest(
      body({ kind: 'reshare', message: hex(json(reshareParams())) }),
      incoming(),
    );
    expect(v).toEqual({ ok: true, params: { kind: 'reshare', params: reshareParams() } });
  });

  it('refuses a reshare whose message is not JSON (finding 1), without throwing', () => {
    const v = validateIncomingRequest(
      body({ kind: 'reshare', message: hex(raw('not json at all')) }),
      incoming(),
    );
    expect(v).toMatchObject({ ok: false, code: 'bad_params', field: 'message' });
    if (!v.ok) expect(v.message).toMatch(/not JSON/);
  });

  it('refuses a malformed policy change (finding 1), without throwing', () => {
    for (const m of [raw('{'), json({ v: 1 }), json(policyParams({ policy: { v: 1 } }))]) {
      const v = validateIncomingRequest(body({ kind: 'policy', message: hex(m) }), incoming());
      expect(v.ok).toBe(false);
    }
  });

  it('refuses a reconstruction whose requester is not its author (finding 2)', () => {
    const v = validateIncomingRequest(
      body({ kind: 'reconstruct', message: hex(json(reconstructParams({ requester: BOB }))) }),
      incoming(),
    );
    expect(v).toMatchObject({ ok: false, code: 'bad_params', field: 'requester' });
  });

  it('refuses a reconstruction for an outsider even when the outsider signed it (finding 2)', () => {
    const v = validateIncomingRequest(
      body({
        kind: 'reconstruct',
        createdBy: MALLORY,
        message: hex(json(reconstructParams({ requester: MALLORY }))),
      }),
      incoming(),
    );
    expect(v).toMatchObject({ ok: false, code: 'bad_request', field: 'createdBy' });
  });

  it('refuses a reshare whose claimed size disagrees with the roster it computes (finding 6)', () => {
    const v = validateIncomingRequest(
      body({ kind: 'reshare', message: hex(json(reshareParams({ size: 5, threshold: 4 }))) }),
      incoming(),
    );
    expect(v).toMatchObject({ ok: false, field: 'size' });
  });

  it('refuses a body that is not even hex, without throwing', () => {
    const v = validateIncomingRequest(body({ message: 'zz' }), incoming());
    expect(v.ok).toBe(false);
  });
});

describe('cards', () => {
  it('a refresh card says what today’s description says', () => {
    const c = decodeRequest(
      'refresh',
      json({ ceremony: 'refresh', group: ctx().groupId, fromEpoch: 4 }),
      ctx(),
    );
    expect(c.title).toBe('Refresh the key shares of “Treasury”');
    expect(c.summary).toBe(
      "Refresh every member's share of Treasury (epoch 4 → 5). The public key stays the same; the old shares and their backups stop working. Every member must be online.",
    );
    expect(c.warnings).toBeUndefined();
  });

  it('a reshare card names newcomers with fingerprints and shows the computed size', () => {
    const c = decodeRequest(
      'reshare',
      json(reshareParams({ threshold: 3, remove: [], size: 4 })),
      ctx(),
    );
    expect(c.summary).toBe(
      `Reshare Treasury: add Dave (${fingerprintOf(DAVE)}), change the threshold from 2 to 3 (epoch 4 → 5, 3 of 4 afterwards). The public key stays the same; removed members' shares stop working.`,
    );
    const added = c.fields.find((f) => f.label === 'Added')!;
    expect(added.kind).toBe('members');
    expect(added.people).toEqual([
      {
        name: 'Dave',
        peerId: DAVE,
        fingerprint: fingerprintOf(DAVE),
        change: 'added',
        member: false,
      },
    ]);
    expect(c.fields.find((f) => f.label === 'Approvals needed')?.value).toBe('2 of 3 → 3 of 4');
  });

  it('a reshare card whose claimed size disagrees shows the computed size and says so', () => {
    const c = decodeRequest('reshare', json(reshareParams({ size: 9 })), ctx());
    expect(c.invalid).toBeUndefined();
    expect(c.summary).toContain('2 of 3 afterwards');
    expect(c.warnings?.join(' ')).toMatch(/says the group will have 9 members.*gives 3/);
  });

  it('a reshare card names removed members from the roster, not from the message', () => {
    const c = decodeRequest('reshare', json(reshareParams()), ctx());
    expect(c.fields.find((f) => f.label === 'Removed')?.value).toBe(
      `Carol (${fingerprintOf(CAROL)})`,
    );
  });

  it('a repair card recommends a refresh afterwards', () => {
    const c = decodeRequest('repair', json(repairParams()), ctx());
    expect(c.warnings).toContain(REFRESH_AFTER_REPAIR);
    expect(c.summary).toMatch(
      /^Repair: rebuild Carol's share on a new device, Dave \(fingerprint /,
    );
  });

  it('a reconstruction card names the requester with name and fingerprint, and is dangerous', () => {
    const c = decodeRequest(
      'reconstruct',
      json(reconstructParams()),
      ctx({ ecdsaKey: '02'.repeat(33) }),
    );
    expect(c.danger).toBe(true);
    const r = c.fields.find((f) => f.label === 'Requester')!;
    expect(r.value).toBe(`Alice (${fingerprintOf(ALICE)})`);
    expect(c.summary).toContain("on Alice's computer to sign the digest " + '22'.repeat(32));
    expect(c.summary).toContain(`secp256k1 key ${'02'.repeat(33)}`);
  });

  it('a policy card puts the new rules in words', () => {
    const c = decodeRequest('policy', json(policyParams()), ctx());
    expect(c.summary).toMatch(
      /^Change the group policy of Treasury to: Signing needs the approval of 2 of 3 members\./,
    );
    expect(c.summary).toContain('Requests expire after 1 hour');
  });

  it('a sign card shows binary data as hex and warns', () => {
    const c = decodeRequest('sign', Uint8Array.from([1, 2, 255]), ctx());
    expect(c.fields[0]).toEqual({ label: 'Message (hex)', value: '0102ff', kind: 'hex' });
    expect(c.warnings?.length).toBe(1);
  });

  it('a request that cannot be read gives a card that says why, instead of throwing', () => {
    const c = decodeRequest('reshare', raw('not json'), ctx());
    expect(c.invalid).toMatch(/not JSON/);
    expect(c.summary).toMatch(/^This request cannot be shown: message: is not JSON/);
    expect(c.danger).toBe(true);
    expect(decodeRequest('nonsense', raw('x'), ctx()).invalid).toMatch(/not a request kind/);
  });

  it('a request that no longer fits the group says so, unless it is finished', () => {
    const later = ctx({ epoch: 5, members: ctx().members.filter((m) => m.peerId !== CAROL) });
    const pending = decodeRequest('reshare', json(reshareParams()), later);
    expect(pending.warnings?.[0]).toMatch(/epoch 4, but the group is at epoch 5/);
    expect(pending.warnings?.join(' ')).toMatch(/does not fit the group as it is now/);
    const done = decodeRequest('reshare', json(reshareParams()), later, { current: false });
    expect(done.warnings).toBeUndefined();
    expect(done.invalid).toBeUndefined();
  });

  it('decodeRequestBody decodes the hex of a body and never throws on a broken one', () => {
    expect(decodeRequestBody(body(), group()).title).toBe('Refresh the key shares of “Treasury”');
    expect(decodeRequestBody(body({ message: 'xyz' }), group()).invalid).toBeDefined();
    expect(decodeRequestBody(null as never, group()).invalid).toBeDefined();
  });
});

describe("the uses' limits in a policy", () => {
  it('are said in words by each use, one sentence per bound; a forbidden use is left to the policy', () => {
    expect(
      describeLimits({
        ssh: { maxValiditySec: 3600, requesterCounts: false },
        psbt: { maxFeeSats: 5000 },
        age: false,
      }),
    ).toEqual([
      'SSH certificates valid for at most 1 hour.',
      'An SSH certificate needs the approvals of members other than its requester.',
      expect.stringMatching(/^A Bitcoin transaction may pay a fee of at most .*5,?000/),
    ]);
    expect(describeLimits(undefined)).toEqual([]);
  });

  it("a policy change with a use's malformed limits is refused, naming the field once", () => {
    const why = beyondLimits(
      'policy',
      { policy: { ...defaultPolicy(), limits: { psbt: { maxSendSats: -1 } } } },
      ctx(),
    );
    expect(why).toMatch(/^limits\.psbt\.maxSendSats/);
    expect(why).not.toMatch(/limits\.psbt: limits\.psbt/);
  });
});
