// The vault contract shared by the OS keychain and the passphrase-protected file: errors and the
// checks every implementation applies at its boundary.

export type VaultKind = 'keychain' | 'file';

/** Where a custodian's secrets live: the libp2p identity key and the FROST secret shares. */
export interface Vault {
  readonly kind: VaultKind;
  /** Stores `secret` under `name`, replacing what was there. */
  put(name: string, secret: Uint8Array): Promise<void>;
  /** The secret stored under `name`, or undefined when there is none. */
  get(name: string): Promise<Uint8Array | undefined>;
  /** Removes `name`; succeeds when it is already absent. */
  delete(name: string): Promise<void>;
}

export type VaultErrorCode =
  | 'no_keychain'
  | 'keychain_locked'
  | 'keychain_timeout'
  | 'keychain_failure'
  | 'wrong_passphrase'
  | 'vault_corrupt'
  | 'vault_io'
  | 'bad_input';

/**
 * A vault failure. `message` is a sentence for the custodian saying what happened and what to do
 * next; it never contains secret bytes or the passphrase. `cause` keeps the underlying error.
 */
export class VaultError extends Error {
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VaultError';
    this.code = code;
  }
}

/** Entry names: short, printable and safe as a keychain account or in a message. */
export const NAME_PATTERN = /^[A-Za-z0-9._:/-]{1,200}$/;
/**
 * The largest secret a vault takes. Windows Credential Manager stores at most 2560 bytes, so one
 * limit for every kind keeps a secret that fits one vault from failing in another. Conclave's
 * secrets are far smaller (a FROST share is 32 bytes, an Ed25519 identity key 68).
 */
export const MAX_SECRET_BYTES = 2048;

/** A value for an error message: quoted, escaped and cut short. Never pass secrets here. */
export const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name))
    throw new VaultError(
      'bad_input',
      `A vault entry name must be 1 to 200 characters from A-Z a-z 0-9 . _ : / -, got ${show(name)}.`,
    );
  return name;
}

export function checkSecret(secret: unknown): Uint8Array {
  if (!(secret instanceof Uint8Array))
    throw new VaultError('bad_input', `A secret must be a Uint8Array, got ${typeof secret}.`);
  if (secret.length < 1 || secret.length > MAX_SECRET_BYTES)
    throw new VaultError(
      'bad_input',
      `A secret must be 1 to ${MAX_SECRET_BYTES} bytes long, got ${secret.length} bytes.`,
    );
  return secret;
}
