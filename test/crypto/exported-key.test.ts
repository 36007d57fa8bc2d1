// Sealing to a one-time key and the exported-key file of the reconstruction ceremony (including
// the taproot internal and output keys it names).
import { describe, expect, it } from 'vitest';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { mod } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import {
  exportKey,
  importExportedKey,
  openSealed,
  sealTo,
} from '../../shared/crypto/exported-key.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { getSuite } from '../../shared/crypto/suite.js';

const weak = { kdf: { N: 2 ** 10, r: 8, p: 1 }, insecureAllowWeakKdf: true };

describe('sealed messages', () => {
  it('open only with the recipient key and the same associated data', () => {
    const r = x25519.keygen();
    const s = sealTo(r.publicKey, utf8ToBytes('share'), utf8ToBytes('req-1'));
    expect(new TextDecoder().decode(openSealed(r.secretKey, s, utf8ToBytes('req-1')))).toBe(
      'share',
    );
    expect(() => openSealed(x25519.keygen().secretKey, s, utf8ToBytes('req-1'))).toThrow(
      /cannot open/,
    );
    expect(() => openSealed(r.secretKey, s, utf8ToBytes('req-2'))).toThrow(/cannot open/);
    const flipped = { ...s, ct: (s.ct[0] === 'a' ? 'b' : 'a') + s.ct.slice(1) };
    expect(() => openSealed(r.secretKey, flipped, utf8ToBytes('req-1'))).toThrow(/cannot open/);
  });
});

describe('exported key file', () => {
  it.each(['ed25519', 'secp256k1', 'taproot'] as const)(
    'round-trips a %s key and refuses a wrong passphrase or tampering',
    (scheme) => {
      const suite = getSuite(scheme);
      const secret = suite.randomScalar();
      const text = exportKey(scheme, secret, 'a long export passphrase', weak);
      expect(text).not.toContain(bytesToHex(suite.encodeScalar(secret)));
      const back = importExportedKey(text, 'a long export passphrase', weak);
      expect(bytesToHex(back.secret)).toBe(bytesToHex(suite.encodeScalar(secret)));
      expect(() => importExportedKey(text, 'not the passphrase', weak)).toThrow(/wrong_passphrase/);
      const o = JSON.parse(text);
      expect(() =>
        importExportedKey(
          JSON.stringify({ ...o, scheme: scheme === 'ed25519' ? 'secp256k1' : 'ed25519' }),
          'a long export passphrase',
          weak,
        ),
      ).toThrow();
      expect(() => importExportedKey(text, 'a long export passphrase')).toThrow(
        /below the minimum/,
      );
    },
  );
});

describe('an exported key file from elsewhere', () => {
  it('a scheme that is an object with its own toString is refused as a bad file, not a crash', () => {
    const text = exportKey(
      'ed25519',
      getSuite('ed25519').randomScalar(),
      'a long export passphrase',
      weak,
    );
    const o = JSON.parse(text);
    let err: unknown;
    try {
      importExportedKey(
        JSON.stringify({ ...o, scheme: { toString: 1 } }),
        'a long export passphrase',
        weak,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CryptoError);
    expect((err as Error).message).toMatch(/unknown scheme \{"toString":1\}/);
  });
});

describe('taproot keys in an exported key file', () => {
  const n = secp256k1.Point.CURVE().n;
  const pass = 'a long export passphrase';

  // BIP341 taproot_tweak_seckey with an empty script tree (BIP86), from noble directly rather
  // than Conclave's code: the secret of the output key.
  function tweakedSecret(s: bigint): Uint8Array {
    const P = secp256k1.Point.BASE.multiply(s);
    const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', P.toBytes().subarray(1)));
    return numberToBytesBE(mod((P.y % 2n === 0n ? s : n - s) + t, n), 32);
  }

  function bip86(s: bigint): { internalKey: string; outputKey: string } {
    return {
      internalKey: bytesToHex(secp256k1.Point.BASE.multiply(s).toBytes().subarray(1)),
      outputKey: bytesToHex(schnorr.getPublicKey(tweakedSecret(s))),
    };
  }

  /** Re-encrypts a file after changing its header, as a writer with the passphrase could. */
  function reseal(
    text: string,
    secret: bigint,
    edit: (h: Record<string, unknown>) => void,
  ): string {
    const { payload: _, ...header } = JSON.parse(text);
    edit(header);
    const key = scrypt(utf8ToBytes(pass), hexToBytes(header.kdf.salt), { ...weak.kdf, dkLen: 32 });
    const payload = xchacha20poly1305(
      key,
      hexToBytes(header.cipher.nonce),
      utf8ToBytes(canonicalJSON(header)),
    ).encrypt(numberToBytesBE(secret, 32));
    return JSON.stringify({ ...header, payload: bytesToHex(payload) });
  }

  // One secret whose public point has odd Y and one with even Y: the internal key is x-only, and
  // the tweak must start from its even-Y lift either way.
  it.each([9n, 7n])('names the internal key and the BIP86 output key of secret %s', (s) => {
    const want = bip86(s);
    const text = exportKey('taproot', s, pass, weak);
    expect(JSON.parse(text).taproot).toEqual(want);
    const back = importExportedKey(text, pass, weak);
    expect(back.taproot).toEqual(want);
    expect(back.publicKey.slice(2)).toBe(want.internalKey);
    const msg = utf8ToBytes('spend from the output key');
    expect(
      schnorr.verify(schnorr.sign(msg, tweakedSecret(s)), msg, hexToBytes(want.outputKey)),
    ).toBe(true);
  });

  it('reads a taproot file written before the file named its taproot keys', () => {
    // Written by exportKey at commit c00c18e (secret 9, whose point has odd Y).
    const old = JSON.stringify({
      format: 'conclave-exported-key',
      version: 1,
      scheme: 'taproot',
      publicKey: '03acd484e2f0c7f65309ad178a9f559abde09796974c57e714c35f110dfc27ccbe',
      createdAt: '2026-11-25T11:42:36.423Z',
      kdf: {
        name: 'scrypt',
        N: 1024,
        r: 8,
        p: 1,
        salt: 'a7277f4ee7e98e96c17b5252b8feb0aebfe31a1e0e090b780664b23e14f25ead',
      },
      cipher: {
        name: 'xchacha20poly1305',
        nonce: '708edb6a330cd1b9b3775490c0bc813b5a45079684aa48fa',
      },
      payload:
        'd45bcac221ba03984b93c61d16a74ac6eea28eb5aed9f849194924469c485bee6b0d61b706fc394c2fea1b6073fbf343',
    });
    const back = importExportedKey(old, pass, weak);
    expect(bytesToNumberBE(back.secret)).toBe(9n);
    expect(back.taproot).toEqual(bip86(9n));
  });

  it('ed25519 and secp256k1 files carry no taproot keys', () => {
    for (const scheme of ['ed25519', 'secp256k1'] as const) {
      const text = exportKey(scheme, getSuite(scheme).randomScalar(), pass, weak);
      expect(JSON.parse(text)).not.toHaveProperty('taproot');
      expect(importExportedKey(text, pass, weak)).not.toHaveProperty('taproot');
    }
  });

  it('importExportedKey refuses taproot keys that do not match the key in the file', () => {
    const text = exportKey('taproot', 9n, pass, weak);
    const { internalKey, outputKey } = bip86(9n);
    // Edited without the passphrase: the header is authenticated with the payload.
    const edited = JSON.stringify({
      ...JSON.parse(text),
      taproot: { internalKey: outputKey, outputKey },
    });
    expect(() => importExportedKey(edited, pass, weak)).toThrow(/wrong_passphrase/);
    // Written wrong by someone holding the passphrase.
    const swapped = reseal(
      text,
      9n,
      (h) => (h.taproot = { internalKey: outputKey, outputKey: internalKey }),
    );
    expect(() => importExportedKey(swapped, pass, weak)).toThrow(
      /backup_tampered.*taproot keys do not match/,
    );
  });

  it('importExportedKey refuses taproot keys in a file of another scheme', () => {
    const text = exportKey('secp256k1', 9n, pass, weak);
    const bad = reseal(text, 9n, (h) => (h.taproot = bip86(9n)));
    expect(() => importExportedKey(bad, pass, weak)).toThrow(
      /bad_backup.*secp256k1 key file has taproot keys/,
    );
  });
});
