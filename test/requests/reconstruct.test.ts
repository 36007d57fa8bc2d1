// The reconstruct kind beyond its schema cases (kinds.test.ts): what its card tells an approver
// about the exposure its share causes, and the audit log's sentence for that exposure (finding 2).
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  exposureSummary,
  fingerprintOf,
  parseRequest,
} from '../../shared/requests/index.js';
import { ALICE, MALLORY, ctx, json, reconstructParams } from './fixtures.js';

describe('reconstruct', () => {
  it('the card tells the approver that sending its share records the key as exposed to the requester', () => {
    const c = decodeRequest(
      'reconstruct',
      json(reconstructParams({ operation: 'export', digest: undefined })),
      ctx(),
    );
    expect(c.warnings?.join('\n')).toContain(
      `records in its audit log that the key is exposed to Alice (${fingerprintOf(ALICE)})`,
    );
  });

  it('an export carries no digest, and one with a digest is refused (what the node writes)', () => {
    const exportParams = reconstructParams({ operation: 'export', digest: undefined });
    expect('digest' in parseRequest('reconstruct', json(exportParams), ctx())).toBe(false);
    expect(() =>
      parseRequest('reconstruct', json({ ...exportParams, digest: '22'.repeat(32) }), ctx()),
    ).toThrow(/digest: is only for ecdsa-sign/);
  });

  it('the audit sentence names the requester with the fingerprint computed from the peer id', () => {
    const s = exposureSummary({
      requestId: 'ab'.repeat(32),
      to: ALICE,
      toName: 'Alice',
      // A fingerprint in the body is not believed: it is computed from the peer id.
      fingerprint: 'AAAA-AAAA-AAAA-AAAA-AAAA',
      how: 'share-sent',
    });
    expect(s).toBe(
      `key exposed to "Alice" (${fingerprintOf(ALICE)}) by reconstruction ${'ab'.repeat(32)}: this member sent its share`,
    );
    expect(exposureSummary({ requestId: 'r1', to: MALLORY, toName: 'm', how: 'reported' })).toMatch(
      /^key exposed to "m" \(.{24}\) by reconstruction "r1": as the requester reported$/,
    );
  });

  it('the audit sentence escapes what another member’s entry says', () => {
    const s = exposureSummary({ requestId: 'r1', to: ALICE, toName: 'Al\nice\u202e', how: 'x' });
    expect(s).not.toMatch(/[\n\u202e]/);
    expect(s).toContain('"Al\\u{a}ice\\u{202e}"');
    expect(exposureSummary({ requestId: 'ab', exposed: 'key exposed on bob at t (p)' })).toBe(
      'key exposed by reconstruction ab: "key exposed on bob at t (p)"',
    );
  });
});
