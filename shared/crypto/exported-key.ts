// Sealing for the reconstruction ceremony: shares sent to the requester's one-time X25519 key
// (X25519 + HKDF-SHA256 + XChaCha20-Poly1305), and the passphrase-encrypted file of an exported key.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  bytesToHex,
  concatBytes,
  hexToBytes,
  randomBytes,
  utf8ToBytes,
} from '@noble/hashes/utils.js';
import { canonicalJSON, DEFAULT_KDF, kdfProblem, type ScryptParams } from './backup.js';
import { CryptoError, check, shown } from './errors.js';
import { wipe } from './secret.js';
import {
  getSuite,
  hasEvenY,
  SCHEMES,
  tapTweak,
  type GroupPoint,
  type SchemeName,
} from './suite.js';

/** A message sealed to a one-time X25519 public key. */
export interface Sealed {
  epk: string;
  nonce: string;
  ct: string;
}

const SEAL_INFO = utf8ToBytes('conclave/sealed/v1');

function sealKey(shared: Uint8Array, epk: Uint8Array, rpk: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(epk, rpk), SEAL_INFO, 32);
}

/** Encrypts `plaintext` so only the holder of `recipientPublic`'s secret key can read it. */
export function sealTo(
  recipientPublic: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Sealed {
  const eph = x25519.keygen();
  const shared = x25519.getSharedSecret(eph.secretKey, recipientPublic);
  const key = sealKey(shared, eph.publicKey, recipientPublic);
  const nonce = randomBytes(24);
  const ct = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  wipe(eph.secretKey, shared, key);
  return { epk: bytesToHex(eph.publicKey), nonce: bytesToHex(nonce), ct: bytesToHex(ct) };
}

/** Opens a sealed message; a wrong key or any change gives `bad_input`, never garbage. */
export function openSealed(
  recipientSecret: Uint8Array,
  sealed: Sealed,
  aad: Uint8Array,
): Uint8Array {
  try {
    const epk = hexToBytes(sealed.epk);
    const rpk = x25519.getPublicKey(recipientSecret);
    const shared = x25519.getSharedSecret(recipientSecret, epk);
    const key = sealKey(shared, epk, rpk);
    const out = xchacha20poly1305(key, hexToBytes(sealed.nonce), aad).decrypt(
      hexToBytes(sealed.ct),
    );
    wipe(shared, key);
    return out;
  } catch (e) {
    throw new CryptoError('bad_input', `cannot open the sealed message (${(e as Error).message})`);
  }
}

export const EXPORTED_KEY_FORMAT = 'conclave-exported-key';

interface ExportedKeyHeader {
  format: typeof EXPORTED_KEY_FORMAT;
  version: 1;
  scheme: SchemeName;
  /** Hex SerializeElement of the secret's public point (for taproot the internal key, 33 bytes). */
  publicKey: string;
  /**
   * taproot only: which key is which, so a user migrating the key does not take the internal key
   * for the address key. The secret in the file is the private key of `internalKey`; `outputKey`
   * is the group's public key (BIP86: the internal key tweaked with an empty script tree,
   * BIP341 §taproot_tweak_pubkey). Both x-only hex; absent from files written before it was added.
   */
  taproot?: TaprootKeys;
  createdAt: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: { name: 'xchacha20poly1305'; nonce: string };
}

/** A taproot key's x-only BIP341 internal key and its BIP86 output key (hex). */
export interface TaprootKeys {
  internalKey: string;
  outputKey: string;
}

/** The BIP86 key pair for the internal point P: x(P) and x(lift_x(x(P)) + hash_TapTweak(x(P))·G). */
function taprootKeys(P: GroupPoint): TaprootKeys {
  const even = hasEvenY(P) ? P : P.negate();
  const Q = even.add(getSuite('taproot').G.multiply(tapTweak(even)));
  return {
    internalKey: bytesToHex(P.toBytes().subarray(1)),
    outputKey: bytesToHex(Q.toBytes().subarray(1)),
  };
}

function deriveKey(passphrase: string, salt: Uint8Array, k: ScryptParams): Uint8Array {
  const pw = utf8ToBytes(passphrase.normalize('NFKC'));
  const key = scrypt(pw, salt, { N: k.N, r: k.r, p: k.p, dkLen: 32 });
  wipe(pw);
  return key;
}

/** The reconstructed key as a passphrase-encrypted file (for migrating to another system). */
export function exportKey(
  scheme: SchemeName,
  secret: bigint,
  passphrase: string,
  opts: { kdf?: ScryptParams; insecureAllowWeakKdf?: boolean } = {},
): string {
  const suite = getSuite(scheme);
  check(passphrase.length >= 10, 'bad_input', 'the passphrase must be at least 10 characters');
  const kdf = opts.kdf ?? DEFAULT_KDF;
  const problem = kdfProblem(kdf, opts.insecureAllowWeakKdf === true);
  check(problem === undefined, 'bad_input', problem ?? '');
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const P = suite.G.multiply(secret);
  const header: ExportedKeyHeader = {
    format: EXPORTED_KEY_FORMAT,
    version: 1,
    scheme,
    publicKey: bytesToHex(suite.encodePoint(P)),
    ...(scheme === 'taproot' ? { taproot: taprootKeys(P) } : {}),
    createdAt: new Date().toISOString(),
    kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: bytesToHex(salt) },
    cipher: { name: 'xchacha20poly1305', nonce: bytesToHex(nonce) },
  };
  const key = deriveKey(passphrase, salt, kdf);
  const plain = suite.encodeScalar(secret);
  const payload = xchacha20poly1305(key, nonce, utf8ToBytes(canonicalJSON(header))).encrypt(plain);
  wipe(key, plain);
  return JSON.stringify({ ...header, payload: bytesToHex(payload) }, null, 2) + '\n';
}

/**
 * Reads an exported key file; the result is checked against the public key in the file. For
 * taproot it also gives the internal and output keys (computed for files written without them).
 */
export function importExportedKey(
  text: string,
  passphrase: string,
  opts: { insecureAllowWeakKdf?: boolean } = {},
): { scheme: SchemeName; publicKey: string; secret: Uint8Array; taproot?: TaprootKeys } {
  let o: ExportedKeyHeader & { payload: string };
  try {
    o = JSON.parse(text) as ExportedKeyHeader & { payload: string };
  } catch {
    throw new CryptoError('bad_backup', 'not an exported key file');
  }
  check(
    o?.format === EXPORTED_KEY_FORMAT && o.version === 1,
    'bad_backup',
    'not a version-1 exported key file',
  );
  check(
    (SCHEMES as readonly string[]).includes(o.scheme),
    'bad_backup',
    `unknown scheme ${shown(o.scheme)}`,
  );
  check(
    o.taproot === undefined || o.scheme === 'taproot',
    'bad_backup',
    `a ${o.scheme} key file has taproot keys`,
  );
  const kdf = { N: o.kdf?.N, r: o.kdf?.r, p: o.kdf?.p } as ScryptParams;
  const problem = kdfProblem(kdf, opts.insecureAllowWeakKdf === true);
  check(problem === undefined, 'bad_backup', problem ?? '');
  const { payload, ...header } = o;
  const key = deriveKey(passphrase, hexToBytes(o.kdf.salt), kdf);
  let secret: Uint8Array;
  try {
    secret = xchacha20poly1305(
      key,
      hexToBytes(o.cipher.nonce),
      utf8ToBytes(canonicalJSON(header)),
    ).decrypt(hexToBytes(payload));
  } catch {
    throw new CryptoError('wrong_passphrase', 'wrong passphrase, or the file was modified');
  } finally {
    wipe(key);
  }
  const suite = getSuite(o.scheme);
  const s = suite.decodeScalar(secret, 'exported key');
  const P = suite.G.multiply(s);
  if (bytesToHex(suite.encodePoint(P)) !== o.publicKey) {
    wipe(secret);
    throw new CryptoError('backup_tampered', 'the key in the file does not match its public key');
  }
  if (o.scheme !== 'taproot') return { scheme: o.scheme, publicKey: o.publicKey, secret };
  const taproot = taprootKeys(P);
  if (
    o.taproot !== undefined &&
    (o.taproot.internalKey !== taproot.internalKey || o.taproot.outputKey !== taproot.outputKey)
  ) {
    wipe(secret);
    throw new CryptoError(
      'backup_tampered',
      `the file's taproot keys do not match its key: expected internal ${taproot.internalKey} and output ${taproot.outputKey}, got ${JSON.stringify(o.taproot).slice(0, 200)}`,
    );
  }
  return { scheme: o.scheme, publicKey: o.publicKey, secret, taproot };
}
