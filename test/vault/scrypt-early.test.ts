// `conclave start` starts the file vault's scrypt early (deriveEarly) so it runs while the node
// loads: the vault opens the same, a wrong passphrase is still refused, and an early result is only
// ever given to the call with exactly its inputs.
import { mkdtemp, rm } from 'node:fs/promises';
import { scryptSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { deriveEarly, openFileVault } from '../../main/vault/file.js';
import { nodeScrypt, startEarlyScrypt } from '../../main/vault/scrypt.js';
import { VaultError } from '../../main/vault/types.js';

const PASS = 'correct horse battery staple';
const CHEAP = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 };
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const expected = (pw: Uint8Array, salt: Uint8Array) =>
  new Uint8Array(scryptSync(pw, salt, 32, { N: CHEAP.N, r: CHEAP.r, p: CHEAP.p }));

describe('early scrypt', () => {
  it('is taken only by the call with the same password, salt and parameters', async () => {
    const salt = randomBytes(32);
    const pw = utf8ToBytes(PASS);
    startEarlyScrypt(pw, salt, CHEAP);
    // Another password, salt or cost each derive their own.
    const other = utf8ToBytes(`${PASS}!`);
    expect(await nodeScrypt(other, salt, CHEAP)).toEqual(expected(other, salt));
    const salt2 = randomBytes(32);
    expect(await nodeScrypt(pw, salt2, CHEAP)).toEqual(expected(pw, salt2));
    expect(await nodeScrypt(pw, salt, { ...CHEAP, dkLen: 16 })).toEqual(
      new Uint8Array(scryptSync(pw, salt, 16, { N: CHEAP.N, r: CHEAP.r, p: CHEAP.p })),
    );
    // The matching call gets the right bytes, and the slot is empty after it.
    const first = await nodeScrypt(pw, salt, CHEAP);
    expect(first).toEqual(expected(pw, salt));
    first.fill(0); // as the vault wipes it: a second call must not see the wiped buffer
    expect(await nodeScrypt(pw, salt, CHEAP)).toEqual(expected(pw, salt));
  });

  it('opens the vault as before, and a wrong passphrase is still refused', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'conclave-early-')), 'vault');
    dirs.push(dir);
    const made = await openFileVault({ dir, passphrase: PASS, create: true });
    await made.put('identity', new Uint8Array([1, 2, 3]));

    deriveEarly(dir, PASS);
    const v = await openFileVault({ dir, passphrase: PASS, create: false });
    expect(await v.get('identity')).toEqual(new Uint8Array([1, 2, 3]));

    deriveEarly(dir, PASS);
    const wrong = await openFileVault({ dir, passphrase: 'not it', create: false }).catch(
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(VaultError);
    expect((wrong as VaultError).code).toBe('wrong_passphrase');

    deriveEarly(dir, 'not it');
    const again = await openFileVault({ dir, passphrase: PASS, create: false });
    expect(await again.get('identity')).toEqual(new Uint8Array([1, 2, 3]));
  }, 120_000);

  it('is silent without a vault', () => {
    expect(() => deriveEarly(join(tmpdir(), `no-vault-${Date.now()}`), PASS)).not.toThrow();
  });
});
