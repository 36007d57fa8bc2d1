// Fuzzes the readers of outside formats the node takes from a socket, a file or a peer: the SSH
// agent's frames and messages, SSH certificates and userauth data, age headers and recipients,
// PSBTs, Nostr events and npubs, PKCS#10 CSRs, X.509 certificates and PEM. Each throws only its
// own typed error (SshFormatError, CryptoError, PsbtError, RequestParamError, X509Error).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { base64 } from '@scure/base';
import { ageRecipient, parseAgeHeader, parseAgeRecipient } from '../../shared/crypto/age.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { decodePsbt, PsbtError, readPsbtFile } from '../../shared/bitcoin/psbt.js';
import {
  npubDecode,
  npubEncode,
  parseEventTemplate,
  parseUnsignedEvent,
  serializeEvent,
} from '../../shared/nostr/event.js';
import { RequestParamError } from '../../shared/requests/types.js';
import {
  agentAnswer,
  agentRequest,
  frame,
  parseAgentAnswer,
  parseAgentRequest,
  takeFrames,
  MAX_FRAME,
} from '../../shared/ssh/agent.js';
import {
  parseCertTbs,
  parseSshsigData,
  parseUserauth,
  sshsigData,
} from '../../shared/ssh/signed.js';
import {
  ed25519SignatureBlob,
  parsePublicKey,
  parseSignature,
  SshFormatError,
} from '../../shared/ssh/wire.js';
import { readCertificate, readTbsCertificate } from '../../shared/x509/cert.js';
import { parseCsr } from '../../shared/x509/csr.js';
import { fromPem, toPem, X509Error } from '../../shared/x509/der.js';
import { spend } from '../bitcoin/fixtures.js';
import {
  ED_BLOB,
  ED_KEY,
  sshBind,
  sshCert,
  sshLogin,
  TR,
  TR_SK,
} from '../requests/use-fixtures.js';
import { caInitMessage } from '../../shared/x509/ca.js';
import { opensslCsr, random, tbsOf, testCa } from '../x509/helpers.js';
import { bytesAround, fuzz, jsonAround, textAround } from './fuzz.js';

describe('fuzz: SSH agent and SSH formats', () => {
  const b = sshBind();
  const requests = [
    agentRequest.identities(),
    agentRequest.sign(ED_BLOB, sshLogin(), 2),
    agentRequest.sessionBind(b.hostKey, b.sessionId, b.signature, true),
  ];
  const answers = [
    agentAnswer.failure(),
    agentAnswer.identities([{ blob: ED_BLOB, comment: 'conclave' }]),
    agentAnswer.signature(ed25519SignatureBlob(new Uint8Array(64).fill(5))),
  ];

  it('takeFrames: SshFormatError, or frames that re-frame to the bytes consumed', () => {
    const stream = requests.map(frame);
    const seeds = [Uint8Array.from(stream.flatMap((s) => [...s])), ...stream];
    fuzz('ssh takeFrames', bytesAround(seeds), takeFrames, [SshFormatError], {
      check: ({ frames, rest }, input) => {
        const again = Uint8Array.from([...frames.flatMap((f) => [...frame(f)]), ...rest]);
        expect(again).toEqual(input);
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(MAX_FRAME);
      },
    });
  });

  it('parseAgentRequest and parseAgentAnswer: SshFormatError only', () => {
    fuzz('ssh parseAgentRequest', bytesAround(requests), parseAgentRequest, [SshFormatError]);
    fuzz('ssh parseAgentAnswer', bytesAround(answers), parseAgentAnswer, [SshFormatError]);
  });

  it('certificate, userauth, SSHSIG, key and signature readers: SshFormatError only', () => {
    const certs = [sshCert(), sshCert({ principals: [], ext: [] })];
    const logins = [sshLogin(), sshLogin({ hostKey: b.hostKey })];
    fuzz('ssh parseCertTbs', bytesAround(certs), parseCertTbs, [SshFormatError]);
    fuzz('ssh parseUserauth', bytesAround(logins), parseUserauth, [SshFormatError]);
    fuzz(
      'ssh parseSshsigData',
      bytesAround([sshsigData('file', 'sha512', new Uint8Array(64))]),
      parseSshsigData,
      [SshFormatError],
    );
    fuzz('ssh parsePublicKey', bytesAround([ED_BLOB, b.hostKey]), (x) => parsePublicKey(x), [
      SshFormatError,
    ]);
    fuzz(
      'ssh parseSignature',
      bytesAround([b.signature]),
      (x) => parseSignature(x, 'ssh-ed25519'),
      [SshFormatError],
    );
  });
});

describe('fuzz: age', () => {
  let file: Uint8Array;
  beforeAll(async () => {
    const e = new Encrypter();
    e.addRecipient(await identityToRecipient(await generateX25519Identity()));
    e.addRecipient(ageRecipient(ED_KEY));
    file = await e.encrypt(new Uint8Array(100).fill(0x61));
  });

  it('parseAgeHeader: CryptoError, or a header within the file', () => {
    const header = () => file.slice(0, parseAgeHeader(file).length);
    fuzz(
      'age parseAgeHeader',
      fc.constant(null).chain(() => bytesAround([file, header()], 2000)),
      parseAgeHeader,
      [CryptoError],
      {
        check: (h, input) => expect(h.length).toBeLessThanOrEqual(input.length),
      },
    );
  });

  it('parseAgeRecipient: CryptoError, or the key it was made from', () => {
    fuzz('age parseAgeRecipient', textAround([ageRecipient(ED_KEY)]), parseAgeRecipient, [
      CryptoError,
    ]);
  });
});

describe('fuzz: PSBT', () => {
  const psbt = spend(TR, { foreign: true }).toPSBT();
  const opts = { network: 'bitcoin' as const, outputKey: TR.output, internalKey: TR.internal };

  it('readPsbtFile and decodePsbt: PsbtError only', () => {
    const files = [
      psbt,
      new TextEncoder().encode(base64.encode(psbt)),
      new TextEncoder().encode(bytesToHex(psbt)),
    ];
    fuzz('psbt readPsbtFile', bytesAround(files, 600), readPsbtFile, [PsbtError]);
    fuzz(
      'psbt decodePsbt',
      bytesAround([psbt, spend(TR).toPSBT()], 600),
      (x) => decodePsbt(x, opts),
      [PsbtError],
    );
  });
});

describe('fuzz: Nostr', () => {
  const pubkey = bytesToHex(schnorr.getPublicKey(TR_SK));
  const event = {
    pubkey,
    created_at: 1_700_000_000,
    kind: 1,
    tags: [
      ['t', 'x'],
      ['e', 'ab'.repeat(32), 'wss://r'],
    ],
    content: 'hi\nthere',
  };

  it('parseUnsignedEvent and parseEventTemplate: RequestParamError, or an event that parses again to itself', () => {
    fuzz(
      'nostr parseUnsignedEvent',
      jsonAround([event]),
      (v) => parseUnsignedEvent(v),
      [RequestParamError],
      {
        check: (e) => {
          expect(parseUnsignedEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
          expect(typeof serializeEvent(e)).toBe('string');
        },
      },
    );
    const { pubkey: _drop, ...template } = event;
    fuzz('nostr parseEventTemplate', jsonAround([template, event]), (v) => parseEventTemplate(v), [
      RequestParamError,
    ]);
  });

  it('npubDecode: RequestParamError, or a key that encodes back', () => {
    fuzz(
      'nostr npubDecode',
      textAround([npubEncode(pubkey)]),
      (t) => npubDecode(t),
      [RequestParamError],
      {
        check: (hex, input) => expect(npubEncode(hex)).toBe(input.trim().toLowerCase()),
      },
    );
  });
});

describe('fuzz: X.509', () => {
  const ca = testCa(7, 'CN=Fuzz CA, O=Acme');
  const csr = opensslCsr(
    'ed25519',
    '/CN=www.example.test/O=Acme',
    'DNS:www.example.test,IP:10.0.0.1',
  );
  const ecCsr = opensslCsr('ec', '/CN=ec.example.test', 'DNS:ec.example.test');

  it('parseCsr: X509Error only', () => {
    fuzz('x509 parseCsr', bytesAround([csr.der, ecCsr.der], 600), (d) => parseCsr(d), [X509Error]);
  });

  it('readCertificate and readTbsCertificate: X509Error only', () => {
    fuzz('x509 readCertificate', bytesAround([ca.caDer], 600), (d) => readCertificate(d, ca.pk), [
      X509Error,
    ]);
    const tbs = tbsOf(
      caInitMessage({
        subject: 'CN=Fuzz CA, O=Acme',
        days: 365,
        groupKey: ca.pk,
        now: new Date(),
        random,
      }),
    );
    fuzz('x509 readTbsCertificate', bytesAround([tbs], 600), (d) => readTbsCertificate(d), [
      X509Error,
    ]);
  });

  it('fromPem: X509Error, or the DER it holds', () => {
    fuzz(
      'x509 fromPem',
      textAround([csr.pem, toPem('CERTIFICATE', ca.caDer)]),
      (t) => fromPem(t, ['CERTIFICATE REQUEST', 'CERTIFICATE'], 'csr'),
      [X509Error],
    );
  });
});
