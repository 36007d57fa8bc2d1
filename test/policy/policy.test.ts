// The group policy: defaults, strict validation, the hash bound into requests, and request checks.
import { describe, expect, it } from 'vitest';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import {
  approvalsNeeded,
  checkRequest,
  defaultPolicy,
  describeDuration,
  describePolicy,
  policyChangeNeeds,
  PolicyError,
  policyHash,
  REQUEST_KINDS,
  validatePolicy,
  validatePolicyChange,
  type GroupPolicy,
  USE_KINDS,
  type RequestKindAll,
} from '../../shared/policy/policy.js';

const T = 2;
const N = 3;
const DAY = 24 * 3600;

function policy(over: Partial<GroupPolicy> = {}): GroupPolicy {
  return { ...defaultPolicy(), ...over };
}

/** Asserts validatePolicy throws bad_policy naming `field`, with `message` in the text. */
function rejects(p: unknown, field: string, message: RegExp, t = T, n = N): void {
  let err: unknown;
  try {
    validatePolicy(p, t, n);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PolicyError);
  const pe = err as PolicyError;
  expect(pe.code).toBe('bad_policy');
  expect(pe.field).toBe(field);
  expect(pe.message).toMatch(message);
}

const sign = (message: string | Uint8Array, expiresInSec = 3600) => ({
  kind: 'sign' as const,
  message: typeof message === 'string' ? utf8ToBytes(message) : message,
  expiresInSec,
});
const ceremony = (kind: RequestKindAll, expiresInSec = 3600) => ({
  kind,
  message: utf8ToBytes('{}'),
  expiresInSec,
});

describe('defaultPolicy', () => {
  it('allows every kind but reconstruct, at T approvals, 24 h default and 30 days max', () => {
    const p = defaultPolicy();
    expect(p).toEqual({
      v: 1,
      allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'policy'],
      approvals: {},
      policyChange: 'threshold',
      defaultExpirySec: DAY,
      maxExpirySec: 30 * DAY,
      allowReconstruct: false,
      messagePrefixes: [],
    });
    for (const k of REQUEST_KINDS) expect(approvalsNeeded(p, k, T, N)).toBe(T);
  });

  it('is valid for every group shape and returns a fresh object each time', () => {
    for (const [t, n] of [
      [1, 1],
      [2, 2],
      [2, 3],
      [3, 5],
      [50, 50],
    ])
      expect(validatePolicy(defaultPolicy(), t!, n!)).toEqual(defaultPolicy());
    const a = defaultPolicy();
    a.allowedKinds.push('reconstruct');
    expect(defaultPolicy().allowedKinds).not.toContain('reconstruct');
  });
});

describe('validatePolicy', () => {
  it('accepts a full policy, including from JSON, and returns a copy', () => {
    const p = policy({
      allowedKinds: ['sign', 'reconstruct', 'policy'],
      approvals: { sign: 3, reconstruct: 3 },
      policyChange: 'all',
      defaultExpirySec: 60,
      maxExpirySec: 600,
      allowReconstruct: true,
      messagePrefixes: ['pay:', 'attest:'],
    });
    const v = validatePolicy(JSON.parse(JSON.stringify(p)), T, N);
    expect(v).toEqual(p);
    expect(v).not.toBe(p);
  });

  it('puts allowedKinds in the standard order', () => {
    const v = validatePolicy(policy({ allowedKinds: ['policy', 'repair', 'sign'] }), T, N);
    expect(v.allowedKinds).toEqual(['sign', 'repair', 'policy']);
  });

  it('treats an approvals entry set to undefined as missing', () => {
    const v = validatePolicy(policy({ approvals: { sign: undefined, refresh: 3 } }), T, N);
    expect(v.approvals).toEqual({ refresh: 3 });
  });

  it('refuses something that is not an object', () => {
    rejects(null, 'policy', /must be an object/);
    rejects([], 'policy', /must be an object/);
    rejects('policy', 'policy', /must be an object/);
  });

  it('refuses a policy with an unknown field', () => {
    rejects({ ...defaultPolicy(), maxAmount: 5 }, 'maxAmount', /unknown field "maxAmount"/);
  });

  it('refuses a policy with a missing field', () => {
    const { messagePrefixes: _, ...rest } = defaultPolicy();
    rejects(rest, 'messagePrefixes', /missing "messagePrefixes"/);
  });

  it('refuses an unknown version', () => {
    rejects({ ...defaultPolicy(), v: 2 }, 'v', /version must be 1, got 2/);
  });

  it('refuses allowedKinds that is not a list', () => {
    rejects({ ...defaultPolicy(), allowedKinds: 'sign' }, 'allowedKinds', /must be a list/);
  });

  it('refuses an unknown request kind in allowedKinds', () => {
    rejects(
      { ...defaultPolicy(), allowedKinds: ['sign', 'transfer', 'policy'] },
      'allowedKinds[1]',
      /not a request kind: "transfer"/,
    );
  });

  it('refuses a kind listed twice', () => {
    rejects(
      policy({ allowedKinds: ['sign', 'sign', 'policy'] }),
      'allowedKinds[1]',
      /"sign" twice/,
    );
  });

  it('refuses allowedKinds without "policy", since a group can always change its policy', () => {
    rejects(policy({ allowedKinds: ['sign'] }), 'allowedKinds', /must include "policy"/);
  });

  it('refuses approvals that is not an object', () => {
    rejects({ ...defaultPolicy(), approvals: [2] }, 'approvals', /must be an object/);
  });

  it('refuses approvals for an unknown kind', () => {
    rejects({ ...defaultPolicy(), approvals: { transfer: 2 } }, 'approvals.transfer', /unknown/);
    rejects(
      { ...defaultPolicy(), approvals: JSON.parse('{"__proto__": 2}') },
      'approvals.__proto__',
      /unknown/,
    );
  });

  it('refuses approvals.policy, because policyChange says how many a policy change needs', () => {
    rejects(policy({ approvals: { policy: 3 } }), 'approvals.policy', /set policyChange/);
  });

  it('refuses approvals below the threshold', () => {
    rejects(policy({ approvals: { sign: 1 } }), 'approvals.sign', /in 2\.\.3, got 1/);
  });

  it('refuses approvals above the group size', () => {
    rejects(policy({ approvals: { refresh: 4 } }), 'approvals.refresh', /in 2\.\.3, got 4/);
  });

  it('refuses approvals that are not integers', () => {
    rejects(policy({ approvals: { sign: 2.5 } }), 'approvals.sign', /integer/);
    rejects({ ...defaultPolicy(), approvals: { sign: '3' } }, 'approvals.sign', /got "3"/);
  });

  it('refuses an unknown policyChange rule', () => {
    rejects({ ...defaultPolicy(), policyChange: 'majority' }, 'policyChange', /"majority"/);
  });

  it('refuses a maximum expiry under 10 seconds or over 30 days', () => {
    rejects(policy({ defaultExpirySec: 9, maxExpirySec: 9 }), 'maxExpirySec', /10\.\.2592000/);
    rejects(policy({ maxExpirySec: 30 * DAY + 1 }), 'maxExpirySec', /got 2592001/);
  });

  it('refuses a default expiry under 10 seconds or over 30 days', () => {
    rejects(policy({ defaultExpirySec: 5 }), 'defaultExpirySec', /got 5/);
    rejects(policy({ defaultExpirySec: 31 * DAY }), 'defaultExpirySec', /got 2678400/);
  });

  it('refuses an expiry that is not an integer', () => {
    rejects(policy({ defaultExpirySec: 60.5 }), 'defaultExpirySec', /integer/);
    rejects({ ...defaultPolicy(), maxExpirySec: '600' }, 'maxExpirySec', /integer/);
  });

  it('refuses a default expiry longer than the maximum', () => {
    rejects(
      policy({ defaultExpirySec: 2 * DAY, maxExpirySec: DAY }),
      'defaultExpirySec',
      /must not exceed maxExpirySec/,
    );
  });

  it('refuses allowReconstruct that is not a boolean', () => {
    rejects({ ...defaultPolicy(), allowReconstruct: 'no' }, 'allowReconstruct', /true or false/);
  });

  it('refuses allowReconstruct true when allowedKinds does not list reconstruct', () => {
    rejects(policy({ allowReconstruct: true }), 'allowReconstruct', /does not list/);
  });

  it('refuses reconstruct in allowedKinds when allowReconstruct is false', () => {
    rejects(
      policy({ allowedKinds: ['sign', 'reconstruct', 'policy'] }),
      'allowedKinds',
      /allowReconstruct is false/,
    );
  });

  it('refuses messagePrefixes that is not a list', () => {
    rejects({ ...defaultPolicy(), messagePrefixes: 'pay:' }, 'messagePrefixes', /must be a list/);
  });

  it('refuses more than 32 prefixes', () => {
    const many = Array.from({ length: 33 }, (_, i) => `p${i}:`);
    expect(validatePolicy(policy({ messagePrefixes: many.slice(0, 32) }), T, N)).toBeTruthy();
    rejects(policy({ messagePrefixes: many }), 'messagePrefixes', /at most 32, got 33/);
  });

  it('refuses a prefix longer than 200 characters', () => {
    expect(validatePolicy(policy({ messagePrefixes: ['x'.repeat(200)] }), T, N)).toBeTruthy();
    rejects(policy({ messagePrefixes: ['x'.repeat(201)] }), 'messagePrefixes[0]', /1\.\.200/);
  });

  it('refuses an empty prefix, which would allow every message', () => {
    rejects(policy({ messagePrefixes: ['pay:', ''] }), 'messagePrefixes[1]', /1\.\.200/);
  });

  it('refuses a prefix that is not a string', () => {
    rejects({ ...defaultPolicy(), messagePrefixes: [7] }, 'messagePrefixes[0]', /got 7/);
  });

  it('refuses a prefix listed twice', () => {
    rejects(policy({ messagePrefixes: ['pay:', 'pay:'] }), 'messagePrefixes[1]', /twice/);
  });

  it('refuses a prefix with control or direction-changing characters', () => {
    rejects(policy({ messagePrefixes: ['pay:\u0000'] }), 'messagePrefixes[0]', /control/);
    rejects(policy({ messagePrefixes: ['\u202epay'] }), 'messagePrefixes[0]', /control/);
  });

  it('refuses a prefix that is not valid Unicode', () => {
    rejects(policy({ messagePrefixes: ['pay:\ud800'] }), 'messagePrefixes[0]', /not valid/);
  });

  it('refuses a group threshold or size that makes no sense', () => {
    rejects(defaultPolicy(), 'threshold', /1\.\.3, got 4/, 4, 3);
    rejects(defaultPolicy(), 'threshold', /got 0/, 0, 3);
    rejects(defaultPolicy(), 'size', /got 0/, 1, 0);
  });
});

describe('policyHash', () => {
  const base = policy({ approvals: { sign: 3 }, messagePrefixes: ['pay:'] });

  it('is hex sha256 and stable across key order', () => {
    const h = policyHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const reversed = Object.fromEntries(Object.entries(base).reverse()) as unknown as GroupPolicy;
    expect(policyHash(reversed)).toBe(h);
    expect(policyHash(validatePolicy(JSON.parse(JSON.stringify(reversed)), T, N))).toBe(h);
  });

  it('is stable across the order of allowedKinds', () => {
    const shuffled = policy({ ...base, allowedKinds: [...base.allowedKinds].reverse() });
    expect(policyHash(shuffled)).toBe(policyHash(base));
  });

  it('changes when any single field is tampered with', () => {
    const tampered: GroupPolicy[] = [
      { ...base, allowedKinds: ['sign', 'policy'] },
      { ...base, approvals: { sign: 2 } },
      { ...base, approvals: { sign: 3, refresh: 3 } },
      { ...base, policyChange: 'all' },
      { ...base, defaultExpirySec: base.defaultExpirySec + 1 },
      { ...base, maxExpirySec: base.maxExpirySec - 1 },
      { ...base, allowReconstruct: true },
      { ...base, messagePrefixes: ['pay:', 'x'] },
      { ...base, messagePrefixes: ['pay'] },
      { ...base, messagePrefixes: [] },
    ];
    const hashes = new Set([policyHash(base), ...tampered.map(policyHash)]);
    expect(hashes.size).toBe(tampered.length + 1);
  });

  it('tells a member with a tampered policy apart: one field changed gives a different hash', () => {
    const honest = validatePolicy(defaultPolicy(), T, N);
    const tampered = JSON.parse(JSON.stringify(honest)) as GroupPolicy;
    tampered.allowReconstruct = true;
    tampered.allowedKinds.push('reconstruct');
    // The tampered copy is itself a valid policy; only the hash in the request gives it away.
    expect(() => validatePolicy(tampered, T, N)).not.toThrow();
    expect(policyHash(tampered)).not.toBe(policyHash(honest));
  });
});

describe('approvalsNeeded', () => {
  it('is T for kinds the policy does not mention and the policy number otherwise', () => {
    const p = policy({ approvals: { sign: 3, repair: 2 } });
    expect(approvalsNeeded(p, 'sign', T, N)).toBe(3);
    expect(approvalsNeeded(p, 'repair', T, N)).toBe(2);
    expect(approvalsNeeded(p, 'refresh', T, N)).toBe(T);
  });

  it('follows policyChange for policy changes', () => {
    expect(approvalsNeeded(policy(), 'policy', 2, 5)).toBe(2);
    expect(approvalsNeeded(policy({ policyChange: 'all' }), 'policy', 2, 5)).toBe(5);
    expect(policyChangeNeeds(policy(), 2, 5)).toBe(2);
    expect(policyChangeNeeds(policy({ policyChange: 'all' }), 2, 5)).toBe(5);
  });

  it('stays within T..N when the group changed shape after the policy was written', () => {
    const p = policy({ approvals: { sign: 5, refresh: 2 } }); // written for 2-of-5
    expect(approvalsNeeded(p, 'sign', 2, 3)).toBe(3);
    expect(approvalsNeeded(p, 'refresh', 3, 4)).toBe(3);
    for (const k of REQUEST_KINDS)
      for (const [t, n] of [
        [1, 1],
        [2, 3],
        [4, 4],
      ]) {
        const need = approvalsNeeded(p, k, t!, n!);
        expect(need).toBeGreaterThanOrEqual(t!);
        expect(need).toBeLessThanOrEqual(n!);
      }
  });
});

describe('the uses of the key (ssh, age, x509, psbt, nostr) follow signing', () => {
  const use = (kind: RequestKindAll) => ({ kind, message: utf8ToBytes('{}'), expiresInSec: 3600 });

  it('are allowed when signing is, with the approvals signing needs', () => {
    const p = policy({ approvals: { sign: 3 } });
    for (const k of USE_KINDS) {
      expect(checkRequest(p, use(k), T, N), k).toEqual({ allowed: true });
      expect(approvalsNeeded(p, k, T, N), k).toBe(3);
    }
    const noSigning = policy({ allowedKinds: ['refresh', 'policy'] });
    expect(checkRequest(noSigning, use('ssh'), T, N)).toEqual({
      allowed: false,
      reason:
        "The group's policy does not allow signing, so it does not allow SSH signing (logins, certificates, SSHSIG).",
    });
  });

  it('are refused while signing is limited to some texts (they sign other bytes)', () => {
    const v = checkRequest(policy({ messagePrefixes: ['pay:'] }), use('psbt'), T, N);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/only allows signing text messages that start with "pay:"/);
  });

  it('one can be forbidden by limits[use] = false, and the policy says so', () => {
    const p = validatePolicy(policy({ limits: { age: false, x509: { maxDays: 90 } } }), T, N);
    expect(checkRequest(p, use('age'), T, N)).toEqual({
      allowed: false,
      reason: "The group's policy does not allow decrypting age files.",
    });
    expect(checkRequest(p, use('x509'), T, N).allowed).toBe(true);
    const text = describePolicy(p, T, N);
    expect(text).toContain('Not allowed: using the key for age decryption.');
    expect(text).toContain(
      'Using the key for SSH, X.509 certificates, Bitcoin transactions and Nostr events needs the same approvals as signing, within the limits set for X.509 certificates.',
    );
  });

  it('limits are checked for shape, and a policy without them keeps its hash', () => {
    expect(policyHash(validatePolicy(policy({ limits: {} }), T, N))).toBe(
      policyHash(defaultPolicy()),
    );
    expect(policyHash(validatePolicy(policy({ limits: { ssh: false } }), T, N))).not.toBe(
      policyHash(defaultPolicy()),
    );
    rejects(policy({ limits: { sign: false } as never }), 'limits.sign', /unknown use "sign"/);
    rejects(policy({ limits: { ssh: true } as never }), 'limits.ssh', /must be false or an object/);
    rejects(policy({ limits: [] as never }), 'limits', /must be an object/);
    rejects(
      policy({ limits: { nostr: { x: 'y'.repeat(5000) } } }),
      'limits.nostr',
      /longer than 4096/,
    );
  });
});

describe('checkRequest', () => {
  it('allows a request the default policy permits', () => {
    expect(checkRequest(defaultPolicy(), sign('hello'), T, N)).toEqual({ allowed: true });
    for (const k of ['refresh', 'reshare', 'repair', 'policy'] as const)
      expect(checkRequest(defaultPolicy(), ceremony(k), T, N)).toEqual({ allowed: true });
  });

  it('refuses a kind the policy does not allow', () => {
    const p = policy({ allowedKinds: ['sign', 'policy'] });
    const v = checkRequest(p, ceremony('reshare'), T, N);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/does not allow resharing/);
    expect(checkRequest(p, sign('x'), T, N).allowed).toBe(true);
  });

  it('refuses reconstruction by default', () => {
    const v = checkRequest(defaultPolicy(), ceremony('reconstruct'), T, N);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/does not allow reconstructing the key/);
  });

  it('allows reconstruction once the policy enables it', () => {
    const p = policy({
      allowedKinds: [...defaultPolicy().allowedKinds, 'reconstruct'],
      allowReconstruct: true,
      approvals: { reconstruct: 3 },
    });
    expect(checkRequest(p, ceremony('reconstruct'), T, N)).toEqual({ allowed: true });
    expect(approvalsNeeded(p, 'reconstruct', T, N)).toBe(3);
  });

  it('refuses an expiry longer than the policy maximum', () => {
    const p = policy({ defaultExpirySec: 3600, maxExpirySec: DAY });
    expect(checkRequest(p, sign('x', DAY), T, N).allowed).toBe(true);
    const v = checkRequest(p, sign('x', DAY + 1), T, N);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/at most 24 hours; this one asks for 86401 seconds/);
  });

  it('refuses an expiry under 10 seconds or not a whole number', () => {
    expect(checkRequest(defaultPolicy(), sign('x', 9), T, N).reason).toMatch(/at least 10/);
    expect(checkRequest(defaultPolicy(), sign('x', 60.5), T, N).allowed).toBe(false);
  });

  it('refuses an unknown kind', () => {
    const req = { ...sign('x'), kind: 'transfer' as RequestKindAll };
    expect(checkRequest(defaultPolicy(), req, T, N).reason).toMatch(/"transfer"/);
  });

  it('refuses all but a policy change under a policy that is not valid for this group', () => {
    // Written for 2-of-3; the group is now 2-of-2, so "3 approvals to sign" cannot be met.
    const p = policy({ approvals: { sign: 3 } });
    const v = checkRequest(p, sign('x'), 2, 2);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/not valid for this group.*approvals\.sign.*policy change first/);
    expect(checkRequest(p, ceremony('refresh'), 2, 2).allowed).toBe(false);
    expect(checkRequest(p, ceremony('policy'), 2, 2)).toEqual({ allowed: true });
    expect(checkRequest(p, ceremony('policy', 30 * DAY + 1), 2, 2).allowed).toBe(false);
  });

  it('refuses everything, even a policy change, for a threshold or size that makes no sense', () => {
    const v = checkRequest(defaultPolicy(), ceremony('policy'), 4, 3);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/size is not valid.*got 4/);
  });

  describe('with message prefixes', () => {
    const p = policy({ messagePrefixes: ['pay:', 'attest:'] });

    it('allows text that starts with one of them', () => {
      expect(checkRequest(p, sign('pay: 5 BTC to bc1q…'), T, N)).toEqual({ allowed: true });
      expect(checkRequest(p, sign('attest:\nline two\ttab'), T, N)).toEqual({ allowed: true });
    });

    it('refuses text with the wrong prefix', () => {
      const v = checkRequest(p, sign('withdraw: all'), T, N);
      expect(v.allowed).toBe(false);
      expect(v.reason).toBe(
        'The group\'s policy only allows signing messages that start with "pay:" or "attest:".',
      );
      expect(checkRequest(p, sign(' pay:'), T, N).allowed).toBe(false);
      expect(checkRequest(p, sign('PAY:'), T, N).allowed).toBe(false);
    });

    it('refuses a message that is not UTF-8', () => {
      const bytes = new Uint8Array([...utf8ToBytes('pay:'), 0xff, 0xfe]);
      const v = checkRequest(p, sign(bytes), T, N);
      expect(v.allowed).toBe(false);
      expect(v.reason).toMatch(/only allows signing text messages .* not plain text/);
    });

    it('refuses text with control or direction-changing characters after a good prefix', () => {
      expect(checkRequest(p, sign('pay:\u0000'), T, N).allowed).toBe(false);
      expect(checkRequest(p, sign('pay: 1 to \u202eevil'), T, N).allowed).toBe(false);
    });

    it('refuses a byte-order mark hidden in front of a prefix', () => {
      expect(checkRequest(p, sign('\ufeffpay: 1'), T, N).allowed).toBe(false);
    });

    it('applies to signing only, not to ceremonies', () => {
      const bin = { kind: 'refresh' as const, message: new Uint8Array([0xff]), expiresInSec: 60 };
      expect(checkRequest(p, bin, T, N)).toEqual({ allowed: true });
    });

    it('lets any message through when the list is empty', () => {
      expect(checkRequest(defaultPolicy(), sign(new Uint8Array([0xff, 0])), T, N).allowed).toBe(
        true,
      );
    });
  });
});

describe('describePolicy', () => {
  it('describes the default policy in plain sentences', () => {
    expect(describePolicy(defaultPolicy(), 2, 3)).toEqual([
      'Signing needs the approval of 2 of 3 members.',
      'Refreshing the shares needs the approval of 2 of 3 members.',
      'Resharing (changing custodians or threshold) needs the approval of 2 of 3 members.',
      'Repairing a lost share needs the approval of 2 of 3 members.',
      'Reconstructing the key is not allowed.',
      'Changing this policy needs the approval of 2 of 3 members (the threshold).',
      'Requests expire after 24 hours unless the proposer chooses otherwise, at most 30 days.',
      'Any message may be signed.',
      'Using the key for SSH, age decryption, X.509 certificates, Bitcoin transactions and Nostr events needs the same approvals as signing.',
    ]);
  });

  it('describes a strict policy', () => {
    const p = policy({
      allowedKinds: ['sign', 'reconstruct', 'policy'],
      allowReconstruct: true,
      approvals: { sign: 3, reconstruct: 3 },
      policyChange: 'all',
      defaultExpirySec: 90,
      maxExpirySec: 5400,
      messagePrefixes: ['pay:'],
    });
    expect(describePolicy(p, 2, 3)).toEqual([
      'Signing needs the approval of all 3 members.',
      'Not allowed: refreshing the shares, resharing (changing custodians or threshold), repairing a lost share.',
      'Reconstructing the key is allowed with the approval of all 3 members; it exposes the whole key on one device.',
      'Changing this policy needs the approval of all 3 members.',
      'Requests expire after 90 seconds unless the proposer chooses otherwise, at most 90 minutes.',
      'Only text messages that start with "pay:" may be signed.',
    ]);
  });

  it('writes durations in the largest whole unit', () => {
    expect(describeDuration(1)).toBe('1 second');
    expect(describeDuration(60)).toBe('1 minute');
    expect(describeDuration(7200)).toBe('2 hours');
    expect(describeDuration(DAY)).toBe('24 hours');
    expect(describeDuration(2 * DAY)).toBe('2 days');
    expect(describeDuration(DAY + 1)).toBe('86401 seconds');
  });
});

describe('validatePolicyChange', () => {
  const current = defaultPolicy();
  const next = policy({ policyChange: 'all' });

  it('accepts a change that names the policy in force and returns the new policy', () => {
    const change = { v: 1, from: policyHash(current), policy: next };
    expect(validatePolicyChange(JSON.parse(JSON.stringify(change)), current, T, N)).toEqual(next);
  });

  it('refuses a change proposed against another policy', () => {
    const change = { v: 1, from: policyHash(next), policy: next };
    expect(() => validatePolicyChange(change, current, T, N)).toThrow(/different policy/);
  });

  it('refuses a change with an unknown field, version or an invalid new policy', () => {
    const from = policyHash(current);
    expect(() => validatePolicyChange({ v: 1, from, policy: next, x: 1 }, current, T, N)).toThrow(
      /unknown field "x"/,
    );
    expect(() => validatePolicyChange({ v: 2, from, policy: next }, current, T, N)).toThrow(
      /version/,
    );
    expect(() =>
      validatePolicyChange({ v: 1, from, policy: { ...next, v: 2 } }, current, T, N),
    ).toThrow(PolicyError);
    expect(() => validatePolicyChange(null, current, T, N)).toThrow(/must be an object/);
  });
});
