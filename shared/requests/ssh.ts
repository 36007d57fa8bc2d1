// 'ssh': the group's Ed25519 key signs for OpenSSH through `conclave ssh-agent`. Only three kinds of
// bytes are signed, each read from the exact bytes by every approver's node: a login (the userauth
// request, with the server's host key from the connection's session-bind), an SSHSIG (ssh-keygen
// -Y sign; with the signed file itself when the git wrapper passes it), or an OpenSSH certificate
// (ssh-keygen -s). Anything else is refused: the agent never signs bytes nobody can read.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { canonicalJSON } from '../crypto/backup.js';
import { LIMITS } from '../protocol/wire.js';
import {
  FOREVER,
  HOSTBOUND_METHOD,
  certLine,
  parseCertTbs,
  parseSshsigData,
  parseUserauth,
  sshsigArmor,
  verifyHostSignature,
  type CertTbs,
  type SshsigData,
  type Userauth,
} from '../ssh/signed.js';
import {
  SshFormatError,
  SshReader,
  ed25519Blob,
  ed25519SignatureBlob,
  equalBytes,
  fingerprint,
  parsePublicKey,
} from '../ssh/wire.js';
import { canonicalObject, fail, hex, int, list, object, show } from './fields.js';
import { printableText } from './sign.js';
import type { CardField, RequestCard, RequestContext, RequestKindModule } from './types.js';

/** The bytes an agent may ask to sign (a certificate with many principals still fits). */
export const MAX_SSH_DATA = 16 * 1024;
/** The file an SSHSIG signs, when it travels with the request so approvers can read it. */
export const MAX_SSH_CONTENT = 24 * 1024;

/** The session-bind@openssh.com the agent saw on the connection the sign request came on. */
export interface SshBind {
  hostKey: Uint8Array;
  sessionId: Uint8Array;
  signature: Uint8Array;
  forwarding: boolean;
}

export type SshSigned =
  ({ type: 'login' } & Userauth) | ({ type: 'sshsig' } & SshsigData) | ({ type: 'cert' } & CertTbs);

export interface SshParams {
  /** The group's Ed25519 key the agent offered (32 bytes). */
  key: Uint8Array;
  /** The exact bytes to sign. */
  data: Uint8Array;
  bind?: SshBind;
  /** Whether this node verified the host key's signature over the session id ('unchecked': RSA/DSA). */
  bindCheck?: 'valid' | 'unchecked';
  /** For an SSHSIG: the signed file itself, its hash checked against the SSHSIG's. */
  content?: Uint8Array;
  signed: SshSigned;
}

/** What the agent puts in a request's message (see encodeSshMessage). */
export interface SshMessageInput {
  key: Uint8Array;
  data: Uint8Array;
  bind?: SshBind;
  content?: Uint8Array;
}

/**
 * The request's message: canonical JSON `{"v":1,"key":hex,"data":base64,"bind"?:{…},"content"?:
 * base64}`, so one request has one encoding and every approver reads the same bytes.
 */
export function encodeSshMessage(m: SshMessageInput): Uint8Array {
  const o: Record<string, unknown> = { v: 1, key: bytesToHex(m.key), data: base64.encode(m.data) };
  if (m.bind)
    o.bind = {
      forwarding: m.bind.forwarding,
      hostKey: base64.encode(m.bind.hostKey),
      sessionId: bytesToHex(m.bind.sessionId),
      signature: base64.encode(m.bind.signature),
    };
  if (m.content) o.content = base64.encode(m.content);
  return utf8ToBytes(canonicalJSON(o));
}

/** Strict base64 (padded, canonical) of at most `max` bytes. */
function b64(v: unknown, field: string, max: number): Uint8Array {
  if (typeof v !== 'string' || v.length > 4 * Math.ceil(max / 3) + 4)
    fail(field, `must be base64 of at most ${max} bytes, got ${show(v)}`);
  let out: Uint8Array;
  try {
    out = base64.decode(v);
  } catch {
    return fail(field, `is not base64: ${show(v)}`);
  }
  if (base64.encode(out) !== v) fail(field, `is not canonical base64: ${show(v)}`);
  if (out.length > max) fail(field, `must be at most ${max} bytes, got ${out.length}`);
  return out;
}

/** The group key a context names, when the node puts it there (ctx.publicKey, hex). */
function contextKey(ctx: RequestContext): string | undefined {
  const k = (ctx as RequestContext & { publicKey?: unknown }).publicKey;
  return typeof k === 'string' ? k : undefined;
}

/** Which of the three the data is, by its first field; anything else is refused. */
function readSigned(data: Uint8Array): SshSigned {
  const what = (e: unknown, as: string): never => {
    if (e instanceof SshFormatError) fail('data', `${as}: ${e.message}`);
    throw e;
  };
  if (data.length >= 6 && String.fromCharCode(...data.subarray(0, 6)) === 'SSHSIG') {
    try {
      return { type: 'sshsig', ...parseSshsigData(data) };
    } catch (e) {
      return what(e, 'not a valid SSHSIG');
    }
  }
  let first: Uint8Array | undefined;
  try {
    first = new SshReader(data, 'data').string('first field', 64);
  } catch {
    first = undefined;
  }
  if (first && /-cert-v01@openssh\.com$/.test(String.fromCharCode(...first))) {
    try {
      return { type: 'cert', ...parseCertTbs(data) };
    } catch (e) {
      return what(e, 'not a valid OpenSSH certificate');
    }
  }
  // A login starts with the session id (a hash: 20..64 bytes), then SSH_MSG_USERAUTH_REQUEST.
  if (first && first.length >= 20 && data[4 + first.length] === 50) {
    try {
      return { type: 'login', ...parseUserauth(data) };
    } catch (e) {
      return what(e, 'not a valid SSH login request');
    }
  }
  return fail(
    'data',
    `is not an SSH login request, an SSHSIG or an OpenSSH certificate (${data.length} bytes starting ${bytesToHex(data.subarray(0, 8))}): the agent signs nothing else`,
  );
}

/** Reads an 'ssh' message exactly (everything but the group key, which needs the context). */
export function readSshMessage(message: Uint8Array): SshParams {
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const o = object(canonicalObject(message), 'message', ['v', 'key', 'data'], ['bind', 'content']);
  int(o.v, 'v', 1, 1);
  const key = hexToBytes(hex(o.key, 'key', 32));
  try {
    ed25519.Point.fromBytes(key);
  } catch {
    fail('key', `is not an Ed25519 public key: ${show(o.key)}`);
  }
  const data = b64(o.data, 'data', MAX_SSH_DATA);
  if (data.length === 0) fail('data', 'must not be empty');
  const signed = readSigned(data);
  const p: SshParams = { key, data, signed };
  const blob = ed25519Blob(key);

  if (o.bind !== undefined) {
    const b = object(o.bind, 'bind', ['hostKey', 'sessionId', 'signature', 'forwarding']);
    if (typeof b.forwarding !== 'boolean')
      fail('bind.forwarding', `must be true or false, got ${show(b.forwarding)}`);
    const sessionIdHex = b.sessionId;
    if (typeof sessionIdHex !== 'string' || !/^([0-9a-f]{2}){20,64}$/.test(sessionIdHex))
      fail('bind.sessionId', `must be 20..64 bytes of lowercase hex, got ${show(sessionIdHex)}`);
    const bind: SshBind = {
      hostKey: b64(b.hostKey, 'bind.hostKey', 4096),
      sessionId: hexToBytes(sessionIdHex),
      signature: b64(b.signature, 'bind.signature', 4096),
      forwarding: b.forwarding,
    };
    try {
      parsePublicKey(bind.hostKey, 'host key');
    } catch (e) {
      fail('bind.hostKey', (e as Error).message);
    }
    const check = verifyHostSignature(bind.hostKey, bind.sessionId, bind.signature);
    if (check === 'invalid')
      fail('bind.signature', "the server's host key did not sign this session id");
    if (signed.type !== 'login')
      fail(
        'bind',
        `is only for a login, this is ${signed.type === 'cert' ? 'a certificate' : 'an SSHSIG'}`,
      );
    p.bind = bind;
    p.bindCheck = check;
  }
  if (o.content !== undefined) {
    if (signed.type !== 'sshsig') fail('content', 'is only for an SSHSIG');
    const content = b64(o.content, 'content', MAX_SSH_CONTENT);
    const h = signed.hashAlg === 'sha256' ? sha256(content) : sha512(content);
    if (!equalBytes(h, signed.hash))
      fail('content', `its ${signed.hashAlg} is not the hash the SSHSIG signs`);
    p.content = content;
  }

  if (signed.type === 'login') {
    if (signed.alg !== 'ssh-ed25519')
      fail('data', `the login's algorithm is ${show(signed.alg)}, the group's key is ssh-ed25519`);
    if (!equalBytes(signed.key, blob)) fail('data', "the login's key is not the group's key");
    if (p.bind) {
      // As OpenSSH's agent: a login for another session than the one bound is refused.
      if (!equalBytes(p.bind.sessionId, signed.sessionId))
        fail('bind.sessionId', "is not the login's session id");
      if (signed.hostKey && !equalBytes(signed.hostKey, p.bind.hostKey))
        fail('data', "the login names another host key than the connection's session-bind");
    }
  } else if (signed.type === 'cert') {
    if (!equalBytes(signed.signatureKey, blob))
      fail('data', "the certificate's signature key is not the group's key");
  }
  return p;
}

function parse(message: Uint8Array, ctx: RequestContext): SshParams {
  const p = readSshMessage(message);
  const k = contextKey(ctx);
  if (k !== undefined && k !== bytesToHex(p.key))
    fail('key', `must be the group's key ${k}, got ${bytesToHex(p.key)}`);
  return p;
}

// ---- the card ----

const UNITS: [number, string][] = [
  [86400 * 365, 'year'],
  [86400 * 7, 'week'],
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** A duration in words, two units at most ("8 hours", "1 day 2 hours"). */
export function durationWords(sec: bigint): string {
  let s = Number(sec);
  const parts: string[] = [];
  for (const [n, unit] of UNITS) {
    if (s >= n && parts.length < 2) {
      const k = Math.floor(s / n);
      parts.push(`${k} ${unit}${k === 1 ? '' : 's'}`);
      s -= k * n;
    }
  }
  return parts.length ? parts.join(' ') : '0 seconds';
}

function timeWords(sec: bigint): string {
  if (sec > 253402300799n) return 'the end of time';
  return new Date(Number(sec) * 1000).toISOString().replace('.000Z', 'Z').replace('T', ' ');
}

/** A certificate's validity in words. */
export function validityWords(after: bigint, before: bigint): string {
  if (after === 0n && before === FOREVER) return 'forever (no start, no end)';
  const from = after === 0n ? 'always' : `from ${timeWords(after)}`;
  if (before === FOREVER) return `${from}, forever (never expires)`;
  const to = `until ${timeWords(before)}`;
  return after === 0n
    ? `${to} (no start time)`
    : `${from} ${to} (${durationWords(before - after)})`;
}

function optionsWords(o: { name: string; value: string }[]): string {
  return o.length ? o.map((x) => (x.value ? `${x.name}=${x.value}` : x.name)).join(', ') : 'none';
}

function loginCard(
  p: SshParams,
  s: Extract<SshSigned, { type: 'login' }>,
  ctx: RequestContext,
): RequestCard {
  const warnings: string[] = [];
  const host = p.bind?.hostKey ?? s.hostKey;
  const hostFp = host ? fingerprint(host) : undefined;
  if (!p.bind)
    warnings.push(
      'The agent did not see which server this login is for (no session-bind): the server is unknown.',
    );
  if (p.bind?.forwarding)
    warnings.push(
      'This login comes through a forwarded agent: another computer is logging in with the key.',
    );
  if (p.bindCheck === 'unchecked')
    warnings.push(
      "The server's RSA or DSA host key signature was checked by the requester's agent only, not by this computer.",
    );
  const hostType = host ? safeKeyType(host) : undefined;
  const fields: CardField[] = [
    { label: 'User', value: s.user, kind: 'text' },
    {
      label: 'Server host key',
      value: hostFp ? `${hostFp}${hostType ? ` (${hostType})` : ''}` : 'unknown (no session-bind)',
      kind: hostFp ? 'fingerprint' : 'text',
    },
    {
      label: 'Key',
      value: `${fingerprint(ed25519Blob(p.key))} (ssh-ed25519, ${ctx.groupName})`,
      kind: 'fingerprint',
    },
    { label: 'Service', value: s.service, kind: 'text' },
    {
      label: 'Method',
      value: s.method === HOSTBOUND_METHOD ? 'publickey (bound to the host key)' : 'publickey',
    },
    { label: 'Session id', value: bytesToHex(s.sessionId), kind: 'hex' },
  ];
  return {
    kind: 'ssh',
    title: `Log in over SSH as “${s.user}” with the key of “${ctx.groupName}”`,
    summary: hostFp
      ? `Sign an SSH login as ${s.user} to the server whose host key is ${hostFp}.`
      : `Sign an SSH login as ${s.user} to a server the agent could not identify.`,
    fields,
    ...(warnings.length ? { warnings } : {}),
  };
}

function safeKeyType(blob: Uint8Array): string | undefined {
  try {
    return parsePublicKey(blob).type;
  } catch {
    return undefined;
  }
}

function sshsigCard(
  p: SshParams,
  s: Extract<SshSigned, { type: 'sshsig' }>,
  ctx: RequestContext,
): RequestCard {
  const warnings: string[] = [];
  const fields: CardField[] = [
    { label: 'Namespace', value: s.namespace, kind: 'text' },
    { label: `Signed file (${s.hashAlg})`, value: bytesToHex(s.hash), kind: 'hex' },
  ];
  if (p.content) {
    const text = printableText(p.content);
    const isCommit =
      s.namespace === 'git' && text !== undefined && /^tree [0-9a-f]{40,64}\n/.test(text);
    fields.push(
      text !== undefined
        ? { label: isCommit ? 'Git commit' : 'File', value: text, kind: 'text' }
        : { label: 'File (hex)', value: bytesToHex(p.content), kind: 'hex' },
      { label: 'File size', value: `${p.content.length} bytes (its hash matches)`, kind: 'number' },
    );
    if (text === undefined)
      warnings.push('The signed file is binary: approve only if you know these exact bytes.');
  } else
    warnings.push(
      'Only the hash of the signed file is known: this computer cannot show what is signed. Approve only if you know what the requester is signing.',
    );
  if (s.namespace === 'file')
    warnings.push(
      'The namespace "file" is the generic one: the signature is valid for any use that accepts files.',
    );
  fields.push({
    label: 'Key',
    value: `${fingerprint(ed25519Blob(p.key))} (ssh-ed25519, ${ctx.groupName})`,
    kind: 'fingerprint',
  });
  const isGit = s.namespace === 'git';
  return {
    kind: 'ssh',
    title: isGit
      ? `Sign a git commit or tag with the key of “${ctx.groupName}”`
      : `Sign a file (SSHSIG, namespace “${s.namespace}”) with the key of “${ctx.groupName}”`,
    summary: p.content
      ? `Make an SSH signature (namespace ${s.namespace}) over the ${p.content.length}-byte file shown.`
      : `Make an SSH signature (namespace ${s.namespace}) over a file known only by its hash.`,
    fields,
    ...(warnings.length ? { warnings } : {}),
  };
}

function certCard(
  p: SshParams,
  s: Extract<SshSigned, { type: 'cert' }>,
  ctx: RequestContext,
): RequestCard {
  const warnings: string[] = [];
  const host = s.role === 'host';
  if (s.principals.length === 0)
    warnings.push(
      host
        ? 'No host names: the certificate is valid for ANY host name.'
        : 'No principals: the certificate is valid for ANY user name on servers that trust this CA.',
    );
  if (s.validBefore === FOREVER) warnings.push('The certificate never expires.');
  if (host)
    warnings.push('This is a HOST certificate: servers will be trusted under the names listed.');
  const fields: CardField[] = [
    { label: 'Certificate', value: host ? 'host certificate' : 'user certificate' },
    { label: 'Key id', value: s.keyId || '(empty)', kind: 'text' },
    {
      label: host ? 'Host names' : 'Principals',
      value: s.principals.length ? s.principals.join(', ') : 'any (none listed)',
      kind: 'text',
    },
    { label: 'Validity', value: validityWords(s.validAfter, s.validBefore) },
    { label: 'Critical options', value: optionsWords(s.criticalOptions) },
    { label: 'Extensions', value: optionsWords(s.extensions) },
    {
      label: 'Subject key',
      value: `${fingerprint(s.subjectKey)} (${s.subjectKeyType})`,
      kind: 'fingerprint',
    },
    { label: 'Serial', value: s.serial.toString(), kind: 'number' },
    {
      label: 'Signed by (CA)',
      value: `${fingerprint(ed25519Blob(p.key))} (${ctx.groupName})`,
      kind: 'fingerprint',
    },
  ];
  return {
    kind: 'ssh',
    title: `Issue an SSH ${host ? 'host' : 'user'} certificate “${s.keyId}” with the key of “${ctx.groupName}”`,
    summary: `Certify the key ${fingerprint(s.subjectKey)} for ${s.principals.length ? s.principals.join(', ') : 'any name'}, ${validityWords(s.validAfter, s.validBefore)}.`,
    fields,
    ...(warnings.length ? { warnings } : {}),
    ...(s.principals.length === 0 || s.validBefore === FOREVER ? { danger: true } : {}),
  };
}

/** The file name ssh-keygen gives a certificate of each subject key type. */
const CERT_FILE_NAMES: Readonly<Record<string, string>> = {
  'ssh-ed25519': 'ed25519',
  'ssh-rsa': 'rsa',
  'ssh-dss': 'dsa',
  'ecdsa-sha2-nistp256': 'ecdsa',
  'ecdsa-sha2-nistp384': 'ecdsa',
  'ecdsa-sha2-nistp521': 'ecdsa',
  'sk-ssh-ed25519@openssh.com': 'ed25519_sk',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'ecdsa_sk',
};

// ---- limits ----

export interface SshLimits {
  /** Principals a certificate may name and user names a login may use (exact, at most 64). */
  principals?: string[];
  /** Longest certificate validity, seconds (a certificate that never expires is then refused). */
  maxValiditySec?: number;
  /** Whether host certificates may be issued (default true). */
  hostCertificates?: boolean;
  /**
   * Whether the requester's own approval counts for a certificate (default true). False: T other
   * members must approve someone's certificate (all of them when there are not T others).
   */
  requesterCounts?: boolean;
}

function validateLimits(v: unknown): SshLimits {
  const o = object(
    v,
    'limits.ssh',
    [],
    ['principals', 'maxValiditySec', 'hostCertificates', 'requesterCounts'],
  );
  const out: SshLimits = {};
  if (o.principals !== undefined)
    out.principals = list(o.principals, 'limits.ssh.principals', 64).map((x, i) => {
      if (typeof x !== 'string' || x.length === 0 || x.length > 256 || /[\s,]/.test(x))
        fail(
          `limits.ssh.principals[${i}]`,
          `must be a name without spaces or commas, got ${show(x)}`,
        );
      return x;
    });
  if (o.maxValiditySec !== undefined)
    out.maxValiditySec = int(o.maxValiditySec, 'limits.ssh.maxValiditySec', 60, 10 * 365 * 86400);
  if (o.hostCertificates !== undefined) {
    if (typeof o.hostCertificates !== 'boolean')
      fail('limits.ssh.hostCertificates', `must be true or false, got ${show(o.hostCertificates)}`);
    out.hostCertificates = o.hostCertificates;
  }
  if (o.requesterCounts !== undefined) {
    if (typeof o.requesterCounts !== 'boolean')
      fail('limits.ssh.requesterCounts', `must be true or false, got ${show(o.requesterCounts)}`);
    out.requesterCounts = o.requesterCounts;
  }
  return out;
}

function checkLimits(p: SshParams, limits: unknown): string | undefined {
  const l = limits as SshLimits;
  const s = p.signed;
  if (s.type === 'login') {
    if (l.principals && !l.principals.includes(s.user))
      return `The group's policy allows SSH logins only as ${l.principals.join(', ')}, not as ${s.user}.`;
    return undefined;
  }
  if (s.type !== 'cert') return undefined;
  if (l.hostCertificates === false && s.role === 'host')
    return "The group's policy does not allow host certificates.";
  if (l.principals) {
    if (s.principals.length === 0)
      return `The group's policy allows certificates only for ${l.principals.join(', ')}, and this one names no principal (any user).`;
    const bad = s.principals.filter((x) => !l.principals!.includes(x));
    if (bad.length)
      return `The group's policy does not allow the principal${bad.length > 1 ? 's' : ''} ${bad.join(', ')}.`;
  }
  if (l.maxValiditySec !== undefined) {
    if (s.validBefore === FOREVER || s.validAfter === 0n)
      return `The group's policy allows certificates valid for at most ${durationWords(BigInt(l.maxValiditySec))}, and this one has no ${s.validAfter === 0n ? 'start' : 'end'}.`;
    if (s.validBefore - s.validAfter > BigInt(l.maxValiditySec))
      return `The group's policy allows certificates valid for at most ${durationWords(BigInt(l.maxValiditySec))}, and this one is valid for ${durationWords(s.validBefore - s.validAfter)}.`;
  }
  return undefined;
}

function describeLimits(limits: unknown): string[] {
  const l = limits as SshLimits;
  const out: string[] = [];
  if (l.principals) out.push(`SSH certificates and logins only for ${l.principals.join(', ')}`);
  if (l.maxValiditySec !== undefined)
    out.push(`SSH certificates valid for at most ${durationWords(BigInt(l.maxValiditySec))}`);
  if (l.hostCertificates === false) out.push('no SSH host certificates');
  if (l.requesterCounts === false)
    out.push('an SSH certificate needs the approvals of members other than its requester');
  return out;
}

export const ssh: RequestKindModule<SshParams> = {
  kind: 'ssh',
  schemes: ['ed25519'],
  parse,
  read: (message) => readSshMessage(message),
  decode(p, ctx) {
    const s = p.signed;
    if (s.type === 'login') return loginCard(p, s, ctx);
    if (s.type === 'sshsig') return sshsigCard(p, s, ctx);
    return certCard(p, s, ctx);
  },
  execution: (p) => ({ op: 'sign', parts: [{ message: p.data }] }),
  result(p, output) {
    if (!('signatures' in output) || output.signatures.length !== 1)
      fail('result', 'an SSH request has exactly one signature');
    const sig = output.signatures[0]!;
    if (sig.length !== 64 || !ed25519.verify(sig, p.data, p.key))
      fail('result', "the signature does not verify under the group's key");
    const s = p.signed;
    if (s.type === 'cert') {
      const line = certLine(p.data, s.certType, sig, s.keyId || undefined);
      return {
        name: `id_${CERT_FILE_NAMES[s.subjectKeyType] ?? 'key'}-cert.pub`,
        mediaType: 'text/plain',
        text: `${line}\n`,
        fields: [{ label: 'Inspect it with', value: 'ssh-keygen -L -f <file>' }],
      };
    }
    if (s.type === 'sshsig')
      return {
        name: 'file.sig',
        mediaType: 'text/plain',
        text: sshsigArmor(p.key, s, sig),
        fields: [{ label: 'Namespace', value: s.namespace }],
      };
    return {
      name: 'ssh-signature.bin',
      mediaType: 'application/octet-stream',
      base64: base64.encode(ed25519SignatureBlob(sig)),
    };
  },
  limits: {
    validate: validateLimits,
    check: checkLimits,
    describe: describeLimits,
    requesterExcluded: (p, l) =>
      p.signed.type === 'cert' && (l as SshLimits).requesterCounts === false,
  },
  policy: {
    noun: 'SSH signing (logins, certificates, SSH signatures)',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
