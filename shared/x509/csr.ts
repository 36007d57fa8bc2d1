// PKCS #10 certificate signing requests (RFC 2986): a strict parse, the check of the requester's own
// signature over it (Ed25519, or ECDSA on P-256/P-384/P-521), and the names it asks for.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import {
  AsnArray,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
  AsnConvert,
} from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Attribute,
  Extensions,
  Name,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { bytesEqual, parseDer, serializeDer, toBytes, x509Fail } from './der.js';
import { nameEntries, nameText } from './name.js';
import { readExtension, type SubjectAltName, OID_SAN } from './extensions.js';

export const OID_ED25519 = '1.3.101.112';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

// The named curves (their OID's DER, as SPKI parameters carry it) and the ECDSA hashes accepted.
const CURVES = [
  {
    name: 'P-256',
    curve: p256,
    params: [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
  },
  { name: 'P-384', curve: p384, params: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22] },
  { name: 'P-521', curve: p521, params: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23] },
] as const;
const ECDSA_HASHES: Record<string, { name: string; hash: (m: Uint8Array) => Uint8Array }> = {
  '1.2.840.10045.4.3.2': { name: 'SHA-256', hash: sha256 },
  '1.2.840.10045.4.3.3': { name: 'SHA-384', hash: sha384 },
  '1.2.840.10045.4.3.4': { name: 'SHA-512', hash: sha512 },
};

// CertificationRequest schema (RFC 2986 section 4), declared without decorator syntax: the
// project's TypeScript has no experimentalDecorators, and these calls are what the syntax does.
class CsrAttributes extends AsnArray<Attribute> {}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(CsrAttributes);

class CertificationRequestInfo {
  version = 0;
  subject = new Name();
  subjectPKInfo = new SubjectPublicKeyInfo();
  attributes = new CsrAttributes();
}
AsnType({ type: AsnTypeTypes.Sequence })(CertificationRequestInfo);
AsnProp({ type: AsnPropTypes.Integer })(CertificationRequestInfo.prototype, 'version');
AsnProp({ type: Name })(CertificationRequestInfo.prototype, 'subject');
AsnProp({ type: SubjectPublicKeyInfo })(CertificationRequestInfo.prototype, 'subjectPKInfo');
AsnProp({ type: CsrAttributes, context: 0, implicit: true })(
  CertificationRequestInfo.prototype,
  'attributes',
);

class CertificationRequest {
  certificationRequestInfo = new CertificationRequestInfo();
  certificationRequestInfoRaw?: ArrayBuffer;
  signatureAlgorithm = new AlgorithmIdentifier();
  signature = new ArrayBuffer(0);
}
AsnType({ type: AsnTypeTypes.Sequence })(CertificationRequest);
AsnProp({ type: CertificationRequestInfo, raw: true })(
  CertificationRequest.prototype,
  'certificationRequestInfo',
);
AsnProp({ type: AlgorithmIdentifier })(CertificationRequest.prototype, 'signatureAlgorithm');
AsnProp({ type: AsnPropTypes.BitString })(CertificationRequest.prototype, 'signature');

export interface ParsedCsr {
  der: Uint8Array;
  subject: Name;
  /** The subject as text ("CN=…, O=…"). */
  subjectText: string;
  /** The subject's exact DER. */
  subjectDer: Uint8Array;
  /** The SubjectPublicKeyInfo's exact DER (what the certificate will certify). */
  spkiDer: Uint8Array;
  /** The key's bits (the BIT STRING's content), which the subject key identifier hashes. */
  publicKey: Uint8Array;
  /** "Ed25519", "ECDSA P-256". */
  keyType: string;
  /** The subject alternative names the CSR asks for (none when it asks for none). */
  sans: SubjectAltName[];
}

/** The key a SubjectPublicKeyInfo holds, checked: its type and a verifier for its signatures. */
export interface PublicKeyOf {
  keyType: string;
  verify(
    sigAlg: AlgorithmIdentifier,
    signature: Uint8Array,
    message: Uint8Array,
    field: string,
  ): boolean;
}

export function publicKeyOf(spki: SubjectPublicKeyInfo, field: string): PublicKeyOf {
  const alg = spki.algorithm;
  const key = toBytes(spki.subjectPublicKey);
  if (alg.algorithm === OID_ED25519) {
    if (alg.parameters !== undefined && alg.parameters !== null)
      x509Fail('malformed', field, 'an Ed25519 key must have no algorithm parameters (RFC 8410)');
    if (key.length !== 32)
      x509Fail('malformed', field, `an Ed25519 key is 32 bytes, got ${key.length}`);
    try {
      ed25519.Point.fromBytes(key);
    } catch {
      x509Fail('malformed', field, 'the Ed25519 key is not a point on the curve');
    }
    return {
      keyType: 'Ed25519',
      verify(sigAlg, sig, msg, f) {
        if (
          sigAlg.algorithm !== OID_ED25519 ||
          (sigAlg.parameters !== undefined && sigAlg.parameters !== null)
        )
          x509Fail(
            'unsupported',
            f,
            `an Ed25519 key signs with Ed25519 (${OID_ED25519}), not ${sigAlg.algorithm}`,
          );
        return sig.length === 64 && ed25519.verify(sig, msg, key, { zip215: false });
      },
    };
  }
  if (alg.algorithm === OID_EC_PUBLIC_KEY) {
    const params = alg.parameters ? toBytes(alg.parameters) : new Uint8Array();
    const c = CURVES.find((c) => bytesEqual(params, Uint8Array.from(c.params)));
    if (!c) x509Fail('unsupported', field, 'the EC key is not on P-256, P-384 or P-521');
    try {
      c.curve.Point.fromBytes(key);
    } catch {
      x509Fail('malformed', field, `the ${c.name} key is not a point on the curve`);
    }
    return {
      keyType: `ECDSA ${c.name}`,
      verify(sigAlg, sig, msg, f) {
        const h = ECDSA_HASHES[sigAlg.algorithm];
        if (!h || sigAlg.parameters !== undefined)
          x509Fail(
            'unsupported',
            f,
            `an EC key signs with ECDSA and SHA-2, not ${sigAlg.algorithm}`,
          );
        try {
          return c.curve.verify(sig, h.hash(msg), key, {
            prehash: false,
            format: 'der',
            lowS: false,
          });
        } catch {
          return false;
        }
      },
    };
  }
  if (alg.algorithm === OID_RSA)
    x509Fail('unsupported', field, 'RSA keys are not supported: use an Ed25519 or EC (P-256) key');
  return x509Fail('unsupported', field, `key algorithm ${alg.algorithm} is not supported`);
}

/**
 * A CSR (DER) read strictly: exact DER, version 1, a supported key, the requester's signature
 * over it valid, and the names it asks for readable. Throws X509Error.
 */
export function parseCsr(der: Uint8Array, field = 'csr'): ParsedCsr {
  const csr = parseDer(
    der,
    CertificationRequest,
    field,
    'a certificate signing request (PKCS #10)',
  );
  const info = csr.certificationRequestInfo;
  if (info.version !== 0)
    x509Fail('malformed', field, `version must be 1 (0), got ${info.version}`);
  const raw = csr.certificationRequestInfoRaw;
  if (!raw) x509Fail('malformed', field, 'its request info cannot be read');
  const key = publicKeyOf(info.subjectPKInfo, `${field}.publicKey`);
  if (
    !key.verify(csr.signatureAlgorithm, toBytes(csr.signature), toBytes(raw), `${field}.signature`)
  )
    x509Fail(
      'bad_signature',
      `${field}.signature`,
      'the request is not signed by its own key (bad self-signature)',
    );
  nameEntries(info.subject, `${field}.subject`);
  let sans: SubjectAltName[] = [];
  for (const attr of info.attributes) {
    if (attr.type !== OID_EXTENSION_REQUEST) continue;
    if (attr.values.length !== 1)
      x509Fail('malformed', field, 'extensionRequest must have one value');
    let exts: Extensions;
    try {
      exts = AsnConvert.parse(attr.values[0]!, Extensions);
    } catch {
      return x509Fail('malformed', field, 'its requested extensions cannot be read');
    }
    for (const e of exts)
      if (e.extnID === OID_SAN) {
        const r = readExtension(e, `${field}.subjectAltName`);
        if (r.kind === 'san') sans = r.names;
      }
  }
  return {
    der,
    subject: info.subject,
    subjectText: nameText(info.subject, `${field}.subject`),
    subjectDer: serializeDer(info.subject),
    spkiDer: serializeDer(info.subjectPKInfo),
    publicKey: toBytes(info.subjectPKInfo.subjectPublicKey),
    keyType: key.keyType,
    sans,
  };
}
