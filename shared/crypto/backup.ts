// The passphrase-encrypted share backup file (version 1): a readable JSON header that is
// authenticated, and the share encrypted under a key stretched from the passphrase with scrypt.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { expand } from '@noble/hashes/hkdf.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { isLowerHex } from '../protocol/fields.js';
import { CryptoError, check, type CryptoErrorCode } from './errors.js';
import {
  assertShareMatches,
  publicPackageFromJSON,
  publicPackageToJSON,
  SecretShare,
  type KeyPackage,
  type PublicKeyPackage,
  type PublicKeyPackageJSON,
} from './keys.js';
import { wipe } from './secret.js';
import {
  getSuite,
  identifierHex,
  parseIdentifier,
  SCHEMES,
  type Rng,
  type SchemeName,
} from './suite.js';

export const BACKUP_FORMAT = 'conclave-share-backup';
export const BACKUP_VERSION = 1;

/** scrypt cost. The default needs 128 MiB and took 0.37 s on the 2-core development machine. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * An scrypt implementation: noble's pure-JS one by default; main/ injects node:crypto's (the same
 * function, much faster and without keeping its buffer), as shared/ must not import node:*.
 */
export type ScryptKdf = (
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams & { dkLen: number },
) => Uint8Array;

/** noble's scrypt: the default wherever no faster one is injected. */
export const nobleScrypt: ScryptKdf = (password, salt, { N, r, p, dkLen }) =>
  scrypt(password, salt, { N, r, p, dkLen });

export const DEFAULT_KDF: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** Files and exports below this are refused unless `insecureAllowWeakKdf` (tests only) is set. */
export const MIN_KDF: Readonly<ScryptParams> = DEFAULT_KDF;
// Upper bounds keep a hostile file from asking for gigabytes of memory or minutes of work.
const MAX_MEMORY = 2 ** 29; // scrypt holds 128·N·r bytes: 512 MiB, i.e. N = 2^19 at r = 8
const MAX_WORK = 2 ** 24; // N·r·p: 16 times the default, a few seconds

const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const CHECK_BYTES = 32;
const TAG_BYTES = 16;
const MAX_TEXT = 2_000_000;
const MAX_LABEL = 256;

/** Who the backup belongs to, as shown to people; authenticated with the share. */
export interface BackupMeta {
  memberName: string;
  /** The member's network identity, e.g. its libp2p peer id. */
  memberIdentity: string;
  groupId: string;
  groupName: string;
}

/** The plaintext part of a backup. Every field is authenticated (it is the AEAD's AAD). */
export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  createdAt: string;
  scheme: SchemeName;
  groupId: string;
  groupName: string;
  /** Hex of SerializeElement(group key); the raw key (for taproot the internal key). */
  groupKey: string;
  epoch: number;
  /** Hex of SerializeScalar(identifier). */
  memberIdentifier: string;
  memberName: string;
  memberIdentity: string;
  publicKeyPackage: PublicKeyPackageJSON;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: { name: 'xchacha20poly1305'; nonce: string };
}

/** The whole file: header, passphrase check value and encrypted share. */
export interface BackupFile extends BackupHeader {
  /** Derived from the passphrase alone; tells a wrong passphrase apart from a modified file. */
  check: string;
  /** XChaCha20-Poly1305(SerializeScalar(s_i)) with AAD = canonicalJSON(header). */
  payload: string;
}

export interface ExportBackupOptions {
  kdf?: ScryptParams;
  /** The scrypt to run (default nobleScrypt); any correct one gives the same file. */
  scrypt?: ScryptKdf;
  /** Tests only: accept scrypt parameters below MIN_KDF. */
  insecureAllowWeakKdf?: boolean;
  rng?: Rng;
  now?: Date;
}

export interface ImportBackupOptions {
  /** The group's current epoch: an older backup is `stale_backup`, a newer one `epoch_mismatch`. */
  expectEpoch?: number;
  /** The group key (hex) the backup must belong to, else `key_mismatch`. */
  expectGroupKey?: string;
  /** Tests only: accept scrypt parameters below MIN_KDF. */
  insecureAllowWeakKdf?: boolean;
  /** The scrypt to run (default nobleScrypt); any correct one opens the same files. */
  scrypt?: ScryptKdf;
}

// ---- canonical JSON ----

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units, no whitespace, integers only.
 * Two parses of the same file give the same bytes, whatever the key order or layout in the file.
 */
export function canonicalJSON(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  if (typeof v === 'number') {
    check(
      Number.isSafeInteger(v),
      'bad_input',
      `canonical JSON takes only safe integers, got ${v}`,
    );
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON(v[k])}`)
      .join(',')}}`;
  throw new CryptoError('bad_input', `canonical JSON cannot encode a ${typeof v}`);
}

// ---- key derivation ----

/**
 * Why scrypt parameters are unacceptable (not integers, N not a power of two, above the memory or
 * work limit, or below MIN_KDF unless `allowWeak`), or undefined when they are fine. Shared with the
 * file vault so both passphrase-protected formats follow one policy.
 */
export function kdfProblem(k: ScryptParams, allowWeak: boolean): string | undefined {
  const { N, r, p } = k;
  if (![N, r, p].every((x) => Number.isSafeInteger(x) && x >= 1))
    return `scrypt parameters must be positive integers, got N=${N}, r=${r}, p=${p}`;
  if (N < 2 || (N & (N - 1)) !== 0) return `scrypt N must be a power of two, got ${N}`;
  if (128 * N * r > MAX_MEMORY || N * r * p > MAX_WORK)
    return `scrypt parameters N=${N}, r=${r}, p=${p} exceed the limit (128·N·r <= 512 MiB, N·r·p <= 2^24)`;
  if (!allowWeak && (N < MIN_KDF.N || r < MIN_KDF.r))
    return `scrypt parameters N=${N}, r=${r} are below the minimum N=${MIN_KDF.N}, r=${MIN_KDF.r}`;
  return undefined;
}

function assertKdf(k: ScryptParams, allowWeak: boolean, code: CryptoErrorCode): void {
  const problem = kdfProblem(k, allowWeak);
  check(problem === undefined, code, problem ?? '');
}

const INFO_ENC = utf8ToBytes('conclave-share-backup/v1/encryption-key');
const INFO_CHECK = utf8ToBytes('conclave-share-backup/v1/passphrase-check');

/** scrypt(passphrase) → HKDF-Expand into the encryption key and the passphrase check value. */
function deriveKeys(passphrase: string, salt: Uint8Array, k: ScryptParams, kdf: ScryptKdf) {
  // NFKC so the same passphrase typed on another keyboard or OS derives the same key.
  const pw = utf8ToBytes(passphrase.normalize('NFKC'));
  const master = kdf(pw, salt, { N: k.N, r: k.r, p: k.p, dkLen: 32 });
  const encKey = expand(sha256, master, INFO_ENC, 32);
  const checkValue = expand(sha256, master, INFO_CHECK, CHECK_BYTES);
  wipe(pw, master);
  return { encKey, checkValue };
}

// ---- parsing ----

const bad = (message: string) => new CryptoError('bad_backup', message);
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);
// Labels are printed in the summary block: no control characters or line breaks.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function exactKeys(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length) throw bad(`${what}: unknown field ${extra.map(show).join(', ')}`);
  const missing = keys.filter((k) => !Object.prototype.hasOwnProperty.call(o, k));
  if (missing.length) throw bad(`${what}: missing field ${missing.join(', ')}`);
}

function label(
  o: Record<string, unknown>,
  k: string,
  code: CryptoErrorCode = 'bad_backup',
): string {
  const v = o[k];
  check(typeof v === 'string', code, `${k} must be a string, got ${show(v)}`);
  check(v.length >= 1 && v.length <= MAX_LABEL, code, `${k} must be 1..${MAX_LABEL} characters`);
  check(!CONTROL.test(v), code, `${k} must not contain control characters or line breaks`);
  return v;
}

function int(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (!Number.isSafeInteger(v) || (v as number) < 0)
    throw bad(`${what}.${k} must be a non-negative integer, got ${show(v)}`);
  return v as number;
}

function hex(o: Record<string, unknown>, k: string, min: number, max = min): Uint8Array {
  const v = o[k];
  if (!isLowerHex(v)) throw bad(`${k} must be lowercase hex, got ${show(v)}`);
  const n = v.length / 2;
  if (n < min || n > max)
    throw bad(`${k} must be ${min === max ? min : `${min}..${max}`} bytes, got ${n}`);
  return hexToBytes(v);
}

interface ParsedBackup {
  header: BackupHeader;
  pub: PublicKeyPackage;
  identifier: bigint;
  salt: Uint8Array;
  nonce: Uint8Array;
  check: Uint8Array;
  payload: Uint8Array;
}

const FILE_KEYS = [
  'format',
  'version',
  'createdAt',
  'scheme',
  'groupId',
  'groupName',
  'groupKey',
  'epoch',
  'memberIdentifier',
  'memberName',
  'memberIdentity',
  'publicKeyPackage',
  'kdf',
  'cipher',
  'check',
  'payload',
] as const;

/** Strict structural parse: format and version first, then every field; no cryptography. */
function parseBackup(text: unknown): ParsedBackup {
  if (typeof text !== 'string') throw bad(`expected the file's text, got ${typeof text}`);
  if (text.length > MAX_TEXT) throw bad(`file is ${text.length} characters, more than ${MAX_TEXT}`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (!isPlainObject(o)) throw bad('the file must hold a JSON object');
  if (o.format !== BACKUP_FORMAT)
    throw bad(`not a Conclave share backup: format is ${show(o.format)}`);
  if (!Number.isSafeInteger(o.version))
    throw bad(`version must be an integer, got ${show(o.version)}`);
  if (o.version !== BACKUP_VERSION)
    throw new CryptoError(
      'unsupported_version',
      `backup file version ${show(o.version)} is not supported; this Conclave reads version ${BACKUP_VERSION}`,
    );
  exactKeys(o, FILE_KEYS, 'backup');

  const createdAt = o.createdAt;
  if (typeof createdAt !== 'string' || !ISO_DATE.test(createdAt) || isNaN(Date.parse(createdAt)))
    throw bad(`createdAt must be an ISO 8601 UTC time, got ${show(createdAt)}`);
  if (typeof o.scheme !== 'string' || !(SCHEMES as readonly string[]).includes(o.scheme))
    throw bad(`unknown scheme ${show(o.scheme)}`);
  const scheme = o.scheme as SchemeName;
  const suite = getSuite(scheme);
  for (const k of ['groupId', 'groupName', 'memberName', 'memberIdentity']) label(o, k);
  const epoch = int(o, 'epoch', 'backup');

  const pj = o.publicKeyPackage;
  if (!isPlainObject(pj)) throw bad('publicKeyPackage must be an object');
  exactKeys(
    pj,
    ['scheme', 'threshold', 'groupKey', 'verifyingShares', 'epoch'],
    'publicKeyPackage',
  );
  if (!isPlainObject(pj.verifyingShares))
    throw bad('publicKeyPackage.verifyingShares must be an object');
  let pub: PublicKeyPackage;
  try {
    pub = publicPackageFromJSON(pj as unknown as PublicKeyPackageJSON);
  } catch (e) {
    throw bad(`publicKeyPackage: ${(e as Error).message}`);
  }
  // Re-encoding must give the same values: no alternative encodings of the same key.
  if (canonicalJSON(publicPackageToJSON(pub)) !== canonicalJSON(pj))
    throw bad('publicKeyPackage is not in canonical form');
  if (pub.scheme !== scheme)
    throw bad(`scheme is ${scheme} but the public key package is ${pub.scheme}`);
  if (o.groupKey !== pj.groupKey)
    throw bad(`groupKey ${show(o.groupKey)} differs from the public key package's`);
  if (pub.epoch !== epoch)
    throw bad(`epoch ${epoch} differs from the public key package's epoch ${pub.epoch}`);
  let identifier: bigint;
  try {
    identifier = parseIdentifier(suite, o.memberIdentifier as string);
  } catch (e) {
    throw bad(`memberIdentifier: ${(e as Error).message}`);
  }
  if (!pub.verifyingShares.has(identifier))
    throw bad(`member ${show(o.memberIdentifier)} is not in the public key package`);

  const kdf = o.kdf;
  if (!isPlainObject(kdf)) throw bad('kdf must be an object');
  exactKeys(kdf, ['name', 'N', 'r', 'p', 'salt'], 'kdf');
  if (kdf.name !== 'scrypt') throw bad(`unknown kdf ${show(kdf.name)}`);
  for (const k of ['N', 'r', 'p']) int(kdf, k, 'kdf');
  const salt = hex(kdf, 'salt', 16, 64);
  const cipher = o.cipher;
  if (!isPlainObject(cipher)) throw bad('cipher must be an object');
  exactKeys(cipher, ['name', 'nonce'], 'cipher');
  if (cipher.name !== 'xchacha20poly1305') throw bad(`unknown cipher ${show(cipher.name)}`);
  const nonce = hex(cipher, 'nonce', NONCE_BYTES);
  const checkValue = hex(o, 'check', CHECK_BYTES);
  const payload = hex(o, 'payload', suite.scalarLength + TAG_BYTES);

  const { check: _c, payload: _p, ...header } = o;
  return {
    header: header as unknown as BackupHeader,
    pub,
    identifier,
    salt,
    nonce,
    check: checkValue,
    payload,
  };
}

/** Lays the file out in a fixed field order, two-space indented, so it prints and diffs well. */
function serialize(
  h: BackupHeader,
  pub: PublicKeyPackage,
  rest: { check: string; payload?: string },
) {
  const file = {
    format: h.format,
    version: h.version,
    createdAt: h.createdAt,
    scheme: h.scheme,
    groupId: h.groupId,
    groupName: h.groupName,
    groupKey: h.groupKey,
    epoch: h.epoch,
    memberIdentifier: h.memberIdentifier,
    memberName: h.memberName,
    memberIdentity: h.memberIdentity,
    publicKeyPackage: publicPackageToJSON(pub),
    kdf: { name: h.kdf.name, N: h.kdf.N, r: h.kdf.r, p: h.kdf.p, salt: h.kdf.salt },
    cipher: { name: h.cipher.name, nonce: h.cipher.nonce },
    ...rest,
  };
  return JSON.stringify(file, null, 2) + '\n';
}

// ---- export / import ----

/**
 * Writes a member's share as a backup file. The share is encrypted with XChaCha20-Poly1305 under
 * a key stretched from `passphrase` by scrypt; everything else is readable but authenticated.
 */
export function exportBackup(
  key: KeyPackage,
  meta: BackupMeta,
  passphrase: string,
  opts: ExportBackupOptions = {},
): string {
  assertShareMatches(key.public, key.share);
  check(isPlainObject(meta), 'bad_input', 'meta must be an object');
  for (const k of ['groupId', 'groupName', 'memberName', 'memberIdentity'])
    label(meta as unknown as Record<string, unknown>, k, 'bad_input');
  check(
    typeof passphrase === 'string' && passphrase.length > 0,
    'bad_input',
    'passphrase must be a non-empty string',
  );
  const kdf = opts.kdf ?? DEFAULT_KDF;
  assertKdf(kdf, opts.insecureAllowWeakKdf === true, 'bad_input');
  const rng = opts.rng ?? randomBytes;
  const salt = rng(SALT_BYTES);
  const nonce = rng(NONCE_BYTES);
  check(
    salt.length === SALT_BYTES && nonce.length === NONCE_BYTES,
    'bad_input',
    `rng returned ${salt.length} and ${nonce.length} bytes, expected ${SALT_BYTES} and ${NONCE_BYTES}`,
  );
  const pub = key.public;
  const suite = getSuite(pub.scheme);
  const pubJSON = publicPackageToJSON(pub);
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: (opts.now ?? new Date()).toISOString(),
    scheme: pub.scheme,
    groupId: meta.groupId,
    groupName: meta.groupName,
    groupKey: pubJSON.groupKey,
    epoch: pub.epoch,
    memberIdentifier: identifierHex(suite, key.share.identifier),
    memberName: meta.memberName,
    memberIdentity: meta.memberIdentity,
    publicKeyPackage: pubJSON,
    kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: bytesToHex(salt) },
    cipher: { name: 'xchacha20poly1305', nonce: bytesToHex(nonce) },
  };
  const aad = utf8ToBytes(canonicalJSON(header));
  const { encKey, checkValue } = deriveKeys(passphrase, salt, kdf, opts.scrypt ?? nobleScrypt);
  const shareBytes = key.share.toBytes();
  try {
    const payload = xchacha20poly1305(encKey, nonce, aad).encrypt(shareBytes);
    return serialize(header, pub, { check: bytesToHex(checkValue), payload: bytesToHex(payload) });
  } finally {
    wipe(encKey, checkValue, shareBytes);
  }
}

/**
 * Reads a backup file: strict parse, passphrase check, decryption, then the share is checked
 * against the public key package (s_i·G == Y_i).
 *
 * Errors: `bad_backup` (not a well-formed v1 file), `unsupported_version`, `wrong_passphrase`
 * (the check value does not match: a wrong passphrase, or the salt, KDF parameters or check value
 * were changed — cryptography cannot tell these apart), `backup_tampered` (the passphrase is right
 * but the header or the encrypted share was changed), then `key_mismatch`, `stale_backup` and
 * `epoch_mismatch` against `opts`. Expectations are checked only on authenticated data.
 */
export function importBackup(
  text: string,
  passphrase: string,
  opts: ImportBackupOptions = {},
): { key: KeyPackage; header: BackupHeader } {
  check(typeof passphrase === 'string', 'bad_input', 'passphrase must be a string');
  const { expectEpoch, expectGroupKey } = opts;
  check(
    expectEpoch === undefined || (Number.isSafeInteger(expectEpoch) && expectEpoch >= 0),
    'bad_input',
    `expectEpoch must be a non-negative integer, got ${expectEpoch}`,
  );
  check(
    expectGroupKey === undefined || typeof expectGroupKey === 'string',
    'bad_input',
    'expectGroupKey must be a hex string',
  );
  const b = parseBackup(text);
  const h = b.header;
  assertKdf(h.kdf, opts.insecureAllowWeakKdf === true, 'bad_backup');

  const { encKey, checkValue } = deriveKeys(passphrase, b.salt, h.kdf, opts.scrypt ?? nobleScrypt);
  let share: SecretShare;
  try {
    check(
      equalBytes(checkValue, b.check),
      'wrong_passphrase',
      'wrong passphrase or the file was modified',
    );
    let plain: Uint8Array;
    try {
      plain = xchacha20poly1305(encKey, b.nonce, utf8ToBytes(canonicalJSON(h))).decrypt(b.payload);
    } catch {
      throw new CryptoError(
        'backup_tampered',
        'the passphrase is right but the file was modified after it was written',
      );
    }
    try {
      share = SecretShare.fromBytes(h.scheme, b.identifier, plain, h.epoch);
      assertShareMatches(b.pub, share);
    } catch {
      throw new CryptoError(
        'backup_tampered',
        `the decrypted share does not match member ${h.memberIdentifier}'s verifying share`,
      );
    } finally {
      wipe(plain);
    }
  } finally {
    wipe(encKey, checkValue);
  }

  try {
    if (expectGroupKey !== undefined)
      check(
        expectGroupKey.toLowerCase() === h.groupKey,
        'key_mismatch',
        `backup is for group key ${h.groupKey}, expected ${show(expectGroupKey)}`,
      );
    if (expectEpoch !== undefined) {
      check(
        h.epoch >= expectEpoch,
        'stale_backup',
        `backup is from epoch ${h.epoch}, the group is at epoch ${expectEpoch}`,
      );
      check(
        h.epoch === expectEpoch,
        'epoch_mismatch',
        `backup is from epoch ${h.epoch}, newer than the group's epoch ${expectEpoch}`,
      );
    }
  } catch (e) {
    share.wipe();
    throw e;
  }
  return { key: { public: b.pub, share }, header: h };
}

/**
 * The header of a backup without the passphrase, to show what a file is before asking for it.
 * NOT authenticated: decisions must wait for importBackup.
 */
export function readBackupHeader(text: string): BackupHeader {
  return parseBackup(text).header;
}

// ---- printable form ----

const BEGIN = '-----BEGIN CONCLAVE SHARE BACKUP-----';
const END = '-----END CONCLAVE SHARE BACKUP-----';
const PAYLOAD_LINE = 'payload:';

/**
 * A form to print on paper: a summary for people, then the file's content between BEGIN/END
 * lines with the encrypted share wrapped at 64 columns. Only the part between the lines is read
 * back; the summary is a convenience.
 */
export function backupToPrintable(text: string): string {
  const b = parseBackup(text);
  const h = b.header;
  const body = serialize(h, b.pub, { check: bytesToHex(b.check) }).trimEnd();
  const wrapped = bytesToHex(b.payload).match(/.{1,64}/g) ?? [];
  return [
    'Conclave share backup. Keep this sheet private; it is useless without its passphrase.',
    '',
    `  Group:    ${h.groupName} (${h.groupId})`,
    `  Member:   ${h.memberName} (${h.memberIdentity})`,
    `  Epoch:    ${h.epoch}`,
    `  Scheme:   ${h.scheme}, ${b.pub.threshold} of ${b.pub.verifyingShares.size}`,
    `  Created:  ${h.createdAt}`,
    '',
    'To restore, enter everything from the BEGIN line to the END line.',
    BEGIN,
    body,
    PAYLOAD_LINE,
    ...wrapped,
    END,
    '',
  ].join('\n');
}

/** The backup file text back from its printable form (whitespace in the payload is ignored). */
export function backupFromPrintable(printable: string): string {
  if (typeof printable !== 'string') throw bad('expected the printable text');
  const lines = printable.replace(/\r\n?/g, '\n').split('\n');
  const begin = lines.findIndex((l) => l.trim() === BEGIN);
  const end = lines.findIndex((l) => l.trim() === END);
  if (begin < 0 || end < begin) throw bad(`no ${BEGIN} ... ${END} block found`);
  const inner = lines.slice(begin + 1, end);
  const at = inner.findIndex((l) => l.trim() === PAYLOAD_LINE);
  if (at < 0) throw bad(`no "${PAYLOAD_LINE}" line in the backup block`);
  let o: unknown;
  try {
    o = JSON.parse(inner.slice(0, at).join('\n'));
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (!isPlainObject(o) || 'payload' in o)
    throw bad('the backup block must hold a JSON object without a payload');
  const payload = inner
    .slice(at + 1)
    .join('')
    .replace(/\s+/g, '');
  const b = parseBackup(JSON.stringify({ ...o, payload }));
  return serialize(b.header, b.pub, { check: bytesToHex(b.check), payload });
}
