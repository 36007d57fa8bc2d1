// The 'ssh' request kind: what its message carries, how each of the three signable things is read
// from the exact bytes (login, SSHSIG, certificate), the cards, the signature, the result and the
// policy limits; and every other kind of bytes refused.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { parseRequest, requesterExcluded } from '../../shared/requests/index.js';
import {
  encodeSshMessage,
  ssh,
  validityWords,
  type SshMessageInput,
} from '../../shared/requests/ssh.js';
import { RequestParamError, type RequestContext } from '../../shared/requests/types.js';
import { parseCertTbs, sshsigData } from '../../shared/ssh/signed.js';
import { SshWriter, ed25519Blob, fingerprint, publicKeyBlob } from '../../shared/ssh/wire.js';
import { ctx } from './fixtures.js';
import {
  ED_BLOB as BLOB,
  ED_KEY as KEY,
  ED_SK as SK,
  HOST_BLOB,
  HOST_SK,
  SESSION_ID as SID,
  SSH_NOW as NOW,
  sigBlob,
  sshBind as bind,
  sshCert as cert,
  sshLogin as login,
} from './use-fixtures.js';

function sctx(over: Partial<RequestContext> = {}): RequestContext {
  return {
    ...ctx({ scheme: 'ed25519', groupName: 'ops' }),
    publicKey: bytesToHex(KEY),
    ...over,
  } as RequestContext;
}

const msg = (m: Partial<SshMessageInput> & { data: Uint8Array }) =>
  encodeSshMessage({ key: KEY, ...m });
const fields = (c: { fields: { label: string; value: string }[] }) =>
  Object.fromEntries(c.fields.map((f) => [f.label, f.value]));

function refused(f: () => unknown, field: string, text?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).field).toBe(field);
    if (text) expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error(`not refused (${field})`);
}

describe("the 'ssh' request kind", () => {
  it('reads a login with its session-bind: user, server host key, key; signs exactly its bytes', () => {
    const data = login();
    const p = ssh.parse(msg({ data, bind: bind() }), sctx());
    expect(p.signed.type).toBe('login');
    const card = ssh.decode(p, sctx());
    const f = fields(card);
    expect(card.title).toBe('Log in over SSH as “alice” with the key of “ops”');
    expect(f.User).toBe('alice');
    expect(f['Server host key']).toBe(`${fingerprint(HOST_BLOB)} (ssh-ed25519)`);
    expect(f.Key).toContain(fingerprint(BLOB));
    expect(card.warnings).toBeUndefined();
    expect(ssh.execution!(p, sctx())).toEqual({ op: 'sign', parts: [{ message: data }] });
  });

  it('warns when the login has no session-bind, or comes through a forwarded agent', () => {
    const none = ssh.decode(ssh.parse(msg({ data: login() }), sctx()), sctx());
    expect(fields(none)['Server host key']).toMatch(/unknown/);
    expect(none.warnings?.join(' ')).toMatch(/no session-bind/);
    const fwd = ssh.decode(
      ssh.parse(msg({ data: login(), bind: bind({ forwarding: true }) }), sctx()),
      sctx(),
    );
    expect(fwd.warnings?.join(' ')).toMatch(/forwarded agent/);
  });

  it('verifies the host key signature over the session id (ed25519 and ECDSA), as OpenSSH does', () => {
    refused(
      () =>
        ssh.parse(
          msg({
            data: login(),
            bind: bind({
              signature: sigBlob('ssh-ed25519', ed25519.sign(new Uint8Array(32), HOST_SK)),
            }),
          }),
          sctx(),
        ),
      'bind.signature',
    );
    const ecSk = p256.utils.randomSecretKey();
    const ecKey = publicKeyBlob('ecdsa-sha2-nistp256', [
      utf8ToBytes('nistp256'),
      p256.getPublicKey(ecSk, false),
    ]);
    const rs = p256.sign(SID, ecSk);
    const mp = (b: Uint8Array) => (b[0]! & 0x80 ? Uint8Array.from([0, ...b]) : b);
    const ecSig = sigBlob(
      'ecdsa-sha2-nistp256',
      new SshWriter()
        .string(mp(rs.subarray(0, 32)))
        .string(mp(rs.subarray(32)))
        .bytes(),
    );
    const p = ssh.parse(
      msg({ data: login(), bind: bind({ hostKey: ecKey, signature: ecSig }) }),
      sctx(),
    );
    expect(fields(ssh.decode(p, sctx()))['Server host key']).toContain('ecdsa-sha2-nistp256');
  });

  it('refuses a login for another session than the bound one, another host key, or another key', () => {
    refused(
      () =>
        ssh.parse(
          msg({ data: login({ sid: sha256(utf8ToBytes('other')) }), bind: bind() }),
          sctx(),
        ),
      'bind.sessionId',
    );
    const otherHost = ed25519Blob(ed25519.getPublicKey(new Uint8Array(32).fill(1)));
    refused(
      () => ssh.parse(msg({ data: login({ hostKey: otherHost }), bind: bind() }), sctx()),
      'data',
      /another host key/,
    );
    // publickey-hostbound with the bound host key is fine.
    ssh.parse(msg({ data: login({ hostKey: HOST_BLOB }), bind: bind() }), sctx());
    const other = ed25519Blob(ed25519.getPublicKey(new Uint8Array(32).fill(5)));
    refused(
      () => ssh.parse(msg({ data: login({ key: other }) }), sctx()),
      'data',
      /not the group's key/,
    );
    refused(
      () => ssh.parse(msg({ data: login({ alg: 'rsa-sha2-256' }) }), sctx()),
      'data',
      /algorithm/,
    );
    // The message's key must be the group's own (from the node's context).
    refused(
      () =>
        ssh.parse(
          msg({ data: login() }),
          sctx({ publicKey: '11'.repeat(32) } as Partial<RequestContext>),
        ),
      'key',
    );
  });

  it('reads a certificate: key id, principals, validity in words, options, extensions, subject key', () => {
    const data = cert();
    const p = ssh.parse(msg({ data }), sctx());
    const card = ssh.decode(p, sctx());
    const f = fields(card);
    expect(card.title).toBe('Issue an SSH user certificate “alice@laptop” with the key of “ops”');
    expect(f['Key id']).toBe('alice@laptop');
    expect(f.Principals).toBe('alice, deploy');
    expect(f.Validity).toBe('from 2027-01-15 08:00:00Z until 2027-01-15 16:00:00Z (8 hours)');
    expect(f['Critical options']).toBe('force-command=/bin/true');
    expect(f.Extensions).toBe('permit-pty');
    expect(f['Subject key']).toBe(`${fingerprint(parseCertTbs(data).subjectKey)} (ssh-ed25519)`);
    expect(card.danger).toBeUndefined();
  });

  it('flags a certificate for any principal or forever, and a host certificate', () => {
    const any = ssh.decode(
      ssh.parse(
        msg({ data: cert({ principals: [], after: 0n, before: 0xffffffffffffffffn }) }),
        sctx(),
      ),
      sctx(),
    );
    expect(any.danger).toBe(true);
    expect(any.warnings?.join(' ')).toMatch(/ANY user name.*never expires/);
    expect(fields(any).Validity).toBe('forever (no start, no end)');
    const host = ssh.decode(
      ssh.parse(msg({ data: cert({ role: 2, principals: ['db1.example'] }) }), sctx()),
      sctx(),
    );
    expect(host.title).toMatch(/host certificate/);
  });

  it('refuses a certificate signed by another key, or malformed', () => {
    const other = ed25519Blob(ed25519.getPublicKey(new Uint8Array(32).fill(5)));
    refused(
      () => ssh.parse(msg({ data: cert({ caKey: other }) }), sctx()),
      'data',
      /signature key is not the group's key/,
    );
    refused(
      () => ssh.parse(msg({ data: cert().subarray(0, 120) }), sctx()),
      'data',
      /not a valid OpenSSH certificate/,
    );
    refused(
      () => ssh.parse(msg({ data: Uint8Array.from([...cert(), 0]) }), sctx()),
      'data',
      /unexpected bytes/,
    );
    refused(
      () => ssh.parse(msg({ data: cert({ after: NOW, before: NOW - 1n }) }), sctx()),
      'data',
      /valid before/,
    );
  });

  it('reads an SSHSIG, and shows the signed file when it comes with a matching hash', () => {
    const commit =
      'tree ' +
      'a'.repeat(40) +
      '\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nFix the thing\n';
    const data = sshsigData('git', 'sha512', sha512(utf8ToBytes(commit)));
    const bare = ssh.decode(ssh.parse(msg({ data }), sctx()), sctx());
    expect(bare.warnings?.join(' ')).toMatch(/Only the hash/);
    const full = ssh.decode(ssh.parse(msg({ data, content: utf8ToBytes(commit) }), sctx()), sctx());
    expect(full.title).toMatch(/git commit/);
    expect(fields(full)['Git commit']).toBe(commit);
    refused(
      () => ssh.parse(msg({ data, content: utf8ToBytes(`${commit}x`) }), sctx()),
      'content',
      /not the hash/,
    );
    refused(
      () => ssh.parse(msg({ data: sshsigData('file', 'sha256', new Uint8Array(64)) }), sctx()),
      'data',
      /32 bytes/,
    );
  });

  it('refuses bytes that are none of the three, extra fields and non-canonical messages', () => {
    refused(
      () => ssh.parse(msg({ data: utf8ToBytes('pay 100 to mallory') }), sctx()),
      'data',
      /signs nothing else/,
    );
    refused(() => ssh.parse(msg({ data: new Uint8Array(64) }), sctx()), 'data');
    // A session-bind only goes with a login.
    refused(() => ssh.parse(msg({ data: cert(), bind: bind() }), sctx()), 'bind');
    const m = JSON.parse(new TextDecoder().decode(msg({ data: login() }))) as Record<
      string,
      unknown
    >;
    refused(
      () => ssh.parse(utf8ToBytes(canonicalJSON({ ...m, extra: 1 })), sctx()),
      'message',
      /unknown field/,
    );
    refused(
      () => ssh.parse(utf8ToBytes(JSON.stringify(m, null, 1)), sctx()),
      'message',
      /canonical/,
    );
    // Only for ed25519 groups, through the registry.
    expect(() =>
      parseRequest('ssh', msg({ data: login() }), sctx({ scheme: 'secp256k1' })),
    ).toThrow(/ed25519/);
  });

  it('results: a certificate line, an armored SSHSIG, a login signature; a wrong signature is refused', () => {
    const data = cert();
    const p = ssh.parse(msg({ data }), sctx());
    const a = ssh.result!(p, { signatures: [ed25519.sign(data, SK)] }, sctx());
    expect(a.name).toBe('id_ed25519-cert.pub');
    expect(a.text).toMatch(/^ssh-ed25519-cert-v01@openssh\.com AAAA\S+ alice@laptop\n$/);
    refused(() => ssh.result!(p, { signatures: [new Uint8Array(64)] }, sctx()), 'result');
    const sig = sshsigData('file', 'sha512', new Uint8Array(64));
    const s = ssh.result!(
      ssh.parse(msg({ data: sig }), sctx()),
      { signatures: [ed25519.sign(sig, SK)] },
      sctx(),
    );
    expect(s.text).toMatch(
      /^-----BEGIN SSH SIGNATURE-----\n[\s\S]+\n-----END SSH SIGNATURE-----\n$/,
    );
    const l = login();
    expect(
      ssh.result!(
        ssh.parse(msg({ data: l }), sctx()),
        { signatures: [ed25519.sign(l, SK)] },
        sctx(),
      ).base64,
    ).toBeDefined();
  });

  it('limits: principals, longest validity, host certificates', () => {
    const lim = ssh.limits!;
    const l = lim.validate({
      principals: ['alice', 'deploy'],
      maxValiditySec: 86400,
      hostCertificates: false,
    });
    const check = (data: Uint8Array) => lim.check(ssh.parse(msg({ data }), sctx()), l, sctx());
    expect(check(cert())).toBeUndefined();
    expect(check(cert({ principals: ['root'] }))).toMatch(/principal root/);
    expect(check(cert({ principals: [] }))).toMatch(/names no principal/);
    expect(check(cert({ before: NOW + 2n * 86400n }))).toMatch(/at most 1 day.*2 days/);
    expect(check(cert({ before: 0xffffffffffffffffn }))).toMatch(/no end/);
    expect(check(cert({ role: 2 }))).toMatch(/host certificates/);
    expect(check(login({ user: 'root' }))).toMatch(/only as alice, deploy/);
    expect(check(login())).toBeUndefined();
    expect(lim.describe(l)).toEqual([
      'SSH certificates and logins only for alice, deploy',
      'SSH certificates valid for at most 1 day',
      'no SSH host certificates',
    ]);
    expect(() => lim.validate({ principals: ['a b'] })).toThrow(RequestParamError);
    expect(() => lim.validate({ maxValiditySec: 1 })).toThrow(RequestParamError);
    expect(() => lim.validate({ other: 1 })).toThrow(/unknown field/);
  });

  it("limits: a certificate may need approvals besides its requester's own (requesterCounts: false)", () => {
    const lim = ssh.limits!;
    const off = lim.validate({ requesterCounts: false });
    expect(lim.describe(off)).toEqual([
      'an SSH certificate needs the approvals of members other than its requester',
    ]);
    const excluded = (data: Uint8Array, l: unknown) =>
      lim.requesterExcluded!(ssh.parse(msg({ data }), sctx()), l);
    expect(excluded(cert(), off)).toBe(true);
    // Logins are approved per login by design; the rule is for certificates.
    expect(excluded(login(), off)).toBe(false);
    expect(excluded(cert(), lim.validate({ requesterCounts: true }))).toBe(false);
    expect(excluded(cert(), lim.validate({}))).toBe(false);
    expect(() => lim.validate({ requesterCounts: 'no' })).toThrow(/true or false/);
    // Through the registry, from the policy in the context, as the node counts approvals.
    const policy = { ...sctx().policy, limits: { ssh: { requesterCounts: false } } };
    expect(requesterExcluded('ssh', msg({ data: cert() }), sctx({ policy }))).toBe(true);
    expect(requesterExcluded('ssh', msg({ data: cert() }), sctx())).toBe(false);
    expect(requesterExcluded('ssh', new Uint8Array([1, 2]), sctx({ policy }))).toBe(false);
  });

  it('says validity in words', () => {
    expect(validityWords(NOW, NOW + 90n * 60n)).toMatch(/\(1 hour 30 minutes\)$/);
    expect(validityWords(0n, NOW)).toMatch(/^until .* \(no start time\)$/);
    expect(validityWords(NOW, 0xffffffffffffffffn)).toMatch(/forever \(never expires\)$/);
  });
});
