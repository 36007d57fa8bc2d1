// The policy's refreshAfterRepair switch: optional, true or false, and absent from the policy (and
// its hash) unless true, so groups that never set it keep the policy hash they had.
import { describe, expect, it } from 'vitest';
import {
  defaultPolicy,
  describePolicy,
  policyHash,
  PolicyError,
  validatePolicy,
} from '../../shared/policy/policy.js';

describe('policy: refreshAfterRepair', () => {
  it('is accepted when true and shown in the policy’s words', () => {
    const p = validatePolicy({ ...defaultPolicy(), refreshAfterRepair: true }, 2, 3);
    expect(p.refreshAfterRepair).toBe(true);
    expect(policyHash(p)).not.toBe(policyHash(defaultPolicy()));
    expect(describePolicy(p, 2, 3).join(' ')).toMatch(/After a repair, nothing is signed until/);
    expect(describePolicy(defaultPolicy(), 2, 3).join(' ')).not.toMatch(/After a repair/);
  });

  it('false is the same policy, with the same hash, as leaving it out', () => {
    const p = validatePolicy({ ...defaultPolicy(), refreshAfterRepair: false }, 2, 3);
    expect(p).toEqual(defaultPolicy());
    expect(policyHash({ ...defaultPolicy(), refreshAfterRepair: false })).toBe(
      policyHash(defaultPolicy()),
    );
  });

  it('refuses anything but true or false, naming the field', () => {
    try {
      validatePolicy({ ...defaultPolicy(), refreshAfterRepair: 'yes' }, 2, 3);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      expect((e as PolicyError).field).toBe('refreshAfterRepair');
      expect((e as Error).message).toMatch(/"yes"/);
    }
  });
});
