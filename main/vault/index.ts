// Where a custodian's secrets live: the OS keychain, or a passphrase-protected directory where
// there is none.
import { openFileVault, type FileVaultOptions } from './file.js';
import { openKeychainVault, type KeychainVaultOptions } from './keychain.js';
import { show, VaultError, type Vault, type VaultKind } from './types.js';

export {
  MAX_SECRET_BYTES,
  VaultError,
  type Vault,
  type VaultErrorCode,
  type VaultKind,
} from './types.js';
export {
  DEFAULT_KEYCHAIN_TIMEOUT_MS,
  KEYCHAIN_SERVICE,
  newKeychainNamespace,
  openKeychainVault,
  type KeychainVaultOptions,
} from './keychain.js';
export { openFileVault, wrongPassphraseDelayMs, type FileVaultOptions } from './file.js';

export interface OpenVaultOptions {
  keychain: KeychainVaultOptions;
  file: FileVaultOptions;
}

/** Opens the vault of the given kind: `openKeychainVault` or `openFileVault`. */
export function openVault<K extends VaultKind>(kind: K, opts: OpenVaultOptions[K]): Promise<Vault> {
  if (kind === 'keychain') return openKeychainVault(opts as KeychainVaultOptions);
  if (kind === 'file') return openFileVault(opts as FileVaultOptions);
  return Promise.reject(
    new VaultError('bad_input', `The vault kind must be "keychain" or "file", got ${show(kind)}.`),
  );
}
