// verifySignature, verifyPart and splitAndVerify take an optional Ed25519 verifier (main/ passes
// its native-speed strict one): an Ed25519 group's signatures go to it, with the group's external
// key; other schemes keep their own verifier; a verifier that throws means "invalid".
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { externalPublicKey, type KeyPackage } from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  signingPackage,
  signShare,
  splitAndVerify,
  verifyPart,
  verifySignature,
  type Ed25519Verify,
} from '../../shared/crypto/sign.js';
import { SCHEMES } from '../../shared/crypto/suite.js';
import { dealerKeys } from './helpers.js';

function sign(keys: KeyPackage[], message: Uint8Array): Uint8Array {
  const signers = keys.slice(0, 2);
  const nonces = signers.map((k) => commit(k));
  const pkg = signingPackage(
    keys[0]!.public,
    nonces.map((n) => n.commitment),
    message,
  );
  const shares = new Map<bigint, bigint>();
  signers.forEach((k, i) => shares.set(k.share.identifier, signShare(k, nonces[i]!, pkg)));
  return aggregate(pkg, shares);
}

/** A verifier that records its calls and answers `answer` (or throws). */
function spy(answer: boolean | 'throw') {
  const calls: [Uint8Array, Uint8Array, Uint8Array][] = [];
  const verify: Ed25519Verify = (sig, msg, key) => {
    calls.push([sig, msg, key]);
    if (answer === 'throw') throw new Error('bad input');
    return answer;
  };
  return { calls, verify };
}

describe('the Ed25519 verifier parameter', () => {
  const message = utf8ToBytes('pay 1 coin');

  it('an Ed25519 group signature is judged by the verifier given, with the group key', () => {
    const keys = dealerKeys('ed25519', 2, 3);
    const pub = keys[0]!.public;
    const sig = sign(keys, message);
    expect(verifySignature(pub, message, sig)).toBe(true);
    const yes = spy(true);
    expect(verifySignature(pub, message, sig, yes.verify)).toBe(true);
    expect(yes.calls).toEqual([[sig, message, externalPublicKey(pub)]]);
    // Its answer is the answer, either way, and throwing is "invalid".
    expect(verifySignature(pub, message, sig, spy(false).verify)).toBe(false);
    expect(verifySignature(pub, message, sig, spy('throw').verify)).toBe(false);
    const bad = sig.slice();
    bad[40] ^= 1;
    expect(verifySignature(pub, message, bad)).toBe(false);
    expect(verifySignature(pub, message, bad, spy(true).verify)).toBe(true);
  });

  it('parts of an Ed25519 group go to it too; splitAndVerify stops at the first refused part', () => {
    const keys = dealerKeys('ed25519', 2, 3);
    const pub = keys[0]!.public;
    const parts = [{ message: utf8ToBytes('one') }, { message: utf8ToBytes('two') }];
    const sigs = parts.map((p) => sign(keys, p.message));
    const all = concatBytes(...sigs);
    const yes = spy(true);
    expect(splitAndVerify(pub, parts, all, yes.verify)).toEqual(sigs);
    expect(yes.calls.map((c) => c[1])).toEqual(parts.map((p) => p.message));
    expect(verifyPart(pub, parts[0]!, sigs[0]!, spy(false).verify)).toBe(false);
    const no = spy(false);
    expect(splitAndVerify(pub, parts, all, no.verify)).toBeUndefined();
    expect(no.calls).toHaveLength(1);
    expect(splitAndVerify(pub, parts, all, spy('throw').verify)).toBeUndefined();
  });

  it.each(SCHEMES.filter((s) => s !== 'ed25519'))(
    '%s: the Ed25519 verifier is never asked',
    (scheme) => {
      const keys = dealerKeys(scheme, 2, 3);
      const pub = keys[0]!.public;
      const sig = sign(keys, message);
      const never = spy(false);
      expect(verifySignature(pub, message, sig, never.verify)).toBe(true);
      expect(splitAndVerify(pub, [{ message }], sig, never.verify)).toEqual([sig]);
      const bad = sig.slice();
      bad[bad.length - 1] ^= 1;
      expect(verifySignature(pub, message, bad, spy(true).verify)).toBe(false);
      expect(never.calls).toEqual([]);
    },
  );
});
