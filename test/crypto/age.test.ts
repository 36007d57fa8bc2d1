// age for an ed25519 group: the age1 recipient, the u → Edwards map, the X25519 stanza unwrap from a
// threshold-ECDH result, and the refusals (low-order or twist shares, an all-zero secret).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64nopad } from '@scure/base';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ageRecipient,
  groupStanzas,
  headerMacMatches,
  montgomeryOf,
  parseAgeHeader,
  parseAgeRecipient,
  plaintextSize,
  sharedSecretOf,
  unwrapSshEd25519,
  unwrapX25519,
  x25519Share,
  x25519ToEdwards,
  type AgeStanza,
} from '../../shared/crypto/age.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import { combineEcdh, ecdhPartial } from '../../shared/crypto/ecdh.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { ed25519Line } from '../../shared/ssh/wire.js';

const suite = getSuite('ed25519');
const s = suite.randomScalar();
const keys = splitSecret('ed25519', s, 2, [1n, 2n, 3n]);
const pub = keys[0]!.public;
const groupKey = pub.groupKey.toBytes();
const recipient = ageRecipient(groupKey);

/** What the group computes for one X25519 stanza: s·E from two members' partials. */
function groupShared(stanza: AgeStanza, members = [0, 2]): Uint8Array {
  const E = x25519ToEdwards(x25519Share(stanza));
  const parts = members.map((i) => ecdhPartial(keys[i]!, E));
  return sharedSecretOf(suite.encodePoint(combineEcdh(pub, E, parts)));
}

/** The file key of an age file encrypted to the group, found as the CLI does. */
function fileKeyOf(file: Uint8Array): Uint8Array {
  const header = parseAgeHeader(file);
  for (const st of header.stanzas.filter((x) => x.args[0] === 'X25519')) {
    const key = unwrapX25519(st, groupShared(st), montgomeryOf(groupKey));
    if (key && headerMacMatches(header, key)) return key;
  }
  throw new Error('no stanza for the group');
}

async function decryptWith(file: Uint8Array, fileKey: Uint8Array): Promise<Uint8Array> {
  const d = new Decrypter();
  d.addIdentity({ unwrapFileKey: () => fileKey });
  return d.decrypt(file);
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

const dir = mkdtempSync(join(tmpdir(), 'conclave-age-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the group recipient', () => {
  it('is the Montgomery form of the group key, as libsodium/noble convert it', () => {
    expect(recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect(bytesToHex(parseAgeRecipient(recipient))).toBe(
      bytesToHex(ed25519.utils.toMontgomery(groupKey)),
    );
  });

  it('matches what age-keygen -y prints for the same key (a normal ed25519 key converted)', async () => {
    // A single-party key: its X25519 secret is the ed25519 secret scalar, so age agrees on the
    // recipient (age-keygen -y on the X25519 identity).
    const seed = ed25519.utils.randomSecretKey();
    const edPub = ed25519.getPublicKey(seed);
    const xSecret = ed25519.utils.toMontgomerySecret(seed);
    expect(bytesToHex(x25519.getPublicKey(xSecret))).toBe(bytesToHex(montgomeryOf(edPub)));
    const id = await generateX25519Identity();
    const out = execFileSync('/usr/bin/age-keygen', ['-y'], { input: id + '\n' })
      .toString()
      .trim();
    expect(out).toBe(await identityToRecipient(id));
  });
});

describe('decrypting to identical bytes without the key', () => {
  it('opens a file Debian age encrypted to the group recipient', async () => {
    const plain = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    writeFileSync(join(dir, 'plain'), plain);
    execFileSync('/usr/bin/age', ['-r', recipient, '-o', join(dir, 'one.age'), join(dir, 'plain')]);
    const file = new Uint8Array(readFileSync(join(dir, 'one.age')));
    const header = parseAgeHeader(file);
    expect(header.stanzas).toHaveLength(1);
    expect(plaintextSize(file.length, header.length)).toBe(plain.length);
    const out = await decryptWith(file, fileKeyOf(file));
    expect(Buffer.from(out).equals(Buffer.from(plain))).toBe(true);
  });

  it('opens a file with a second, non-group recipient too (whatever the order)', async () => {
    execFileSync('/usr/bin/age-keygen', ['-o', join(dir, 'other.key')], { stdio: 'ignore' });
    const other = execFileSync('/usr/bin/age-keygen', ['-y', join(dir, 'other.key')])
      .toString()
      .trim();
    writeFileSync(join(dir, 'text'), 'a secret line\n');
    execFileSync('/usr/bin/age', [
      '-r',
      other,
      '-r',
      recipient,
      '-o',
      join(dir, 'two.age'),
      join(dir, 'text'),
    ]);
    const file = new Uint8Array(readFileSync(join(dir, 'two.age')));
    expect(parseAgeHeader(file).stanzas.map((x) => x.args[0])).toEqual(['X25519', 'X25519']);
    expect(new TextDecoder().decode(await decryptWith(file, fileKeyOf(file)))).toBe(
      'a secret line\n',
    );
    // The other recipient's stanza gives no file key for the group (its tag does not verify).
    const header = parseAgeHeader(file);
    const keysFound = header.stanzas.map((st) =>
      unwrapX25519(st, groupShared(st), montgomeryOf(groupKey)),
    );
    expect(keysFound.filter((k) => k !== undefined)).toHaveLength(1);
    // and age itself still opens it with the other identity
    const again = execFileSync('/usr/bin/age', [
      '-d',
      '-i',
      join(dir, 'other.key'),
      join(dir, 'two.age'),
    ]);
    expect(again.toString()).toBe('a secret line\n');
  });

  it('opens an empty file encrypted by typage, with any two members', async () => {
    const e = new Encrypter();
    e.addRecipient(recipient);
    const file = await e.encrypt(new Uint8Array());
    const header = parseAgeHeader(file);
    expect(plaintextSize(file.length, header.length)).toBe(0);
    const st = header.stanzas[0]!;
    const a = groupShared(st, [0, 1]);
    const b = groupShared(st, [1, 2]);
    expect(bytesToHex(a)).toBe(bytesToHex(b));
    expect(await decryptWith(file, unwrapX25519(st, a, montgomeryOf(groupKey))!)).toHaveLength(0);
  });
});

describe("the group's OpenSSH key as an age recipient (age -R)", () => {
  it('opens a file Debian age encrypted to the group’s ssh-ed25519 line, and only that stanza is the group’s', async () => {
    writeFileSync(join(dir, 'group.pub'), ed25519Line(groupKey, 'group') + '\n');
    const otherSeed = ed25519.utils.randomSecretKey();
    writeFileSync(join(dir, 'other.pub'), ed25519Line(ed25519.getPublicKey(otherSeed)) + '\n');
    writeFileSync(join(dir, 'ssh-plain'), 'to the group by its SSH key\n');
    execFileSync('/usr/bin/age', [
      '-R',
      join(dir, 'other.pub'),
      '-R',
      join(dir, 'group.pub'),
      '-o',
      join(dir, 'ssh.age'),
      join(dir, 'ssh-plain'),
    ]);
    const file = new Uint8Array(readFileSync(join(dir, 'ssh.age')));
    const header = parseAgeHeader(file);
    expect(header.stanzas.map((x) => x.args[0])).toEqual(['ssh-ed25519', 'ssh-ed25519']);
    // The tag says which stanza is the group's: the other key's is not computed at all.
    const targets = groupStanzas(header, groupKey);
    expect(targets.map((t) => [t.index, t.type])).toEqual([[1, 'ssh-ed25519']]);
    const st = header.stanzas[1]!;
    const E = targets[0]!.point;
    const shared = sharedSecretOf(
      suite.encodePoint(combineEcdh(pub, E, [ecdhPartial(keys[1]!, E), ecdhPartial(keys[2]!, E)])),
    );
    const key = unwrapSshEd25519(st, shared, groupKey)!;
    expect(headerMacMatches(header, key)).toBe(true);
    expect(new TextDecoder().decode(await decryptWith(file, key))).toBe(
      'to the group by its SSH key\n',
    );
    // Another secret does not open it.
    const wrong = sharedSecretOf(suite.encodePoint(suite.G.multiply(5n)));
    expect(unwrapSshEd25519(st, wrong, groupKey)).toBeUndefined();
  });
});

describe('refusals', () => {
  const order8 = [
    '0000000000000000000000000000000000000000000000000000000000000000', // u = 0 (order 2)
    '0100000000000000000000000000000000000000000000000000000000000000', // u = 1 (order 4)
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // u = p − 1
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // u = p (non-canonical)
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // u = p + 1
  ];
  it.each(order8)('refuses the low-order or non-canonical share %s', (hex) => {
    expect(refusal(() => x25519ToEdwards(hexToBytes(hex)))).toMatch(/bad_point/);
  });

  it('refuses a point of small order plus a prime-order point (outside the subgroup)', () => {
    const T8 = ed25519.Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    );
    expect(T8.isSmallOrder()).toBe(true);
    const mixed = ed25519.Point.BASE.multiply(12345n).add(T8);
    const u = ed25519.utils.toMontgomery(mixed.toBytes());
    expect(refusal(() => x25519ToEdwards(u))).toMatch(/prime-order subgroup/);
  });

  it('refuses a u on the twist', () => {
    // u = 2 is not the u-coordinate of a Curve25519 point.
    const u = new Uint8Array(32);
    u[0] = 2;
    expect(refusal(() => x25519ToEdwards(u))).toMatch(/twist/);
  });

  it('maps an honest share to the point X25519 multiplies', () => {
    const e = x25519.utils.randomSecretKey();
    const E = x25519.getPublicKey(e);
    const P = x25519ToEdwards(E);
    expect(bytesToHex(ed25519.utils.toMontgomery(P))).toBe(bytesToHex(E));
  });

  it('refuses an all-zero shared secret', () => {
    expect(refusal(() => sharedSecretOf(ed25519.Point.ZERO.toBytes()))).toMatch(/all zeros/);
    const st: AgeStanza = {
      args: ['X25519', base64nopad.encode(x25519.getPublicKey(x25519.utils.randomSecretKey()))],
      body: new Uint8Array(32),
    };
    expect(refusal(() => unwrapX25519(st, new Uint8Array(32), montgomeryOf(groupKey)))).toMatch(
      /all zeros/,
    );
  });

  it('refuses malformed headers with what is wrong', async () => {
    const e = new Encrypter();
    e.addRecipient(recipient);
    const good = new TextDecoder('latin1').decode(await e.encrypt('x'));
    const bad = (text: string) =>
      refusal(() => parseAgeHeader(Uint8Array.from(text, (c) => c.charCodeAt(0))));
    expect(bad('age-encryption.org/v2\n')).toMatch(/not an age v1 file/);
    expect(bad('age-encryption.org/v1\n--- ' + 'A'.repeat(43) + '\n')).toMatch(/no recipient/);
    expect(bad(good.replace('\n--- ', '\n---- '))).toMatch(/expected a stanza/);
    expect(bad(good.slice(0, good.indexOf('--- ')))).toMatch(/ends before its MAC/);
    expect(bad('-----BEGIN AGE ENCRYPTED FILE-----\n')).toMatch(/armored/);
    // A non-canonical base64 share (trailing bits set).
    const st = good.split('\n')[1]!;
    const share = st.split(' ')[2]!;
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = abc[abc.indexOf(share[42]!) ^ 1]!;
    const tampered = good.replace(share, share.slice(0, 42) + last);
    const stanza = parseAgeHeader(Uint8Array.from(tampered, (c) => c.charCodeAt(0))).stanzas[0]!;
    expect(refusal(() => x25519Share(stanza))).toMatch(/X25519 share: not canonical/);
    const many = 'age-encryption.org/v1\n' + `-> X\n\n`.repeat(33) + '--- ' + 'A'.repeat(43) + '\n';
    expect(bad(many)).toMatch(/more than 32 recipients/);
  });
});
