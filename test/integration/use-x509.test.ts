// The X.509 CA on a real 2-of-2 ed25519 group (two node processes, one DKG), through the CLI as a
// user runs it, with openssl as the standard tool: `ca init` makes the CA certificate, `ca sign`
// issues certificates from openssl's CSRs (Ed25519 and EC keys) that `openssl verify` accepts,
// `ca revoke` publishes CRLs that make `openssl verify -crl_check` reject the revoked ones (each CRL
// listing every certificate revoked so far); Bob's node decodes every card from the request's bytes,
// and it shows what `openssl x509 -text` shows. A request whose TBS names another issuer is refused.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { encodeX509Message } from '../../shared/x509/ca.js';
import { buildTbsCertificate, DAY_MS, keyIdentifier } from '../../shared/x509/cert.js';
import { parseCsr } from '../../shared/x509/csr.js';
import { fromPem } from '../../shared/x509/der.js';
import { akiExt, basicConstraintsExt } from '../../shared/x509/extensions.js';
import { parseNameText } from '../../shared/x509/name.js';
import { formGroup, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';

/** openssl's exit code and output (stdout and stderr together). */
function openssl(args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('openssl', args, { stdio: 'pipe', encoding: 'utf8' }) };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('X.509 CA with an ed25519 group', () => {
  const tmp = tempRoot('conclave-x509-');
  const [alice, bob] = ['alice', 'bob'].map((n) => new TestNode(n, tmp.root));
  const f = (name: string) => join(tmp.root, name);
  let groupKey: string;
  const decided = new Set<string>();

  /** Bob waits for the next x509 request, reads it as his node shows it, and approves it. */
  async function bobApproves(): Promise<RequestView> {
    const r = await waitFor(
      'an x509 request on bob',
      async () =>
        (await bob.api('request.list', {})).find(
          (x) => x.kind === 'x509' && x.status === 'pending' && !decided.has(x.id),
        ),
      60_000,
    );
    decided.add(r.id);
    const shown = await bob.api('request.show', { id: r.id });
    await bob.api('request.approve', { id: r.id });
    return shown;
  }

  /** Alice runs a ca command that waits for the approvals (--approve --out); Bob approves. */
  async function approved(args: string[]): Promise<RequestView> {
    const [run, card] = await Promise.all([
      alice.cli(['ca', ...args, '--group', 'pki', '--approve']),
      bobApproves(),
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    return card;
  }

  const field = (r: RequestView, label: string) =>
    r.card?.fields.find((x) => x.label === label)?.value;

  /** A CSR made by openssl with a fresh key. */
  function csr(name: string, keyArgs: string[], subj: string, san?: string): string {
    const r = openssl([
      'req',
      '-new',
      ...keyArgs,
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-subj',
      subj,
      ...(san ? ['-addext', `subjectAltName=${san}`] : []),
      '-out',
      f(`${name}.csr`),
    ]);
    expect(r.code, r.out).toBe(0);
    return f(`${name}.csr`);
  }

  beforeAll(async () => {
    await Promise.all([alice, bob].map((n) => n.init()));
    await Promise.all([alice, bob].map((n) => n.start()));
    const { groups } = await formGroup(alice, [bob], {
      name: 'pki',
      threshold: 2,
      scheme: 'ed25519',
    });
    groupKey = groups[0]!.publicKey!;
  }, 180_000);

  afterAll(async () => {
    await Promise.all([alice, bob].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('makes the CA certificate after approval; the card says it is a CA certificate', async () => {
    const card = await approved([
      'init',
      '--subject',
      'CN=Conclave Test Root CA, O=Acme',
      '--days',
      '3650',
      '--out',
      f('ca.pem'),
    ]);
    expect(card.card?.title).toBe(
      'Create the certificate authority “Conclave Test Root CA” with the key of “pki”',
    );
    expect(field(card, 'Certificate')).toMatch(/^CA certificate/);
    expect(field(card, 'Lifetime')).toBe('3650 days (about 10 years)');
    expect(field(card, 'Key')).toContain(groupKey);
    const text = openssl(['x509', '-in', f('ca.pem'), '-noout', '-text']);
    expect(text.code, text.out).toBe(0);
    expect(text.out).toMatch(/Subject: CN = Conclave Test Root CA, O = Acme/);
    expect(text.out).toMatch(/CA:TRUE, pathlen:0/);
    expect(text.out).toMatch(/Serial Number:\s+([0-9a-f:]+)/);
    expect(text.out).toContain(field(card, 'Serial')!);
    // The CA certificate verifies as its own root.
    expect(openssl(['verify', '-CAfile', f('ca.pem'), f('ca.pem')]).code).toBe(0);
  });

  it('issues certificates from openssl CSRs (Ed25519 and EC) that openssl verify accepts', async () => {
    const edCsr = csr(
      'web',
      ['-newkey', 'ed25519'],
      '/CN=www.example.test/O=Acme',
      'DNS:www.example.test,DNS:example.test,IP:127.0.0.1',
    );
    const card = await approved(['sign', '--csr', edCsr, '--days', '90', '--out', f('web.pem')]);
    expect(card.card?.title).toBe(
      'Issue a certificate for “www.example.test” from the CA of “pki”',
    );
    expect(field(card, 'Lifetime')).toBe('90 days');
    expect(field(card, 'Basic constraints')).toMatch(/^CA: no/);
    const v = openssl(['verify', '-CAfile', f('ca.pem'), f('web.pem')]);
    expect(v.out).toMatch(/web\.pem: OK/);
    expect(v.code).toBe(0);
    // What openssl reads in the certificate is what Bob's card showed.
    const text = openssl(['x509', '-in', f('web.pem'), '-noout', '-text']).out;
    expect(field(card, 'Subject')).toBe('CN=www.example.test, O=Acme');
    expect(text).toMatch(/Subject: CN = www\.example\.test, O = Acme/);
    expect(field(card, 'Alternative names')).toBe(
      'DNS:www.example.test, DNS:example.test, IP:127.0.0.1',
    );
    expect(text).toMatch(/DNS:www\.example\.test, DNS:example\.test, IP Address:127\.0\.0\.1/);
    expect(text).toContain(field(card, 'Serial')!);
    expect(text).toMatch(/Issuer: CN = Conclave Test Root CA, O = Acme/);
    expect(text).toMatch(new RegExp(`Key Usage: critical\\s+${field(card, 'Key usages')}`));

    const ecCsr = csr(
      'api',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/CN=api.example.test',
    );
    const ecCard = await approved(['sign', '--csr', ecCsr, '--days', '30', '--out', f('api.pem')]);
    expect(field(ecCard, 'Subject key')).toMatch(/^ECDSA P-256/);
    expect(openssl(['verify', '-CAfile', f('ca.pem'), f('api.pem')]).code).toBe(0);
  });

  it('revokes: each CRL lists every certificate revoked so far, and openssl -crl_check rejects them', async () => {
    const card = await approved(['revoke', '--cert', f('web.pem'), '--out', f('crl1.pem')]);
    expect(field(card, 'Revokes')).toBe('CN=www.example.test, O=Acme');
    expect(field(card, 'CRL number')).toBe('1');
    const check = (cert: string, crl: string) =>
      openssl(['verify', '-crl_check', '-CRLfile', f(crl), '-CAfile', f('ca.pem'), f(cert)]);
    const revoked = check('web.pem', 'crl1.pem');
    expect(revoked.code).not.toBe(0);
    expect(revoked.out).toMatch(/certificate revoked/);
    expect(check('api.pem', 'crl1.pem').code).toBe(0);

    const second = await approved(['revoke', '--cert', f('api.pem'), '--out', f('crl2.pem')]);
    expect(field(second, 'CRL number')).toBe('2');
    expect(field(second, 'Also revoked (already)')).toBe(field(card, 'Its serial'));
    expect(check('web.pem', 'crl2.pem').out).toMatch(/certificate revoked/);
    expect(check('api.pem', 'crl2.pem').out).toMatch(/certificate revoked/);

    // Bob rebuilds the same CA state from the group's finished requests (once the second is
    // done on his node too: alice's command returns when it is done on hers).
    await requestStatus(bob, second.id, 'done');
    const shown = await bob.cliJson<{ crlNumber: number; revoked: unknown[] }>([
      'ca',
      'show',
      '--group',
      'pki',
      '--out',
      f('ca-bob.pem'),
      '--crl',
      f('crl-bob.pem'),
    ]);
    expect(shown.crlNumber).toBe(2);
    expect(shown.revoked).toHaveLength(2);
    expect(readFileSync(f('ca-bob.pem'), 'utf8')).toBe(readFileSync(f('ca.pem'), 'utf8'));
    expect(readFileSync(f('crl-bob.pem'), 'utf8')).toBe(readFileSync(f('crl2.pem'), 'utf8'));
  });

  it('refuses, before anyone is asked, a TBS that names another issuer, a CSR with a bad self-signature, a second CA without --replace', async () => {
    const ca = fromPem(readFileSync(f('ca.pem'), 'utf8'), ['CERTIFICATE'], 'ca');
    const csrDer = fromPem(readFileSync(f('web.csr'), 'utf8'), ['CERTIFICATE REQUEST'], 'csr');
    const c = parseCsr(csrDer);
    const tbs = buildTbsCertificate({
      serial: Uint8Array.of(0x33),
      issuer: parseNameText('CN=Someone Else CA'),
      subject: c.subject,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + DAY_MS),
      spkiDer: c.spkiDer,
      extensions: [basicConstraintsExt(false), akiExt(keyIdentifier(new Uint8Array(32)))],
    });
    await expect(
      alice.api('request.create', {
        group: 'pki',
        kind: 'x509',
        message: bytesToHex(encodeX509Message({ v: 1, op: 'sign', tbs, csr: csrDer, ca })),
      }),
    ).rejects.toThrow(
      /tbs\.issuer: must be the group's CA CN=Conclave Test Root CA, O=Acme, got CN=Someone Else CA/,
    );

    const bad = csrDer.slice();
    bad[bad.length - 1]! ^= 0x01;
    writeFileSync(f('bad.csr'), bad);
    const r = await alice.cli([
      'ca',
      'sign',
      '--group',
      'pki',
      '--csr',
      f('bad.csr'),
      '--days',
      '1',
    ]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--csr: csr\.signature: the request is not signed by its own key/);
    const again = await alice.cli([
      'ca',
      'init',
      '--group',
      'pki',
      '--subject',
      'CN=Other',
      '--days',
      '9',
    ]);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(
      /pki already has a CA certificate \(CN=Conclave Test Root CA, O=Acme/,
    );
    expect((await bob.api('request.list', {})).filter((x) => x.kind === 'x509')).toHaveLength(5);
  });
});
