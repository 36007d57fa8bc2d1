// The renderer's pure helpers: key formats, exports, formatting, error sentences.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, type AuditEntryView, type RequestView } from '../../shared/api/index.js';
import { defaultPolicy, describePolicy } from '../../shared/policy/policy.js';
import { readCeremony } from '../../renderer/lib/ceremony.js';
import { auditCsv, auditJson } from '../../renderer/lib/download.js';
import { explain } from '../../renderer/lib/errors.js';
import { ago, groupHex, hexDump, plural, timeLeft } from '../../renderer/lib/format.js';
import { opensshEd25519, sshComment, taprootAddress } from '../../renderer/lib/keys.js';
import { hiddenCharacters, lookAlikes, segments, whyBinary } from '../../renderer/lib/message.js';
import {
  approvalsNeeded,
  duration,
  policyDiff,
  policyRows,
  readPolicy,
} from '../../renderer/lib/policy.js';
import { qrShape } from '../../renderer/lib/qr.js';
import { PolicyForm } from '../../renderer/state/manage.svelte.js';
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

  it('dumps hex with offsets, 16 bytes a line, and an ASCII column (a dot for the rest)', () => {
    const dump = hexDump('00'.repeat(15) + '41' + '7f');
    expect(dump.split('\n')).toEqual([
      '000000  0000 0000 0000 0000 0000 0000 0000 0041  |...............A|',
      '000010  7f                                       |.|',
    ]);
    expect(groupHex('0123456789abcdef01')).toBe('01234567 89abcdef 01');
  });

  it('names hidden characters with their lines, and says why bytes are not text', () => {
    expect(hiddenCharacters('pay Bob')).toEqual([]);
    const found = hiddenCharacters('a\u202eb\nc\u202ed\re\u00ad');
    expect(found.map((f) => [f.label, f.count, f.lines, f.bidi])).toEqual([
      ['U+202E right-to-left override', 2, [1, 2], true],
      ['U+000D carriage return', 1, [2], false],
      ['U+00AD soft hyphen', 1, [2], false],
    ]);
    expect(whyBinary(new Uint8Array([0x61, 0x62, 0xc3])).reason).toMatch(/byte 2 is 0xc3/);
    expect(whyBinary(new TextEncoder().encode('x\u0007')).reason).toMatch(
      /U\+0007 control character \(1×\)/,
    );
    expect(segments('a\u200bb')).toEqual([
      { text: 'a' },
      { text: 'U+200B', hidden: 'U+200B zero width space' },
      { text: 'b' },
    ]);
  });

  it('flags words that mix alphabets or pass for Latin, and leaves plain words alone', () => {
    expect(lookAlikes('Pay Northwind Ltd 12 400 EUR; Grüße, naïve café')).toEqual([]);
    expect(lookAlikes('Привет, мир')).toEqual([]);
    expect(lookAlikes('pаypal').map((l) => l.characters)).toEqual([
      ['U+0430 Cyrillic “а”, looks like Latin “a”'],
    ]);
    // A whole word of Cyrillic letters that all pass for Latin, in a Latin text.
    expect(lookAlikes('pay to аррle').map((l) => l.word)).toEqual(['аррle']);
    expect(lookAlikes('pay to сос').map((l) => l.word)).toEqual(['сос']);
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

describe('group policies', () => {
  const base = readPolicy(defaultPolicy())!;

  it('reads the node’s policy, and nothing that is not one', () => {
    expect(base.allowedKinds).toEqual(['sign', 'refresh', 'reshare', 'repair', 'policy']);
    expect(readPolicy({ ...defaultPolicy(), v: 2 })).toBeUndefined();
    expect(readPolicy({ ...defaultPolicy(), approvals: { sign: '3' } })).toBeUndefined();
    expect(readPolicy({ ...defaultPolicy(), allowedKinds: ['sign', 'launch'] })).toBeUndefined();
    expect(readPolicy(null)).toBeUndefined();
  });

  it('counts approvals as the node does: the policy’s number within T..N, else T', () => {
    const p = { ...base, approvals: { sign: 3, refresh: 9 }, policyChange: 'all' as const };
    expect(approvalsNeeded(p, 'sign', 2, 3)).toBe(3);
    expect(approvalsNeeded(p, 'refresh', 2, 3)).toBe(3);
    expect(approvalsNeeded(p, 'reshare', 2, 3)).toBe(2);
    expect(approvalsNeeded(p, 'policy', 2, 3)).toBe(3);
  });

  it('says the same rules as the node’s description, one row each', () => {
    const rows = policyRows(base, 2, 3);
    expect(rows.map((r) => r.value)).toEqual([
      'Allowed; needs 2 of 3 members',
      'Allowed; needs 2 of 3 members',
      'Allowed; needs 2 of 3 members',
      'Allowed; needs 2 of 3 members',
      'Not allowed',
      'Needs 2 of 3 members',
      '1 day unless the proposer chooses otherwise; at most 30 days',
      'Signing goes on; a refresh is recommended (until then the lost device’s share still works)',
      'Any message',
    ]);
    expect(describePolicy(defaultPolicy(), 2, 3)).toContain(
      'Reconstructing the key is not allowed.',
    );
  });

  it('a change lists only the rules that read differently, and marks allowing reconstruction', () => {
    const next = {
      ...base,
      allowedKinds: [...base.allowedKinds, 'reconstruct' as const],
      allowReconstruct: true,
      messagePrefixes: ['release:'],
    };
    const diff = policyDiff(base, next, 2, 3);
    expect(diff.map((d) => [d.id, d.from, d.to, d.danger ?? false])).toEqual([
      [
        'reconstruct',
        'Not allowed',
        'Allowed; needs 2 of 3 members. The key is exposed afterwards',
        true,
      ],
      ['prefixes', 'Any message', 'Only text starting with “release:”', false],
    ]);
    expect(policyDiff(base, { ...base, approvals: { sign: 2 } }, 2, 3)).toEqual([]);
  });

  it('keeps "refresh after repair" from the node, says it, and shows turning it on as a change', () => {
    const strict = readPolicy({ ...defaultPolicy(), refreshAfterRepair: true })!;
    expect(strict.refreshAfterRepair).toBe(true);
    expect(readPolicy({ ...defaultPolicy(), refreshAfterRepair: 'yes' })).toBeUndefined();
    expect(policyRows(strict, 2, 3).find((r) => r.id === 'refresh-after-repair')!.value).toMatch(
      /^Signing waits until the shares are refreshed/,
    );
    expect(policyDiff(base, strict, 2, 3).map((d) => d.id)).toEqual(['refresh-after-repair']);
  });

  it('a policy draft keeps "refresh after repair" unless the custodian unticks it', () => {
    const strict = readPolicy({ ...defaultPolicy(), refreshAfterRepair: true })!;
    const form = new PolicyForm();
    form.start(strict, 2, 3);
    form.prefixesText = 'release:';
    expect(form.build(2).refreshAfterRepair).toBe(true);
    form.refreshAfterRepair = false;
    expect(form.build(2)).not.toHaveProperty('refreshAfterRepair');
  });

  it('says durations in the largest whole unit', () => {
    expect([86400, 3600 * 8, 30 * 86400, 90].map(duration)).toEqual([
      '1 day',
      '8 hours',
      '30 days',
      '90 seconds',
    ]);
  });
});

describe('lifecycle requests', () => {
  const hex = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('hex');
  const request = (kind: RequestView['kind'], params: unknown) =>
    ({ kind, message: hex(params) }) as RequestView;

  it('reads a reshare’s newcomers, removals and new threshold', () => {
    const r = request('reshare', {
      ceremony: 'reshare',
      group: 'g',
      fromEpoch: 4,
      threshold: 3,
      size: 4,
      add: [{ peerId: '12D3KooWnew', name: 'Dave', addrs: [] }],
      remove: ['12D3KooWold'],
    });
    expect(readCeremony(r)).toEqual({
      kind: 'reshare',
      fromEpoch: 4,
      threshold: 3,
      size: 4,
      add: [{ peerId: '12D3KooWnew', name: 'Dave' }],
      remove: ['12D3KooWold'],
    });
  });

  it('reads a reconstruction’s purpose and operation, and a policy change', () => {
    const rc = request('reconstruct', {
      ceremony: 'reconstruct',
      group: 'g',
      fromEpoch: 0,
      purpose: 'migrate',
      operation: 'ecdsa-sign',
      requester: 'p',
      oneTimeKey: 'aa',
      digest: '00'.repeat(32),
    });
    expect(readCeremony(rc)).toMatchObject({ operation: 'ecdsa-sign', purpose: 'migrate' });
    const pol = request('policy', { v: 1, from: 'ab', policy: defaultPolicy() });
    expect(readCeremony(pol)).toMatchObject({ kind: 'policy', from: 'ab' });
  });

  it('reads nothing from a signing request or parameters of another shape', () => {
    expect(readCeremony(request('sign', { ceremony: 'refresh', fromEpoch: 0 }))).toBeUndefined();
    expect(readCeremony(request('refresh', { ceremony: 'reshare', fromEpoch: 0 }))).toBeUndefined();
    expect(readCeremony(request('repair', { ceremony: 'repair', fromEpoch: 0 }))).toBeUndefined();
    expect(readCeremony({ kind: 'refresh', message: 'ff00' } as RequestView)).toBeUndefined();
  });
});
