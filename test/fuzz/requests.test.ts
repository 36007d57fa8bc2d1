// Fuzzes every request kind's reader (sign, the ceremonies, policy, and the uses: ssh, age, x509,
// psbt, nostr) on arbitrary bytes and on damaged valid messages: parse and read throw nothing but
// RequestParamError, what parses decodes to a valid card and yields its execution, decodeRequest
// and validateIncomingRequest never throw at all.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  decodeRequest,
  decodeRequestBody,
  KINDS,
  parseRequest,
  readRequest,
  REQUEST_KINDS,
  RequestParamError,
  validateIncomingRequest,
  type RequestContext,
  type RequestKind,
} from '../../shared/requests/index.js';
import { TR, ED_KEY, useExamples } from '../requests/use-fixtures.js';
import {
  body,
  ctx,
  group,
  json,
  NOW,
  policyParams,
  reconstructParams,
  refreshParams,
  repairParams,
  reshareParams,
} from '../requests/fixtures.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { bytesAround, fuzz, jsonAround, RUNS } from './fuzz.js';

const enc = new TextEncoder();
const seeds: Record<RequestKind, Uint8Array[]> = {
  sign: [enc.encode('pay 1 BTC to bob'), new Uint8Array(32).fill(1)],
  refresh: [json(refreshParams())],
  reshare: [json(reshareParams())],
  repair: [json(repairParams())],
  reconstruct: [json(reconstructParams())],
  policy: [json(policyParams())],
  ssh: [],
  age: [],
  x509: [],
  psbt: [],
  nostr: [],
};

/** The context a kind's valid examples were made for (the group key of its scheme). */
function contextOf(kind: RequestKind): RequestContext {
  if (kind === 'ssh' || kind === 'age' || kind === 'x509')
    return { ...ctx({ scheme: 'ed25519' }), publicKey: bytesToHex(ED_KEY) };
  if (kind === 'psbt' || kind === 'nostr')
    return { ...ctx({ scheme: 'taproot' }), publicKey: `02${bytesToHex(TR.internal)}` };
  return ctx();
}

beforeAll(async () => {
  for (const ex of await useExamples()) seeds[ex.kind].push(ex.message);
  for (const k of KINDS) expect(seeds[k].length).toBeGreaterThan(0);
});

/**
 * A kind's messages: its examples damaged as bytes, or, for the kinds whose message is JSON, damaged
 * as JSON and written back canonically (so the damage reaches the fields, past the canonical check).
 */
function messagesOf(k: RequestKind): fc.Arbitrary<Uint8Array> {
  const json = seeds[k].flatMap((m) => {
    try {
      return [JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m)) as unknown];
    } catch {
      return [];
    }
  });
  if (json.length === 0) return bytesAround(seeds[k]);
  const canonical = (v: unknown): string => {
    try {
      return canonicalJSON(v);
    } catch {
      return JSON.stringify(v) ?? 'null';
    }
  };
  return fc.oneof(
    bytesAround(seeds[k]),
    jsonAround(json).map((v) => enc.encode(canonical(v))),
  );
}

/** A kind and a message: mostly its own examples damaged, sometimes another kind's, or any bytes. */
const kindAndMessage = fc.constantFrom(...KINDS).chain((k) =>
  fc.tuple(
    fc.constant(k),
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(null).chain(() => messagesOf(k)) },
      {
        weight: 1,
        arbitrary: fc.constant(null).chain(() => bytesAround(Object.values(seeds).flat())),
      },
    ),
  ),
);

describe('fuzz: request kinds', () => {
  for (const k of KINDS)
    it(`${k}: parse and read throw only RequestParamError; what parses decodes and executes`, () => {
      const mod = REQUEST_KINDS[k] as (typeof REQUEST_KINDS)['sign'];
      const c = contextOf(k);
      // Each module directly (no guard in between that would turn a TypeError into a refusal).
      fuzz(
        `requests.${k}.parse`,
        fc.constant(null).chain(() => messagesOf(k)),
        (m) => mod.parse(m, c),
        [RequestParamError],
        {
          check: (p) => {
            expect(mod.decode(p, c).invalid).toBeUndefined();
            mod.execution?.(p, c);
          },
        },
      );
      fuzz(
        `requests.${k}.read`,
        fc.constant(null).chain(() => messagesOf(k)),
        (m) => mod.read(m, c),
        [RequestParamError],
        {
          runs: Math.ceil(RUNS / 2),
          check: (p) => expect(typeof mod.decode(p, c).title).toBe('string'),
        },
      );
    });

  it('parseRequest and readRequest (any kind name) throw only RequestParamError', () => {
    const name = fc.oneof(
      fc.constantFrom(...KINDS),
      fc.constantFrom('import', '__proto__', 'toString', ''),
    );
    fuzz(
      'parseRequest',
      fc.tuple(name, kindAndMessage),
      ([n, [k, m]]) => parseRequest(n === k ? k : n, m, contextOf(k)),
      [RequestParamError],
    );
    fuzz(
      'readRequest',
      fc.tuple(name, kindAndMessage),
      ([n, [k, m]]) => readRequest(n === k ? k : n, m, contextOf(k)),
      [RequestParamError],
    );
  });

  it('decodeRequest never throws, for the current roster or not', () => {
    fuzz(
      'decodeRequest',
      fc.tuple(kindAndMessage, fc.boolean()),
      ([[k, m], current]) => decodeRequest(k, m, contextOf(k), { current }),
      [],
      { check: (card) => expect(typeof card.summary).toBe('string') },
    );
  });

  it('validateIncomingRequest and decodeRequestBody never throw', () => {
    fuzz(
      'validateIncomingRequest',
      fc.tuple(
        kindAndMessage,
        fc.integer({ min: -1, max: 2 ** 52 }),
        fc.integer({ min: -1, max: 2 ** 52 }),
      ),
      ([[k, m], createdAt, expiresAt]) => {
        const b = body({ kind: k, message: bytesToHex(m), createdAt, expiresAt });
        const g = { ...group(), ...contextOf(k) };
        const v = validateIncomingRequest(b, { ...g, receivedAt: NOW });
        decodeRequestBody(b, g);
        return v;
      },
      [],
      { check: (v) => expect(typeof v.ok).toBe('boolean') },
    );
  });
});
