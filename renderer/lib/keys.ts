// A group's public key in the formats people paste elsewhere: OpenSSH lines, Bitcoin addresses.
import { base64, bech32m, hex } from '@scure/base';

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** The comment of the OpenSSH line: one token, so tools that split on spaces keep it whole. */
export function sshComment(groupName: string): string {
  return `conclave-${groupName.trim().replace(/\s+/g, '-')}`;
}

/** `ssh-ed25519 <base64 of the wire encoding (RFC 8709 §4)> conclave-<group>` */
export function opensshEd25519(publicKeyHex: string, groupName: string): string {
  const key = hex.decode(publicKeyHex.toLowerCase());
  if (key.length !== 32) throw new Error(`an ed25519 key has 32 bytes, got ${key.length}`);
  const type = new TextEncoder().encode('ssh-ed25519');
  const a = sshString(type);
  const b = sshString(key);
  const wire = new Uint8Array(a.length + b.length);
  wire.set(a);
  wire.set(b, a.length);
  return `ssh-ed25519 ${base64.encode(wire)} ${sshComment(groupName)}`;
}

/** The bc1p address (BIP350 bech32m, witness version 1) of a 32-byte x-only output key. */
export function taprootAddress(outputKeyHex: string, hrp: 'bc' | 'tb' = 'bc'): string {
  const key = hex.decode(outputKeyHex.toLowerCase());
  if (key.length !== 32) throw new Error(`a taproot output key has 32 bytes, got ${key.length}`);
  return bech32m.encode(hrp, [1, ...bech32m.toWords(key)]);
}
