// Vector tables per request kind: what each kind's strict schema accepts, and every malformed
// message it refuses (with the field named), as the node will check them when a request arrives.
import { describe, expect, it } from 'vitest';
import { defaultPolicy, policyHash } from '../../shared/policy/policy.js';
import {
  REQUEST_KINDS,
  RequestParamError,
  parseRequest,
  type RequestContext,
  type RequestKind,
  USE_KINDS,
} from '../../shared/requests/index.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  ERIN,
  MALLORY,
  OTHER_GROUP,
  ctx,
  json,
  newcomer,
  offCurvePeer,
  policyParams,
  raw,
  reconstructParams,
  refreshParams,
  repairParams,
  reshareParams,
} from './fixtures.js';

/** A case: its name (the sentence after "accepts"/"refuses"), the message, context changes, the field refused. */
type Valid = [name: string, message: Uint8Array, over?: Partial<RequestContext>];
type Invalid = [name: string, message: Uint8Array, field: string, over?: Partial<RequestContext>];

const ceremonyShape = (kind: string, make: (o?: Record<string, unknown>) => object): Invalid[] => [
  ['a message that is not UTF-8', Uint8Array.from([0x7b, 0xff, 0x7d]), 'message'],
  ['a message that is not JSON', raw('reshare please'), 'message'],
  ['an empty message', new Uint8Array(), 'message'],
  ['JSON that is not canonical (spaces)', raw(JSON.stringify(make(), null, 1)), 'message'],
  [
    'JSON that is not canonical (keys out of order)',
    raw(JSON.stringify(Object.fromEntries(Object.entries(make()).reverse()))),
    'message',
  ],
  ['a JSON list', json([make()]), 'message'],
  ['a JSON string', json('x'), 'message'],
  ['a number that is not an integer', raw(JSON.stringify(make({ fromEpoch: 1.5 }))), 'message'],
  ['an unknown field', json(make({ extra: 1 })), 'message'],
  ['a missing field', json(Object.fromEntries(Object.entries(make()).slice(1))), 'message'],
  [
    'another ceremony name',
    json(make({ ceremony: kind === 'refresh' ? 'reshare' : 'refresh' })),
    'ceremony',
  ],
  ['another group', json(make({ group: OTHER_GROUP })), 'group'],
  ['a negative epoch', json(make({ fromEpoch: -1 })), 'fromEpoch'],
  ['an epoch given as text', json(make({ fromEpoch: '4' })), 'fromEpoch'],
];

const TABLES: Partial<Record<RequestKind, { valid: Valid[]; invalid: Invalid[] }>> = {
  sign: {
    valid: [
      ['a text message', raw('pay 5 to bob')],
      ['binary bytes', Uint8Array.from([0, 255, 1, 2])],
      ['an empty message', new Uint8Array()],
      ['a message of exactly 64 KiB', new Uint8Array(64 * 1024)],
    ],
    invalid: [['a message over 64 KiB', new Uint8Array(64 * 1024 + 1), 'message']],
  },
  refresh: {
    valid: [
      ['the parameters the node writes', json(refreshParams())],
      [
        'an epoch other than the current one (the node fails it with its reason)',
        json(refreshParams({ fromEpoch: 0 })),
      ],
    ],
    invalid: [
      ...ceremonyShape('refresh', refreshParams),
      [
        'an epoch beyond the safe integers',
        raw(`{"ceremony":"refresh","fromEpoch":9007199254740992,"group":"${'ab'.repeat(16)}"}`),
        'message',
      ],
    ],
  },
  reshare: {
    valid: [
      ['adding one and removing one', json(reshareParams())],
      ['adding only', json(reshareParams({ remove: [], size: 4, threshold: 3 }))],
      ['removing only', json(reshareParams({ add: [], size: 2 }))],
      ['changing only the threshold', json(reshareParams({ add: [], remove: [], threshold: 3 }))],
      [
        'a newcomer without addresses',
        json(reshareParams({ add: [{ ...newcomer(), addrs: [] }] })),
      ],
    ],
    invalid: [
      ...ceremonyShape('reshare', reshareParams),
      [
        'a claimed size that disagrees with the roster it computes',
        json(reshareParams({ size: 4 })),
        'size',
      ],
      ['a size above the largest group', json(reshareParams({ size: 51 })), 'size'],
      ['a size below two', json(reshareParams({ size: 1, threshold: 1 })), 'size'],
      ['a threshold above the size', json(reshareParams({ threshold: 4 })), 'threshold'],
      ['a threshold of one', json(reshareParams({ threshold: 1 })), 'threshold'],
      ['a threshold given as text', json(reshareParams({ threshold: '2' })), 'threshold'],
      [
        'a newcomer whose peer id is not a peer id',
        json(reshareParams({ add: [newcomer('12D3KooWnew')] })),
        'add[0].peerId',
      ],
      [
        'a newcomer whose peer id is not Ed25519 (an RSA-style Qm id)',
        json(reshareParams({ add: [newcomer('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')] })),
        'add[0].peerId',
      ],
      [
        'a newcomer whose peer id is not a key on the curve',
        json(reshareParams({ add: [newcomer(offCurvePeer())] })),
        'add[0].peerId',
      ],
      [
        'a newcomer whose peer id lost a character',
        json(reshareParams({ add: [newcomer(DAVE.slice(0, -1))] })),
        'add[0].peerId',
      ],
      [
        'a newcomer with an unknown field',
        json(reshareParams({ add: [{ ...newcomer(), admin: true }] })),
        'add[0]',
      ],
      [
        'a newcomer without addresses field',
        json(reshareParams({ add: [{ peerId: DAVE, name: 'Dave' }] })),
        'add[0]',
      ],
      [
        'a newcomer name with a control character',
        json(reshareParams({ add: [newcomer(DAVE, 'Da\u0007ve')] })),
        'add[0].name',
      ],
      [
        'a newcomer name with a direction override',
        json(reshareParams({ add: [newcomer(DAVE, 'Dave\u202eecilA')] })),
        'add[0].name',
      ],
      [
        'a newcomer name of 65 characters',
        json(reshareParams({ add: [newcomer(DAVE, 'd'.repeat(65))] })),
        'add[0].name',
      ],
      ['an empty newcomer name', json(reshareParams({ add: [newcomer(DAVE, '')] })), 'add[0].name'],
      [
        'a newcomer name with surrounding spaces',
        json(reshareParams({ add: [newcomer(DAVE, ' Dave')] })),
        'add[0].name',
      ],
      [
        '33 addresses for a newcomer',
        json(
          reshareParams({ add: [{ ...newcomer(), addrs: Array(33).fill('/ip4/1.2.3.4/tcp/1') }] }),
        ),
        'add[0].addrs',
      ],
      [
        'the same newcomer twice',
        json(reshareParams({ add: [newcomer(), newcomer()], size: 4 })),
        'add[1].peerId',
      ],
      [
        'removing a member twice',
        json(reshareParams({ remove: [CAROL, CAROL], size: 2 })),
        'remove[1]',
      ],
      [
        'adding and removing the same peer',
        json(reshareParams({ add: [newcomer(CAROL, 'Carol')], remove: [CAROL] })),
        'remove[0]',
      ],
      [
        'adding someone who is already a member',
        json(reshareParams({ add: [newcomer(BOB, 'Bob')], size: 3, remove: [CAROL] })),
        'add[0].peerId',
      ],
      [
        'removing someone who is not a member',
        json(reshareParams({ remove: [MALLORY] })),
        'remove[0]',
      ],
      ['a removal that is not a peer id', json(reshareParams({ remove: ['carol'] })), 'remove[0]'],
      ['a reshare that changes nothing', json(reshareParams({ add: [], remove: [] })), 'message'],
      [
        '51 newcomers',
        json(reshareParams({ add: Array.from({ length: 51 }, () => newcomer()) })),
        'add',
      ],
    ],
  },
  repair: {
    valid: [
      ['the parameters the node writes', json(repairParams())],
      [
        'replacing another member',
        json(repairParams({ lost: BOB, newcomer: newcomer(ERIN, 'Erin') })),
      ],
    ],
    invalid: [
      ...ceremonyShape('repair', repairParams),
      ['a lost member who is not a member', json(repairParams({ lost: MALLORY })), 'lost'],
      ['a lost member that is not a peer id', json(repairParams({ lost: 'Carol' })), 'lost'],
      ['the author repairing its own share', json(repairParams({ lost: ALICE })), 'lost'],
      [
        'a newcomer who is already a member',
        json(repairParams({ newcomer: newcomer(BOB, 'Bob') })),
        'newcomer.peerId',
      ],
      [
        'a newcomer that is the lost member',
        json(repairParams({ newcomer: newcomer(CAROL, 'Carol 2') })),
        'newcomer.peerId',
      ],
      [
        'a newcomer with a bad peer id',
        json(repairParams({ newcomer: newcomer('12D3KooWnew') })),
        'newcomer.peerId',
      ],
      [
        'a newcomer name with a line break',
        json(repairParams({ newcomer: newcomer(DAVE, 'Dave\nApproved') })),
        'newcomer.name',
      ],
    ],
  },
  reconstruct: {
    valid: [
      ['an ECDSA signature of a digest', json(reconstructParams())],
      [
        'an export without a digest',
        json(reconstructParams({ operation: 'export', digest: undefined })),
      ],
      [
        'an export on an ed25519 group',
        json(reconstructParams({ operation: 'export', digest: undefined })),
        { scheme: 'ed25519' },
      ],
      ['a purpose of 500 characters', json(reconstructParams({ purpose: 'p'.repeat(500) }))],
    ],
    invalid: [
      ...ceremonyShape('reconstruct', reconstructParams),
      [
        'a requester who is not the author',
        json(reconstructParams({ requester: BOB })),
        'requester',
      ],
      [
        'an outsider as requester',
        json(reconstructParams({ requester: MALLORY })),
        'requester',
        { author: MALLORY },
      ],
      [
        'a requester that is not a peer id',
        json(reconstructParams({ requester: 'alice' })),
        'requester',
      ],
      ['an unknown operation', json(reconstructParams({ operation: 'steal' })), 'operation'],
      ['a digest of 31 bytes', json(reconstructParams({ digest: '22'.repeat(31) })), 'digest'],
      ['a digest in uppercase hex', json(reconstructParams({ digest: 'AB'.repeat(32) })), 'digest'],
      ['a digest that is not hex', json(reconstructParams({ digest: 'zz'.repeat(32) })), 'digest'],
      ['ecdsa-sign without a digest', json(reconstructParams({ digest: undefined })), 'digest'],
      ['an export with a digest', json(reconstructParams({ operation: 'export' })), 'digest'],
      [
        'ecdsa-sign on an ed25519 group',
        json(reconstructParams()),
        'operation',
        { scheme: 'ed25519' },
      ],
      ['an empty purpose', json(reconstructParams({ purpose: '' })), 'purpose'],
      [
        'a purpose of 501 characters',
        json(reconstructParams({ purpose: 'p'.repeat(501) })),
        'purpose',
      ],
      [
        'a purpose with a direction override',
        json(reconstructParams({ purpose: 'test \u202egnirts' })),
        'purpose',
      ],
      [
        'a purpose with an escape sequence',
        json(reconstructParams({ purpose: 'ok\u001b[2J' })),
        'purpose',
      ],
      [
        'a one-time key of 31 bytes',
        json(reconstructParams({ oneTimeKey: '11'.repeat(31) })),
        'oneTimeKey',
      ],
      [
        'an all-zero one-time key',
        json(reconstructParams({ oneTimeKey: '00'.repeat(32) })),
        'oneTimeKey',
      ],
    ],
  },
  policy: {
    valid: [
      ['the change the node writes', json(policyParams())],
      [
        'a change that allows reconstruction',
        json(
          policyParams({
            policy: {
              ...defaultPolicy(),
              allowedKinds: ['sign', 'reconstruct', 'policy'],
              allowReconstruct: true,
            },
          }),
        ),
      ],
    ],
    invalid: [
      ['a message that is not JSON', raw('{"v":1,'), 'message'],
      ['a message that is not UTF-8', Uint8Array.from([0xc3, 0x28]), 'message'],
      ['JSON that is not canonical', raw(JSON.stringify(policyParams(), null, 2)), 'message'],
      ['an unknown field', json(policyParams({ extra: true })), 'message'],
      ['a missing policy', json({ v: 1, from: policyHash(defaultPolicy()) }), 'message'],
      ['another version', json(policyParams({ v: 2 })), 'v'],
      [
        'a change made against another policy than the request names',
        json(policyParams({ from: 'ee'.repeat(32) })),
        'from',
      ],
      ['a from that is not a hash', json(policyParams({ from: 'abc' })), 'from'],
      ['a policy that is not an object', json(policyParams({ policy: [] })), 'policy'],
      [
        'a policy with an unknown field',
        json(policyParams({ policy: { ...defaultPolicy(), root: true } })),
        'policy.root',
      ],
      [
        'a policy needing fewer approvals than the threshold',
        json(policyParams({ policy: { ...defaultPolicy(), approvals: { sign: 1 } } })),
        'policy.approvals.sign',
      ],
      [
        'a policy whose two reconstruction switches disagree',
        json(policyParams({ policy: { ...defaultPolicy(), allowReconstruct: true } })),
        'policy.allowReconstruct',
      ],
      [
        'a policy with its kinds out of order',
        json(policyParams({ policy: { ...defaultPolicy(), allowedKinds: ['policy', 'sign'] } })),
        'policy',
      ],
    ],
  },
};

describe.each(Object.keys(TABLES) as RequestKind[])('%s', (kind) => {
  const { valid, invalid } = TABLES[kind]!;
  it.each(valid)(`${kind} accepts %s`, (_name, message, over) => {
    expect(() => parseRequest(kind, message, ctx(over))).not.toThrow();
  });
  it.each(invalid)(`${kind} refuses %s`, (_name, message, field, over) => {
    let err: unknown;
    try {
      parseRequest(kind, message, ctx(over));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RequestParamError);
    const e = err as RequestParamError;
    expect(e.code).toBe('bad_params');
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
    // The offending value is quoted short: a message never carries a whole payload.
    expect(e.message.length).toBeLessThan(400);
  });
});

describe('parameters parsed', () => {
  it('a reshare gives back the parameters as written', () => {
    expect(parseRequest('reshare', json(reshareParams()), ctx())).toEqual(reshareParams());
  });

  it('a reconstruction has no digest field for an export', () => {
    const p = parseRequest(
      'reconstruct',
      json(reconstructParams({ operation: 'export', digest: undefined })),
      ctx(),
    );
    expect('digest' in p).toBe(false);
  });

  it('a sign request gives the text only when it is plain text', () => {
    expect(parseRequest('sign', raw('hello'), ctx()).text).toBe('hello');
    expect(parseRequest('sign', raw('a\u202eb'), ctx()).text).toBeUndefined();
    expect(parseRequest('sign', Uint8Array.from([0xff]), ctx()).text).toBeUndefined();
  });

  it('an unknown kind is refused as a bad request', () => {
    expect(() => parseRequest('import', json({}), ctx())).toThrow(RequestParamError);
    expect(() => parseRequest('__proto__', json({}), ctx())).toThrow(/not a request kind/);
  });

  it('every kind in the registry has a table here (each use has its own file)', () => {
    expect(Object.keys(TABLES).sort()).toEqual(
      Object.keys(REQUEST_KINDS)
        .filter((k) => !USE_KINDS.includes(k as never))
        .sort(),
    );
  });
});
