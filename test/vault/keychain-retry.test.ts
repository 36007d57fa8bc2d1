// A keyring daemon that exits with a call in flight (gnome-keyring aborts now and then; D-Bus
// starts it again on the next call): the vault asks once more instead of failing the caller. With
// a stand-in binding (test/vault/fixtures/flaky-keyring.cjs) whose "flaky" entries fail once.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKeychainModuleForTests } from '../../main/vault/keychain.js';
import { openKeychainVault, VaultError } from '../../main/vault/index.js';

const FAKE = fileURLToPath(new URL('./fixtures/flaky-keyring.cjs', import.meta.url));

describe('keychain vault when the keyring daemon goes away mid-call', () => {
  beforeAll(() => setKeychainModuleForTests(FAKE));
  afterAll(() => setKeychainModuleForTests(undefined));

  it('retries each operation once and succeeds: set, get and delete', async () => {
    const vault = await openKeychainVault({ namespace: 'retry-test' });
    const secret = Uint8Array.from([1, 2, 3, 4]);
    await vault.put('flaky-share', secret);
    expect(Array.from(secret)).toEqual([1, 2, 3, 4]);
    expect(Array.from((await vault.get('flaky-share'))!)).toEqual([1, 2, 3, 4]);
    await vault.delete('flaky-share');
    expect(await vault.get('other')).toBeUndefined();
  });

  it('reports the failure in words when the second call fails too', async () => {
    const vault = await openKeychainVault({ namespace: 'retry-test' });
    const err = await vault.get('broken-share').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe('keychain_failure');
    expect((err as Error).message).toMatch(/The OS keychain reported an error: .*Try again/);
  });
});
