// Property tests: whatever bytes or JSON a member signs, parsing a request either succeeds or
// throws a RequestParamError, and decoding it for a card never throws at all.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import {
  KINDS,
  REQUEST_KINDS,
  RequestParamError,
  decodeRequest,
  decodeRequestBody,
  isRequestKind,
  parseRequest,
  validateIncomingRequest,
} from '../../shared/requests/index.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  GROUP,
  NOW,
  body,
  ctx,
  group,
  policyParams,
  reconstructParams,
  refreshParams,
  repairParams,
  reshareParams,
} from './fixtures.js';

const kind = fc.constantFrom(...KINDS, 'import', 'constructor', '__proto__', '');

/** JSON values that look like parameters: the real field names with any values. */
const fieldNames = fc.constantFrom(
  'ceremony',
  'group',
  'fromEpoch',
  'threshold',
  'size',
  'add',
  'remove',
  'lost',
  'newcomer',
  'peerId',
  'name',
  'addrs',
  'purpose',
  'operation',
  'requester',
  'oneTimeKey',
  'digest',
  'v',
  'from',
  'policy',
  'allowedKinds',
  'approvals',
  '__proto__',
  'toString',
);
const leaf = fc.oneof(
  fc.constantFrom(
    GROUP,
    ALICE,
    BOB,
    CAROL,
    DAVE,
    'reshare',
    'refresh',
    'repair',
    'reconstruct',
    'export',
    'ecdsa-sign',
    '22'.repeat(32),
    0,
    1,
    2,
    3,
    4,
    -1,
    1.5,
    2 ** 53,
    null,
    true,
    '',
  ),
  fc.string(),
  fc.integer(),
  fc.double(),
);
const paramsLike = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fieldNames, tie('value'), { maxKeys: 8 }),
  ),
})).value;

/** A valid message with one field replaced by anything. */
const mutated = fc
  .tuple(
    fc.constantFrom(
      refreshParams(),
      reshareParams(),
      repairParams(),
      reconstructParams(),
      policyParams(),
    ),
    fieldNames,
    paramsLike,
  )
  .map(([p, k, v]) => ({ ...p, [k]: v }));

const bytesOf = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  paramsLike.map((v) => utf8ToBytes(JSON.stringify(v) ?? 'undefined')),
  mutated.map((v) => utf8ToBytes(JSON.stringify(v) ?? '')),
);

function parseOutcome(k: string, m: Uint8Array): 'ok' | 'refused' {
  try {
    // The modules themselves, not parseRequest: its guard would turn a bug (a TypeError) into a
    // RequestParamError and hide it from this test.
    if (isRequestKind(k)) REQUEST_KINDS[k].parse(m, ctx());
    else parseRequest(k, m, ctx());
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).message.length).toBeLessThan(600);
    return 'refused';
  }
}

describe('any input', () => {
  it('parse throws nothing but RequestParamError on random bytes and JSON', () => {
    let accepted = 0;
    fc.assert(
      fc.property(kind, bytesOf, (k, m) => {
        if (parseOutcome(k, m) === 'ok') {
          accepted++;
          // What parses also decodes, by the module itself (no guard in between).
          if (isRequestKind(k)) {
            const mod = REQUEST_KINDS[k] as (typeof REQUEST_KINDS)['sign'];
            expect(mod.decode(mod.parse(m, ctx()), ctx()).invalid).toBeUndefined();
          }
        }
      }),
      { numRuns: 3000 },
    );
    // The generator reaches valid messages too (mutations that keep a message valid, sign bytes).
    expect(accepted).toBeGreaterThan(50);
  });

  it('decodeRequest never throws, and says why when it cannot show a request', () => {
    fc.assert(
      fc.property(kind, bytesOf, fc.boolean(), (k, m, current) => {
        const card = decodeRequest(k, m, ctx(), { current });
        expect(typeof card.title).toBe('string');
        expect(typeof card.summary).toBe('string');
        if (parseOutcome(k, m) === 'refused' && card.invalid === undefined)
          // Readable but not valid now: the card must say so.
          expect(current ? card.warnings?.length : 1).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('validateIncomingRequest never throws on any body fields', () => {
    fc.assert(
      fc.property(
        kind,
        bytesOf,
        fc.integer({ min: -1, max: 2 ** 52 }),
        fc.integer({ min: -1, max: 2 ** 52 }),
        fc.constantFrom(ALICE, BOB, 'mallory', ''),
        (k, m, createdAt, expiresAt, createdBy) => {
          const b = body({
            kind: k as never,
            message: Buffer.from(m).toString('hex'),
            createdAt,
            expiresAt,
            createdBy,
          });
          const v = validateIncomingRequest(b, { ...group(), receivedAt: NOW });
          expect(typeof v.ok).toBe('boolean');
          expect(() => decodeRequestBody(b, group())).not.toThrow();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('decodeRequest survives a context with missing or odd fields', () => {
    fc.assert(
      fc.property(kind, bytesOf, paramsLike, (k, m, odd) => {
        const c = { ...ctx(), members: odd, policy: odd, groupName: odd } as never;
        expect(() => decodeRequest(k, m, c)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
