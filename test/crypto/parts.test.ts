// Requests that ask for several signatures, or for BIP340 ones: each part is signed with its own
// nonces under the key view it names (taproot tweaked or not; a secp256k1 key read as BIP340),
// and the concatenation verifies part by part with independent verifiers.
import { describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  externalPublicKey,
  taprootInternalKey,
  type KeyPackage,
} from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  partKey,
  partKeyPackage,
  partSignatureLength,
  SigningPackage,
  signShare,
  splitAndVerify,
  verifyPart,
  type PartSpec,
} from '../../shared/crypto/sign.js';
import { dealerKeys } from './helpers.js';

/** One FROST signature of a part by the first T holders, as the node's coordinator makes it. */
function signPart(keys: KeyPackage[], t: number, part: PartSpec): Uint8Array {
  const signers = keys.slice(0, t);
  const nonces = signers.map((k) => commit(partKeyPackage(k, part)));
  const pkg = new SigningPackage(
    partKey(keys[0]!.public, part),
    nonces.map((n) => n.commitment),
    part.message,
  );
  const shares = new Map<bigint, bigint>();
  signers.forEach((k, i) =>
    shares.set(k.share.identifier, signShare(partKeyPackage(k, part), nonces[i]!, pkg)),
  );
  return aggregate(pkg, shares);
}

const msg = (s: string) => utf8ToBytes(s);

describe('signing parts', () => {
  it('taproot: the default part verifies under the bc1p output key, tweak: false under the internal key', () => {
    const keys = dealerKeys('taproot', 2, 3);
    const pub = keys[0]!.public;
    const tweaked = { message: msg('spend') };
    const plain = { message: msg('nostr event id'), tweak: false };
    const a = signPart(keys, 2, tweaked);
    const b = signPart(keys, 2, plain);
    expect(schnorr.verify(a, tweaked.message, externalPublicKey(pub))).toBe(true);
    expect(schnorr.verify(a, tweaked.message, taprootInternalKey(pub))).toBe(false);
    expect(schnorr.verify(b, plain.message, taprootInternalKey(pub))).toBe(true);
    expect(schnorr.verify(b, plain.message, externalPublicKey(pub))).toBe(false);
  });

  it('secp256k1: a bip340 part is a BIP340 signature under the x-only group key', () => {
    const keys = dealerKeys('secp256k1', 2, 3);
    const pub = keys[0]!.public;
    const part = { message: msg('hello nostr'), bip340: true };
    const sig = signPart(keys, 2, part);
    expect(sig.length).toBe(64);
    const xOnly = externalPublicKey(pub).slice(1); // 33-byte compressed key without its prefix
    expect(schnorr.verify(sig, part.message, xOnly)).toBe(true);
    // The group's own RFC 9591 signature stays 65 bytes and is a different scheme.
    const own = signPart(keys, 2, { message: part.message });
    expect(own.length).toBe(65);
    expect(partSignatureLength('secp256k1', { message: part.message })).toBe(65);
    expect(partSignatureLength('secp256k1', part)).toBe(64);
  });

  it('ed25519 cannot sign BIP340', () => {
    const keys = dealerKeys('ed25519', 2, 2);
    expect(() => signPart(keys, 2, { message: msg('x'), bip340: true })).toThrow(
      /cannot sign BIP340/,
    );
  });

  it('a request signature is the parts concatenated; each part verifies, in order, or none', () => {
    const keys = dealerKeys('ed25519', 2, 3);
    const pub = keys[0]!.public;
    const parts = [{ message: msg('input 0') }, { message: msg('input 1') }, { message: msg('2') }];
    const sigs = parts.map((p) => signPart(keys, 2, p));
    for (const [i, s] of sigs.entries())
      expect(ed25519.verify(s, parts[i]!.message, externalPublicKey(pub))).toBe(true);
    const all = concatBytes(...sigs);
    expect(splitAndVerify(pub, parts, all)).toEqual(sigs);
    expect(verifyPart(pub, parts[0]!, sigs[1]!)).toBe(false);
    // Swapped, short, long, or for no part at all: refused.
    expect(splitAndVerify(pub, parts, concatBytes(sigs[1]!, sigs[0]!, sigs[2]!))).toBeUndefined();
    expect(splitAndVerify(pub, parts, all.slice(0, -1))).toBeUndefined();
    expect(splitAndVerify(pub, parts, concatBytes(all, new Uint8Array(1)))).toBeUndefined();
    expect(splitAndVerify(pub, [], new Uint8Array(0))).toBeUndefined();
  });
});
