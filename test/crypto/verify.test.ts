// Independent verification: threshold signatures checked by OpenSSL (Node's crypto), BIP340 and
// the RFC 9591 reference; the project's verify functions checked against Wycheproof and BIP340.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { schnorr, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { externalPublicKey, signingKey, taprootInternalKey } from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  signingPackage,
  signShare,
  verifySignature,
} from '../../shared/crypto/sign.js';
import { ed25519Suite, secp256k1Suite, taprootSuite, tapTweak } from '../../shared/crypto/suite.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import { dkgParams, loadVector, pick, runDkg } from './helpers.js';

function thresholdSign(keys: KeyPackage[], msg: Uint8Array): Uint8Array {
  const nonces = keys.map((k) => commit(k));
  const pkg = signingPackage(
    keys[0].public,
    nonces.map((n) => n.commitment),
    msg,
  );
  return aggregate(
    pkg,
    new Map(keys.map((k, i) => [k.share.identifier, signShare(k, nonces[i], pkg)])),
  );
}

describe('Ed25519 threshold signatures', () => {
  it('verify with OpenSSL through node:crypto', () => {
    const keys = runDkg(dkgParams('ed25519', 3, 5));
    const pk = externalPublicKey(keys[0].public);
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pk).toString('base64url') },
      format: 'jwk',
    });
    for (const msg of [
      new Uint8Array(),
      utf8ToBytes('pay 1 BTC to X'),
      new Uint8Array(1000).fill(9),
    ]) {
      const sig = thresholdSign(pick(keys, 3), msg);
      expect(nodeVerify(null, msg, key, sig)).toBe(true);
      const other = Uint8Array.from(msg.length ? msg : [0]);
      other[0] ^= 1;
      expect(nodeVerify(null, other, key, sig)).toBe(false);
    }
  });
});

describe('taproot threshold signatures', () => {
  it('verify with BIP340 under the BIP341 output key of the internal key', () => {
    const keys = runDkg(dkgParams('taproot', 2, 3));
    const internal = taprootInternalKey(keys[0].public);
    const output = externalPublicKey(keys[0].public);
    // Recompute Q = lift_x(P) + hash_TapTweak(P)·G with noble's point API directly.
    const P = secp256k1.Point.fromHex('02' + bytesToHex(internal));
    const Q = P.add(secp256k1.Point.BASE.multiply(tapTweak(P as never)));
    expect(bytesToHex(output)).toBe(bytesToHex(Q.toBytes().subarray(1)));
    const msg = new Uint8Array(32).fill(0x42);
    const sig = thresholdSign(keys.slice(1), msg);
    expect(schnorr.verify(sig, msg, output)).toBe(true);
    expect(schnorr.verify(sig, msg, internal)).toBe(false);
  });
});

describe('secp256k1 threshold signatures', () => {
  it('verify with noble’s RFC 9591 verifier', () => {
    const keys = runDkg(dkgParams('secp256k1', 2, 3));
    const msg = utf8ToBytes('hello');
    const sig = thresholdSign(keys.slice(0, 2), msg);
    expect(sig.length).toBe(65);
    expect(secp256k1_FROST.verify(sig, msg, externalPublicKey(keys[0].public))).toBe(true);
    expect(verifySignature(keys[0].public, msg, sig)).toBe(true);
    expect(signingKey(keys[0].public).keyBytes.length).toBe(33);
  });
});

describe('Wycheproof Ed25519 (strict RFC 8032) through ed25519Suite.verify', () => {
  const w = loadVector('wycheproof/ed25519_test.json');
  type Group = {
    publicKey: { pk: string };
    tests: { tcId: number; msg: string; sig: string; result: string; comment: string }[];
  };
  const cases: [number, string, string, string, string, string][] = (
    w.testGroups as Group[]
  ).flatMap((g) =>
    g.tests.map(
      (t) =>
        [t.tcId, t.comment, g.publicKey.pk, t.msg, t.sig, t.result] as [
          number,
          string,
          string,
          string,
          string,
          string,
        ],
    ),
  );
  it.each(cases)('case %i %s', (_id, _c, pk, msg, sig, result) => {
    expect(ed25519Suite.verify(hexToBytes(sig), hexToBytes(msg), hexToBytes(pk))).toBe(
      result === 'valid',
    );
  });
});

describe('BIP340 vectors through taprootSuite.verify', () => {
  const csv = readFileSync(
    fileURLToPath(new URL('../vectors/bip340/test-vectors.csv', import.meta.url)),
    'utf8',
  );
  const rows = csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  it.each(rows)('vector %s', (_i, _sk, pk, _aux, msg, sig, result) => {
    let ok: boolean;
    try {
      ok = taprootSuite.verify(hexToBytes(sig), hexToBytes(msg), hexToBytes(pk));
    } catch {
      ok = false;
    }
    expect(ok).toBe(result === 'TRUE');
  });
});

describe('secp256k1 suite verify', () => {
  it('rejects a signature whose R is uncompressed or whose z is not reduced', () => {
    const keys = runDkg(dkgParams('secp256k1', 2, 2));
    const msg = utf8ToBytes('m');
    const sig = thresholdSign(keys, msg);
    const pk = externalPublicKey(keys[0].public);
    expect(secp256k1Suite.verify(sig, msg, pk)).toBe(true);
    const bad = sig.slice();
    bad.fill(0xff, 33);
    expect(secp256k1Suite.verify(bad, msg, pk)).toBe(false);
    expect(secp256k1Suite.verify(sig.subarray(1), msg, pk)).toBe(false);
  });
});
