// The fast Ed25519 signer (main/crypto/ed25519.ts ed25519Signer) gives exactly noble's signature
// bytes: on RFC 8032's test vectors, on random keys and messages, with the native path off, and
// when the platform cannot sign or signs wrongly (then noble signs).
// The real node:crypto sign, for a mock to delegate to before it starts failing.
import { sign as realSign } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { ed25519Signer, setNativeEd25519, warmEd25519 } from '../../main/crypto/ed25519.js';
import type * as Ed25519Module from '../../main/crypto/ed25519.js';

// RFC 8032 §7.1, TEST 1, TEST 2 and TEST 3 (secret key, message, signature).
const RFC8032 = [
  {
    sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

describe('ed25519Signer', () => {
  afterEach(() => setNativeEd25519(true));

  it("signs RFC 8032's test vectors", () => {
    for (const v of RFC8032) {
      const sign = ed25519Signer(hexToBytes(v.sk));
      expect(bytesToHex(sign(hexToBytes(v.msg)))).toBe(v.sig);
    }
  });

  it("gives noble's bytes for random keys and messages, and keeps its own copy of the seed", () => {
    for (let i = 0; i < 200; i++) {
      const seed = randomBytes(32);
      const sign = ed25519Signer(seed);
      const msg = randomBytes(i % 7 === 0 ? 0 : 1 + (i % 100));
      const expected = ed25519.sign(msg, seed);
      expect(bytesToHex(sign(msg))).toBe(bytesToHex(expected));
      seed.fill(0);
      expect(bytesToHex(sign(msg))).toBe(bytesToHex(expected));
    }
  });

  it('warms noble without changing a signature, however often it is called', () => {
    const seed = randomBytes(32);
    const msg = randomBytes(40);
    const before = bytesToHex(ed25519.sign(msg, seed));
    warmEd25519();
    warmEd25519();
    expect(bytesToHex(ed25519Signer(seed)(msg))).toBe(before);
    expect(bytesToHex(ed25519.sign(msg, seed))).toBe(before);
  });

  it("is noble's own signer when the native path is off", () => {
    setNativeEd25519(false);
    const seed = randomBytes(32);
    const msg = randomBytes(40);
    expect(bytesToHex(ed25519Signer(seed)(msg))).toBe(bytesToHex(ed25519.sign(msg, seed)));
  });
});

describe('ed25519Signer when the platform misbehaves', () => {
  async function withCrypto(
    patch: Partial<typeof NodeCrypto>,
    run: (m: typeof Ed25519Module) => void,
  ) {
    vi.resetModules();
    vi.doMock('node:crypto', async (orig) => ({ ...(await orig<typeof NodeCrypto>()), ...patch }));
    try {
      run(await import('../../main/crypto/ed25519.js'));
    } finally {
      vi.doUnmock('node:crypto');
      vi.resetModules();
    }
  }

  const check = (m: typeof Ed25519Module) => {
    const seed = randomBytes(32);
    const msg = randomBytes(33);
    expect(bytesToHex(m.ed25519Signer(seed)(msg))).toBe(bytesToHex(ed25519.sign(msg, seed)));
  };

  it('signs with noble when the platform cannot make an Ed25519 key', async () => {
    await withCrypto(
      {
        createPrivateKey: () => {
          throw new Error('Unsupported key type');
        },
      },
      check,
    );
  });

  it("signs with noble when native's signature differs from noble's (the self-test)", async () => {
    await withCrypto(
      { sign: (() => Buffer.alloc(64, 1)) as unknown as typeof NodeCrypto.sign },
      check,
    );
  });

  it('signs with noble when native signing throws after the self-test', async () => {
    let calls = 0;
    await withCrypto(
      {
        sign: ((...args: Parameters<typeof NodeCrypto.sign>) => {
          calls++;
          if (calls > 1) throw new Error('native failure');
          return realSign(...args);
        }) as typeof NodeCrypto.sign,
      },
      check,
    );
    expect(calls).toBeGreaterThan(1);
  });
});
