// The X.509 building blocks on their own: CSRs from openssl read strictly (self-signature checked),
// TBS certificates and CRLs built for an Ed25519 CA and read back, and malformed or non-DER bytes
// refused with the field and reason; openssl accepts what is assembled from the TBS bytes.
import { ed25519 } from '@noble/curves/ed25519.js';
import { AlgorithmIdentifier, TBSCertificate } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import {
  buildTbsCertificate,
  buildTbsCertList,
  DAY_MS,
  ed25519Spki,
  keyIdentifier,
  MAX_REVOKED,
  randomSerial,
  readCertificate,
  readTbsCertList,
  readTbsCertificate,
} from '../../shared/x509/cert.js';
import { caRevokeMessage, caSignMessage, caStateOf } from '../../shared/x509/ca.js';
import { parseCsr } from '../../shared/x509/csr.js';
import {
  fromPem,
  MAX_DER_BYTES,
  parseDer,
  serializeDer,
  toPem,
  X509Error,
} from '../../shared/x509/der.js';
import {
  akiExt,
  basicConstraintsExt,
  crlNumberExt,
  keyUsageExt,
  parseSanText,
} from '../../shared/x509/extensions.js';
import { nameText, parseNameText } from '../../shared/x509/name.js';
import { opensslCsr, openssl, random, tbsOf, testCa } from './helpers.js';

function refused(f: () => unknown, code: X509Error['code'], text: RegExp): X509Error {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(X509Error);
    expect((e as X509Error).code).toBe(code);
    expect((e as Error).message).toMatch(text);
    return e as X509Error;
  }
  throw new Error(`not refused: ${String(text)}`);
}

const edCsr = opensslCsr(
  'ed25519',
  '/CN=www.example.test/O=Acme',
  'DNS:www.example.test,DNS:example.test,IP:127.0.0.1',
);
const ecCsr = opensslCsr('ec', '/CN=api.example.test');

describe('CSRs', () => {
  it('reads an Ed25519 CSR from openssl: subject, key and requested names', () => {
    const c = parseCsr(edCsr.der);
    expect(c.subjectText).toBe('CN=www.example.test, O=Acme');
    expect(c.keyType).toBe('Ed25519');
    expect(c.publicKey.length).toBe(32);
    expect(c.sans).toEqual([
      { type: 'dns', value: 'www.example.test' },
      { type: 'dns', value: 'example.test' },
      { type: 'ip', value: '127.0.0.1' },
    ]);
  });

  it('reads an ECDSA P-256 CSR (its DER signature checked)', () => {
    const c = parseCsr(ecCsr.der);
    expect(c.subjectText).toBe('CN=api.example.test');
    expect(c.keyType).toBe('ECDSA P-256');
    expect(c.sans).toEqual([]);
  });

  it('refuses a CSR whose self-signature is bad', () => {
    for (const der of [edCsr.der, ecCsr.der]) {
      const bad = der.slice();
      bad[bad.length - 5]! ^= 0x01;
      refused(() => parseCsr(bad), 'bad_signature', /^csr\.signature: .*bad self-signature/);
    }
  });

  it('refuses a CSR whose subject was changed after it was signed', () => {
    const bad = edCsr.der.slice();
    const at = Buffer.from(bad).indexOf('www.example.test');
    bad[at] = 'v'.charCodeAt(0);
    refused(() => parseCsr(bad), 'bad_signature', /bad self-signature/);
  });

  it('refuses malformed DER: empty, random, truncated, trailing bytes, BER long lengths', () => {
    refused(() => parseCsr(new Uint8Array()), 'malformed', /^csr: is empty/);
    refused(() => parseCsr(random(200)), 'malformed', /^csr: is not a certificate signing request/);
    refused(
      () => parseCsr(edCsr.der.slice(0, -3)),
      'malformed',
      /^csr: is not a certificate signing request/,
    );
    refused(
      () => parseCsr(Uint8Array.from([...edCsr.der, 0])),
      'malformed',
      /^csr: is not a certificate signing request/,
    );
    // The same SEQUENCE with its length in the long form (BER, not DER).
    const d = edCsr.der;
    expect(d[1]).toBe(0x81);
    const ber = Uint8Array.from([0x30, 0x82, 0x00, d[2]!, ...d.slice(3)]);
    refused(() => parseCsr(ber), 'malformed', /not a certificate signing request/);
  });

  it('refuses an RSA CSR with a clear message (no RSA verifier here)', () => {
    const rsa = opensslCsr('rsa', '/CN=rsa.example.test');
    refused(() => parseCsr(rsa.der), 'unsupported', /RSA keys are not supported/);
  });
});

describe('PEM', () => {
  it('round-trips, and names what a file holds when it is not the block asked for', () => {
    const pem = toPem('CERTIFICATE REQUEST', edCsr.der);
    expect(pem).toBe(edCsr.pem);
    expect(fromPem(pem, ['CERTIFICATE REQUEST'], 'csr')).toEqual(edCsr.der);
    refused(
      () => fromPem(pem, ['CERTIFICATE'], 'cert'),
      'malformed',
      /holds a CERTIFICATE REQUEST block, not a CERTIFICATE/,
    );
    refused(() => fromPem('hello', ['CERTIFICATE'], 'cert'), 'malformed', /holds no PEM block/);
  });
});

describe('names', () => {
  it('reads "CN=…, O=…" and openssl\'s "/CN=…/O=…", escapes included', () => {
    expect(nameText(parseNameText('CN=Example CA, O=Acme\\, Inc., C=NL'))).toBe(
      'CN=Example CA, O=Acme\\, Inc., C=NL',
    );
    expect(nameText(parseNameText('/CN=a/O=b'))).toBe('CN=a, O=b');
    refused(() => parseNameText('XX=1'), 'refused', /unknown attribute "XX"/);
    refused(() => parseNameText('CN=a\u202eb'), 'refused', /direction-changing/);
    refused(() => parseNameText('C=Netherlands'), 'refused', /C is longer than 2/);
  });
});

describe('certificates and CRLs for an Ed25519 CA', () => {
  const ca = testCa();

  it('openssl accepts a certificate issued from each CSR, and a CRL revokes one', () => {
    const caPem = toPem('CERTIFICATE', ca.caDer);
    const certs = [edCsr, ecCsr].map((csr) => {
      const msg = caSignMessage({
        ca: ca.caDer,
        csr: csr.der,
        days: 30,
        groupKey: ca.pk,
        now: new Date(),
        random,
      });
      return ca.sign(tbsOf(msg));
    });
    const files = {
      'ca.pem': caPem,
      'a.pem': toPem('CERTIFICATE', certs[0]!),
      'b.pem': toPem('CERTIFICATE', certs[1]!),
    };
    const ok = openssl(
      (d) => ['verify', '-CAfile', `${d}/ca.pem`, `${d}/a.pem`, `${d}/b.pem`],
      files,
    );
    expect(ok.out).toMatch(/a\.pem: OK[\s\S]*b\.pem: OK/);
    expect(ok.status).toBe(0);

    const crlMsg = caRevokeMessage({
      ca: ca.caDer,
      cert: certs[0]!,
      days: 7,
      groupKey: ca.pk,
      now: new Date(),
      previous: undefined,
    });
    const crl = toPem('X509 CRL', ca.sign(tbsOf(crlMsg)));
    const check = (f: string) =>
      openssl(
        (d) => [
          'verify',
          '-crl_check',
          '-CRLfile',
          `${d}/crl.pem`,
          '-CAfile',
          `${d}/ca.pem`,
          `${d}/${f}`,
        ],
        { ...files, 'crl.pem': crl },
      );
    const revoked = check('a.pem');
    expect(revoked.status).not.toBe(0);
    expect(revoked.out).toMatch(/certificate revoked/);
    expect(check('b.pem').status).toBe(0);
  });

  it('reads back a TBS exactly as built', () => {
    const csr = parseCsr(edCsr.der);
    const msg = caSignMessage({
      ca: ca.caDer,
      csr: edCsr.der,
      days: 90,
      groupKey: ca.pk,
      now: new Date('2026-01-01T00:00:00Z'),
      random,
    });
    const t = readTbsCertificate(tbsOf(msg));
    expect(t.subjectText).toBe(csr.subjectText);
    expect(t.issuerText).toBe('CN=Conclave Test CA, O=Acme');
    expect(t.notBefore.toISOString()).toBe('2025-12-31T23:55:00.000Z');
    expect(t.notAfter.getTime() - t.notBefore.getTime()).toBe(90 * DAY_MS);
    expect(t.basicConstraints).toEqual({ ca: false });
    expect(t.keyUsage).toEqual(['digitalSignature']);
    expect(t.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(t.sans).toEqual(csr.sans);
    expect(t.aki).toEqual(keyIdentifier(ca.pk));
    expect(t.ski).toEqual(keyIdentifier(csr.publicKey));
  });

  const base = {
    serial: Uint8Array.of(0x42),
    issuer: parseNameText('CN=Conclave Test CA, O=Acme'),
    subject: parseNameText('CN=x.example.test'),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-02-01T00:00:00Z'),
    spkiDer: ed25519Spki(ed25519.getPublicKey(new Uint8Array(32).fill(1))),
    extensions: [basicConstraintsExt(false)],
  };

  it('refuses a TBS signed with another algorithm than Ed25519', () => {
    const t = parseDer(buildTbsCertificate(base), TBSCertificate, 'tbs', 'a TBSCertificate');
    t.signature = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
    refused(
      () => readTbsCertificate(serializeDer(t)),
      'refused',
      /^tbs\.signature: signature algorithm must be Ed25519 \(1\.3\.101\.112\), got 1\.2\.840\.10045\.4\.3\.2/,
    );
  });

  it('refuses a validity that ends before it starts, or a negative serial', () => {
    refused(
      () =>
        readTbsCertificate(
          buildTbsCertificate({ ...base, notAfter: new Date('2025-12-01T00:00:00Z') }),
        ),
      'refused',
      /^tbs\.validity: ends \(2025-12-01T00:00:00\.000Z\) before it starts/,
    );
    refused(
      () => readTbsCertificate(buildTbsCertificate({ ...base, serial: Uint8Array.of(0x80) })),
      'refused',
      /serial: must be positive/,
    );
  });

  it('refuses an extension it cannot show, and keyCertSign outside a CA', () => {
    const t = parseDer(buildTbsCertificate(base), TBSCertificate, 'tbs', 'a TBSCertificate');
    const unknown = crlNumberExt(1);
    unknown.extnID = '1.2.3.4';
    t.extensions!.push(unknown);
    refused(
      () => readTbsCertificate(serializeDer(t)),
      'unsupported',
      /extension 1\.2\.3\.4 is not one the CA can show/,
    );
    refused(
      () =>
        readTbsCertificate(
          buildTbsCertificate({
            ...base,
            extensions: [basicConstraintsExt(false), keyUsageExt(['keyCertSign'])],
          }),
        ),
      'refused',
      /keyCertSign and cRLSign are for CA certificates only/,
    );
  });

  it('reads a CRL back, and refuses one without a CRL number', () => {
    const id = keyIdentifier(ca.pk);
    const input = {
      issuer: base.issuer,
      thisUpdate: base.notBefore,
      nextUpdate: base.notAfter,
      revoked: [{ serial: Uint8Array.of(1, 2, 3), revokedAt: base.notBefore }],
      crlNumber: 3,
      aki: id,
      extensions: [akiExt(id), crlNumberExt(3)],
    };
    const crl = readTbsCertList(buildTbsCertList(input));
    expect(crl.crlNumber).toBe(3);
    expect(crl.revoked.map((r) => r.serialHex)).toEqual(['01:02:03']);
    refused(
      () => readTbsCertList(buildTbsCertList({ ...input, extensions: [akiExt(id)] })),
      'refused',
      /a CRL number is required/,
    );
  });

  it('reads a CRL of MAX_REVOKED certificates (16-byte serials) and refuses one more', () => {
    const id = keyIdentifier(ca.pk);
    const entries = (n: number) =>
      Array.from({ length: n }, () => ({ serial: randomSerial(random), revokedAt: new Date() }));
    const input = {
      issuer: base.issuer,
      thisUpdate: base.notBefore,
      nextUpdate: base.notAfter,
      crlNumber: 9,
      aki: id,
      extensions: [akiExt(id), crlNumberExt(9)],
    };
    const full = buildTbsCertList({ ...input, revoked: entries(MAX_REVOKED) });
    expect(full.length).toBeLessThan(MAX_DER_BYTES);
    expect(readTbsCertList(full).revoked).toHaveLength(MAX_REVOKED);
    refused(
      () => readTbsCertList(buildTbsCertList({ ...input, revoked: entries(MAX_REVOKED + 1) })),
      'refused',
      new RegExp(`has ${MAX_REVOKED + 1} entries, at most ${MAX_REVOKED}`),
    );
  });

  it('checks a whole certificate is signed by the key it is read with', () => {
    readCertificate(ca.caDer, ca.pk);
    refused(
      () => readCertificate(ca.caDer, testCa(8).pk),
      'bad_signature',
      /^certificate\.signature: is not this group's signature/,
    );
  });

  it("rebuilds the CA's state from finished requests: its certificate, the revoked list, the CRL number", () => {
    const init = testCa(9);
    const caTbs = readCertificate(init.caDer, init.pk).tbs.der;
    const sig = (m: Uint8Array) => Buffer.from(ed25519.sign(tbsOf(m), init.sk)).toString('hex');
    const initMsg = new TextEncoder().encode(
      JSON.stringify({ op: 'init', tbs: Buffer.from(caTbs).toString('base64'), v: 1 }),
    );
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const done = [
      {
        message: hex(initMsg),
        signature: hex(init.sign(caTbs).slice(-64)),
        createdAt: '2026-01-01T00:00:00Z',
      },
    ];
    let state = caStateOf(done, init.pk);
    expect(state.ca?.der).toEqual(init.caDer);
    expect(state.crlNumber).toBe(0);
    const certs = [edCsr, ecCsr].map((c) =>
      init.sign(
        tbsOf(
          caSignMessage({
            ca: init.caDer,
            csr: c.der,
            days: 10,
            groupKey: init.pk,
            now: new Date(),
            random,
          }),
        ),
      ),
    );
    for (const [i, cert] of certs.entries()) {
      const m = caRevokeMessage({
        ca: init.caDer,
        cert,
        days: 7,
        groupKey: init.pk,
        now: new Date(),
        previous: state,
      });
      done.push({ message: hex(m), signature: sig(m), createdAt: `2026-01-0${2 + i}T00:00:00Z` });
      state = caStateOf(done, init.pk);
    }
    expect(state.crlNumber).toBe(2);
    expect(state.revoked.map((r) => r.serialHex)).toEqual(
      certs.map((c) => readCertificate(c, init.pk).tbs.serialHex),
    );
    // A request signed by another key does not count.
    expect(caStateOf(done, ca.pk).ca).toBeUndefined();
    refused(
      () =>
        caRevokeMessage({
          ca: init.caDer,
          cert: certs[0]!,
          days: 7,
          groupKey: init.pk,
          now: new Date(),
          previous: state,
        }),
      'refused',
      /is already revoked/,
    );
  });

  it('parses SAN text the CLI takes', () => {
    expect(parseSanText('DNS:a.example.test, IP:10.0.0.1')).toEqual([
      { type: 'dns', value: 'a.example.test' },
      { type: 'ip', value: '10.0.0.1' },
    ]);
    refused(() => parseSanText('DNS:Bad_Name'), 'refused', /is not a lowercase DNS name/);
    refused(() => parseSanText('IP:300.1.1.1'), 'refused', /is not an IP address/);
  });
});
