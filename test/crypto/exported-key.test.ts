// Sealing to a one-time key and the exported-key file of the reconstruction ceremony.
import { describe, expect, it } from 'vitest';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  exportKey,
  importExportedKey,
  openSealed,
  sealTo,
} from '../../shared/crypto/exported-key.js';
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
