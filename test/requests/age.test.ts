// The 'age' request kind: its message (the header alone, with a name and size), the card an approver
// sees (from the header bytes), what the group computes (s·E per X25519 stanza), and the refusals.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64, base64nopad } from '@scure/base';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageRecipient, parseAgeHeader } from '../../shared/crypto/age.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import {
  decodeRequest,
  executionOf,
  parseRequest,
  RequestParamError,
} from '../../shared/requests/index.js';
import { age, ageMessage } from '../../shared/requests/age.js';
import { ed25519Line } from '../../shared/ssh/wire.js';
import { ALICE, ctx } from './fixtures.js';

const groupKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
const recipient = ageRecipient(groupKey);
const ectx = ctx({ scheme: 'ed25519' });

let one: Uint8Array; // a file to the group alone
let two: Uint8Array; // to the group and another recipient

async function encrypt(recipients: string[], plain: Uint8Array): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plain);
}

beforeAll(async () => {
  one = await encrypt([recipient], utf8ToBytes('hello'));
  const other = await identityToRecipient(await generateX25519Identity());
  two = await encrypt([other, recipient], new Uint8Array(100_000));
});

const headerOf = (file: Uint8Array) => file.slice(0, parseAgeHeader(file).length);
const messageOf = (file: Uint8Array, name = 'notes.txt.age') =>
  ageMessage({ name, size: file.length, header: headerOf(file) });

function refused(f: () => unknown, field: string, text?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).field).toBe(field);
    if (text) expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected a refusal');
}

describe('age requests', () => {
  it('parse the header alone, and the group computes s·E for the X25519 stanza', () => {
    const p = parseRequest('age', messageOf(one), ectx);
    expect(p.name).toBe('notes.txt.age');
    expect(p.types).toEqual(['X25519']);
    const ex = executionOf('age', messageOf(one), ectx);
    expect(ex.op).toBe('ecdh');
    if (ex.op !== 'ecdh') return;
    expect(ex.points).toHaveLength(1);
    // The point is the stanza's share on the Edwards curve (same u-coordinate).
    const E = base64nopad.decode(p.parsed.stanzas[0]!.args[1]!);
    expect(bytesToHex(ed25519.utils.toMontgomery(ex.points[0]!))).toBe(bytesToHex(E));
  });

  it('show the name, sizes, who asks, the recipients, and that one must be this group', () => {
    const card = decodeRequest('age', messageOf(two, 'payroll.xlsx.age'), ectx);
    expect(card.invalid).toBeUndefined();
    expect(card.title).toBe('Decrypt an age file with the key of “Treasury”');
    const f = Object.fromEntries(card.fields.map((x) => [x.label, x.value]));
    expect(f.File).toBe('payroll.xlsx.age');
    expect(f.Size).toBe(
      `${two.length.toLocaleString('en-US')} bytes encrypted, 100,000 bytes once decrypted`,
    );
    expect(f['Requested by']).toMatch(/^Alice \(/);
    expect(card.fields.find((x) => x.label === 'Requested by')!.people![0]!.peerId).toBe(ALICE);
    expect(f['Recipients in the header']).toBe('2, both X25519');
    expect(f['This group']).toMatch(/One of the 2 X25519 recipients must be this group/);
    expect(card.summary).toMatch(/Alice asks to decrypt “payroll.xlsx.age” \(100,000 bytes\)/);
    expect(card.warnings!.join(' ')).toMatch(/lets Alice read this file/);
    const ex = executionOf('age', messageOf(two), ectx);
    expect(ex.op === 'ecdh' && ex.points.length).toBe(2);
  });

  it('say "(you)" on the requester’s own card', () => {
    const card = age.decode(age.parse(messageOf(one), ectx), { ...ectx, me: ALICE });
    expect(card.summary).toMatch(/^Alice \(you\) asks/);
  });

  it('are for ed25519 groups only', () => {
    refused(
      () => parseRequest('age', messageOf(one), ctx({ scheme: 'secp256k1' })),
      'kind',
      /ed25519/,
    );
  });
});

describe('age requests to the group’s OpenSSH key (age -R)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-age-ssh-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'group.pub'), ed25519Line(groupKey) + '\n');
  const sctx = ctx({ scheme: 'ed25519', publicKey: bytesToHex(groupKey) });
  const ageFile = (args: string[]) => {
    writeFileSync(join(dir, 'plain'), 'x');
    execFileSync('/usr/bin/age', [...args, '-o', join(dir, 'out.age'), join(dir, 'plain')]);
    return new Uint8Array(readFileSync(join(dir, 'out.age')));
  };

  it('names the group’s stanza on the card, from its tag', async () => {
    const other = await identityToRecipient(await generateX25519Identity());
    const f = ageFile(['-r', other, '-R', join(dir, 'group.pub')]);
    const card = decodeRequest('age', messageOf(f), sctx);
    const fields = Object.fromEntries(card.fields.map((x) => [x.label, x.value]));
    expect(fields['Recipients in the header']).toBe('2 (1 X25519, 1 ssh-ed25519)');
    expect(fields['This group']).toMatch(/^Yes: recipient 2 is this group’s SSH key/);
    const ex = executionOf('age', messageOf(f), sctx);
    expect(ex.op === 'ecdh' && ex.points.length).toBe(2);
  });

  it('refuses a file only to another SSH key, or when the node does not know the group key', () => {
    const otherKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    writeFileSync(join(dir, 'other.pub'), ed25519Line(otherKey) + '\n');
    const f = ageFile(['-R', join(dir, 'other.pub')]);
    refused(
      () => parseRequest('age', messageOf(f), sctx),
      'header',
      /no ssh-ed25519 recipient of this group/,
    );
    const g = ageFile(['-R', join(dir, 'group.pub')]);
    expect(() => parseRequest('age', messageOf(g), sctx)).not.toThrow();
    refused(() => parseRequest('age', messageOf(g), ectx), 'header', /not encrypted to the group/);
  });
});

describe('age requests refused before anyone is asked', () => {
  const json = (o: Record<string, unknown>) => utf8ToBytes(canonicalJSON(o));
  const base = () => ({
    header: base64.encode(headerOf(one)),
    name: 'f.age',
    size: one.length,
    v: 1,
  });

  it('a low-order ephemeral share E', () => {
    const h = new TextDecoder().decode(headerOf(one));
    const share = h.split('\n')[1]!.split(' ')[2]!;
    const low = base64nopad.encode(new Uint8Array(32)); // u = 0, of order 2
    const bad = utf8ToBytes(h.replace(share, low));
    refused(
      () => parseRequest('age', json({ ...base(), header: base64.encode(bad) }), ectx),
      'header.stanza[0]',
      /low-order/,
    );
  });

  it('a share on the twist, or outside the prime-order subgroup', () => {
    const h = new TextDecoder().decode(headerOf(one));
    const share = h.split('\n')[1]!.split(' ')[2]!;
    const twist = new Uint8Array(32);
    twist[0] = 2;
    const bad = utf8ToBytes(h.replace(share, base64nopad.encode(twist)));
    refused(
      () => parseRequest('age', json({ ...base(), header: base64.encode(bad) }), ectx),
      'header.stanza[0]',
      /twist/,
    );
    const T8 = ed25519.Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    );
    const mixed = ed25519.Point.BASE.multiply(77n).add(T8).toBytes();
    const u = ed25519.utils.toMontgomery(mixed);
    const bad2 = utf8ToBytes(h.replace(share, base64nopad.encode(u)));
    refused(
      () => parseRequest('age', json({ ...base(), header: base64.encode(bad2) }), ectx),
      'header.stanza[0]',
      /prime-order/,
    );
  });

  it('the whole file instead of its header, a payload, or something else', () => {
    refused(
      () => parseRequest('age', json({ ...base(), header: base64.encode(one) }), ectx),
      'header',
      /header alone/,
    );
    refused(
      () =>
        parseRequest('age', json({ ...base(), header: base64.encode(utf8ToBytes('hello')) }), ectx),
      'header',
      /not an age header/,
    );
    refused(() => parseRequest('age', json({ ...base(), header: 'not base64!' }), ectx), 'header');
  });

  it('a size that cannot be this file, a bad name, unknown fields, non-canonical JSON', () => {
    refused(
      () => parseRequest('age', json({ ...base(), size: headerOf(one).length + 20 }), ectx),
      'size',
    );
    refused(() => parseRequest('age', json({ ...base(), size: 10 }), ectx), 'size');
    refused(() => parseRequest('age', json({ ...base(), name: 'a\u202eb' }), ectx), 'name');
    refused(() => parseRequest('age', json({ ...base(), name: '' }), ectx), 'name');
    refused(
      () => parseRequest('age', json({ ...base(), extra: 1 }), ectx),
      'message',
      /unknown field/,
    );
    refused(() => parseRequest('age', json({ ...base(), v: 2 }), ectx), 'v');
    const spaced = utf8ToBytes(JSON.stringify(base(), null, 1));
    refused(() => parseRequest('age', spaced, ectx), 'message', /canonical/);
  });

  it('a passphrase-encrypted file, or one with no X25519 recipient', async () => {
    const e = new Encrypter();
    e.setPassphrase('correct horse');
    e.setScryptWorkFactor(2);
    const f = await e.encrypt('x');
    refused(() => parseRequest('age', messageOf(f), ectx), 'header', /passphrase/);
    const h = new TextDecoder()
      .decode(headerOf(one))
      .replace('-> X25519 ', '-> example.com/other ');
    refused(
      () => parseRequest('age', json({ ...base(), header: base64.encode(utf8ToBytes(h)) }), ectx),
      'header',
      /no X25519 recipient/,
    );
  });

  it('shows an unreadable request as such', () => {
    const card = decodeRequest('age', utf8ToBytes('{}'), ectx);
    expect(card.invalid).toMatch(/missing/);
  });

  it('a header larger than the bound', () => {
    refused(
      () =>
        parseRequest(
          'age',
          json({ ...base(), header: base64.encode(new Uint8Array(40_000)) }),
          ectx,
        ),
      'header',
      /at most 32768 bytes/,
    );
  });
});
