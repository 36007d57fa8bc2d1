// The passphrase-encrypted share backup: round trips, strict parsing, and one error code per failure.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { expand } from '@noble/hashes/hkdf.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  backupFromPrintable,
  backupToPrintable,
  canonicalJSON,
  DEFAULT_KDF,
  exportBackup,
  importBackup,
  readBackupHeader,
  type BackupFile,
  type BackupMeta,
} from '../../shared/crypto/backup.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { makePublicPackage, SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  signingPackage,
  signShare,
  verifySignature,
} from '../../shared/crypto/sign.js';
import { SCHEMES, type SchemeName } from '../../shared/crypto/suite.js';
import { dealerKeys } from './helpers.js';

const META: BackupMeta = {
  memberName: 'Alice',
  memberIdentity: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
  groupId: 'grp-7f3a',
  groupName: 'Treasury',
};
const PASS = 'correct horse battery staple';
// Cheap scrypt for tests; the production floor is checked in its own tests below.
const CHEAP = { kdf: { N: 2 ** 10, r: 8, p: 1 }, insecureAllowWeakKdf: true };
const LOOSE = { insecureAllowWeakKdf: true };

function thrown(f: () => unknown): CryptoError {
  try {
    f();
  } catch (e) {
    if (e instanceof CryptoError) return e;
    throw e;
  }
  throw new Error('expected a CryptoError');
}

// Tests write deliberately ill-typed values into the file.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

/** Edits the parsed file and writes it back. */
function edit(text: string, f: (o: Loose) => void): string {
  const o = JSON.parse(text);
  f(o);
  return JSON.stringify(o, null, 2);
}

/** The same key material moved to another epoch (as after a refresh). */
function atEpoch(k: KeyPackage, epoch: number): KeyPackage {
  const p = k.public;
  return {
    public: makePublicPackage(p.scheme, p.threshold, p.groupKey, p.verifyingShares, epoch),
    share: new SecretShare(p.scheme, k.share.identifier, k.share.scalar(), epoch),
  };
}

function signWith(a: KeyPackage, b: KeyPackage): boolean {
  const msg = utf8ToBytes('pay 1 coin to Bob');
  const nonces = [commit(a), commit(b)];
  const pkg = signingPackage(
    a.public,
    nonces.map((n) => n.commitment),
    msg,
  );
  const shares = new Map([
    [a.share.identifier, signShare(a, nonces[0], pkg)],
    [b.share.identifier, signShare(b, nonces[1], pkg)],
  ]);
  return verifySignature(a.public, msg, aggregate(pkg, shares));
}

describe.each(SCHEMES.map((s) => [s] as [SchemeName]))('backup round trip over %s', (scheme) => {
  const keys = dealerKeys(scheme, 2, 3);
  const text = exportBackup(keys[0], META, PASS, CHEAP);

  it('restores the same share, and the restored share signs with another member', () => {
    const { key, header } = importBackup(text, PASS, LOOSE);
    expect(key.share.scalar()).toBe(keys[0].share.scalar());
    expect(key.share.identifier).toBe(keys[0].share.identifier);
    expect(key.public.groupKey.equals(keys[0].public.groupKey)).toBe(true);
    expect(header.scheme).toBe(scheme);
    expect(signWith(key, keys[1])).toBe(true);
  });

  it('writes a readable header with the group, the member and the public key package', () => {
    const o = JSON.parse(text) as BackupFile;
    expect(o.format).toBe('conclave-share-backup');
    expect(o.version).toBe(1);
    expect(o.groupName).toBe('Treasury');
    expect(o.memberName).toBe('Alice');
    expect(o.memberIdentity).toBe(META.memberIdentity);
    expect(o.epoch).toBe(0);
    expect(o.groupKey).toBe(o.publicKeyPackage.groupKey);
    expect(Object.keys(o.publicKeyPackage.verifyingShares)).toHaveLength(3);
    expect(o.kdf.salt).toHaveLength(64);
    expect(o.cipher.nonce).toHaveLength(48);
    expect(text.split('\n').length).toBeGreaterThan(20);
  });

  it('does not contain the share in the file or its printable form', () => {
    const shareHex = bytesToHex(keys[0].share.toBytes());
    expect(text).not.toContain(shareHex);
    expect(backupToPrintable(text)).not.toContain(shareHex);
  });
});

describe('backup file format', () => {
  const keys = dealerKeys('ed25519', 2, 3);
  const text = exportBackup(keys[0], META, PASS, CHEAP);

  it('decrypts with the documented construction: scrypt, HKDF-Expand, XChaCha20-Poly1305, canonical AAD', () => {
    const { check: c, payload, ...header } = JSON.parse(text) as BackupFile;
    const { N, r, p, salt } = header.kdf;
    const master = scrypt(utf8ToBytes(PASS), hexToBytes(salt), { N, r, p, dkLen: 32 });
    const enc = expand(sha256, master, utf8ToBytes('conclave-share-backup/v1/encryption-key'), 32);
    const chk = expand(
      sha256,
      master,
      utf8ToBytes('conclave-share-backup/v1/passphrase-check'),
      32,
    );
    expect(bytesToHex(chk)).toBe(c);
    const aad = utf8ToBytes(canonicalJSON(header));
    const plain = xchacha20poly1305(enc, hexToBytes(header.cipher.nonce), aad).decrypt(
      hexToBytes(payload),
    );
    expect(bytesToHex(plain)).toBe(bytesToHex(keys[0].share.toBytes()));
  });

  it('canonicalJSON sorts keys at every level and drops whitespace', () => {
    expect(canonicalJSON({ b: 1, a: { d: 'x', c: [2, 'é'] } })).toBe(
      '{"a":{"c":[2,"é"],"d":"x"},"b":1}',
    );
    expect(thrown(() => canonicalJSON({ a: 1.5 })).code).toBe('bad_input');
  });

  it('still imports after the JSON is re-laid-out with other key order and whitespace', () => {
    const o = JSON.parse(text);
    const reordered = Object.fromEntries(Object.entries(o).reverse());
    expect(importBackup(JSON.stringify(reordered), PASS, LOOSE).key.share.scalar()).toBe(
      keys[0].share.scalar(),
    );
  });

  it('readBackupHeader shows the header without the passphrase', () => {
    const h = readBackupHeader(text);
    expect(h.groupName).toBe('Treasury');
    expect(h).not.toHaveProperty('payload');
    expect(h).not.toHaveProperty('check');
  });

  it('uses scrypt N=2^17, r=8, p=1 by default and imports it without any override', () => {
    const t = exportBackup(keys[1], META, PASS);
    expect(JSON.parse(t).kdf).toMatchObject({ name: 'scrypt', ...DEFAULT_KDF });
    expect(importBackup(t, PASS).key.share.scalar()).toBe(keys[1].share.scalar());
  });
});

describe('backup errors', () => {
  const keys = dealerKeys('secp256k1', 2, 3);
  const text = exportBackup(keys[0], META, PASS, CHEAP);
  const shareHex = bytesToHex(keys[0].share.toBytes());
  const imp = (t: string, pass = PASS, opts = {}) =>
    thrown(() => importBackup(t, pass, { ...LOOSE, ...opts }));

  it('a wrong passphrase gives wrong_passphrase, saying the file may also have been modified', () => {
    const e = imp(text, 'Correct horse battery staple');
    expect(e.code).toBe('wrong_passphrase');
    expect(e.message).toContain('wrong passphrase or the file was modified');
    expect(e.message).not.toContain(shareHex);
  });

  it('a passphrase in another Unicode normal form is the same passphrase', () => {
    const t = exportBackup(keys[0], META, 'caf\u00e9', CHEAP);
    expect(importBackup(t, 'cafe\u0301', LOOSE).key.share.scalar()).toBe(keys[0].share.scalar());
  });

  it('flipping a ciphertext byte gives backup_tampered', () => {
    const t = edit(text, (o) => {
      const b = hexToBytes(o.payload);
      b[5] ^= 1;
      o.payload = bytesToHex(b);
    });
    const e = imp(t);
    expect(e.code).toBe('backup_tampered');
    expect(e.message).toContain('passphrase is right but the file was modified');
  });

  it('changing the group name, member name or nonce gives backup_tampered', () => {
    expect(imp(edit(text, (o) => (o.groupName = 'Petty cash'))).code).toBe('backup_tampered');
    expect(imp(edit(text, (o) => (o.memberName = 'Mallory'))).code).toBe('backup_tampered');
    expect(imp(edit(text, (o) => (o.createdAt = '2001-01-01T00:00:00.000Z'))).code).toBe(
      'backup_tampered',
    );
    const nonce = edit(text, (o) => (o.cipher.nonce = 'ab'.repeat(24)));
    expect(imp(nonce).code).toBe('backup_tampered');
  });

  it('changing the epoch consistently (header and public package) gives backup_tampered', () => {
    const t = edit(text, (o) => {
      o.epoch = 5;
      o.publicKeyPackage.epoch = 5;
    });
    expect(imp(t).code).toBe('backup_tampered');
  });

  it('changing the epoch in one place only gives bad_backup naming both values', () => {
    const e = imp(edit(text, (o) => (o.epoch = 5)));
    expect(e.code).toBe('bad_backup');
    expect(e.message).toContain('epoch 5 differs from the public key package');
  });

  it('changing the salt, the KDF cost or the check value gives wrong_passphrase', () => {
    expect(imp(edit(text, (o) => (o.kdf.salt = '00'.repeat(32)))).code).toBe('wrong_passphrase');
    expect(imp(edit(text, (o) => (o.kdf.N = 2 ** 11))).code).toBe('wrong_passphrase');
    expect(imp(edit(text, (o) => (o.check = '00'.repeat(32)))).code).toBe('wrong_passphrase');
  });

  it('a correctly encrypted share that does not match its verifying share gives backup_tampered', () => {
    // Someone who knows the passphrase re-encrypts another scalar under the same header.
    const { check: _c, payload: _p, ...header } = JSON.parse(text) as BackupFile;
    const { N, r, p, salt } = header.kdf;
    const master = scrypt(utf8ToBytes(PASS), hexToBytes(salt), { N, r, p, dkLen: 32 });
    const enc = expand(sha256, master, utf8ToBytes('conclave-share-backup/v1/encryption-key'), 32);
    const other = new Uint8Array(32).fill(7);
    const aad = utf8ToBytes(canonicalJSON(header));
    const ct = xchacha20poly1305(enc, hexToBytes(header.cipher.nonce), aad).encrypt(other);
    const e = imp(edit(text, (o) => (o.payload = bytesToHex(ct))));
    expect(e.code).toBe('backup_tampered');
    expect(e.message).toContain('does not match');
  });

  it('a backup older than the group epoch gives stale_backup naming both epochs', () => {
    const e = imp(text, PASS, { expectEpoch: 2 });
    expect(e.code).toBe('stale_backup');
    expect(e.message).toContain('backup is from epoch 0, the group is at epoch 2');
  });

  it('a backup newer than the expected epoch gives epoch_mismatch', () => {
    const t = exportBackup(atEpoch(keys[0], 3), META, PASS, CHEAP);
    expect(importBackup(t, PASS, { ...LOOSE, expectEpoch: 3 }).key.share.epoch).toBe(3);
    const e = imp(t, PASS, { expectEpoch: 1 });
    expect(e.code).toBe('epoch_mismatch');
    expect(e.message).toContain('backup is from epoch 3');
  });

  it('a backup of another group key gives key_mismatch', () => {
    const gk = JSON.parse(text).groupKey as string;
    expect(
      importBackup(text, PASS, { ...LOOSE, expectGroupKey: gk.toUpperCase() }).header.groupKey,
    ).toBe(gk);
    const other = JSON.parse(
      exportBackup(dealerKeys('secp256k1', 2, 3)[0], META, PASS, CHEAP),
    ).groupKey;
    const e = imp(text, PASS, { expectGroupKey: other });
    expect(e.code).toBe('key_mismatch');
    expect(e.message).toContain(gk);
  });

  it('an unknown version gives unsupported_version with the version in the message', () => {
    const e = imp(edit(text, (o) => (o.version = 2)));
    expect(e.code).toBe('unsupported_version');
    expect(e.message).toContain('version 2');
    expect(imp(edit(text, (o) => (o.version = '1'))).code).toBe('bad_backup');
  });

  it('malformed JSON, another format, or a non-object gives bad_backup', () => {
    expect(imp(text.slice(0, -10)).code).toBe('bad_backup');
    expect(imp('[]').code).toBe('bad_backup');
    const f = imp(edit(text, (o) => (o.format = 'pgp')));
    expect(f.code).toBe('bad_backup');
    expect(f.message).toContain('"pgp"');
  });

  it('a missing or unknown field gives bad_backup naming it', () => {
    const missing = imp(edit(text, (o) => delete o.groupName));
    expect(missing.code).toBe('bad_backup');
    expect(missing.message).toContain('groupName');
    const extra = imp(edit(text, (o) => (o.note = 'hi')));
    expect(extra.code).toBe('bad_backup');
    expect(extra.message).toContain('"note"');
    expect(imp(edit(text, (o) => (o.kdf.extra = 1))).code).toBe('bad_backup');
    expect(imp(edit(text, (o) => (o.publicKeyPackage.extra = 1))).code).toBe('bad_backup');
  });

  it('wrong types, bad hex and wrong lengths give bad_backup', () => {
    const cases: ((o: Loose) => void)[] = [
      (o) => (o.epoch = '0'),
      (o) => (o.groupName = 42),
      (o) => (o.groupName = 'two\nlines'),
      (o) => (o.createdAt = 'yesterday'),
      (o) => (o.scheme = 'rsa'),
      (o) => (o.payload = 'zz' + o.payload.slice(2)),
      (o) => (o.payload = o.payload.slice(2)),
      (o) => (o.payload = o.payload.toUpperCase()),
      (o) => (o.cipher.nonce = 'ab'.repeat(12)),
      (o) => (o.kdf.salt = 'ab'.repeat(8) + 'a'),
      (o) => (o.kdf.name = 'argon2id'),
      (o) => (o.cipher.name = 'aes-gcm'),
      (o) => (o.memberIdentifier = '00'.repeat(32)),
      (o) => (o.memberIdentifier = '00'.repeat(31) + '09'),
      (o) => (o.groupKey = o.groupKey.replace(/^0[23]/, (m: string) => (m === '02' ? '03' : '02'))),
      (o) => (o.publicKeyPackage.threshold = 9),
      (o) => (o.publicKeyPackage.groupKey = '02' + '00'.repeat(32)),
    ];
    for (const c of cases) expect(imp(edit(text, c)).code, String(c)).toBe('bad_backup');
  });

  it('import refuses scrypt parameters below the floor unless the test-only override is given', () => {
    const e = thrown(() => importBackup(text, PASS));
    expect(e.code).toBe('bad_backup');
    expect(e.message).toContain('N=1024, r=8 are below the minimum N=131072');
  });

  it('import refuses scrypt parameters above the ceiling even with the override', () => {
    const e = imp(edit(text, (o) => (o.kdf.N = 2 ** 24)));
    expect(e.code).toBe('bad_backup');
    expect(e.message).toContain('exceed the limit');
    expect(imp(edit(text, (o) => (o.kdf.N = 1000))).message).toContain('power of two');
  });

  it('export refuses weak scrypt parameters, an empty passphrase and bad labels', () => {
    expect(thrown(() => exportBackup(keys[0], META, PASS, { kdf: CHEAP.kdf })).code).toBe(
      'bad_input',
    );
    expect(thrown(() => exportBackup(keys[0], META, '', CHEAP)).code).toBe('bad_input');
    expect(thrown(() => exportBackup(keys[0], { ...META, groupName: '' }, PASS, CHEAP)).code).toBe(
      'bad_input',
    );
    expect(
      thrown(() => exportBackup(keys[0], { ...META, memberName: 'a\u0007' }, PASS, CHEAP)).code,
    ).toBe('bad_input');
  });

  it('export refuses a share that does not belong to its public package', () => {
    const other = dealerKeys('secp256k1', 2, 3)[0];
    const e = thrown(() =>
      exportBackup({ public: keys[0].public, share: other.share }, META, PASS, CHEAP),
    );
    expect(e.code).toBe('key_mismatch');
  });

  it('the imported key package prints its share as <redacted>', () => {
    const { key } = importBackup(text, PASS, LOOSE);
    expect(JSON.stringify(key.share)).toBe('"<redacted>"');
    expect(JSON.stringify({ share: key.share })).toBe('{"share":"<redacted>"}');
    expect(String(key.share)).toBe('<redacted>');
    expect(inspect(key)).toContain('<redacted>');
    expect(inspect(key)).not.toContain(shareHex);
    expect(inspect(key)).not.toContain(String(key.share.scalar()));
  });
});

describe('printable backup', () => {
  const keys = dealerKeys('taproot', 2, 3);
  const text = exportBackup(keys[2], META, PASS, CHEAP);
  const printable = backupToPrintable(text);

  it('round-trips to the identical file text', () => {
    expect(backupFromPrintable(printable)).toBe(text);
    expect(importBackup(backupFromPrintable(printable), PASS, LOOSE).key.share.scalar()).toBe(
      keys[2].share.scalar(),
    );
  });

  it('opens with a summary of group, member, epoch, scheme and creation time', () => {
    const head = printable.split('-----BEGIN')[0];
    expect(head).toContain('Group:    Treasury (grp-7f3a)');
    expect(head).toContain(`Member:   Alice (${META.memberIdentity})`);
    expect(head).toContain('Epoch:    0');
    expect(head).toContain('Scheme:   taproot, 2 of 3');
    expect(head).toContain(`Created:  ${JSON.parse(text).createdAt}`);
  });

  it('wraps the encrypted share at 64 columns', () => {
    const lines = printable.split('\n');
    const from = lines.indexOf('payload:') + 1;
    const to = lines.findIndex((l) => l.startsWith('-----END'));
    const payload = lines.slice(from, to);
    expect(payload.join('')).toBe(JSON.parse(text).payload);
    expect(payload.length).toBeGreaterThan(1);
    for (const l of payload) expect(l.length).toBeLessThanOrEqual(64);
  });

  it('accepts CRLF line ends, indented payload lines and an edited summary', () => {
    const messy = printable
      .replace('Treasury (grp-7f3a)', 'scribbled over')
      .split('\n')
      .map((l) => (/^[0-9a-f]{8,}$/.test(l) ? `  ${l}  ` : l))
      .join('\r\n');
    expect(backupFromPrintable(messy)).toBe(text);
  });

  it('refuses text without the BEGIN/END block or the payload line, as bad_backup', () => {
    expect(thrown(() => backupFromPrintable('hello')).code).toBe('bad_backup');
    expect(thrown(() => backupFromPrintable(printable.replace('payload:', 'data:'))).code).toBe(
      'bad_backup',
    );
    expect(thrown(() => backupFromPrintable(printable.replace(/^[0-9a-f]{64}$/m, ''))).code).toBe(
      'bad_backup',
    );
  });
});
