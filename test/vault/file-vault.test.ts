// The passphrase-protected file vault: round trips, passphrase and tamper detection, permissions,
// the KDF policy, and that nothing secret reaches the disk in the clear.
import { randomBytes } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { entryFileName } from '../../main/vault/file.js';
import {
  openFileVault,
  openVault,
  VaultError,
  type FileVaultOptions,
  type Vault,
} from '../../main/vault/index.js';

// Production cost is N=2^17 (about 0.4 s per open); tests use 2^10 through the explicit flag.
const FAST = { kdf: { N: 2 ** 10, r: 8, p: 1 }, insecureFastKdfForTests: true } as const;
const PASS = 'correct horse battery staple';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'conclave-vault-'));
  dirs.push(d);
  return d;
}
/** A new vault in a fresh directory (`<tmp>/vault`, which openFileVault creates). */
async function newVault(
  extra: Partial<FileVaultOptions> = {},
): Promise<{ dir: string; vault: Vault }> {
  const dir = join(await tempDir(), 'vault');
  const vault = await openFileVault({ dir, passphrase: PASS, create: true, ...FAST, ...extra });
  return { dir, vault };
}
const reopen = (dir: string, passphrase = PASS) =>
  openFileVault({ dir, passphrase, create: false, insecureFastKdfForTests: true });

async function failure(p: Promise<unknown>): Promise<VaultError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VaultError);
    return err as VaultError;
  }
  throw new Error('expected a VaultError, but the call succeeded');
}

const unix = process.platform !== 'win32';

describe('file vault', () => {
  it('round trips binary secrets, replaces, deletes, and reports absent names', async () => {
    const { vault } = await newVault();
    expect(vault.kind).toBe('file');
    const secrets = {
      'share/zeros': new Uint8Array(32),
      'share/nul-inside': new Uint8Array([0x41, 0x00, 0x42, 0x00, 0x00, 0xff]),
      'identity:ed25519': new Uint8Array(randomBytes(64)),
      largest: new Uint8Array(randomBytes(2048)),
    };
    for (const [name, s] of Object.entries(secrets)) await vault.put(name, s);
    for (const [name, s] of Object.entries(secrets)) expect(await vault.get(name)).toEqual(s);
    await vault.put('share/zeros', new Uint8Array([7]));
    expect(await vault.get('share/zeros')).toEqual(new Uint8Array([7]));
    await vault.delete('share/zeros');
    expect(await vault.get('share/zeros')).toBeUndefined();
    expect(await vault.get('never-written')).toBeUndefined();
    await expect(vault.delete('never-written')).resolves.toBeUndefined();
  });

  it('reopened with the right passphrase, reads what was written', async () => {
    const { dir, vault } = await newVault();
    const secret = new Uint8Array(randomBytes(32));
    await vault.put('share', secret);
    expect(await (await reopen(dir)).get('share')).toEqual(secret);
  });

  it('opens with the passphrase typed in another Unicode normal form (NFKC)', async () => {
    const { dir, vault } = await newVault({ passphrase: 'caf\u00e9 \u2460' });
    await vault.put('share', new Uint8Array([1]));
    const other = await reopen(dir, 'cafe\u0301 1');
    expect(await other.get('share')).toEqual(new Uint8Array([1]));
  });

  it('refuses a wrong passphrase with wrong_passphrase, without echoing it', async () => {
    const { dir } = await newVault();
    const err = await failure(reopen(dir, 'Correct horse battery staple'));
    expect(err.code).toBe('wrong_passphrase');
    expect(err.message).toBe(
      `That passphrase does not open the vault in ${dir}. Check it (passphrases are case-sensitive) and try again.`,
    );
    expect(err.message).not.toContain('horse');
  });

  it('treats a changed salt in the header as a wrong passphrase', async () => {
    const { dir } = await newVault();
    const header = JSON.parse(await readFile(join(dir, 'vault.json'), 'utf8'));
    header.kdf.salt = '00'.repeat(32);
    await writeFile(join(dir, 'vault.json'), JSON.stringify(header));
    expect((await failure(reopen(dir))).code).toBe('wrong_passphrase');
  });

  it('reports a modified entry file as vault_corrupt', async () => {
    const { dir, vault } = await newVault();
    await vault.put('share', new Uint8Array(randomBytes(32)));
    const path = join(dir, entryFileName('share'));
    const original = await readFile(path);
    const damage: [string, (b: Buffer) => Buffer][] = [
      ['a flipped ciphertext bit', (b) => ((b[b.length - 20] ^= 1), b)],
      ['a flipped tag bit', (b) => ((b[b.length - 1] ^= 0x80), b)],
      ['a flipped nonce bit', (b) => ((b[5] ^= 1), b)],
      ['an unknown version byte', (b) => ((b[0] = 2), b)],
      ['a truncated file', (b) => b.subarray(0, 30)],
      ['an empty file', () => Buffer.alloc(0)],
      ['an appended byte', (b) => Buffer.concat([b, Buffer.from([0])])],
    ];
    for (const [what, change] of damage) {
      await writeFile(path, change(Buffer.from(original)));
      const err = await failure(vault.get('share'));
      expect(err.code, what).toBe('vault_corrupt');
      expect(err.message).toMatch(/^The vault entry "share" \(.*\) .*, so it cannot be read\. /);
    }
    await writeFile(path, original);
    expect(await vault.get('share')).toHaveLength(32);
  });

  it('detects an entry file copied over another entry’s file (the name is the AAD)', async () => {
    const { dir, vault } = await newVault();
    await vault.put('group-a/share', new Uint8Array(randomBytes(32)));
    await vault.put('group-b/share', new Uint8Array(randomBytes(32)));
    await copyFile(
      join(dir, entryFileName('group-a/share')),
      join(dir, entryFileName('group-b/share')),
    );
    expect((await failure(vault.get('group-b/share'))).code).toBe('vault_corrupt');
  });

  it('detects an entry file from another vault with the same passphrase', async () => {
    const a = await newVault();
    const b = await newVault();
    await a.vault.put('share', new Uint8Array([1]));
    await b.vault.put('share', new Uint8Array([2]));
    await copyFile(join(a.dir, entryFileName('share')), join(b.dir, entryFileName('share')));
    expect((await failure(b.vault.get('share'))).code).toBe('vault_corrupt');
  });

  it.runIf(unix)('makes the directory 0700 and every file 0600', async () => {
    const { dir, vault } = await newVault();
    await vault.put('share', new Uint8Array([1]));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = await readdir(dir);
    expect(files.sort()).toEqual([entryFileName('share'), 'vault.json'].sort());
    for (const f of files) expect((await stat(join(dir, f))).mode & 0o777, f).toBe(0o600);
  });

  it.runIf(unix)(
    'tightens an existing directory to 0700 when creating the vault in it',
    async () => {
      const dir = join(await tempDir(), 'existing');
      await mkdir(dir);
      await chmod(dir, 0o755);
      await openFileVault({ dir, passphrase: PASS, create: true, ...FAST });
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    },
  );

  it('leaves no temporary files behind after writes and deletes', async () => {
    const { dir, vault } = await newVault();
    for (let i = 0; i < 5; i++) await vault.put(`s${i}`, new Uint8Array([i + 1]));
    await vault.put('s0', new Uint8Array([9]));
    await vault.delete('s1');
    expect(
      (await readdir(dir)).filter((f) => !/^[0-9a-f]{64}\.secret$|^vault\.json$/.test(f)),
    ).toEqual([]);
  });

  it('writes no secret and no passphrase in the clear to any file', async () => {
    const passphrase = `pass-${randomBytes(8).toString('hex')}`;
    const { dir, vault } = await newVault({ passphrase });
    const secrets = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
    for (const [i, s] of secrets.entries()) await vault.put(`share/${i}`, s);
    const files = await readdir(dir);
    expect(files).toHaveLength(5);
    for (const f of files) {
      const bytes = await readFile(join(dir, f));
      const text = bytes.toString('latin1');
      for (const s of secrets) {
        const b = Buffer.from(s);
        // Any 8-byte window of a secret, raw, hex or base64.
        for (let i = 0; i + 8 <= b.length; i += 4)
          expect(bytes.includes(b.subarray(i, i + 8))).toBe(false);
        expect(text).not.toContain(b.toString('hex').slice(0, 16));
        expect(text).not.toContain(b.toString('base64').slice(0, 12));
      }
      expect(text).not.toContain(passphrase);
    }
  });

  it('uses scrypt N=2^17, r=8, p=1 by default and opens such a vault without the test flag', async () => {
    const dir = join(await tempDir(), 'vault');
    const vault = await openFileVault({ dir, passphrase: PASS, create: true });
    await vault.put('share', new Uint8Array([1]));
    const header = JSON.parse(await readFile(join(dir, 'vault.json'), 'utf8'));
    expect(Object.keys(header)).toEqual(['format', 'version', 'kdf', 'check']);
    expect(header).toMatchObject({
      format: 'conclave-file-vault',
      version: 1,
      kdf: { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
    });
    expect(header.kdf.salt).toMatch(/^[0-9a-f]{64}$/);
    expect(header.check).toMatch(/^[0-9a-f]{64}$/);
    const again = await openFileVault({ dir, passphrase: PASS, create: false });
    expect(await again.get('share')).toEqual(new Uint8Array([1]));
  });

  it('refuses weak scrypt parameters unless the test-only flag is set', async () => {
    const dir = join(await tempDir(), 'vault');
    const weak = { N: 2 ** 10, r: 8, p: 1 };
    const made = await failure(openFileVault({ dir, passphrase: PASS, create: true, kdf: weak }));
    expect(made.code).toBe('bad_input');
    expect(made.message).toContain('below the minimum N=131072, r=8');
    await openFileVault({ dir, passphrase: PASS, create: true, ...FAST });
    const opened = await failure(openFileVault({ dir, passphrase: PASS, create: false }));
    expect(opened.code).toBe('vault_corrupt');
    expect(opened.message).toContain('below the minimum');
  });

  it('refuses malformed or hostile scrypt parameters even with the test flag', async () => {
    for (const kdf of [
      { N: 1000, r: 8, p: 1 },
      { N: 2 ** 10, r: 0, p: 1 },
      { N: 2 ** 22, r: 8, p: 1 },
    ]) {
      const dir = join(await tempDir(), 'vault');
      const err = await failure(
        openFileVault({ dir, passphrase: PASS, create: true, kdf, insecureFastKdfForTests: true }),
      );
      expect(err.code).toBe('bad_input');
    }
    // A header asking for 4 GiB is refused before any key derivation is attempted.
    const { dir } = await newVault();
    const header = JSON.parse(await readFile(join(dir, 'vault.json'), 'utf8'));
    header.kdf.N = 2 ** 25;
    await writeFile(join(dir, 'vault.json'), JSON.stringify(header));
    const err = await failure(reopen(dir));
    expect(err.code).toBe('vault_corrupt');
    expect(err.message).toContain('exceed the limit');
  });

  it('reports an unusable header as vault_corrupt, saying what is wrong', async () => {
    const { dir } = await newVault();
    const good = JSON.parse(await readFile(join(dir, 'vault.json'), 'utf8'));
    const cases: [unknown, RegExp][] = [
      ['not json', /not valid JSON/],
      [[1, 2], /does not hold a JSON object/],
      [{ ...good, format: 'conclave-share-backup' }, /format is "conclave-share-backup"/],
      [{ ...good, version: 2 }, /it is version 2; this Conclave reads version 1/],
      [{ ...good, extra: 1 }, /unknown field "extra"/],
      [{ ...good, check: undefined }, /missing field check/],
      [{ ...good, kdf: { ...good.kdf, name: 'argon2id' } }, /unknown kdf "argon2id"/],
      [{ ...good, kdf: { ...good.kdf, salt: 'AB'.repeat(32) } }, /kdf\.salt is not 32 bytes/],
      [{ ...good, check: good.check.slice(2) }, /check is not 32 bytes/],
    ];
    for (const [content, why] of cases) {
      await writeFile(
        join(dir, 'vault.json'),
        typeof content === 'string' ? content : JSON.stringify(content),
      );
      const err = await failure(reopen(dir));
      expect(err.code, String(why)).toBe('vault_corrupt');
      expect(err.message).toMatch(why);
      expect(err.message).toMatch(/Restore the vault directory from a backup/);
    }
  });

  it('refuses to create a vault over an existing one', async () => {
    const { dir } = await newVault();
    const err = await failure(openFileVault({ dir, passphrase: 'other', create: true, ...FAST }));
    expect(err.code).toBe('bad_input');
    expect(err.message).toMatch(/^A file vault already exists in /);
  });

  it('reports a missing vault as vault_io, naming the directory', async () => {
    const dir = join(await tempDir(), 'nothing-here');
    const err = await failure(reopen(dir));
    expect(err.code).toBe('vault_io');
    expect(err.message).toBe(
      `No file vault was found in ${dir} (vault.json is missing). Check the path, or create a vault with \`conclave init --vault file\`.`,
    );
  });

  it('reports a write into a vanished directory as vault_io', async () => {
    const { dir, vault } = await newVault();
    await rm(dir, { recursive: true });
    const err = await failure(vault.put('share', new Uint8Array([1])));
    expect(err.code).toBe('vault_io');
    expect(err.message).toMatch(/^Could not write .* \(ENOENT: /);
    expect(await vault.get('share')).toBeUndefined();
  });

  it('refuses invalid names, secrets and options with bad_input', async () => {
    const { vault } = await newVault();
    for (const name of ['', 'a b', 'share\n', 'é', 'x'.repeat(201), 7, null] as unknown[]) {
      expect((await failure(vault.put(name as string, new Uint8Array([1])))).code).toBe(
        'bad_input',
      );
      expect((await failure(vault.get(name as string))).code).toBe('bad_input');
      expect((await failure(vault.delete(name as string))).code).toBe('bad_input');
    }
    for (const secret of [new Uint8Array(0), new Uint8Array(2049), [1], 'secret'] as unknown[])
      expect((await failure(vault.put('share', secret as Uint8Array))).code).toBe('bad_input');
    const dir = await tempDir();
    for (const opts of [
      { dir: '', passphrase: PASS, create: true },
      { dir, passphrase: '', create: true },
      { dir, passphrase: PASS, create: 'yes' },
    ])
      expect((await failure(openFileVault(opts as FileVaultOptions))).code).toBe('bad_input');
  });

  it('does not print its key', async () => {
    const { vault } = await newVault();
    expect(JSON.stringify(vault)).toBe('"<redacted>"');
    expect(inspect(vault)).toBe('FileVault <redacted>');
  });

  it('openVault("file") opens the same vault; an unknown kind is bad_input', async () => {
    const { dir, vault } = await newVault();
    await vault.put('share', new Uint8Array([3]));
    const same = await openVault('file', { dir, passphrase: PASS, create: false, ...FAST });
    expect(await same.get('share')).toEqual(new Uint8Array([3]));
    const err = await failure(
      openVault('paper' as 'file', { dir, passphrase: PASS, create: false }),
    );
    expect(err.code).toBe('bad_input');
  });
});
