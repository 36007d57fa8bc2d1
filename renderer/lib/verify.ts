// What a signed result is and how anyone checks it outside Conclave: the signature's format per
// scheme, the group key as PEM, and a shell command a custodian can paste.
import { base64, hex } from '@scure/base';
import type { Scheme } from '../../shared/api/index.js';

/** The signature's format in words, per scheme (what a verifier elsewhere must expect). */
export const SIGNATURE_FORMATS: Record<Scheme, string> = {
  ed25519:
    'Ed25519 (RFC 8032), 64 bytes: any Ed25519 verifier accepts it under the group’s public key',
  secp256k1:
    'FROST(secp256k1, SHA-256) Schnorr signature (RFC 9591), 65 bytes: a 33-byte commitment then a 32-byte scalar. It is neither ECDSA nor BIP340, so check it with an RFC 9591 verifier',
  taproot:
    'BIP340 Schnorr signature, 64 bytes, valid under the taproot output key (the group’s public key)',
};

/** A short fingerprint of a group key: its first 16 hex digits, as the group page shows them. */
export function keyFingerprint(publicKeyHex: string): string {
  const h = publicKeyHex.toLowerCase();
  return `${(h.slice(0, 16).match(/.{1,4}/g) ?? []).join(' ')}…`;
}

// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): SEQUENCE { algorithm
// id-Ed25519, BIT STRING of the 32-byte key }.
const ED25519_SPKI = hex.decode('302a300506032b6570032100');

/** An Ed25519 public key as PEM (RFC 8410), the form openssl reads with -pubin. */
export function ed25519Pem(publicKeyHex: string): string {
  const key = hex.decode(publicKeyHex.toLowerCase());
  if (key.length !== 32) throw new Error(`an ed25519 key has 32 bytes, got ${key.length}`);
  const der = new Uint8Array(ED25519_SPKI.length + key.length);
  der.set(ED25519_SPKI);
  der.set(key, ED25519_SPKI.length);
  const b64 = base64.encode(der);
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----`;
}

/** Hex → base64 on one line (openssl base64 -d -A reads it back). */
function b64(hexText: string): string {
  return base64.encode(hex.decode(hexText.toLowerCase()));
}

/**
 * Commands that check the signature of `messageHex` under the group key, to paste into a shell,
 * or undefined where no common tool verifies the scheme (secp256k1: RFC 9591 only).
 * ed25519: openssl 3 (prints "Signature Verified Successfully"); taproot: Node.js with
 * @noble/curves (prints "valid").
 */
export function verifyCommand(
  scheme: Scheme,
  publicKeyHex: string,
  messageHex: string,
  signatureHex: string,
): string | undefined {
  if (scheme === 'ed25519')
    return [
      'cd "$(mktemp -d)"',
      "cat > group-key.pem <<'EOF'",
      ed25519Pem(publicKeyHex),
      'EOF',
      `echo '${b64(messageHex)}' | openssl base64 -d -A > message.bin`,
      `echo '${b64(signatureHex)}' | openssl base64 -d -A > signature.bin`,
      'openssl pkeyutl -verify -pubin -inkey group-key.pem -rawin -in message.bin -sigfile signature.bin',
    ].join('\n');
  if (scheme === 'taproot') {
    const h = (s: string) => `Buffer.from('${s.toLowerCase()}','hex')`;
    return [
      '# in a folder where `npm install @noble/curves` was run',
      `node -e "import('@noble/curves/secp256k1.js').then(({schnorr})=>console.log(schnorr.verify(${h(signatureHex)},${h(messageHex)},${h(publicKeyHex)})?'valid':'NOT VALID'))"`,
    ].join('\n');
  }
  return undefined;
}
