// Valid example messages of each use of a key (ssh, age, x509, psbt, nostr), made for two stand-in
// group keys whose secrets the tests hold: an Ed25519 key (SSH, age, X.509) and a taproot key
// (PSBT, Nostr). Shared by the kinds' unit tests and the browser walk over the fake node.
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ageRecipient, parseAgeHeader } from '../../shared/crypto/age.js';
import { ageMessage } from '../../shared/requests/age.js';
import { nostrMessage } from '../../shared/requests/nostr.js';
import { psbtMessage } from '../../shared/requests/psbt.js';
import { encodeSshMessage, type SshBind } from '../../shared/requests/ssh.js';
import { HOSTBOUND_METHOD } from '../../shared/ssh/signed.js';
import { SshWriter, ed25519Blob } from '../../shared/ssh/wire.js';
import { DAY_MS } from '../../shared/x509/cert.js';
import { caInitMessage, caSignMessage } from '../../shared/x509/ca.js';
import { spend, taprootKey } from '../bitcoin/fixtures.js';
import { opensslCsr, random, testCa } from '../x509/helpers.js';

/** The Ed25519 stand-in for a group's key: SSH, age and X.509 examples are made for it. */
export const ED_SK = new Uint8Array(32).fill(0x42);
export const ED_KEY = ed25519.getPublicKey(ED_SK);
export const ED_BLOB = ed25519Blob(ED_KEY);
/** An SSH server's host key, and the session id it signs in its session-bind. */
export const HOST_SK = new Uint8Array(32).fill(0x17);
export const HOST_BLOB = ed25519Blob(ed25519.getPublicKey(HOST_SK));
export const SESSION_ID = sha256(utf8ToBytes('session'));

/** An SSH signature blob: string algorithm, string signature. */
export const sigBlob = (alg: string, sig: Uint8Array): Uint8Array =>
  new SshWriter().string(alg).string(sig).bytes();

/** The agent's session-bind for SESSION_ID, signed by the host key. */
export function sshBind(over: Partial<SshBind> = {}): SshBind {
  return {
    hostKey: HOST_BLOB,
    sessionId: SESSION_ID,
    signature: sigBlob('ssh-ed25519', ed25519.sign(SESSION_ID, HOST_SK)),
    forwarding: false,
    ...over,
  };
}

/** The userauth request an SSH client asks the agent to sign for a login with the group key. */
export function sshLogin(
  over: {
    user?: string;
    key?: Uint8Array;
    sid?: Uint8Array;
    hostKey?: Uint8Array;
    alg?: string;
  } = {},
): Uint8Array {
  const w = new SshWriter()
    .string(over.sid ?? SESSION_ID)
    .byte(50)
    .string(over.user ?? 'alice')
    .string('ssh-connection')
    .string(over.hostKey ? HOSTBOUND_METHOD : 'publickey')
    .bool(true)
    .string(over.alg ?? 'ssh-ed25519')
    .string(over.key ?? ED_BLOB);
  if (over.hostKey) w.string(over.hostKey);
  return w.bytes();
}

/** When the example certificate becomes valid (seconds): 2027-01-15 08:00:00Z. */
export const SSH_NOW = 1_800_000_000n;

/** The to-be-signed part of a user certificate `ssh-keygen -s` asks the group's key for. */
export function sshCert(
  over: {
    principals?: string[];
    after?: bigint;
    before?: bigint;
    caKey?: Uint8Array;
    role?: number;
    ext?: [string, string][];
    keyId?: string;
  } = {},
): Uint8Array {
  const subject = ed25519.getPublicKey(new Uint8Array(32).fill(3));
  const packed = new SshWriter();
  for (const p of over.principals ?? ['alice', 'deploy']) packed.string(p);
  const opts = (list: [string, string][]) => {
    const w = new SshWriter();
    for (const [n, v] of list)
      w.string(n).string(v ? new SshWriter().string(v).bytes() : new Uint8Array());
    return w.bytes();
  };
  const after = over.after ?? SSH_NOW;
  return new SshWriter()
    .string('ssh-ed25519-cert-v01@openssh.com')
    .string(new Uint8Array(32).fill(9))
    .string(subject)
    .u64(7n)
    .u32(over.role ?? 1)
    .string(over.keyId ?? 'alice@laptop')
    .string(packed.bytes())
    .u64(after)
    .u64(over.before ?? after + 8n * 3600n)
    .string(opts([['force-command', '/bin/true']]))
    .string(opts(over.ext ?? [['permit-pty', '']]))
    .string(new Uint8Array())
    .string(over.caKey ?? ED_BLOB)
    .bytes();
}

/** The taproot stand-in for a group's key (secret 0x07…): PSBT and Nostr examples are made for it. */
export const TR_SK = new Uint8Array(32).fill(7);
export const TR = taprootKey(7);

export interface UseExample {
  kind: 'ssh' | 'age' | 'x509' | 'psbt' | 'nostr';
  /** A short name for the example (the screenshot's): ssh-cert, ssh-login, age, … */
  name: string;
  message: Uint8Array;
}

/**
 * One valid request message of each use, as the CLI and agent write them, for the keys above,
 * dated around `now`: an SSH certificate and login, an age file to the group and someone else,
 * an X.509 server certificate and CA certificate, a PSBT with a foreign input and change, a Nostr note.
 */
export async function useExamples(now = new Date()): Promise<UseExample[]> {
  const secs = BigInt(Math.floor(now.getTime() / 1000));
  const cert = sshCert({
    keyId: 'alice@laptop (ticket OPS-2231)',
    principals: ['alice', 'deploy'],
    after: secs - 300n,
    before: secs + 8n * 3600n,
  });
  const login = sshLogin({ user: 'deploy', hostKey: HOST_BLOB });

  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(await generateX25519Identity()));
  e.addRecipient(ageRecipient(ED_KEY));
  const file = await e.encrypt(new Uint8Array(48_213).fill(0x61));
  const header = file.slice(0, parseAgeHeader(file).length);

  const ca = testCa(0x42, 'CN=Ops Root CA, O=Acme', new Date(now.getTime() - 30 * DAY_MS));
  const csr = opensslCsr(
    'ed25519',
    '/CN=www.example.test/O=Acme',
    'DNS:www.example.test,DNS:api.example.test,DNS:a-rather-long-internal-name.eu-west-1.compute.example.test',
  );

  return [
    { kind: 'ssh', name: 'ssh-cert', message: encodeSshMessage({ key: ED_KEY, data: cert }) },
    {
      kind: 'ssh',
      name: 'ssh-login',
      message: encodeSshMessage({ key: ED_KEY, data: login, bind: sshBind() }),
    },
    {
      kind: 'age',
      name: 'age',
      message: ageMessage({ name: 'payroll-2026-11.xlsx.age', size: file.length, header }),
    },
    {
      kind: 'x509',
      name: 'x509',
      message: caSignMessage({
        ca: ca.caDer,
        csr: csr.der,
        days: 90,
        groupKey: ED_KEY,
        now,
        random,
      }),
    },
    {
      kind: 'x509',
      name: 'x509-ca',
      message: caInitMessage({
        subject: 'CN=Ops Root CA, O=Acme',
        days: 3650,
        groupKey: ED_KEY,
        now,
        random,
      }),
    },
    {
      kind: 'psbt',
      name: 'psbt',
      message: psbtMessage(spend(TR, { foreign: true }).toPSBT(), 'bitcoin'),
    },
    {
      kind: 'nostr',
      name: 'nostr',
      message: nostrMessage({
        pubkey: bytesToHex(schnorr.getPublicKey(TR_SK)),
        created_at: Math.floor(now.getTime() / 1000),
        kind: 1,
        tags: [
          ['t', 'conclave'],
          ['e', 'ab'.repeat(32), 'wss://relay.example.com', 'reply'],
        ],
        content:
          'Our treasury now signs with a 2-of-3 threshold key.\nNo single device holds the whole key; every note is approved by two of us.',
      }),
    },
  ];
}
