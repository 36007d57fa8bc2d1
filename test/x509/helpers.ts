// Test helpers for the X.509 CA: CSRs made by openssl itself, and a CA whose key is a plain
// Ed25519 key in memory standing in for a group's (the group signs exactly as ed25519.sign does).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { assembleSigned } from '../../shared/x509/cert.js';
import { caInitMessage } from '../../shared/x509/ca.js';
import { fromPem } from '../../shared/x509/der.js';
import type { RequestContext } from '../../shared/requests/types.js';
import { ctx } from '../requests/fixtures.js';

export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** A CSR (DER) made by `openssl req -new -newkey …` for this subject and SANs. */
export function opensslCsr(
  key: 'ed25519' | 'ec' | 'rsa',
  subj: string,
  sans?: string,
): { der: Uint8Array; pem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-csr-'));
  try {
    const keyArgs =
      key === 'ed25519'
        ? ['-newkey', 'ed25519']
        : key === 'ec'
          ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
          : ['-newkey', 'rsa:1024'];
    const out = join(dir, 'req.csr');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        ...keyArgs,
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-subj',
        subj,
        ...(sans ? ['-addext', `subjectAltName=${sans}`] : []),
        '-out',
        out,
      ],
      { stdio: 'pipe' },
    );
    const pem = readFileSync(out, 'utf8');
    return { der: fromPem(pem, ['CERTIFICATE REQUEST'], 'csr'), pem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl on files written to a temp dir; returns its exit status and output. */
export function openssl(
  args: (dir: string) => string[],
  files: Record<string, string>,
): { status: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-openssl-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    try {
      const out = execFileSync('openssl', args(dir), { stdio: 'pipe', encoding: 'utf8' });
      return { status: 0, out };
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      return { status: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CA key standing in for a group's: its secret, public key, and a context naming it. */
export interface TestCa {
  sk: Uint8Array;
  pk: Uint8Array;
  ctx: RequestContext;
  /** The CA certificate (DER) made by caInitMessage and signed with sk. */
  caDer: Uint8Array;
  sign(tbs: Uint8Array): Uint8Array;
}

export function testCa(
  seed = 7,
  subject = 'CN=Conclave Test CA, O=Acme',
  now = new Date(),
): TestCa {
  const sk = new Uint8Array(32).fill(seed);
  const pk = ed25519.getPublicKey(sk);
  const msg = caInitMessage({ subject, days: 3650, groupKey: pk, now, random });
  const tbs = tbsOf(msg);
  const caDer = assembleSigned(tbs, ed25519.sign(tbs, sk));
  return {
    sk,
    pk,
    ctx: { ...ctx({ scheme: 'ed25519' }), publicKey: bytesToHex(pk) } as RequestContext,
    caDer,
    sign: (t) => assembleSigned(t, ed25519.sign(t, sk)),
  };
}

/** The TBS bytes a message carries. */
export function tbsOf(message: Uint8Array): Uint8Array {
  const o = JSON.parse(new TextDecoder().decode(message)) as { tbs: string };
  return base64.decode(o.tbs);
}

/** A message with one of its fields replaced (still canonical JSON). */
export function withField(
  message: Uint8Array,
  field: string,
  value: Uint8Array | string,
): Uint8Array {
  const o = JSON.parse(new TextDecoder().decode(message)) as Record<string, unknown>;
  o[field] = typeof value === 'string' ? value : base64.encode(value);
  const sorted = Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
  return new TextEncoder().encode(JSON.stringify(sorted));
}

export { hexToBytes };
