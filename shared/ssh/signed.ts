// What an SSH client asks a key to sign, read exactly: a login (SSH_MSG_USERAUTH_REQUEST), an
// SSHSIG (ssh-keygen -Y sign), or a certificate's to-be-signed bytes (ssh-keygen -s). Also the
// host key's signature over a session id (session-bind) and the finished SSHSIG and certificate.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { base64 } from '@scure/base';
import {
  KEY_FIELDS,
  SshFormatError,
  SshReader,
  SshWriter,
  ed25519SignatureBlob,
  equalBytes,
  malformed,
  parsePublicKey,
  parseSignature,
  publicKeyBlob,
  utf8,
} from './wire.js';

export const SSH_MSG_USERAUTH_REQUEST = 50;
export const HOSTBOUND_METHOD = 'publickey-hostbound-v00@openssh.com';

export interface Userauth {
  sessionId: Uint8Array;
  user: string;
  service: string;
  method: 'publickey' | typeof HOSTBOUND_METHOD;
  alg: string;
  key: Uint8Array;
  /** publickey-hostbound: the server's host key as the client saw it. */
  hostKey?: Uint8Array;
}

/** A userauth request (RFC 4252 §7, and OpenSSH's publickey-hostbound-v00). */
export function parseUserauth(data: Uint8Array): Userauth {
  const r = new SshReader(data, 'login request');
  const sessionId = r.string('session id', 64);
  if (sessionId.length < 20) malformed(`login request: session id of ${sessionId.length} bytes`);
  const type = r.byte('message type');
  if (type !== SSH_MSG_USERAUTH_REQUEST)
    malformed(`login request: message type ${type}, expected ${SSH_MSG_USERAUTH_REQUEST}`);
  const user = r.text('user name', 256);
  const service = r.text('service', 64);
  const method = r.text('method', 64);
  if (method !== 'publickey' && method !== HOSTBOUND_METHOD)
    malformed(`login request: method ${JSON.stringify(method)} is not publickey`);
  if (!r.bool('has signature')) malformed('login request: the signature flag is not set');
  const alg = r.text('algorithm', 64);
  const key = r.string('public key', 16 * 1024);
  const out: Userauth = { sessionId, user, service, method, alg, key };
  if (method === HOSTBOUND_METHOD) out.hostKey = r.string('host key', 16 * 1024);
  r.end();
  return out;
}

export const SSHSIG_MAGIC = utf8('SSHSIG');
const SSHSIG_HASHES = { sha256: 32, sha512: 64 } as const;
export type SshsigHash = keyof typeof SSHSIG_HASHES;

export interface SshsigData {
  namespace: string;
  hashAlg: SshsigHash;
  hash: Uint8Array;
}

/** The bytes ssh-keygen -Y sign has signed (PROTOCOL.sshsig): magic, namespace, reserved, hash. */
export function parseSshsigData(data: Uint8Array): SshsigData {
  if (data.length < 6 || !equalBytes(data.subarray(0, 6), SSHSIG_MAGIC))
    malformed('SSHSIG: no "SSHSIG" magic');
  const r = new SshReader(data.subarray(6), 'SSHSIG');
  const namespace = r.text('namespace', 256);
  if (namespace === '') malformed('SSHSIG: empty namespace');
  const reserved = r.string('reserved', 1024);
  if (reserved.length !== 0) malformed('SSHSIG: the reserved field is not empty');
  const alg = r.text('hash algorithm', 16);
  if (alg !== 'sha256' && alg !== 'sha512')
    malformed(`SSHSIG: hash algorithm ${JSON.stringify(alg)} (sha256 or sha512 allowed)`);
  const hash = r.string('message hash', 64);
  if (hash.length !== SSHSIG_HASHES[alg])
    malformed(`SSHSIG: a ${alg} hash is ${SSHSIG_HASHES[alg]} bytes, got ${hash.length}`);
  r.end();
  return { namespace, hashAlg: alg, hash };
}

export function sshsigData(namespace: string, hashAlg: SshsigHash, hash: Uint8Array): Uint8Array {
  const body = new SshWriter()
    .string(namespace)
    .string(new Uint8Array())
    .string(hashAlg)
    .string(hash)
    .bytes();
  return new SshWriter().raw(SSHSIG_MAGIC).raw(body).bytes();
}

/** The armored signature file ssh-keygen -Y verify reads. */
export function sshsigArmor(key: Uint8Array, d: SshsigData, signature: Uint8Array): string {
  const blob = new SshWriter()
    .raw(SSHSIG_MAGIC)
    .u32(1)
    .string(publicKeyBlob('ssh-ed25519', [key]))
    .string(d.namespace)
    .string(new Uint8Array())
    .string(d.hashAlg)
    .string(ed25519SignatureBlob(signature))
    .bytes();
  const b64 = base64.encode(blob);
  const lines = b64.match(/.{1,70}/g) ?? [];
  return ['-----BEGIN SSH SIGNATURE-----', ...lines, '-----END SSH SIGNATURE-----', ''].join('\n');
}

/** Plain key types and their certificate types. */
const CERT_TYPES: Readonly<Record<string, string>> = {
  'ssh-ed25519-cert-v01@openssh.com': 'ssh-ed25519',
  'ssh-rsa-cert-v01@openssh.com': 'ssh-rsa',
  'ssh-dss-cert-v01@openssh.com': 'ssh-dss',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519-cert-v01@openssh.com': 'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': 'sk-ecdsa-sha2-nistp256@openssh.com',
};

export const CERT_USER = 1;
export const CERT_HOST = 2;
/** valid_before of a certificate that never expires. */
export const FOREVER = 0xffffffffffffffffn;

export interface CertTbs {
  certType: string;
  /** The subject key as a plain public key blob (what its fingerprint is computed from). */
  subjectKey: Uint8Array;
  subjectKeyType: string;
  serial: bigint;
  /** A user or a host certificate. */
  role: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: { name: string; value: string }[];
  extensions: { name: string; value: string }[];
  /** The CA key (the signature key) blob. */
  signatureKey: Uint8Array;
}

/** A certificate's options or extensions: name, and data that is empty or one string. */
function parseOptions(bytes: Uint8Array, what: string): { name: string; value: string }[] {
  const r = new SshReader(bytes, what);
  const out: { name: string; value: string }[] = [];
  let last = '';
  while (r.remaining > 0) {
    const name = r.text('name', 256);
    if (out.length > 0 && name <= last)
      malformed(`${what}: ${JSON.stringify(name)} is out of order or repeated`);
    last = name;
    const data = r.string(`${name} data`, 4096);
    let value = '';
    if (data.length > 0) {
      const d = new SshReader(data, `${what} ${name}`);
      value = d.text('value', 4096);
      d.end();
    }
    out.push({ name, value });
    if (out.length > 64) malformed(`${what}: more than 64 entries`);
  }
  return out;
}

/** The bytes ssh-keygen -s signs: a certificate up to and including its signature key. */
export function parseCertTbs(data: Uint8Array): CertTbs {
  const r = new SshReader(data, 'certificate');
  const certType = r.text('certificate type', 64);
  const plain = CERT_TYPES[certType];
  if (!plain) malformed(`certificate: unknown type ${JSON.stringify(certType.slice(0, 60))}`);
  const nonce = r.string('nonce', 64);
  if (nonce.length < 16) malformed(`certificate: nonce of ${nonce.length} bytes`);
  const fields: Uint8Array[] = [];
  for (let i = 0; i < KEY_FIELDS[plain]!; i++)
    fields.push(r.string(`subject key field ${i + 1}`, 16 * 1024));
  const subjectKey = parsePublicKey(publicKeyBlob(plain, fields), 'certificate subject key').blob;
  const serial = r.u64('serial');
  const type = r.u32('certificate type');
  if (type !== CERT_USER && type !== CERT_HOST)
    malformed(`certificate: type ${type} is neither user nor host`);
  const keyId = r.text('key id', 1024);
  const pr = new SshReader(r.string('principals', 64 * 1024), 'certificate principals');
  const principals: string[] = [];
  while (pr.remaining > 0) {
    principals.push(pr.text('principal', 256));
    if (principals.length > 256) malformed('certificate: more than 256 principals');
  }
  const validAfter = r.u64('valid after');
  const validBefore = r.u64('valid before');
  if (validBefore <= validAfter) malformed('certificate: valid before is not after valid after');
  const criticalOptions = parseOptions(r.string('critical options', 64 * 1024), 'critical options');
  const extensions = parseOptions(r.string('extensions', 64 * 1024), 'extensions');
  if (r.string('reserved', 1024).length !== 0)
    malformed('certificate: the reserved field is not empty');
  const signatureKey = r.string('signature key', 16 * 1024);
  r.end();
  return {
    certType,
    subjectKey,
    subjectKeyType: plain,
    serial,
    role: type === CERT_HOST ? 'host' : 'user',
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
  };
}

/** A certificate's OpenSSH line: the signed bytes with the signature appended. */
export function certLine(
  tbs: Uint8Array,
  certType: string,
  signature: Uint8Array,
  comment?: string,
): string {
  const blob = new SshWriter().raw(tbs).string(ed25519SignatureBlob(signature)).bytes();
  const line = `${certType} ${base64.encode(blob)}`;
  return comment ? `${line} ${comment}` : line;
}

/**
 * Whether `signature` (an SSH signature blob) by the host key `hostKey` (a key blob) verifies over
 * the session id, as OpenSSH's agent checks a session-bind. 'unchecked' for RSA and DSA host keys,
 * which this pure code does not verify (the agent checks them with the platform's crypto).
 */
export function verifyHostSignature(
  hostKey: Uint8Array,
  sessionId: Uint8Array,
  signature: Uint8Array,
): 'valid' | 'invalid' | 'unchecked' {
  let key;
  let sig;
  try {
    key = parsePublicKey(hostKey, 'host key');
    sig = parseSignature(signature, 'host key signature');
  } catch (e) {
    if (e instanceof SshFormatError) return 'invalid';
    throw e;
  }
  try {
    if (key.type === 'ssh-ed25519') {
      if (sig.alg !== 'ssh-ed25519') return 'invalid';
      return ed25519.verify(sig.sig, sessionId, key.fields[0]!) ? 'valid' : 'invalid';
    }
    const curves = {
      'ecdsa-sha2-nistp256': p256,
      'ecdsa-sha2-nistp384': p384,
      'ecdsa-sha2-nistp521': p521,
    };
    const curve = curves[key.type as keyof typeof curves];
    if (curve) {
      if (sig.alg !== key.type) return 'invalid';
      const rs = new SshReader(sig.sig, 'ECDSA signature');
      const size = {
        'ecdsa-sha2-nistp256': 32,
        'ecdsa-sha2-nistp384': 48,
        'ecdsa-sha2-nistp521': 66,
      }[key.type as keyof typeof curves];
      const compact = new Uint8Array(2 * size);
      for (const [i, name] of ['r', 's'].entries()) {
        let v = rs.string(name, size + 1);
        while (v.length > 0 && v[0] === 0) v = v.subarray(1);
        if (v.length > size) return 'invalid';
        compact.set(v, i * size + size - v.length);
      }
      rs.end();
      return curve.verify(compact, sessionId, key.fields[1]!, { lowS: false })
        ? 'valid'
        : 'invalid';
    }
    return key.type === 'ssh-rsa' || key.type === 'ssh-dss' ? 'unchecked' : 'invalid';
  } catch {
    return 'invalid';
  }
}
