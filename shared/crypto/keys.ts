// Key packages: the public data every member holds, the member's secret share, and the signing view.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { check } from './errors.js';
import { isLowerHex } from '../protocol/fields.js';
import { Redacted } from './secret.js';
import {
  assertIdentifiers,
  assertThreshold,
  getSuite,
  hasEvenY,
  identifierHex,
  parseIdentifier,
  tapTweak,
  type GroupPoint,
  type SchemeName,
  type Suite,
} from './suite.js';

/** What every member of a group holds about its key (ZF: PublicKeyPackage). */
export interface PublicKeyPackage {
  readonly scheme: SchemeName;
  readonly threshold: number;
  /** The group public key. For taproot this is the BIP341 *internal* key. */
  readonly groupKey: GroupPoint;
  /** Each member's verifying share Y_i = s_i·G, by identifier. */
  readonly verifyingShares: ReadonlyMap<bigint, GroupPoint>;
  /** Starts at 0 after DKG or dealer split; +1 at every refresh or reshare. */
  readonly epoch: number;
}

/** A member's secret signing share s_i. Prints as `<redacted>`; read only through `scalar()`. */
export class SecretShare extends Redacted {
  readonly scheme: SchemeName;
  readonly identifier: bigint;
  readonly epoch: number;
  #value: bigint;
  constructor(scheme: SchemeName, identifier: bigint, value: bigint, epoch: number) {
    super();
    const suite = getSuite(scheme);
    assertIdentifiers(suite, [identifier]);
    check(value > 0n && value < suite.Fn.ORDER, 'bad_scalar', 'share must be a non-zero scalar');
    check(Number.isSafeInteger(epoch) && epoch >= 0, 'bad_input', `bad epoch ${epoch}`);
    this.scheme = scheme;
    this.identifier = identifier;
    this.#value = value;
    this.epoch = epoch;
  }
  /** The share as a scalar. Callers must not log or persist it in plaintext. */
  scalar(): bigint {
    check(this.#value !== 0n, 'bad_input', 'share was wiped');
    return this.#value;
  }
  /** SerializeScalar(s_i), for the keychain or an encrypted backup only. */
  toBytes(): Uint8Array {
    return getSuite(this.scheme).encodeScalar(this.scalar());
  }
  static fromBytes(scheme: SchemeName, identifier: bigint, bytes: Uint8Array, epoch: number) {
    return new SecretShare(
      scheme,
      identifier,
      getSuite(scheme).decodeScalar(bytes, 'share'),
      epoch,
    );
  }
  /** Best-effort erasure: the share becomes unusable. */
  wipe(): void {
    this.#value = 0n;
  }
}

/** A member's full key material. */
export interface KeyPackage {
  readonly public: PublicKeyPackage;
  readonly share: SecretShare;
}

/** Builds a public package after checking its shape: identifiers, threshold, points. */
export function makePublicPackage(
  scheme: SchemeName,
  threshold: number,
  groupKey: GroupPoint,
  verifyingShares: ReadonlyMap<bigint, GroupPoint>,
  epoch: number,
): PublicKeyPackage {
  const suite = getSuite(scheme);
  assertThreshold(threshold, verifyingShares.size);
  assertIdentifiers(suite, [...verifyingShares.keys()]);
  check(Number.isSafeInteger(epoch) && epoch >= 0, 'bad_input', `bad epoch ${epoch}`);
  return { scheme, threshold, groupKey, verifyingShares: new Map(verifyingShares), epoch };
}

/** The JSON form of a public package (hex strings), for storage and the wire. */
export interface PublicKeyPackageJSON {
  scheme: SchemeName;
  threshold: number;
  groupKey: string;
  verifyingShares: Record<string, string>;
  epoch: number;
}

export function publicPackageToJSON(p: PublicKeyPackage): PublicKeyPackageJSON {
  const suite = getSuite(p.scheme);
  const vs: Record<string, string> = {};
  for (const [id, Y] of [...p.verifyingShares].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    vs[identifierHex(suite, id)] = bytesToHex(suite.encodePoint(Y));
  return {
    scheme: p.scheme,
    threshold: p.threshold,
    groupKey: bytesToHex(suite.encodePoint(p.groupKey)),
    verifyingShares: vs,
    epoch: p.epoch,
  };
}

export function publicPackageFromJSON(j: PublicKeyPackageJSON): PublicKeyPackage {
  check(j !== null && typeof j === 'object', 'bad_input', 'public package must be an object');
  const suite = getSuite(j.scheme);
  check(typeof j.groupKey === 'string', 'bad_input', 'groupKey must be hex');
  check(j.verifyingShares && typeof j.verifyingShares === 'object', 'bad_input', 'verifyingShares');
  const vs = new Map<bigint, GroupPoint>();
  for (const [idHex, yHex] of Object.entries(j.verifyingShares)) {
    check(isLowerHex(yHex), 'bad_point', `verifying share ${idHex}`);
    vs.set(
      parseIdentifier(suite, idHex),
      suite.decodePoint(hexToBytes(yHex), `verifying share ${idHex}`),
    );
  }
  check(isLowerHex(j.groupKey), 'bad_point', 'groupKey must be hex');
  const groupKey = suite.decodePoint(hexToBytes(j.groupKey), 'group key');
  // Numbers before makePublicPackage puts them in its messages (a peer's object could not be shown).
  check(Number.isSafeInteger(j.threshold), 'bad_input', 'threshold must be an integer');
  check(Number.isSafeInteger(j.epoch), 'bad_input', 'epoch must be an integer');
  return makePublicPackage(j.scheme, j.threshold, groupKey, vs, j.epoch);
}

/**
 * The key as signing sees it. For ed25519 and secp256k1 it is the group key itself. For taproot it
 * is the BIP341 output key Q = P + hash_TapTweak(P)·G (empty script tree), with P and Q normalised
 * to even Y as BIP340 requires; shares and verifying shares are mapped the same way, which keeps
 * them on one polynomial because the Lagrange coefficients of any signer set sum to one.
 */
export interface SigningKey {
  readonly suite: Suite;
  readonly threshold: number;
  /** The key signatures verify under (x-only output key for taproot). */
  readonly key: GroupPoint;
  /** SerializeElement(key), as bound into binding factors. */
  readonly keyBytes: Uint8Array;
  readonly verifyingShares: ReadonlyMap<bigint, GroupPoint>;
  /** Maps a raw share scalar onto this view: s' = sign2·(sign1·s + t). */
  adjustShare(s: bigint): bigint;
}

const viewCache = new WeakMap<PublicKeyPackage, Map<string, SigningKey>>();

/**
 * The signing view of a public package. `tweak: false` only disables the taproot TapTweak
 * (used to replay ZF's untweaked vectors); production taproot keys are always tweaked.
 */
export function signingKey(pub: PublicKeyPackage, opts: { tweak?: boolean } = {}): SigningKey {
  const tweak = opts.tweak ?? true;
  const cacheKey = String(tweak);
  let perPub = viewCache.get(pub);
  const hit = perPub?.get(cacheKey);
  if (hit) return hit;
  const suite = getSuite(pub.scheme);
  const Fn = suite.Fn;
  // The key's window-8 table serves aggregate's public c·PK and is built there, on first use. An
  // eager precompute multiplies a dummy secret scalar, which on secp256k1 (noble blinds every
  // secret multiplication) builds a second, wider table that nothing here uses.
  let view: SigningKey;
  if (!suite.evenY) {
    view = {
      suite,
      threshold: pub.threshold,
      key: pub.groupKey.precompute(8, true),
      keyBytes: suite.encodePoint(pub.groupKey),
      verifyingShares: pub.verifyingShares,
      adjustShare: (s) => s,
    };
  } else {
    const neg1 = !hasEvenY(pub.groupKey);
    const P = neg1 ? pub.groupKey.negate() : pub.groupKey;
    const t = tweak ? tapTweak(P) : 0n;
    const tG = t === 0n ? suite.ZERO : suite.G.multiply(t);
    const Q = P.add(tG);
    const neg2 = !hasEvenY(Q);
    const map = (Y: GroupPoint) => {
      const a = (neg1 ? Y.negate() : Y).add(tG);
      return neg2 ? a.negate() : a;
    };
    const vs = new Map<bigint, GroupPoint>();
    for (const [id, Y] of pub.verifyingShares) vs.set(id, map(Y));
    const key = neg2 ? Q.negate() : Q;
    view = {
      suite,
      threshold: pub.threshold,
      key: key.precompute(8, true),
      keyBytes: suite.encodePoint(key),
      verifyingShares: vs,
      adjustShare: (s) => {
        const a = Fn.add(neg1 ? Fn.neg(s) : s, t);
        return neg2 ? Fn.neg(a) : a;
      },
    };
  }
  if (!perPub) viewCache.set(pub, (perPub = new Map()));
  perPub.set(cacheKey, view);
  return view;
}

const bip340Cache = new WeakMap<PublicKeyPackage, PublicKeyPackage>();

/**
 * The same public key read as a BIP340 key (the taproot suite without its tweak): a secp256k1 or
 * taproot group signs BIP340 for uses such as Nostr with the shares it already has.
 */
export function asBip340Public(pub: PublicKeyPackage): PublicKeyPackage {
  check(
    pub.scheme === 'secp256k1' || pub.scheme === 'taproot',
    'bad_input',
    `a ${pub.scheme} key cannot sign BIP340`,
  );
  if (pub.scheme === 'taproot') return pub;
  let view = bip340Cache.get(pub);
  if (!view) bip340Cache.set(pub, (view = { ...pub, scheme: 'taproot' }));
  return view;
}

/** A key package read as a BIP340 key (see asBip340Public); the share is the same scalar. */
export function asBip340(key: KeyPackage): KeyPackage {
  if (key.public.scheme === 'taproot') return key;
  const pub = asBip340Public(key.public);
  const s = key.share;
  return { public: pub, share: new SecretShare('taproot', s.identifier, s.scalar(), s.epoch) };
}

/**
 * The public key in the form people and standard verifiers use: 32-byte Ed25519 key; 33-byte
 * compressed secp256k1 key; for taproot the 32-byte x-only BIP341 output key.
 */
export function externalPublicKey(pub: PublicKeyPackage): Uint8Array {
  const suite = getSuite(pub.scheme);
  // Only taproot's key is tweaked: the others' is the group key as it is. Their signing view
  // precomputes a window-8 table of the key, which cost each member of a key generation more
  // than its own round 1; signing builds it when it needs it.
  if (!suite.evenY) return suite.externalKey(pub.groupKey);
  const view = signingKey(pub);
  return view.suite.externalKey(view.key);
}

/** For taproot: the 32-byte x-only BIP341 internal key. */
export function taprootInternalKey(pub: PublicKeyPackage): Uint8Array {
  check(pub.scheme === 'taproot', 'bad_input', 'internal key exists only for taproot');
  return pub.groupKey.toBytes().slice(1);
}

/** Checks that a share belongs to a public package: s_i·G == Y_i. Throws `key_mismatch`. */
export function assertShareMatches(pub: PublicKeyPackage, share: SecretShare): void {
  const suite = getSuite(pub.scheme);
  check(
    share.scheme === pub.scheme,
    'key_mismatch',
    `share is ${share.scheme}, key is ${pub.scheme}`,
  );
  check(
    share.epoch === pub.epoch,
    'epoch_mismatch',
    `share is from epoch ${share.epoch}, key package is epoch ${pub.epoch}`,
  );
  const Y = pub.verifyingShares.get(share.identifier);
  check(Y !== undefined, 'key_mismatch', 'share identifier is not a member of this key');
  check(
    suite.G.multiply(share.scalar()).equals(Y),
    'key_mismatch',
    'share does not match its verifying share',
    [identifierHex(suite, share.identifier)],
  );
}
