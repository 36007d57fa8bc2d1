// Shared pieces of the decoder fuzz tests: the run count (FUZZ_RUNS; small in `npm test`, large in
// `npm run fuzz`), a property runner that allows only a decoder's own typed errors and counts the
// inputs tried, and mutators that damage valid messages (bytes, text and JSON) the way an attacker
// or a broken peer would.
import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { recordCase } from '../integration/reliability-record.js';

/** Inputs per decoder: FUZZ_RUNS, else a count that keeps test/fuzz within seconds in `npm test`. */
export const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS) || 100);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any error class
type ErrorClass = abstract new (...args: any[]) => Error;

interface Tally {
  tried: number;
  accepted: number;
  refused: number;
}
const tallies = new Map<string, Tally>();

afterAll(() => {
  if (tallies.size === 0) return;
  const lines = [...tallies].map(
    ([name, t]) =>
      `  ${name.padEnd(44)} ${String(t.tried).padStart(7)} inputs (${t.accepted} accepted, ${t.refused} typed errors)`,
  );
  console.log(`fuzz (FUZZ_RUNS=${RUNS}), 0 crashes:\n${lines.join('\n')}`);
  for (const [name, t] of tallies)
    recordCase({ suite: 'fuzz', name, culprit: null, outcome: 'no crash', inputs: t.tried });
});

/**
 * Runs `decode` on `runs` inputs from `arb`: it may return (then `check` runs on the result, for
 * round-trip properties) or throw an instance of one of `allowed`; anything else fails the test
 * with the shrunk input.
 */
export function fuzz<T, R>(
  name: string,
  arb: fc.Arbitrary<T>,
  decode: (input: T) => R,
  allowed: readonly ErrorClass[],
  opts: { runs?: number; check?: (result: R, input: T) => void; seed?: number } = {},
): void {
  const t = tallies.get(name) ?? { tried: 0, accepted: 0, refused: 0 };
  tallies.set(name, t);
  fc.assert(
    fc.property(arb, (input) => {
      t.tried++;
      let result: R;
      try {
        result = decode(input);
      } catch (e) {
        if (!allowed.some((C) => e instanceof C))
          throw new Error(
            `${name} threw ${(e as Error)?.constructor?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`,
            { cause: e },
          );
        // A typed error says what is wrong in a bounded message.
        expect((e as Error).message.length).toBeGreaterThan(0);
        t.refused++;
        return;
      }
      t.accepted++;
      opts.check?.(result, input);
    }),
    { numRuns: opts.runs ?? RUNS, ...(opts.seed === undefined ? {} : { seed: opts.seed }) },
  );
}

/** Byte-level damage to a valid message: flips, overwrites, truncation, insertion, deletion, splices. */
export function mutateBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const op = fc.oneof(
    fc.record({ k: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({
      k: fc.constant('set' as const),
      at: fc.nat(),
      v: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 10, 32),
    }),
    fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({
      k: fc.constant('insert' as const),
      at: fc.nat(),
      b: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      k: fc.constant('delete' as const),
      at: fc.nat(),
      n: fc.integer({ min: 1, max: 16 }),
    }),
    fc.record({ k: fc.constant('dup' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  );
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(op, { minLength: 1, maxLength: 4 }))
    .map(([seed, ops]) => {
      let b = Uint8Array.from(seed);
      for (const o of ops) {
        const at = b.length === 0 ? 0 : o.at % (b.length + 1);
        if (o.k === 'flip' && at < b.length) b[at]! ^= 1 << o.bit;
        else if (o.k === 'set' && at < b.length) b[at] = o.v;
        else if (o.k === 'cut') b = b.slice(0, at);
        else if (o.k === 'insert')
          b = Uint8Array.from([...b.subarray(0, at), ...o.b, ...b.subarray(at)]);
        else if (o.k === 'delete')
          b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + o.n)]);
        else if (o.k === 'dup')
          b = Uint8Array.from([
            ...b.subarray(0, at + o.n),
            ...b.subarray(at, at + o.n),
            ...b.subarray(at + o.n),
          ]);
      }
      return b;
    });
}

/** Valid seeds, damaged seeds, and arbitrary bytes. */
export function bytesAround(
  seeds: readonly Uint8Array[],
  maxLength = 400,
): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 6, arbitrary: mutateBytes(seeds) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength }) },
  );
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Text-level damage: byte mutations read back as text (lossy for broken UTF-8, as a paste would be). */
export function textAround(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    {
      weight: 6,
      arbitrary: mutateBytes(seeds.map((s) => enc.encode(s))).map((b) => dec.decode(b)),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  );
}

/** Values that unsettle decoders: wrong types, edge numbers, prototype names, huge and odd strings. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1,
    2,
    1.5,
    -0,
    2 ** 31,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    1e308,
    '',
    '0',
    '00',
    'ab'.repeat(16),
    'ab'.repeat(32),
    'AB'.repeat(16),
    '__proto__',
    'constructor',
    'toString',
    '\u0000',
    '\ud800',
    'x'.repeat(70_000),
    [],
    {},
    // What JSON.parse makes of a hostile peer's objects: own toString / valueOf / toJSON / __proto__
    // keys, which make String(v) or `${v}` throw a TypeError.
    JSON.parse('{"toString":1}') as unknown,
    JSON.parse('{"toString":null,"valueOf":null}') as unknown,
    JSON.parse('{"toJSON":1,"length":1e9}') as unknown,
    JSON.parse('{"__proto__":{"v":1}}') as unknown,
    JSON.parse('[{"toString":1}]') as unknown,
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

type Json = unknown;
/** Every path into a JSON value (objects and arrays), the root first. */
function paths(
  v: Json,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function edit(v: Json, path: (string | number)[], f: (old: Json) => Json | typeof DELETE): Json {
  if (path.length === 0) {
    const r = f(v);
    return r === DELETE ? undefined : r;
  }
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = [...v];
    const r = rest.length === 0 ? f(copy[head as number]) : edit(copy[head as number], rest, f);
    if (r === DELETE) copy.splice(head as number, 1);
    else copy[head as number] = r;
    return copy;
  }
  const o = { ...(v as Record<string, Json>) };
  const r = rest.length === 0 ? f(o[head as string]) : edit(o[head as string], rest, f);
  if (r === DELETE) delete o[head as string];
  else
    Object.defineProperty(o, head as string, {
      value: r,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return o;
}
const DELETE = Symbol('delete');

/**
 * Structured damage to a valid JSON message: replace a field with an odd value, delete it, add an
 * unknown one, or wrap it in a list; up to three edits. The result is what JSON.parse would give.
 */
export function mutateJson(seeds: readonly Json[]): fc.Arbitrary<Json> {
  const op = fc.record({
    k: fc.constantFrom('replace', 'replace', 'delete', 'add', 'wrap'),
    at: fc.nat(),
    v: oddValue,
    key: fc.constantFrom(
      'extra',
      '__proto__',
      'v',
      'type',
      'kind',
      'body',
      'sig',
      'constructor',
      'toString',
      'valueOf',
    ),
  });
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(op, { minLength: 1, maxLength: 3 }))
    .map(([seed, ops]) => {
      let v: Json = JSON.parse(JSON.stringify(seed));
      for (const o of ops) {
        const all = paths(v);
        const p = all[o.at % all.length]!;
        v = edit(v, p, (old) => {
          if (o.k === 'replace') return o.v;
          if (o.k === 'delete') return p.length === 0 ? old : DELETE;
          if (o.k === 'wrap') return [old];
          if (old !== null && typeof old === 'object' && !Array.isArray(old))
            return JSON.parse(
              `{${Object.keys(old)
                .map(
                  (k) =>
                    `${JSON.stringify(k)}:${JSON.stringify((old as Record<string, Json>)[k]) ?? 'null'}`,
                )
                .concat(`${JSON.stringify(o.key)}:${JSON.stringify(o.v) ?? 'null'}`)
                .join(',')}}`,
            ) as Json;
          return old;
        });
      }
      // Exactly what a peer's bytes would parse to (no undefined, no -0, own __proto__ keys).
      return JSON.parse(JSON.stringify(v) ?? 'null') as Json;
    });
}

/** Valid JSON messages, damaged ones, and arbitrary JSON. */
export function jsonAround(seeds: readonly Json[]): fc.Arbitrary<Json> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 7, arbitrary: mutateJson(seeds) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}
