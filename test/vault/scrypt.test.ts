// node:crypto's scrypt (main/vault/scrypt.ts) against noble's: the same bytes for the same inputs, a
// memory limit that fits N·r exactly, and vaults and share backups made with one open with the other.
import { mkdtemp, rm } from 'node:fs/promises';
import { scryptSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  DEFAULT_KDF,
  exportBackup,
  importBackup,
  nobleScrypt,
  type BackupMeta,
  type ScryptParams,
} from '../../shared/crypto/backup.js';
import { openFileVault, type VaultKdf } from '../../main/vault/file.js';
import { nodeScrypt, nodeScryptSync, scryptMaxmem } from '../../main/vault/scrypt.js';
import { dealerKeys } from '../crypto/helpers.js';

const PASS = 'correct horse battery staple';
const CHEAP: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
const nobleAsync: VaultKdf = (pw, salt, { N, r, p, dkLen }) =>
  scryptAsync(pw, salt, { N, r, p, dkLen });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'conclave-scrypt-'));
  dirs.push(d);
  return d;
};

describe('node scrypt and noble scrypt', () => {
  it('give the same bytes for the same inputs', async () => {
    const cases: [Uint8Array, Uint8Array, ScryptParams & { dkLen: number }][] = [
      [utf8ToBytes(PASS), randomBytes(32), { ...CHEAP, dkLen: 32 }],
      [
        utf8ToBytes('pässwörd'.normalize('NFKC')),
        randomBytes(16),
        { N: 2 ** 11, r: 4, p: 2, dkLen: 64 },
      ],
      [new Uint8Array(0), new Uint8Array(0), { N: 16, r: 1, p: 1, dkLen: 64 }],
      [utf8ToBytes(PASS), randomBytes(32), { ...DEFAULT_KDF, dkLen: 32 }],
    ];
    for (const [pw, salt, k] of cases) {
      const want = bytesToHex(nobleScrypt(pw, salt, k));
      expect(bytesToHex(nodeScryptSync(pw, salt, k))).toBe(want);
      expect(bytesToHex(await nodeScrypt(pw, salt, k))).toBe(want);
    }
    // RFC 7914 §12, second vector, so neither is merely agreeing with the other.
    const rfc = nodeScryptSync(utf8ToBytes('password'), utf8ToBytes('NaCl'), {
      N: 1024,
      r: 8,
      p: 16,
      dkLen: 64,
    });
    expect(bytesToHex(rfc)).toBe(
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162' +
        '2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    );
  }, 60_000);

  it('maxmem is exactly what OpenSSL needs for N·r (and p), which node’s default is not', () => {
    for (const k of [CHEAP, { N: 2 ** 12, r: 4, p: 3 }, { N: 2 ** 14, r: 8, p: 1 }]) {
      const m = scryptMaxmem(k);
      expect(m).toBe(128 * k.r * (k.N + 2 + k.p));
      expect(() => scryptSync('pw', 'salt', 32, { ...k, maxmem: m })).not.toThrow();
      expect(() => scryptSync('pw', 'salt', 32, { ...k, maxmem: m - 1 })).toThrow(/memory/i);
    }
    // The default cost needs 128 MiB and a bit; node's own limit (32 MiB) would refuse it.
    expect(scryptMaxmem(DEFAULT_KDF)).toBe(128 * 8 * (2 ** 17 + 3));
    expect(() => scryptSync('pw', 'salt', 32, { ...DEFAULT_KDF })).toThrow(/memory/i);
  });

  it('a file vault made with noble’s scrypt opens with node’s, and the other way round', async () => {
    for (const [make, open] of [
      [nobleAsync, undefined],
      [undefined, nobleAsync],
    ] as const) {
      const dir = await tempDir();
      const v = await openFileVault({
        dir,
        passphrase: PASS,
        create: true,
        kdf: CHEAP,
        insecureFastKdfForTests: true,
        scrypt: make,
      });
      await v.put('share', Uint8Array.of(1, 2, 3));
      const again = await openFileVault({
        dir,
        passphrase: PASS,
        create: false,
        insecureFastKdfForTests: true,
        scrypt: open,
      });
      expect([...((await again.get('share')) ?? [])]).toEqual([1, 2, 3]);
      await expect(
        openFileVault({
          dir,
          passphrase: 'wrong',
          create: false,
          insecureFastKdfForTests: true,
          scrypt: open,
        }),
      ).rejects.toThrow(/passphrase/i);
    }
  }, 60_000);

  it('a share backup made with noble’s scrypt opens with node’s, and the other way round', () => {
    const key = dealerKeys('ed25519', 2, 3)[0];
    const meta: BackupMeta = {
      memberName: 'alice',
      memberIdentity: '12D3KooWexample',
      groupId: 'ab'.repeat(16),
      groupName: 'treasury',
    };
    const cheap = { kdf: CHEAP, insecureAllowWeakKdf: true };
    const byNoble = exportBackup(key, meta, PASS, cheap);
    const byNode = exportBackup(key, meta, PASS, { ...cheap, scrypt: nodeScryptSync });
    for (const [file, scrypt] of [
      [byNoble, nodeScryptSync],
      [byNode, undefined],
    ] as const) {
      const { key: back } = importBackup(file, PASS, { insecureAllowWeakKdf: true, scrypt });
      expect(back.share.identifier).toBe(key.share.identifier);
      expect(back.public.groupKey.equals(key.public.groupKey)).toBe(true);
      expect(() => importBackup(file, 'wrong', { insecureAllowWeakKdf: true, scrypt })).toThrow(
        /wrong_passphrase/,
      );
    }
  }, 60_000);
});
