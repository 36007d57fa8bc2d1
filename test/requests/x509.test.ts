// The 'x509' request kind: every approver reads the TBS from the message itself; the card shows what
// is signed (subject, names, validity in words, usages, constraints, serial, a CA certificate for
// init); wrong issuers, other algorithms, CA:TRUE from a CSR, a CSR's bad self-signature, a key
// that is not the CSR's and malformed bytes are refused; execution signs the TBS; result is PEM.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { AlgorithmIdentifier, TBSCertificate } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import { x509, lifetimeWords, type X509Params } from '../../shared/requests/x509.js';
import { RequestParamError, type RequestCard } from '../../shared/requests/types.js';
import {
  buildTbsCertificate,
  DAY_MS,
  keyIdentifier,
  readCertificate,
} from '../../shared/x509/cert.js';
import {
  caInitMessage,
  caRevokeMessage,
  caSignMessage,
  encodeX509Message,
} from '../../shared/x509/ca.js';
import { parseCsr } from '../../shared/x509/csr.js';
import { parseDer, serializeDer, toPem } from '../../shared/x509/der.js';
import { akiExt, basicConstraintsExt, keyUsageExt, skiExt } from '../../shared/x509/extensions.js';
import { parseNameText } from '../../shared/x509/name.js';
import { opensslCsr, openssl, random, tbsOf, testCa, withField } from '../x509/helpers.js';
import { ctx as baseCtx } from './fixtures.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const ca = testCa(7, 'CN=Conclave Test CA, O=Acme', new Date(NOW.getTime() - 30 * DAY_MS));
const csr = opensslCsr(
  'ed25519',
  '/CN=www.example.test/O=Acme',
  'DNS:www.example.test,DNS:api.example.test',
);
const ecCsr = opensslCsr('ec', '/CN=ec.example.test', 'DNS:ec.example.test,IP:10.1.2.3');

const signMsg = (over: Partial<Parameters<typeof caSignMessage>[0]> = {}) =>
  caSignMessage({
    ca: ca.caDer,
    csr: csr.der,
    days: 90,
    groupKey: ca.pk,
    now: NOW,
    random,
    ...over,
  });

function refused(f: () => unknown, field: string, text: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).field).toBe(field);
    expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error(`not refused (${field})`);
}

function field(card: RequestCard, label: string): string {
  const f = card.fields.find((x) => x.label === label);
  if (!f) throw new Error(`no field ${label} on the card`);
  return f.value;
}

/** A sign message whose TBS is this one, the CSR and CA left as they are. */
function tbsMsg(tbs: Uint8Array, csrDer = csr.der): Uint8Array {
  return encodeX509Message({ v: 1, op: 'sign', tbs, csr: csrDer, ca: ca.caDer });
}

const leaf = (over: Partial<Parameters<typeof buildTbsCertificate>[0]> = {}) => {
  const c = parseCsr(csr.der);
  return buildTbsCertificate({
    serial: Uint8Array.of(0x11, 0x22),
    issuer: readCertificate(ca.caDer, ca.pk).tbs.subject,
    subject: c.subject,
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 30 * DAY_MS),
    spkiDer: c.spkiDer,
    extensions: [
      basicConstraintsExt(false),
      keyUsageExt(['digitalSignature']),
      akiExt(keyIdentifier(ca.pk)),
    ],
    ...over,
  });
};

describe("the 'x509' request kind: init", () => {
  const msg = caInitMessage({
    subject: 'CN=Acme Root CA, O=Acme',
    days: 3650,
    groupKey: ca.pk,
    now: NOW,
    random,
  });

  it('shows a CA certificate: subject, validity in words, key usages, CA:TRUE, serial, the group key', () => {
    const p = x509.parse(msg, ca.ctx);
    const card = x509.decode(p, ca.ctx);
    expect(card.title).toBe(
      'Create the certificate authority “Acme Root CA” with the key of “Treasury”',
    );
    expect(field(card, 'Certificate')).toMatch(
      /^CA certificate \(self-signed root\): it can issue certificates/,
    );
    expect(field(card, 'Subject')).toBe('CN=Acme Root CA, O=Acme');
    expect(field(card, 'Valid from')).toBe('2026-03-01 11:55:00 UTC');
    expect(field(card, 'Lifetime')).toBe('3650 days (about 10 years)');
    expect(field(card, 'Key usages')).toBe('Digital Signature, Certificate Sign, CRL Sign');
    expect(field(card, 'Basic constraints')).toMatch(
      /^CA: yes, it can issue certificates \(path length 0/,
    );
    expect(field(card, 'Serial')).toBe(p.cert!.serialHex);
    expect(field(card, 'Key')).toContain(bytesToHex(ca.pk));
    expect(card.warnings?.join(' ')).toMatch(/trusts every certificate the group signs/);
  });

  it('signs exactly the TBS bytes, and its result is a CA certificate openssl reads', () => {
    const p = x509.parse(msg, ca.ctx);
    const exec = x509.execution!(p, ca.ctx);
    expect(exec).toEqual({ op: 'sign', parts: [{ message: tbsOf(msg) }] });
    const art = x509.result!(p, { signatures: [ed25519.sign(tbsOf(msg), ca.sk)] }, ca.ctx);
    expect(art.name).toBe('ca.pem');
    const text = openssl((d) => ['x509', '-in', `${d}/ca.pem`, '-noout', '-text'], {
      'ca.pem': art.text!,
    });
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/Subject: CN = Acme Root CA, O = Acme/);
    expect(text.out).toMatch(/CA:TRUE, pathlen:0/);
    // A signature by another key is not a result.
    refused(
      () => x509.result!(p, { signatures: [ed25519.sign(tbsOf(msg), testCa(3).sk)] }, ca.ctx),
      'signature',
      /is not the group key's signature/,
    );
  });

  it("refuses a CA certificate for another key than the group's, or without CA:TRUE", () => {
    const other = testCa(4);
    const foreign = caInitMessage({
      subject: 'CN=X',
      days: 10,
      groupKey: other.pk,
      now: NOW,
      random,
    });
    refused(() => x509.parse(foreign, ca.ctx), 'tbs.publicKey', /must be the group's own key/);
    const name = parseNameText('CN=X');
    const notCa = buildTbsCertificate({
      serial: Uint8Array.of(1),
      issuer: name,
      subject: name,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + DAY_MS),
      spkiDer: readCertificate(ca.caDer, ca.pk).tbs.spkiDer,
      extensions: [basicConstraintsExt(false), skiExt(keyIdentifier(ca.pk))],
    });
    refused(
      () => x509.parse(encodeX509Message({ v: 1, op: 'init', tbs: notCa }), ca.ctx),
      'tbs.basicConstraints',
      /must say CA:TRUE/,
    );
  });
});

describe("the 'x509' request kind: sign", () => {
  it('shows the subject, SANs, validity, usages, CA:FALSE, serial, issuer and the CSR key', () => {
    const msg = signMsg();
    const p = x509.parse(msg, ca.ctx);
    const card = x509.decode(p, ca.ctx);
    expect(card.title).toBe('Issue a certificate for “www.example.test” from the CA of “Treasury”');
    expect(card.summary).toBe(
      'Sign a certificate for CN=www.example.test, O=Acme (DNS:www.example.test, DNS:api.example.test), valid 90 days, issued by CN=Conclave Test CA, O=Acme.',
    );
    expect(field(card, 'Subject')).toBe('CN=www.example.test, O=Acme');
    expect(field(card, 'Alternative names')).toBe('DNS:www.example.test, DNS:api.example.test');
    expect(field(card, 'Valid from')).toBe('2026-03-01 11:55:00 UTC');
    expect(field(card, 'Valid until')).toBe('2026-05-30 11:55:00 UTC');
    expect(field(card, 'Lifetime')).toBe('90 days');
    expect(field(card, 'Key usages')).toBe('Digital Signature');
    expect(field(card, 'Extended key usages')).toBe(
      'TLS server (serverAuth), TLS client (clientAuth)',
    );
    expect(field(card, 'Basic constraints')).toMatch(/^CA: no/);
    expect(field(card, 'Issuer')).toBe('CN=Conclave Test CA, O=Acme');
    expect(field(card, 'Subject key')).toMatch(/^Ed25519, SHA-256 [0-9a-f]{64}/);
    expect(card.warnings).toBeUndefined();
  });

  it('accepts an EC CSR and shows its IP name; the certificate verifies under the CA with openssl', () => {
    const msg = signMsg({ csr: ecCsr.der });
    const p = x509.parse(msg, ca.ctx);
    const card = x509.decode(p, ca.ctx);
    expect(field(card, 'Alternative names')).toBe('DNS:ec.example.test, IP:10.1.2.3');
    expect(field(card, 'Subject key')).toMatch(/^ECDSA P-256/);
    const art = x509.result!(p, { signatures: [ed25519.sign(p.tbs, ca.sk)] }, ca.ctx);
    expect(art.name).toBe('cert.pem');
    const files = { 'ca.pem': toPem('CERTIFICATE', ca.caDer), 'cert.pem': art.text! };
    // The dates are in March 2026: check at a time inside them.
    const at = String(Math.floor(NOW.getTime() / 1000) + 3600);
    const v = openssl(
      (d) => ['verify', '-attime', at, '-CAfile', `${d}/ca.pem`, `${d}/cert.pem`],
      files,
    );
    expect(v.out).toMatch(/cert\.pem: OK/);
  });

  it("refuses a TBS whose issuer is not the group's CA", () => {
    refused(
      () => x509.parse(tbsMsg(leaf({ issuer: parseNameText('CN=Evil CA') })), ca.ctx),
      'tbs.issuer',
      /must be the group's CA CN=Conclave Test CA, O=Acme, got CN=Evil CA/,
    );
  });

  it('refuses a CA certificate that the group key did not sign (same name, other key)', () => {
    const impostor = testCa(5);
    const msg = withField(signMsg(), 'ca', impostor.caDer);
    refused(() => x509.parse(msg, ca.ctx), 'ca.signature', /is not this group's signature/);
  });

  it('refuses a signature algorithm other than Ed25519', () => {
    const t = parseDer(leaf(), TBSCertificate, 'tbs', 'a TBSCertificate');
    t.signature = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11' });
    refused(
      () => x509.parse(tbsMsg(serializeDer(t)), ca.ctx),
      'tbs.signature',
      /signature algorithm must be Ed25519 \(1\.3\.101\.112\)/,
    );
  });

  it('refuses CA:TRUE for a certificate from a CSR', () => {
    refused(
      () =>
        x509.parse(
          tbsMsg(
            leaf({
              extensions: [
                basicConstraintsExt(true),
                keyUsageExt(['keyCertSign']),
                akiExt(keyIdentifier(ca.pk)),
              ],
            }),
          ),
          ca.ctx,
        ),
      'tbs.basicConstraints',
      /CA:TRUE is only for the CA certificate itself/,
    );
  });

  it('refuses a validity that ends before it starts', () => {
    refused(
      () => x509.parse(tbsMsg(leaf({ notAfter: new Date(NOW.getTime() - DAY_MS) })), ca.ctx),
      'tbs.validity',
      /ends \(2026-02-28T12:00:00\.000Z\) before it starts \(2026-03-01T12:00:00\.000Z\)/,
    );
  });

  it("refuses a key that is not the CSR's, and a CSR whose self-signature is bad", () => {
    refused(
      () => x509.parse(tbsMsg(leaf(), ecCsr.der), ca.ctx),
      'tbs.publicKey',
      /is not the CSR's key/,
    );
    const bad = csr.der.slice();
    bad[bad.length - 1]! ^= 0x80;
    refused(() => x509.parse(tbsMsg(leaf(), bad), ca.ctx), 'csr.signature', /bad self-signature/);
  });

  it('warns when the subject or names are not what the CSR asked for', () => {
    const p = x509.parse(tbsMsg(leaf({ subject: parseNameText('CN=other.example.test') })), ca.ctx);
    const w = x509.decode(p, ca.ctx).warnings!.join(' ');
    expect(w).toMatch(
      /The subject is not the one the CSR asks for \(CN=www\.example\.test, O=Acme\)/,
    );
    expect(w).toMatch(/alternative names are not the ones the CSR asks for/);
  });

  it('warns when the subject has letters outside ASCII that can look like Latin ones', () => {
    const p = x509.parse(
      tbsMsg(leaf({ subject: parseNameText('CN=www.\u0435xample.test') })),
      ca.ctx,
    );
    expect(x509.decode(p, ca.ctx).warnings!.join(' ')).toMatch(
      /outside plain ASCII \(CN=www\.U\+0435xample\.test\)/,
    );
  });

  it('refuses malformed messages: not canonical JSON, unknown fields, bad base64, bad DER, another scheme, no group key', () => {
    const msg = signMsg();
    const text = new TextDecoder().decode(msg);
    refused(() => x509.parse(utf8ToBytes(` ${text}`), ca.ctx), 'message', /is not canonical JSON/);
    refused(
      () => x509.parse(withField(msg, 'extra', 'x'), ca.ctx),
      'message',
      /has unknown field "extra"/,
    );
    refused(
      () => x509.parse(withField(msg, 'op', 'burn'), ca.ctx),
      'op',
      /must be one of "init", "sign", "revoke"/,
    );
    refused(() => x509.parse(withField(msg, 'tbs', 'not base64!'), ca.ctx), 'tbs', /is not base64/);
    refused(
      () => x509.parse(withField(msg, 'tbs', random(64)), ca.ctx),
      'tbs',
      /^tbs: is not a TBSCertificate/,
    );
    refused(
      () => x509.parse(withField(msg, 'csr', random(64)), ca.ctx),
      'csr',
      /^csr: is not a certificate signing request/,
    );
    refused(
      () => x509.parse(msg, { ...ca.ctx, scheme: 'secp256k1' }),
      'group',
      /ed25519 groups only/,
    );
    refused(
      () => x509.parse(msg, baseCtx({ scheme: 'ed25519' })),
      'group',
      /does not know the group's Ed25519 public key/,
    );
  });
});

describe("the 'x509' request kind: revoke", () => {
  const cert = ca.sign(tbsOf(signMsg()));
  const revoked = readCertificate(cert, ca.pk).tbs;

  it('shows the certificate revoked, its serial, the CRL number and the next update', () => {
    const msg = caRevokeMessage({
      ca: ca.caDer,
      cert,
      days: 7,
      groupKey: ca.pk,
      now: NOW,
      previous: undefined,
    });
    const p = x509.parse(msg, ca.ctx);
    const card = x509.decode(p, ca.ctx);
    expect(card.title).toBe('Revoke the certificate for “www.example.test” (CA of “Treasury”)');
    expect(field(card, 'Revokes')).toBe('CN=www.example.test, O=Acme');
    expect(field(card, 'Its serial')).toBe(revoked.serialHex);
    expect(field(card, 'CRL number')).toBe('1');
    expect(field(card, 'Next update')).toBe('2026-03-08 12:00:00 UTC (in 7 days)');
    const art = x509.result!(p, { signatures: [ed25519.sign(p.tbs, ca.sk)] }, ca.ctx);
    expect(art.name).toBe('crl.pem');
    expect(art.text).toMatch(/^-----BEGIN X509 CRL-----/);
  });

  it('refuses a CRL that does not list the certificate it says it revokes', () => {
    const other = ca.sign(tbsOf(signMsg({ csr: ecCsr.der })));
    const msg = caRevokeMessage({
      ca: ca.caDer,
      cert: other,
      days: 7,
      groupKey: ca.pk,
      now: NOW,
      previous: undefined,
    });
    refused(
      () => x509.parse(withField(msg, 'cert', cert), ca.ctx),
      'tbs.revoked',
      /does not list the certificate being revoked/,
    );
  });
});

describe("the 'x509' request kind: policy limits", () => {
  const lim = x509.limits!;
  const p: X509Params = x509.parse(signMsg(), ca.ctx);

  it('validates limits strictly', () => {
    expect(lim.validate({ maxDays: 90, names: ['example.test'] })).toEqual({
      maxDays: 90,
      names: ['example.test'],
    });
    refused(() => lim.validate({ maxDays: 0 }), 'limits.x509.maxDays', /must be from 1/);
    refused(
      () => lim.validate({ names: ['Bad_Name'] }),
      'limits.x509.names[0]',
      /not a lowercase DNS name/,
    );
    refused(() => lim.validate({ other: 1 }), 'limits.x509', /unknown field "other"/);
  });

  it('bounds lifetimes and names, and says so in words', () => {
    expect(lim.check(p, { maxDays: 90 }, ca.ctx)).toBeUndefined();
    expect(lim.check(p, { maxDays: 30 }, ca.ctx)).toBe(
      "The group's policy issues certificates valid for at most 30 days; this one is valid for 90 days.",
    );
    expect(lim.check(p, { names: ['example.test'] }, ca.ctx)).toBeUndefined();
    expect(lim.check(p, { names: ['internal.test'] }, ca.ctx)).toMatch(
      /the common name "www\.example\.test" is not/,
    );
    const withIp = x509.parse(signMsg({ csr: ecCsr.der }), ca.ctx);
    expect(lim.check(withIp, { names: ['example.test'] }, ca.ctx)).toMatch(
      /no IP address names \(IP:10\.1\.2\.3\)/,
    );
    expect(lim.describe({ maxDays: 90, names: ['example.test'] })).toEqual([
      'X.509 certificates are valid for at most 90 days.',
      'X.509 certificates may name only DNS names within example.test (no IP addresses or URIs).',
    ]);
  });

  it('words lifetimes', () => {
    expect(lifetimeWords(12 * 3_600_000)).toBe('12 hours');
    expect(lifetimeWords(DAY_MS)).toBe('1 day');
    expect(lifetimeWords(365 * DAY_MS)).toBe('365 days (about 1 year)');
  });
});
