// Typed errors of the threshold core: a stable code the UI can map to words, and the culprits to blame.

/** Codes the threshold core can throw; the UI maps each to a sentence a custodian understands. */
export type CryptoErrorCode =
  | 'bad_identifier'
  | 'duplicate_identifier'
  | 'bad_threshold'
  | 'bad_point'
  | 'bad_scalar'
  | 'bad_input'
  | 'bad_length'
  | 'bad_commitment_count'
  | 'bad_proof_of_knowledge'
  | 'bad_share'
  | 'equivocation'
  | 'wrong_session'
  | 'wrong_round'
  | 'missing_package'
  | 'unexpected_package'
  | 'nonce_reused'
  | 'bad_commitment'
  | 'bad_signature_share'
  | 'aggregation_failed'
  | 'key_mismatch'
  | 'epoch_mismatch'
  | 'bad_dleq_proof'
  | 'bad_backup'
  | 'wrong_passphrase'
  | 'backup_tampered'
  | 'stale_backup'
  | 'unsupported_version'
  | 'unknown_scheme';

/** An error raised by the threshold core. `culprits` names the identifiers (hex) to blame. */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  readonly culprits: readonly string[];
  constructor(code: CryptoErrorCode, message: string, culprits: readonly string[] = []) {
    super(`${code}: ${message}`);
    this.name = 'CryptoError';
    this.code = code;
    this.culprits = Object.freeze([...culprits]);
  }
}

/** Throws a CryptoError when `cond` is false. */
export function check(
  cond: unknown,
  code: CryptoErrorCode,
  message: string,
  culprits?: readonly string[],
): asserts cond {
  if (!cond) throw new CryptoError(code, message, culprits);
}

/**
 * A received value for an error message, never throwing: String() of a peer's JSON object with its
 * own "toString" key throws a TypeError, which would replace the typed error (and its culprit).
 */
export function shown(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v).slice(0, 80);
  try {
    return (JSON.stringify(v) ?? '?').slice(0, 80);
  } catch {
    return '[unprintable]';
  }
}
