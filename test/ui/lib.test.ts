// The renderer's pure helpers: key formats, exports, formatting, error sentences.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, type AuditEntryView } from '../../shared/api/index.js';
import { auditCsv, auditJson } from '../../renderer/lib/download.js';
import { explain } from '../../renderer/lib/errors.js';
import {
  ago,
  groupHex,
  hasInvisibleCharacters,
  hexDump,
  plural,
  timeLeft,
} from '../../renderer/lib/format.js';
import { opensshEd25519, sshComment, taprootAddress } from '../../renderer/lib/keys.js';
import { qrShape } from '../../renderer/lib/qr.js';
import { TAPROOT_OUTPUT_KEY } from './fake-api.js';

describe('key formats', () => {
  // RFC 8032 §7.1, TEST 1: the public key of the secret key 9d61b19d…
  const RFC8032_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

  it('the OpenSSH line is ssh-ed25519, the RFC 8709 wire encoding in base64, and the comment', () => {
    const line = opensshEd25519(RFC8032_PUB, 'treasury');
    const [type, b64, comment] = line.split(' ');
    expect(type).toBe('ssh-ed25519');
    expect(comment).toBe('conclave-treasury');
    const wire = Buffer.from(b64!, 'base64');
    expect(wire.readUInt32BE(0)).toBe(11);
    expect(wire.subarray(4, 15).toString()).toBe('ssh-ed25519');
    expect(wire.readUInt32BE(15)).toBe(32);
    expect(wire.subarray(19).toString('hex')).toBe(RFC8032_PUB);
  });

  it.skipIf(!existsSync('/usr/bin/ssh-keygen'))('ssh-keygen reads the OpenSSH line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-ssh-'));
    try {
      const file = join(dir, 'key.pub');
      writeFileSync(file, `${opensshEd25519(RFC8032_PUB, 'release signing')}\n`);
      const out = execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' });
      expect(out).toMatch(/^256 SHA256:\S+ conclave-release-signing \(ED25519\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the comment is one token whatever the group name', () => {
    expect(sshComment('  cold   wallet ')).toBe('conclave-cold-wallet');
  });

  it('refuses a key of the wrong length', () => {
    expect(() => opensshEd25519('abcd', 'x')).toThrow('32 bytes');
    expect(() => taprootAddress('02'.repeat(33))).toThrow('32 bytes');
  });

  it('the taproot address matches BIP86 test vector 1 (bech32m, witness v1)', () => {
    expect(taprootAddress(TAPROOT_OUTPUT_KEY)).toBe(
      'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr',
    );
  });
});

describe('exports', () => {
  const entry = (summary: string): AuditEntryView => ({
    author: 'peer',
    seq: 1,
    at: '2026-01-01T00:00:00.000Z',
    type: 'request.denied',
    summary,
    hash: 'ab',
  });

  it('CSV quotes commas, quotes and line breaks', () => {
    const csv = auditCsv([entry('a, "b"\nc')]);
    expect(csv.split('\r\n')[0]).toBe('at,author,authorName,seq,type,group,summary,hash');
    expect(csv).toContain('"a, ""b""\nc"');
  });

  it('CSV defuses cells a spreadsheet would run as formulas', () => {
    const csv = auditCsv([entry('=HYPERLINK("http://x")'), entry('+1'), entry('@SUM(A1)')]);
    expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csv).toContain(",'+1,");
    expect(csv).toContain(",'@SUM(A1),");
  });

  it('JSON is the entries as they are', () => {
    expect(JSON.parse(auditJson([entry('x')]))).toEqual([entry('x')]);
  });
});

describe('formatting', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');

  it('says how long ago and how long is left', () => {
    expect(ago('2026-03-01T11:59:30Z', now)).toBe('just now');
    expect(ago('2026-03-01T11:48:00Z', now)).toBe('12 min ago');
    expect(ago('2026-03-01T09:30:00Z', now)).toBe('2 h 30 min ago');
    expect(timeLeft('2026-03-02T11:48:00Z', now)).toBe('23 h 48 min left');
    expect(timeLeft('2026-03-01T11:00:00Z', now)).toBe('expired');
    expect(timeLeft('2026-03-05T12:00:00Z', now)).toBe('4 days left');
  });

  it('dumps hex with offsets, 16 bytes a line', () => {
    const dump = hexDump('00'.repeat(17));
    expect(dump.split('\n')).toEqual([
      '000000  0000 0000 0000 0000 0000 0000 0000 0000',
      '000010  00',
    ]);
    expect(groupHex('0123456789abcdef01')).toBe('01234567 89abcdef 01');
  });

  it('finds characters that hide what a text says', () => {
    expect(hasInvisibleCharacters('pay Bob')).toBe(false);
    expect(hasInvisibleCharacters('pay \u202eboB')).toBe(true);
    expect(hasInvisibleCharacters('pa\u200by')).toBe(true);
  });

  it('counts in words', () => {
    expect(plural(1, 'byte')).toBe('1 byte');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });
});

describe('errors in words', () => {
  it('says what failed, what to do next, and the node’s detail', () => {
    const text = explain(new ApiError('not_ready', 'group x is forming'), 'create the request');
    expect(text).toBe(
      'Could not create the request. It is not ready for that yet: wait for the step shown on screen, then try again. (Details: group x is forming)',
    );
  });

  it('treats anything else as an internal error', () => {
    expect(explain(new Error('boom'), 'load')).toContain('Something went wrong inside your node');
  });
});

describe('QR codes', () => {
  it('draws one unit square per dark module inside a quiet zone', () => {
    const { size, path } = qrShape('conclave-invite:abc');
    expect(size).toBeGreaterThanOrEqual(21 + 8);
    expect(path.startsWith('M4 4h1v1h-1z')).toBe(true);
  });
});
