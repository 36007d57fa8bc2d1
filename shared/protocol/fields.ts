// Field shapes that every strict decoder checks the same way, as predicates: each decoder throws
// its own error naming the field (ProtocolError on the wire, CryptoError in a backup file). It
// imports nothing, so shared/crypto can use it without an import cycle through wire.ts.

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;

/**
 * Whether `v` is lowercase hex of whole bytes (two characters a byte; '' is no bytes), exactly
 * `chars` characters long when given. The length is compared first, so a huge string of the wrong
 * length is refused without being scanned.
 */
export function isLowerHex(v: unknown, chars?: number): v is string {
  return typeof v === 'string' && (chars === undefined || v.length === chars) && LOWER_HEX.test(v);
}
