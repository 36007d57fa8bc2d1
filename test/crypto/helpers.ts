// Test helpers: vector loading, deterministic RNG, quick key generation.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hexToBytes } from '@noble/hashes/utils.js';
import { expect } from 'vitest';
import { CryptoError } from '../../shared/crypto/errors.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { getSuite, type GroupPoint, type SchemeName } from '../../shared/crypto/suite.js';

/** Vector files are untyped JSON; tests read the fields the file format documents. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function loadVector<T = Json>(rel: string): T {
  return JSON.parse(
    readFileSync(fileURLToPath(new URL(`../vectors/${rel}`, import.meta.url)), 'utf8'),
  );
}

/** An RNG that returns the given chunks in order, then throws. */
export function scriptedRng(...chunksHex: string[]) {
  const q = chunksHex.map((h) => hexToBytes(h));
  return (n: number) => {
    const c = q.shift();
    if (!c) throw new Error('scripted rng exhausted');
    if (c.length !== n) throw new Error(`scripted rng: asked ${n}, have ${c.length}`);
    return c;
  };
}

/** A trusted-dealer T-of-N key for identifiers 1..N (fast fixture for signing tests). */
export function dealerKeys(scheme: SchemeName, t: number, n: number): KeyPackage[] {
  const suite = getSuite(scheme);
  const ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  return splitSecret(scheme, suite.randomScalar(), t, ids);
}

/** Random subset of `k` distinct elements. */
export function pick<T>(xs: readonly T[], k: number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  type DkgEcho,
  type DkgMember,
  type DkgParams,
  type DkgState,
} from '../../shared/crypto/dkg.js';
import type { ReshareParams } from '../../shared/crypto/reshare.js';

/** DKG parameters for members 1..n with random identity keys and a fresh session id. */
export function dkgParams(scheme: SchemeName, t: number, n: number): DkgParams {
  return {
    scheme,
    threshold: t,
    members: Array.from({ length: n }, (_, i) => ({
      identifier: BigInt(i + 1),
      identityKey: randomBytes(32),
    })),
    sessionId: randomBytes(32),
  };
}

/** Runs a whole DKG in memory, every member honest. */
export function runDkg(params: DkgParams): KeyPackage[] {
  const r1 = params.members.map((m) => dkgRound1(params, m.identifier));
  const echoes = r1.map((me) =>
    dkgEcho(
      me.state,
      r1.filter((o) => o !== me).map((o) => o.package),
    ),
  );
  const out = r1.map((me, i) =>
    dkgRound2(
      me.state,
      echoes.filter((_, j) => j !== i),
    ),
  );
  return r1.map((me) =>
    dkgFinalize(
      me.state,
      out.flat().filter((p) => p.to === me.state.me),
    ),
  );
}

/**
 * The rest of a DKG once every member echoed: each member's round 2 from the others' echoes
 * (`echoes[i]` is `states[i]`'s), then each one's key package from what was sent to it.
 */
export function finishDkg(states: readonly DkgState[], echoes: readonly DkgEcho[]): KeyPackage[] {
  const out = states.map((st, i) =>
    dkgRound2(
      st,
      echoes.filter((_, j) => j !== i),
    ),
  );
  return states.map((st) =>
    dkgFinalize(
      st,
      out.flat().filter((p) => p.to === st.me),
    ),
  );
}

/** How many different group keys `keys` hold: 1 when every member ended with the same key. */
export function groupKeyCount(keys: readonly KeyPackage[]): number {
  const suite = getSuite(keys[0]!.public.scheme);
  return new Set(keys.map((k) => bytesToHex(suite.encodePoint(k.public.groupKey)))).size;
}

/**
 * A 2-of-3 ed25519 key (members 1, 2, 3) re-dealt by all three to members 1, 2, 4 (3 deals and
 * leaves, 4 is new and only receives), each member's identity key from `identity`: the old key
 * packages by identifier and the reshare's parameters, with a fresh session id.
 */
export function reshareFixture(identity: (id: bigint) => DkgMember): {
  old: Map<bigint, KeyPackage>;
  params: ReshareParams;
} {
  const old = new Map(dealerKeys('ed25519', 2, 3).map((k) => [k.share.identifier, k]));
  const params: ReshareParams = {
    old: old.get(1n)!.public,
    dealers: [1n, 2n, 3n],
    members: [1n, 2n, 4n].map(identity),
    threshold: 2,
    sessionId: randomBytes(32),
    dealerKeys: [1n, 2n, 3n].map(identity),
  };
  return { old, params };
}

/** The sorted culprits of the CryptoError `fn` throws (fails the test if it throws no such error). */
export function culpritsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    return [...(e as CryptoError).culprits].sort();
  }
  throw new Error('expected a CryptoError');
}

/**
 * A generator of ed25519's 8-torsion (a standard order-8 encoding); its multiples k = 1..7 have
 * orders 8, 4, 8, 2, 8, 4, 8.
 */
export const T8 = ed25519.Point.fromHex(
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
) as unknown as GroupPoint;

/** k·T8 (k taken mod 8; 0 is the identity). */
export const torsion = (k: number): GroupPoint =>
  k % 8 === 0 ? getSuite('ed25519').ZERO : T8.multiplyUnsafe(BigInt(((k % 8) + 8) % 8));

/** `f`'s result, or the CryptoError it throws (any other error fails the test). */
export function cryptoOutcome<T>(f: () => T): T | CryptoError {
  try {
    return f();
  } catch (e) {
    if (e instanceof CryptoError) return e;
    throw e;
  }
}
