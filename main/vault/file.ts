// The passphrase-protected file vault, for machines without an OS keychain: one directory, a
// header with the scrypt parameters, and one XChaCha20-Poly1305 sealed file per entry.
import { constants, readFileSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { DEFAULT_KDF, kdfProblem, type ScryptParams } from '../../shared/crypto/backup.js';
import { Redacted, wipe } from '../../shared/crypto/secret.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { nodeScrypt, startEarlyScrypt } from './scrypt.js';
import { checkName, checkSecret, MAX_SECRET_BYTES, show, VaultError, type Vault } from './types.js';

export interface FileVaultOptions {
  /** The vault's directory; created (mode 0700) when `create` is set. */
  dir: string;
  passphrase: string;
  /** Make a new vault in `dir` (refused if one is already there) rather than open one. */
  create: boolean;
  /** scrypt cost for a new vault (default N=2^17, r=8, p=1; weaker is refused). */
  kdf?: ScryptParams;
  /**
   * TESTS ONLY: accept scrypt parameters below the production minimum, when creating and when
   * opening. A vault made this way falls to a passphrase guesser in a fraction of the time.
   */
  insecureFastKdfForTests?: true;
  /**
   * The scrypt to run (default node:crypto's, nodeScrypt). Any correct scrypt gives the same keys,
   * so a vault made with one opens with another; tests pass noble's to show it.
   */
  scrypt?: VaultKdf;
}

/** An asynchronous scrypt, as nodeScrypt. */
export type VaultKdf = (
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams & { dkLen: number },
) => Promise<Uint8Array>;

export const FILE_VAULT_FORMAT = 'conclave-file-vault';
export const FILE_VAULT_VERSION = 1;
export const HEADER_FILE = 'vault.json';
const ENTRY_SUFFIX = '.secret';
const SALT_BYTES = 32;
const CHECK_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
// An entry file: version byte, nonce, then the sealed secret with its tag.
const ENTRY_VERSION = 1;
const MAX_ENTRY_BYTES = 1 + NONCE_BYTES + MAX_SECRET_BYTES + TAG_BYTES;
const MAX_HEADER_BYTES = 4096;
// Both derived from one scrypt output, so the check reveals nothing about the key.
const INFO_ENC = utf8ToBytes('conclave-file-vault/v1/encryption-key');
const INFO_CHECK = utf8ToBytes('conclave-file-vault/v1/passphrase-check');

interface Header {
  format: typeof FILE_VAULT_FORMAT;
  version: typeof FILE_VAULT_VERSION;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** HKDF(scrypt(passphrase)) under its own label: tells a wrong passphrase from a bad entry. */
  check: string;
}

/** The file holding `name`: sha256(name) in hex, so names need no escaping on any file system. */
export function entryFileName(name: string): string {
  return bytesToHex(sha256(utf8ToBytes(checkName(name)))) + ENTRY_SUFFIX;
}

/** NFKC as in share backups: the same passphrase typed on another keyboard or OS opens the vault. */
const passwordBytes = (passphrase: string) => utf8ToBytes(passphrase.normalize('NFKC'));
/** The scrypt inputs of the vault's master key (deriveKeys, and deriveEarly ahead of it). */
const masterKdf = (k: ScryptParams) => ({ N: k.N, r: k.r, p: k.p, dkLen: 32 });

async function deriveKeys(
  passphrase: string,
  salt: Uint8Array,
  k: ScryptParams,
  kdf: VaultKdf = nodeScrypt,
) {
  const pw = passwordBytes(passphrase);
  // Off the event loop (node's runs in the thread pool), so opening does not freeze the UI.
  const master = await kdf(pw, salt, masterKdf(k));
  const encKey = expand(sha256, master, INFO_ENC, 32);
  const checkValue = expand(sha256, master, INFO_CHECK, CHECK_BYTES);
  wipe(pw, master);
  return { encKey, checkValue };
}

/**
 * How long a UI holds back its answer to the n-th wrong passphrase in a row (1 s more each time,
 * at most 10 s), on top of scrypt's own cost: typing goes on unhindered, guessing does not.
 */
export function wrongPassphraseDelayMs(failures: number): number {
  return Math.min(Math.max(failures, 0), 10) * 1000;
}

// ---- file system ----

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

function ioError(what: string, path: string, err: unknown): VaultError {
  const code = errno(err);
  const reason = code ? `${code}: ${(err as Error).message}` : String(err);
  return new VaultError(
    'vault_io',
    `Could not ${what} ${path} (${reason}). Check that the directory exists and is yours, ` +
      'that you may write to it, and that the disk is not full.',
    { cause: err },
  );
}

async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS makes the rename durable on its own.
  if (process.platform === 'win32') return;
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Temp file, fsync, rename over the target, fsync the directory: all of `data` or none of it. */
async function writeAtomic(dir: string, file: string, data: Uint8Array | string): Promise<void> {
  const target = join(dir, file);
  const tmp = join(dir, `.${file}.${bytesToHex(randomBytes(8))}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    await fsyncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ioError('write', target, err);
  }
}

// ---- header ----

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function exactKeys(o: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length) return `unknown field ${extra.map(show).join(', ')}`;
  const missing = keys.filter((k) => !Object.prototype.hasOwnProperty.call(o, k));
  if (missing.length) return `missing field ${missing.join(', ')}`;
  return undefined;
}

const hexOf = (v: unknown, bytes: number): Uint8Array | undefined =>
  isLowerHex(v, 2 * bytes) ? hexToBytes(v) : undefined;

/** Strict parse of vault.json: the reason it is unusable, or the header and its bytes. */
function parseHeader(
  text: string,
): { problem: string } | { header: Header; salt: Uint8Array; check: Uint8Array } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { problem: 'it is not valid JSON' };
  }
  if (!isObject(o)) return { problem: 'it does not hold a JSON object' };
  if (o.format !== FILE_VAULT_FORMAT)
    return { problem: `its format is ${show(o.format)}, not ${show(FILE_VAULT_FORMAT)}` };
  if (o.version !== FILE_VAULT_VERSION)
    return {
      problem: `it is version ${show(o.version)}; this Conclave reads version ${FILE_VAULT_VERSION} (a newer Conclave may read it)`,
    };
  const top = exactKeys(o, ['format', 'version', 'kdf', 'check']);
  if (top) return { problem: top };
  const kdf = o.kdf;
  if (!isObject(kdf)) return { problem: 'kdf is not an object' };
  const inKdf = exactKeys(kdf, ['name', 'N', 'r', 'p', 'salt']);
  if (inKdf) return { problem: `kdf: ${inKdf}` };
  if (kdf.name !== 'scrypt') return { problem: `unknown kdf ${show(kdf.name)}` };
  const salt = hexOf(kdf.salt, SALT_BYTES);
  if (!salt) return { problem: `kdf.salt is not ${SALT_BYTES} bytes of lowercase hex` };
  const check = hexOf(o.check, CHECK_BYTES);
  if (!check) return { problem: `check is not ${CHECK_BYTES} bytes of lowercase hex` };
  return { header: o as unknown as Header, salt, check };
}

// ---- the vault ----

class FileVault extends Redacted implements Vault {
  readonly kind = 'file' as const;
  readonly #dir: string;
  readonly #key: Uint8Array;

  constructor(dir: string, key: Uint8Array) {
    super();
    this.#dir = dir;
    this.#key = key;
  }

  async put(name: string, secret: Uint8Array): Promise<void> {
    const file = entryFileName(name);
    checkSecret(secret);
    const nonce = randomBytes(NONCE_BYTES);
    // The name is the AAD: an entry file copied over another's does not decrypt as that entry.
    const sealed = xchacha20poly1305(this.#key, nonce, utf8ToBytes(name)).encrypt(secret);
    const data = new Uint8Array(1 + NONCE_BYTES + sealed.length);
    data[0] = ENTRY_VERSION;
    data.set(nonce, 1);
    data.set(sealed, 1 + NONCE_BYTES);
    await writeAtomic(this.#dir, file, data);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const file = entryFileName(name);
    const path = join(this.#dir, file);
    let data: Uint8Array;
    try {
      data = await readFile(path);
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw ioError('read', path, err);
    }
    const corrupt = (why: string) =>
      new VaultError(
        'vault_corrupt',
        `The vault entry ${show(name)} (${path}) ${why}, so it cannot be read. Restore the vault ` +
          'directory from a backup, or restore the share from its backup file.',
      );
    if (data.length < 1 + NONCE_BYTES + TAG_BYTES + 1 || data.length > MAX_ENTRY_BYTES)
      throw corrupt(`is ${data.length} bytes long, which no entry is`);
    if (data[0] !== ENTRY_VERSION) throw corrupt(`has unknown format version ${data[0]}`);
    const nonce = data.subarray(1, 1 + NONCE_BYTES);
    try {
      return xchacha20poly1305(this.#key, nonce, utf8ToBytes(name)).decrypt(
        data.subarray(1 + NONCE_BYTES),
      );
    } catch {
      // The passphrase was proven at open, so this is a modified file or another entry's file.
      throw corrupt('was modified or replaced');
    }
  }

  async delete(name: string): Promise<void> {
    const path = join(this.#dir, entryFileName(name));
    try {
      await unlink(path);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw ioError('delete', path, err);
    }
    try {
      await fsyncDir(this.#dir);
    } catch (err) {
      throw ioError('sync', this.#dir, err);
    }
  }
}

/**
 * Starts deriving the key of the vault in `dir` for `passphrase` now, so that scrypt runs in the
 * thread pool while the caller loads the rest of the node (`conclave start`); the openFileVault
 * with the default KDF that follows takes the result (startEarlyScrypt). Best effort and silent:
 * no vault, a bad header or a KDF below the minimum are left for openFileVault to report.
 */
export function deriveEarly(dir: string, passphrase: string): void {
  try {
    const parsed = parseHeader(readFileSync(join(dir, HEADER_FILE), 'utf8'));
    if ('problem' in parsed || kdfProblem(parsed.header.kdf, false) !== undefined) return;
    const pw = passwordBytes(passphrase);
    startEarlyScrypt(pw, parsed.salt, masterKdf(parsed.header.kdf));
    wipe(pw);
  } catch {
    // openFileVault says what is wrong.
  }
}

/**
 * Opens (or with `create`, makes) the file vault in `dir`. The key is derived once here with
 * scrypt; each entry is sealed with XChaCha20-Poly1305 under it, AAD = the entry's name.
 * Errors: `bad_input`, `wrong_passphrase`, `vault_corrupt` (header unusable), `vault_io`.
 */
export async function openFileVault(opts: FileVaultOptions): Promise<Vault> {
  const { dir, passphrase, create } = opts ?? {};
  if (typeof dir !== 'string' || dir.length === 0)
    throw new VaultError('bad_input', 'The file vault needs a directory path.');
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new VaultError('bad_input', 'The file vault needs a passphrase; it cannot be empty.');
  if (typeof create !== 'boolean')
    throw new VaultError('bad_input', `create must be true or false, got ${show(create)}.`);
  const allowWeak = opts.insecureFastKdfForTests === true;
  const headerPath = join(dir, HEADER_FILE);

  if (create) {
    const kdf = opts.kdf ?? DEFAULT_KDF;
    const problem = isObject(kdf) ? kdfProblem(kdf, allowWeak) : 'kdf must be an object';
    if (problem)
      throw new VaultError('bad_input', `The file vault cannot use these settings: ${problem}.`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // An existing directory may have been made with the default 0755; it is about to hold
      // secrets (sealed, but their names are guessable from the file names).
      if (process.platform !== 'win32' && ((await stat(dir)).mode & 0o077) !== 0)
        await chmod(dir, 0o700);
    } catch (err) {
      throw ioError('create the directory', dir, err);
    }
    try {
      await stat(headerPath);
      throw new VaultError(
        'bad_input',
        `A file vault already exists in ${dir}. Open it with its passphrase instead of creating ` +
          'a new one, or choose an empty directory.',
      );
    } catch (err) {
      if (err instanceof VaultError) throw err;
      if (errno(err) !== 'ENOENT') throw ioError('inspect', headerPath, err);
    }
    const salt = randomBytes(SALT_BYTES);
    const { encKey, checkValue } = await deriveKeys(passphrase, salt, kdf, opts.scrypt);
    const header: Header = {
      format: FILE_VAULT_FORMAT,
      version: FILE_VAULT_VERSION,
      kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: bytesToHex(salt) },
      check: bytesToHex(checkValue),
    };
    wipe(checkValue);
    try {
      await writeAtomic(dir, HEADER_FILE, JSON.stringify(header, null, 2) + '\n');
    } catch (err) {
      wipe(encKey);
      throw err;
    }
    return new FileVault(dir, encKey);
  }

  let text: string;
  try {
    const fh = await open(headerPath, 'r');
    try {
      const { size } = await fh.stat();
      if (size > MAX_HEADER_BYTES)
        throw new VaultError(
          'vault_corrupt',
          `The vault header ${headerPath} is ${size} bytes, far larger than any vault header. ` +
            'Restore the vault directory from a backup, or restore your shares from their backup files.',
        );
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof VaultError) throw err;
    if (errno(err) === 'ENOENT')
      throw new VaultError(
        'vault_io',
        `No file vault was found in ${dir} (${HEADER_FILE} is missing). Check the path, or ` +
          'create a vault with `conclave init --vault file`.',
        { cause: err },
      );
    throw ioError('read', headerPath, err);
  }
  const unusable = (problem: string) =>
    new VaultError(
      'vault_corrupt',
      `The vault header ${headerPath} cannot be used: ${problem}. Restore the vault directory ` +
        'from a backup, or restore your shares from their backup files.',
    );
  const parsed = parseHeader(text);
  if ('problem' in parsed) throw unusable(parsed.problem);
  // Checked before deriving: a hostile header must not make us spend gigabytes or minutes.
  const weak = kdfProblem(parsed.header.kdf, allowWeak);
  if (weak !== undefined) throw unusable(weak);
  const { encKey, checkValue } = await deriveKeys(
    passphrase,
    parsed.salt,
    parsed.header.kdf,
    opts.scrypt,
  );
  const ok = equalBytes(checkValue, parsed.check);
  wipe(checkValue);
  if (!ok) {
    wipe(encKey);
    // As with share backups, a changed salt or check value reads the same as a wrong passphrase.
    throw new VaultError(
      'wrong_passphrase',
      `That passphrase does not open the vault in ${dir}. Check it (passphrases are ` +
        'case-sensitive) and try again.',
    );
  }
  return new FileVault(dir, encKey);
}
