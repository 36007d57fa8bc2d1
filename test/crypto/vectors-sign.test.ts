// RFC 9591 Appendix E and ZcashFoundation/frost signing vectors, replayed step by step.
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { makePublicPackage, SecretShare } from '../../shared/crypto/keys.js';
import { evalPoly } from '../../shared/crypto/poly.js';
import {
  aggregate,
  commit,
  signingPackage,
  signShare,
  verifyShare,
  verifySignature,
} from '../../shared/crypto/sign.js';
import { getSuite, type GroupPoint, type SchemeName } from '../../shared/crypto/suite.js';
import { signingKey } from '../../shared/crypto/keys.js';
import { loadVector, scriptedRng } from './helpers.js';

const files: [string, SchemeName][] = [
  ['rfc9591/frost-ed25519-sha512.json', 'ed25519'],
  ['rfc9591/frost-secp256k1-sha256.json', 'secp256k1'],
  ['zf-frost/ed25519/vectors.json', 'ed25519'],
  ['zf-frost/ed25519/vectors-big-identifier.json', 'ed25519'],
  ['zf-frost/secp256k1/vectors.json', 'secp256k1'],
  ['zf-frost/secp256k1/vectors-big-identifier.json', 'secp256k1'],
  ['zf-frost/secp256k1-tr/vectors.json', 'taproot'],
  ['zf-frost/secp256k1-tr/vectors-big-identifier.json', 'taproot'],
];

describe.each(files)('signing vectors %s', (file, scheme) => {
  const v = loadVector(file);
  const suite = getSuite(scheme);
  const Fn = suite.Fn;
  const sk = suite.decodeScalar(hexToBytes(v.inputs.group_secret_key));
  const coeffs = [
    sk,
    ...v.inputs.share_polynomial_coefficients.map((h: string) => suite.decodeScalar(hexToBytes(h))),
  ];
  const t = Number(v.config.MIN_PARTICIPANTS);
  const ids: bigint[] = v.inputs.participant_list.map(BigInt);
  const all = new Set<bigint>([
    ...ids,
    ...v.inputs.participant_shares.map((p: { identifier: number }) => BigInt(p.identifier)),
  ]);
  const vs = new Map<bigint, GroupPoint>();
  for (const id of all) vs.set(id, suite.G.multiply(evalPoly(suite, coeffs, id)));
  const pub = makePublicPackage(scheme, t, suite.G.multiply(sk), vs, 0);
  const groupKeyHex = v.inputs.group_public_key ?? v.inputs.verifying_key_key;
  const msg = hexToBytes(v.inputs.message);
  const opts = { tweak: false };

  it('derives the group key and the participant shares from the dealer polynomial', () => {
    expect(bytesToHex(suite.encodePoint(pub.groupKey))).toBe(groupKeyHex);
    for (const p of v.inputs.participant_shares) {
      const s = evalPoly(suite, coeffs, BigInt(p.identifier));
      expect(bytesToHex(suite.encodeScalar(s))).toBe(p.participant_share);
    }
  });

  it('reproduces nonces, commitments, binding factors, signature shares and the signature', () => {
    const r1 = v.round_one_outputs.outputs;
    const keys = ids.map((id) => ({
      public: pub,
      share: new SecretShare(scheme, id, evalPoly(suite, coeffs, id), 0),
    }));
    const nonces = keys.map((k, i) =>
      commit(k, scriptedRng(r1[i].hiding_nonce_randomness, r1[i].binding_nonce_randomness)),
    );
    nonces.forEach((n, i) => {
      expect(bytesToHex(suite.encodePoint(n.commitment.hiding))).toBe(
        r1[i].hiding_nonce_commitment,
      );
      expect(bytesToHex(suite.encodePoint(n.commitment.binding))).toBe(
        r1[i].binding_nonce_commitment,
      );
    });
    const pkg = signingPackage(
      pub,
      nonces.map((n) => n.commitment),
      msg,
      opts,
    );
    ids.forEach((id, i) =>
      expect(bytesToHex(Fn.toBytes(pkg.bindingFactors.get(id)!))).toBe(r1[i].binding_factor),
    );
    const shares = new Map<bigint, bigint>();
    keys.forEach((k, i) => {
      const z = signShare(k, nonces[i], pkg);
      expect(bytesToHex(Fn.toBytes(z))).toBe(v.round_two_outputs.outputs[i].sig_share);
      expect(verifyShare(pkg, k.share.identifier, z)).toBe(true);
      shares.set(k.share.identifier, z);
    });
    const sig = aggregate(pkg, shares);
    expect(bytesToHex(sig)).toBe(v.final_output.sig);
    const view = signingKey(pub, opts);
    expect(suite.verify(sig, msg, suite.externalKey(view.key))).toBe(true);
  });
});

describe('signing with the production (tweaked) taproot key', () => {
  it('signs under the BIP341 output key and verifies with BIP340', async () => {
    const { dealerKeys } = await import('./helpers.js');
    const keys = dealerKeys('taproot', 2, 3);
    const msg = new Uint8Array(32).fill(7);
    const nonces = keys.slice(0, 2).map((k) => commit(k));
    const pkg = signingPackage(
      keys[0].public,
      nonces.map((n) => n.commitment),
      msg,
    );
    const shares = new Map(
      keys.slice(0, 2).map((k, i) => [k.share.identifier, signShare(k, nonces[i], pkg)]),
    );
    const sig = aggregate(pkg, shares);
    expect(sig.length).toBe(64);
    expect(verifySignature(keys[0].public, msg, sig)).toBe(true);
  });
});
