// The three FROST ciphersuites Conclave supports, behind one small interface (RFC 9591 §6).
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import type { IField } from '@noble/curves/abstract/modular.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import {
  bytesToHex,
  concatBytes,
  hexToBytes,
  randomBytes,
  utf8ToBytes,
} from '@noble/hashes/utils.js';
import { bytesToNumberBE, bytesToNumberLE } from '@noble/curves/utils.js';
import { CryptoError, check } from './errors.js';

/** The schemes a group can use. */
export type SchemeName = 'ed25519' | 'secp256k1' | 'taproot';
export const SCHEMES: readonly SchemeName[] = ['ed25519', 'secp256k1', 'taproot'];

/** The subset of noble's point API the protocol code uses. */
export interface GroupPoint {
  add(other: GroupPoint): GroupPoint;
  subtract(other: GroupPoint): GroupPoint;
  negate(): GroupPoint;
  double(): GroupPoint;
  multiply(scalar: bigint): GroupPoint;
  multiplyUnsafe(scalar: bigint): GroupPoint;
  equals(other: GroupPoint): boolean;
  is0(): boolean;
  /** Whether cofactor·P is the identity (noble's; on a prime-order curve, only the identity is). */
  isSmallOrder(): boolean;
  toBytes(): Uint8Array;
  toAffine(): { x: bigint; y: bigint };
  precompute(windowSize?: number, isLazy?: boolean): GroupPoint;
}

/** Random byte source; tests inject a deterministic one to replay vectors. */
export type Rng = (length: number) => Uint8Array;

/** One FROST ciphersuite: element and scalar encodings, the RFC 9591 hash functions H1..H5. */
export interface Suite {
  readonly name: SchemeName;
  /** RFC 9591 contextString. */
  readonly contextString: string;
  readonly Fn: IField<bigint>;
  readonly G: GroupPoint;
  readonly ZERO: GroupPoint;
  readonly scalarLength: number;
  readonly pointLength: number;
  /** Taproot normalises the group key and the group commitment to even Y (BIP340). */
  readonly evenY: boolean;
  H1(m: Uint8Array): bigint;
  H3(m: Uint8Array): bigint;
  H4(m: Uint8Array): Uint8Array;
  H5(m: Uint8Array): Uint8Array;
  HDKG(m: Uint8Array): bigint;
  HID(m: Uint8Array): bigint;
  /** The suite's hash-to-scalar under a caller's own domain tag (for Conclave's own proofs). */
  hashToScalar(m: Uint8Array, dst: Uint8Array): bigint;
  /** RFC 9591 §4.6 compute_challenge (BIP340 challenge for taproot). */
  challenge(R: GroupPoint, PK: GroupPoint, msg: Uint8Array): bigint;
  /** RFC 9591 §3.1 DeserializeElement: on the curve, not the identity, in the prime-order subgroup. */
  decodePoint(bytes: Uint8Array, what?: string): GroupPoint;
  /**
   * decodePoint without the prime-order subgroup check (on the curve, canonical, not the identity),
   * for callers that check many points at once. Never use the result until assertEachPrimeOrder
   * has checked it, or assertSumsPrimeOrder (dkg.ts), which says when the points' own checks are
   * not needed.
   */
  decodePointAnyOrder(bytes: Uint8Array, what?: string): GroupPoint;
  /** True when `p` lies in the prime-order subgroup (one scalar multiplication on ed25519). */
  inPrimeOrderSubgroup(p: GroupPoint): boolean;
  /** Cofactor 1: every curve point is in the prime-order group, so subgroup checks are free. */
  readonly primeOrderCurve: boolean;
  encodePoint(p: GroupPoint): Uint8Array;
  /** RFC 9591 §3.1 DeserializeScalar: canonical, < order. */
  decodeScalar(bytes: Uint8Array, what?: string): bigint;
  encodeScalar(s: bigint): Uint8Array;
  /** Multi-scalar multiplication over public inputs (variable time). */
  msm(points: GroupPoint[], scalars: bigint[]): GroupPoint;
  /** The scheme's final signature encoding. */
  encodeSignature(R: GroupPoint, z: bigint): Uint8Array;
  /** The scheme's standard single-key verifier (RFC 8032 strict; BIP340; RFC 9591 secp256k1). */
  verify(signature: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean;
  /** The public key in the form the standard verifier takes (x-only for taproot). */
  externalKey(P: GroupPoint): Uint8Array;
  randomScalar(rng?: Rng): bigint;
}

const defaultRng: Rng = (n) => randomBytes(n);

type NobleCons = {
  BASE: unknown;
  ZERO: unknown;
  Fn: IField<bigint>;
  fromBytes(b: Uint8Array, zip215?: boolean): unknown;
};

// Uniform scalar in 1..n-1 from 64 random bytes reduced mod n (bias < 2^-256).
function randomScalarFrom(Fn: IField<bigint>, littleEndian: boolean, rng: Rng): bigint {
  for (;;) {
    const b = rng(64);
    check(b.length === 64, 'bad_input', `rng returned ${b.length} bytes, expected 64`);
    const s = Fn.create(littleEndian ? bytesToNumberLE(b) : bytesToNumberBE(b));
    if (s !== 0n) return s;
  }
}

function makeBase(opts: {
  name: SchemeName;
  contextString: string;
  Point: NobleCons;
  littleEndian: boolean;
  hashToScalar: (m: Uint8Array, dst: Uint8Array) => bigint;
  hash: (m: Uint8Array) => Uint8Array;
  decodeRaw: (b: Uint8Array) => GroupPoint;
  torsionCheck: (p: GroupPoint) => boolean;
  primeOrderCurve: boolean;
  pointLength: number;
  evenY: boolean;
  /** The generator the suite multiplies (noble's BASE unless a suite brings its own table). */
  G?: GroupPoint;
  /**
   * Short-Weierstrass points with noble's `mulAddUnsafe(a, Q, b)` (GLV-split double
   * multiplication): one or two points take it instead of the general MSM.
   */
  pairMul?: boolean;
  challenge: (R: GroupPoint, PK: GroupPoint, msg: Uint8Array) => bigint;
  encodeSignature: (R: GroupPoint, z: bigint) => Uint8Array;
  verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
  externalKey: (P: GroupPoint) => Uint8Array;
  h2?: string;
}): Suite {
  const { Point, contextString } = opts;
  const Fn = Point.Fn;
  const G = opts.G ?? (Point.BASE as GroupPoint);
  const dst = (tag: string) => utf8ToBytes(contextString + tag);
  const dRho = dst('rho');
  const dNonce = dst('nonce');
  const dMsg = dst('msg');
  const dCom = dst('com');
  const dDkg = dst('dkg');
  const dId = dst('id');
  const PointStatic = Point as unknown as {
    new (...a: never[]): GroupPoint;
  };
  function decodePointAnyOrder(bytes: Uint8Array, what = 'point'): GroupPoint {
    check(bytes instanceof Uint8Array, 'bad_point', `${what}: expected bytes`);
    check(
      bytes.length === opts.pointLength,
      'bad_point',
      `${what}: expected ${opts.pointLength} bytes, got ${bytes.length}`,
    );
    let p: GroupPoint;
    try {
      p = opts.decodeRaw(bytes);
    } catch (e) {
      throw new CryptoError('bad_point', `${what}: not a valid encoding (${(e as Error).message})`);
    }
    check(!p.is0(), 'bad_point', `${what}: identity element`);
    return p;
  }
  return {
    name: opts.name,
    contextString,
    Fn,
    G,
    ZERO: Point.ZERO as GroupPoint,
    scalarLength: Fn.BYTES,
    pointLength: opts.pointLength,
    evenY: opts.evenY,
    H1: (m) => opts.hashToScalar(m, dRho),
    H3: (m) => opts.hashToScalar(m, dNonce),
    H4: (m) => opts.hash(concatBytes(dMsg, m)),
    H5: (m) => opts.hash(concatBytes(dCom, m)),
    HDKG: (m) => opts.hashToScalar(m, dDkg),
    HID: (m) => opts.hashToScalar(m, dId),
    hashToScalar: opts.hashToScalar,
    challenge: opts.challenge,
    decodePoint(bytes, what = 'point') {
      const p = decodePointAnyOrder(bytes, what);
      check(opts.torsionCheck(p), 'bad_point', `${what}: not in the prime-order subgroup`);
      return p;
    },
    decodePointAnyOrder,
    inPrimeOrderSubgroup: opts.torsionCheck,
    primeOrderCurve: opts.primeOrderCurve,
    encodePoint: (p) => p.toBytes(),
    decodeScalar(bytes, what = 'scalar') {
      check(bytes instanceof Uint8Array, 'bad_scalar', `${what}: expected bytes`);
      check(
        bytes.length === Fn.BYTES,
        'bad_scalar',
        `${what}: expected ${Fn.BYTES} bytes, got ${bytes.length}`,
      );
      const n = opts.littleEndian ? bytesToNumberLE(bytes) : bytesToNumberBE(bytes);
      check(n < Fn.ORDER, 'bad_scalar', `${what}: not reduced modulo the group order`);
      return n;
    },
    encodeScalar: (s) => Fn.toBytes(s),
    msm(points, scalars) {
      // secp256k1: noble's general MSM walks the full 256-bit scalars, its point methods split
      // each scalar in two with the GLV endomorphism and walk half as far. For one or two points
      // (a 2-signer group commitment) that is ~1.45x faster; from three points on it is not (the
      // general MSM shares one doubling chain among all of them).
      if (opts.pairMul && points.length === scalars.length) {
        if (points.length === 1) return points[0].multiplyUnsafe(scalars[0]);
        if (points.length === 2)
          return (points[0] as WeierstrassPair).mulAddUnsafe(scalars[0], points[1], scalars[1]);
      }
      return mulAddUnsafe(
        PointStatic as never,
        points as never[],
        scalars,
      ) as unknown as GroupPoint;
    },
    encodeSignature: opts.encodeSignature,
    verify: opts.verify,
    externalKey: opts.externalKey,
    randomScalar: (rng = defaultRng) => randomScalarFrom(Fn, opts.littleEndian, rng),
  };
}

const edPoint = ed25519.Point as unknown as NobleCons;
const edFn = ed25519.Point.Fn;
const edHashToScalar = (m: Uint8Array, d: Uint8Array) =>
  edFn.create(bytesToNumberLE(sha512(concatBytes(d, m))));

/** FROST(Ed25519, SHA-512), RFC 9591 §6.1. Signatures are RFC 8032 Ed25519 signatures. */
export const ed25519Suite: Suite = makeBase({
  name: 'ed25519',
  contextString: 'FROST-ED25519-SHA512-v1',
  Point: edPoint,
  littleEndian: true,
  hashToScalar: edHashToScalar,
  hash: (m) => sha512(m),
  // RFC 8032 strict decoding (canonical y), not ZIP-215.
  decodeRaw: (b) => ed25519.Point.fromBytes(b, false) as unknown as GroupPoint,
  torsionCheck: (p) => (p as unknown as { isTorsionFree(): boolean }).isTorsionFree(),
  primeOrderCurve: false,
  pointLength: 32,
  evenY: false,
  // RFC 9591 §6.1: H2 is SHA-512 without a prefix, so signatures verify under RFC 8032.
  challenge: (R, PK, msg) =>
    edHashToScalar(concatBytes(R.toBytes(), PK.toBytes(), msg), new Uint8Array()),
  encodeSignature: (R, z) => concatBytes(R.toBytes(), edFn.toBytes(z)),
  verify: (sig, msg, pk) => {
    try {
      return ed25519.verify(sig, msg, pk, { zip215: false });
    } catch {
      return false;
    }
  },
  externalKey: (P) => P.toBytes(),
});

/** A noble Weierstrass point's double multiplication a·P + b·Q (public scalars). */
type WeierstrassPair = GroupPoint & {
  mulAddUnsafe(a: bigint, other: GroupPoint, b: bigint): GroupPoint;
};

const k1Point = secp256k1.Point as unknown as NobleCons;
/**
 * The secp256k1 generator with noble's window-8 tables (noble's own BASE has window 6). A copy of
 * BASE, so noble's table for BASE and every other user of it stay as they are. secp256k1 has
 * cofactor 1, so noble blinds every secret multiplication whatever the point (`multiply` stays
 * constant time and blinded); the 8-bit windows make a multiplication 49 table additions instead
 * of 65 (blinded) and 33 instead of 44 (public scalar). The tables (~10k points) are built on first
 * use, ~0.1 s once per process.
 */
const k1G = secp256k1.Point.fromAffine(secp256k1.Point.BASE.toAffine()).precompute(
  8,
  true,
) as unknown as GroupPoint;
const k1Fn = secp256k1.Point.Fn;
const k1HashToScalar = (m: Uint8Array, d: Uint8Array) =>
  secp256k1_hasher.hashToScalar(m, { DST: d });
const k1Decode = (b: Uint8Array) => {
  // Only the 33-byte compressed SEC1 form is a valid FROST element encoding.
  check(b[0] === 2 || b[0] === 3, 'bad_point', 'expected compressed SEC1 encoding');
  return secp256k1.Point.fromBytes(b) as unknown as GroupPoint;
};
const k1Ctx = 'FROST-secp256k1-SHA256-v1';
const k1Chal = utf8ToBytes(k1Ctx + 'chal');

/** FROST(secp256k1, SHA-256), RFC 9591 §6.5. Signatures are 65 bytes: compressed R || z. */
export const secp256k1Suite: Suite = makeBase({
  name: 'secp256k1',
  contextString: k1Ctx,
  Point: k1Point,
  littleEndian: false,
  hashToScalar: k1HashToScalar,
  hash: (m) => sha256(m),
  G: k1G,
  pairMul: true,
  decodeRaw: k1Decode,
  torsionCheck: () => true, // cofactor 1: every curve point is in the prime-order group
  primeOrderCurve: true,
  pointLength: 33,
  evenY: false,
  challenge: (R, PK, msg) => k1HashToScalar(concatBytes(R.toBytes(), PK.toBytes(), msg), k1Chal),
  encodeSignature: (R, z) => concatBytes(R.toBytes(), k1Fn.toBytes(z)),
  verify: (sig, msg, pk) => verifyRfc9591Secp256k1(sig, msg, pk),
  externalKey: (P) => P.toBytes(),
});

// RFC 9591 §5.3 / Appendix A verification for the secp256k1 suite: z·G == R + c·PK.
function verifyRfc9591Secp256k1(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  try {
    if (sig.length !== 65) return false;
    const R = secp256k1Suite.decodePoint(sig.subarray(0, 33));
    const z = secp256k1Suite.decodeScalar(sig.subarray(33));
    const PK = secp256k1Suite.decodePoint(pk);
    const c = secp256k1Suite.challenge(R, PK, msg);
    return secp256k1Suite.G.multiplyUnsafe(z).equals(R.add(PK.multiplyUnsafe(c)));
  } catch {
    return false;
  }
}

const xOnly = (p: GroupPoint) => p.toBytes().subarray(1);

/** True when the point's affine Y is even (BIP340). */
export function hasEvenY(p: GroupPoint): boolean {
  return (p.toAffine().y & 1n) === 0n;
}

/**
 * FROST(secp256k1, SHA-256) with BIP340 challenges (ZF's FROST-secp256k1-SHA256-TR-v1): group key
 * and group commitment normalised to even Y; signatures are 64-byte BIP340 signatures.
 */
export const taprootSuite: Suite = makeBase({
  name: 'taproot',
  contextString: 'FROST-secp256k1-SHA256-TR-v1',
  Point: k1Point,
  littleEndian: false,
  hashToScalar: k1HashToScalar,
  hash: (m) => sha256(m),
  G: k1G,
  pairMul: true,
  decodeRaw: k1Decode,
  torsionCheck: () => true,
  primeOrderCurve: true,
  pointLength: 33,
  evenY: true,
  // BIP340: e = int(hash_BIP0340/challenge(bytes(R) || bytes(P) || m)) mod n.
  challenge: (R, PK, msg) =>
    k1Fn.create(
      bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', xOnly(R), xOnly(PK), msg)),
    ),
  encodeSignature: (R, z) => concatBytes(xOnly(R), k1Fn.toBytes(z)),
  verify: (sig, msg, pk) => {
    try {
      return schnorr.verify(sig, msg, pk);
    } catch {
      return false;
    }
  },
  externalKey: (P) => xOnly(P).slice(),
});

/** BIP341 TapTweak of an internal key with an empty script tree: t = hash_TapTweak(x(P)). */
export function tapTweak(
  internalKey: GroupPoint,
  merkleRoot: Uint8Array = new Uint8Array(),
): bigint {
  const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', xOnly(internalKey), merkleRoot));
  check(t < k1Fn.ORDER, 'bad_scalar', 'TapTweak hash overflows the group order');
  return t;
}

const suites: Record<SchemeName, Suite> = {
  ed25519: ed25519Suite,
  secp256k1: secp256k1Suite,
  taproot: taprootSuite,
};

/** The suite for a scheme name; throws `unknown_scheme` for anything else. */
export function getSuite(name: string): Suite {
  check(
    (SCHEMES as readonly string[]).includes(name),
    'unknown_scheme',
    `expected one of ${SCHEMES.join(', ')}, got ${JSON.stringify(name)}`,
  );
  return suites[name as SchemeName];
}

// ---- identifiers (RFC 9591 §3.1: non-zero scalars) ----

/** Parses a canonical identifier (hex of SerializeScalar); throws `bad_identifier`. */
export function parseIdentifier(suite: Suite, hex: string): bigint {
  check(typeof hex === 'string', 'bad_identifier', `expected hex string, got ${typeof hex}`);
  check(
    hex.length === suite.scalarLength * 2 && /^[0-9a-f]+$/.test(hex),
    'bad_identifier',
    `expected ${suite.scalarLength * 2} lowercase hex chars, got ${JSON.stringify(hex.slice(0, 80))}`,
  );
  let n: bigint;
  try {
    n = suite.decodeScalar(hexToBytes(hex), 'identifier');
  } catch (e) {
    throw new CryptoError('bad_identifier', (e as Error).message);
  }
  check(n !== 0n, 'bad_identifier', 'identifier must not be zero');
  return n;
}

/** Serialises an identifier as hex of SerializeScalar (the same form noble's FROST uses). */
export function identifierHex(suite: Suite, id: bigint): string {
  assertIdentifier(suite, id);
  return bytesToHex(suite.encodeScalar(id));
}

/** The identifier of the member at 1-based roster position `n`. */
export function identifierFromIndex(suite: Suite, n: number): bigint {
  check(Number.isSafeInteger(n) && n >= 1, 'bad_identifier', `expected a positive index, got ${n}`);
  return BigInt(n);
}

export function assertIdentifier(suite: Suite, id: bigint): void {
  check(typeof id === 'bigint', 'bad_identifier', `expected bigint, got ${typeof id}`);
  check(id !== 0n, 'bad_identifier', 'identifier must not be zero');
  check(id > 0n && id < suite.Fn.ORDER, 'bad_identifier', `identifier ${id} out of range`);
}

/** Checks a list of identifiers: each valid, none repeated. */
export function assertIdentifiers(suite: Suite, ids: readonly bigint[]): void {
  const seen = new Set<bigint>();
  for (const id of ids) {
    assertIdentifier(suite, id);
    check(!seen.has(id), 'duplicate_identifier', `identifier ${id} appears twice`, [
      identifierHex(suite, id),
    ]);
    seen.add(id);
  }
}

/** Checks 2 ≤ T ≤ N (and N below a sane bound). */
export function assertThreshold(t: number, n: number): void {
  check(
    Number.isSafeInteger(t) && Number.isSafeInteger(n) && t >= 2 && t <= n && n <= 1000,
    'bad_threshold',
    `expected 2 <= threshold <= size <= 1000, got threshold ${t}, size ${n}`,
  );
}
