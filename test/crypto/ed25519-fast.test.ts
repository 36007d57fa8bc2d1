// The fast Ed25519 verifier (main/crypto/ed25519.ts) answers exactly as noble's strict verify:
// on valid and tampered signatures, S >= L, small-order and non-canonical keys and R values,
// mixed-order keys (where native's cofactorless check and noble's cofactored one disagree), the
// Wycheproof vectors, random inputs, and when the platform has no native Ed25519.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, concatBytes, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  cachedKeyCount,
  canonicalEncoding,
  KEY_CACHE_SIZE,
  nobleVerifyEd25519,
  setNativeEd25519,
  verifyEd25519,
} from '../../main/crypto/ed25519.js';
import { loadVector } from './helpers.js';

const Point = ed25519.Point;
const Fn = Point.Fn;
type Outcome = boolean | 'throws';

function outcome(f: () => boolean): Outcome {
  try {
    return f();
  } catch {
    return 'throws';
  }
}

/** Both verifiers' answers (and native's alone, to show which cases exercise which path). */
function both(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) {
  return {
    fast: outcome(() => verifyEd25519(sig, msg, pub)),
    noble: outcome(() => nobleVerifyEd25519(sig, msg, pub)),
  };
}

function expectSame(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): Outcome {
  const r = both(sig, msg, pub);
  expect(r.fast, `sig ${bytesToHex(sig)} pub ${bytesToHex(pub)}`).toBe(r.noble);
  return r.noble;
}

/** The challenge h = SHA-512(R || A || M) mod L, as RFC 8032 defines it. */
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint =>
  Fn.create(bytesToNumberLE(sha512(concatBytes(r, a, m))));

const sigOf = (r: Uint8Array, s: bigint): Uint8Array => concatBytes(r, numberToBytesLE(s, 32));

function keyPair() {
  const sk = ed25519.utils.randomSecretKey();
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(sk);
  return { sk, a: scalar, pub: pointBytes };
}

// Encodings of the points of small order (1, 2, 4, 8), canonical and not (y >= p), with both
// sign bits: the list libsodium refuses, from "Taming the many EdDSAs" (Chalkias et al., 2020).
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0, order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p - 1, order 2
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p: non-canonical 0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1: non-canonical 1
];
const SMALL_ORDER = SMALL_ORDER_Y.flatMap((h) => {
  const b = hexToBytes(h);
  const flipped = b.slice();
  flipped[31] = b[31]! ^ 0x80;
  return [b, flipped];
});

/** An order-8 point, decoded by noble. */
const T8 = Point.fromBytes(hexToBytes(SMALL_ORDER_Y[3]!), false);

afterEach(() => setNativeEd25519(true));

describe('verifyEd25519 agrees with noble', () => {
  it('accepts valid signatures, refuses tampered messages and signatures', () => {
    for (let i = 0; i < 20; i++) {
      const { sk, pub } = keyPair();
      const msg = randomBytes(i);
      const sig = ed25519.sign(msg, sk);
      expect(expectSame(sig, msg, pub)).toBe(true);
      const badMsg = concatBytes(msg, new Uint8Array([1]));
      expect(expectSame(sig, badMsg, pub)).toBe(false);
      for (const at of [0, 31, 32, 63]) {
        const badSig = sig.slice();
        badSig[at] = badSig[at]! ^ 1;
        expect(expectSame(badSig, msg, pub)).toBe(false);
      }
      // Another key's public key.
      expect(expectSame(sig, msg, keyPair().pub)).toBe(false);
    }
  });

  it('refuses a non-canonical S (S + L), which the same equation would accept', () => {
    for (let i = 0; i < 10; i++) {
      const { sk, pub } = keyPair();
      const msg = randomBytes(32);
      const sig = ed25519.sign(msg, sk);
      const s = bytesToNumberLE(sig.subarray(32));
      const big = sigOf(sig.subarray(0, 32), s + Fn.ORDER);
      expect(expectSame(big, msg, pub)).toBe(false);
      // S = 2^256 - 1 too.
      expect(
        expectSame(concatBytes(sig.subarray(0, 32), new Uint8Array(32).fill(0xff)), msg, pub),
      ).toBe(false);
    }
  });

  it('refuses small-order and non-canonical public keys, even with a signature native accepts', () => {
    // For a small-order A, find R = sB - hA with h = H(R || A || M): the cofactorless equation
    // that OpenSSL checks then holds, and only the small-order rule refuses the signature.
    let nativeWouldAccept = 0;
    const msg = utf8ToBytes('small order');
    for (const pub of SMALL_ORDER) {
      let A: InstanceType<typeof Point> | undefined;
      try {
        A = Point.fromBytes(pub, true); // lenient, as a lenient decoder reads it
      } catch {
        A = undefined;
      }
      if (A === undefined) {
        expectSame(sigOf(Point.BASE.toBytes(), 1n), msg, pub);
        continue;
      }
      let found = false;
      for (let s = 1n; s < 200n && !found; s++) {
        for (let j = 0n; j < 8n && !found; j++) {
          const R = Point.BASE.multiply(s).add(A.multiplyUnsafe(j)).toBytes();
          const h = challenge(R, pub, msg);
          if (!Point.BASE.multiply(s).subtract(A.multiplyUnsafe(h)).equals(Point.fromBytes(R)))
            continue;
          found = true;
          const sig = sigOf(R, s);
          const r = both(sig, msg, pub);
          expect(r.noble).toBe(false);
          expect(r.fast).toBe(false);
          nativeWouldAccept += nativeAcceptsAlone(sig, msg, pub) ? 1 : 0;
        }
      }
      expect(found, bytesToHex(pub)).toBe(true);
    }
    // The identity key at least: OpenSSL accepts (R = sB, S = s) for it on any message.
    expect(nativeWouldAccept).toBeGreaterThan(0);
  });

  it('refuses non-canonical encodings (y + p) of keys of large order', () => {
    const msg = utf8ToBytes('y >= p');
    let tried = 0;
    for (let y = 0n; y < 19n; y++)
      for (const sign of [0, 0x80]) {
        const pub = numberToBytesLE(Point.Fp.ORDER + y, 32);
        pub[31] = pub[31]! | sign;
        try {
          if (Point.fromBytes(pub, true).isSmallOrder()) continue;
        } catch {
          continue; // not on the curve at all
        }
        tried++;
        expect(expectSame(sigOf(Point.BASE.toBytes(), 1n), msg, pub)).toBe(false);
      }
    expect(tried).toBeGreaterThan(0);
  });

  it('tells canonical encodings as noble’s strict decoding does', () => {
    const decodes = (b: Uint8Array, zip215: boolean) => {
      try {
        Point.fromBytes(b, zip215);
        return true;
      } catch {
        return false;
      }
    };
    // Every encoding noble refuses strictly but accepts leniently is non-canonical.
    const samples = [
      ...SMALL_ORDER,
      ...Array.from({ length: 19 }, (_, y) => numberToBytesLE(Point.Fp.ORDER + BigInt(y), 32)),
      ...Array.from({ length: 200 }, () => randomBytes(32)),
      ...Array.from({ length: 20 }, () =>
        Point.BASE.multiply(BigInt(1 + Math.floor(Math.random() * 1e9))).toBytes(),
      ),
    ].flatMap((b) => {
      const flipped = b.slice();
      flipped[31] = b[31]! ^ 0x80;
      return [b, flipped];
    });
    let noncanonical = 0;
    for (const b of samples) {
      if (decodes(b, false)) expect(canonicalEncoding(b), bytesToHex(b)).toBe(true);
      else if (decodes(b, true)) {
        expect(canonicalEncoding(b), bytesToHex(b)).toBe(false);
        noncanonical++;
      }
    }
    expect(noncanonical).toBeGreaterThan(4);
  });

  it('follows noble on small-order and non-canonical R values', () => {
    const { a, pub } = keyPair();
    const msg = utf8ToBytes('odd R');
    for (const R of SMALL_ORDER) {
      // S = h·a: sB - hA is the identity, so R = identity satisfies even the cofactorless equation;
      // an order-8 R satisfies only the cofactored one (noble accepts, native does not).
      const sig = sigOf(R, Fn.mul(challenge(R, pub, msg), a));
      const r = both(sig, msg, pub);
      expect(r.fast, bytesToHex(R)).toBe(r.noble);
    }
    const identity = sigOf(SMALL_ORDER[2]!, Fn.mul(challenge(SMALL_ORDER[2]!, pub, msg), a));
    expect(verifyEd25519(identity, msg, pub)).toBe(true);
    const order8 = sigOf(SMALL_ORDER[4]!, Fn.mul(challenge(SMALL_ORDER[4]!, pub, msg), a));
    expect(nativeAcceptsAlone(order8, msg, pub)).toBe(false);
    expect(verifyEd25519(order8, msg, pub)).toBe(true); // noble's cofactored answer
  });

  it('accepts what only the cofactored equation accepts (a key with a torsion component)', () => {
    let nativeRefused = 0;
    for (let i = 0; i < 8; i++) {
      const a = Fn.create(bytesToNumberLE(randomBytes(32)));
      const pub = Point.BASE.multiply(a).add(T8).toBytes(); // canonical, not of small order
      const msg = randomBytes(16);
      const r = Fn.create(bytesToNumberLE(randomBytes(32))) || 1n;
      const R = Point.BASE.multiply(r).toBytes();
      const sig = sigOf(R, Fn.add(r, Fn.mul(challenge(R, pub, msg), a)));
      expect(nobleVerifyEd25519(sig, msg, pub)).toBe(true);
      expect(verifyEd25519(sig, msg, pub)).toBe(true);
      if (!nativeAcceptsAlone(sig, msg, pub)) nativeRefused++;
    }
    expect(nativeRefused).toBeGreaterThan(0); // these took the fallback
  });

  it('throws where noble throws (wrong lengths)', () => {
    const { sk, pub } = keyPair();
    const msg = randomBytes(8);
    const sig = ed25519.sign(msg, sk);
    for (const [s, p] of [
      [sig.subarray(0, 63), pub],
      [concatBytes(sig, new Uint8Array(1)), pub],
      [sig, pub.subarray(0, 31)],
      [sig, concatBytes(pub, new Uint8Array(1))],
    ] as const) {
      expect(both(s, msg, p)).toEqual({ fast: 'throws', noble: 'throws' });
    }
  });

  it('agrees on every Wycheproof Ed25519 vector', () => {
    type Group = {
      publicKey: { pk: string };
      tests: { tcId: number; msg: string; sig: string; result: string }[];
    };
    const w = loadVector('wycheproof/ed25519_test.json');
    let n = 0;
    for (const g of w.testGroups as Group[])
      for (const t of g.tests) {
        const sig = hexToBytes(t.sig);
        const msg = hexToBytes(t.msg);
        const pub = hexToBytes(g.publicKey.pk);
        const got = expectSame(sig, msg, pub);
        expect(got === true, `tcId ${t.tcId}`).toBe(t.result === 'valid');
        n++;
      }
    expect(n).toBe(w.numberOfTests);
  });

  it('agrees on random keys, messages and mutations (property loop)', () => {
    for (let i = 0; i < 150; i++) {
      const { sk, pub } = keyPair();
      const msg = randomBytes(i % 70);
      const sig = ed25519.sign(msg, sk);
      expect(expectSame(sig, msg, pub)).toBe(true);
      const which = i % 4;
      const s2 = sig.slice();
      const m2 = msg.slice();
      const p2 = pub.slice();
      const flip = (b: Uint8Array) => {
        if (b.length === 0) return;
        const at = Math.floor(Math.random() * b.length);
        b[at] = b[at]! ^ (1 << Math.floor(Math.random() * 8));
      };
      if (which === 0) flip(s2);
      else if (which === 1) flip(m2);
      else if (which === 2) flip(p2);
      else {
        s2.set(randomBytes(64));
        p2.set(randomBytes(32));
      }
      expectSame(s2, m2, p2);
    }
  });

  it('gives noble’s answers with the native path off', () => {
    setNativeEd25519(false);
    const { sk, pub } = keyPair();
    const msg = randomBytes(10);
    const sig = ed25519.sign(msg, sk);
    expect(verifyEd25519(sig, msg, pub)).toBe(true);
    expect(verifyEd25519(sig, randomBytes(10), pub)).toBe(false);
  });

  it('keeps at most KEY_CACHE_SIZE public keys', () => {
    const msg = new Uint8Array(0);
    const sig = new Uint8Array(64); // R = 0 (a valid point), S = 0: refused for every real key
    for (let i = 0; i < KEY_CACHE_SIZE + 10; i++) {
      verifyEd25519(sig, msg, randomBytes(32));
    }
    expect(cachedKeyCount()).toBeLessThanOrEqual(KEY_CACHE_SIZE);
    expect(cachedKeyCount()).toBeGreaterThan(KEY_CACHE_SIZE / 2);
  });
});

describe('verifyEd25519 without a native Ed25519 (an Electron build without the algorithm)', () => {
  it('falls back to noble when the platform cannot make or use the key', async () => {
    vi.resetModules();
    vi.doMock('node:crypto', async (orig) => ({
      ...(await orig<typeof NodeCrypto>()),
      createPublicKey: () => {
        throw new Error('Unsupported key type');
      },
    }));
    try {
      const m = await import('../../main/crypto/ed25519.js');
      const { sk, pub } = keyPair();
      const msg = randomBytes(10);
      const sig = ed25519.sign(msg, sk);
      expect(m.verifyEd25519(sig, msg, pub)).toBe(true);
      expect(m.verifyEd25519(sig, randomBytes(10), pub)).toBe(false);
    } finally {
      vi.doUnmock('node:crypto');
      vi.resetModules();
    }
  });

  it('falls back to noble when native verify throws', async () => {
    vi.resetModules();
    vi.doMock('node:crypto', async (orig) => ({
      ...(await orig<typeof NodeCrypto>()),
      verify: () => {
        throw new Error('operation not supported for this keytype');
      },
    }));
    try {
      const m = await import('../../main/crypto/ed25519.js');
      const { sk, pub } = keyPair();
      const msg = randomBytes(10);
      const sig = ed25519.sign(msg, sk);
      expect(m.verifyEd25519(sig, msg, pub)).toBe(true);
      expect(m.verifyEd25519(sig, randomBytes(10), pub)).toBe(false);
    } finally {
      vi.doUnmock('node:crypto');
      vi.resetModules();
    }
  });
});

/** OpenSSL's own answer (through node:crypto), bypassing every check of the fast verifier. */
function nativeAcceptsAlone(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, msg, key, sig);
  } catch {
    return false;
  }
}
