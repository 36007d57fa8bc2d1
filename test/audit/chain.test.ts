// The audit chain format: valid chains verify; each kind of tampering is named at its author and seq.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  AuditError,
  canonicalJSON,
  checkEntry,
  entryProblem,
  GENESIS_PREV,
  hashEntry,
  makeEntry,
  MAX_ENTRY_BYTES,
  parseEntry,
  verifyEntries,
  acceptableAuthor,
  authorProblem,
  splitAuthor,
  type AcceptedAuthors,
  type AuditEntry,
} from '../../shared/audit/chain.js';
import { canonicalJSON as backupCanonicalJSON } from '../../shared/crypto/backup.js';

interface Author {
  id: string;
  secret: Uint8Array;
  publicKey: Uint8Array;
  entries: AuditEntry[];
}

function author(id: string): Author {
  const secret = ed25519.utils.randomSecretKey();
  return { id, secret, publicKey: ed25519.getPublicKey(secret), entries: [] };
}

let clock = 1_760_000_000_000;

function append(a: Author, type: string, body: Record<string, unknown> = {}, group?: string) {
  const e = makeEntry(
    a.entries.at(-1),
    { author: a.id, at: clock++, type, body, ...(group ? { group } : {}) },
    (h) => ed25519.sign(h, a.secret),
  );
  a.entries.push(e);
  return e;
}

/** Two authors with 4 and 3 entries, interleaved in time. */
function setup() {
  const alice = author('12D3KooWAlice');
  const bob = author('12D3KooWBob');
  append(alice, 'identity.created', { name: 'Alice', fingerprint: 'ab12' });
  append(bob, 'identity.created', { name: 'Bob', fingerprint: 'cd34' });
  append(alice, 'group.created', { name: 'Treasury', threshold: 2, size: 2 }, 'g1');
  append(bob, 'group.joined', { index: 2 }, 'g1');
  append(alice, 'request.created', { id: 'r1', sha256: 'ff'.repeat(32) }, 'g1');
  append(bob, 'request.approved', { id: 'r1' }, 'g1');
  append(alice, 'request.signed', { id: 'r1', signers: [1, 2], note: 'ünïcødé ✓' }, 'g1');
  const keys = new Map([alice, bob].map((a) => [a.id, a.publicKey]));
  const keyOf = (id: string) => keys.get(id);
  return { alice, bob, all: [...alice.entries, ...bob.entries], keyOf };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('canonicalJSON', () => {
  it('sorts keys at every depth and leaves no whitespace', () => {
    expect(canonicalJSON({ b: 1, a: [{ d: null, c: 'x' }, true] })).toBe(
      '{"a":[{"c":"x","d":null},true],"b":1}',
    );
  });

  it('gives the same bytes as the backup format for values both accept', () => {
    const v = { z: [1, -2, 'é', { y: false, x: null }], a: 'line\nbreak', m: { '': 0 } };
    expect(canonicalJSON(v)).toBe(backupCanonicalJSON(v));
  });

  it.each([
    ['a bigint', { n: 1n }],
    ['undefined', { u: undefined }],
    ['undefined at the top', undefined],
    ['NaN', { n: NaN }],
    ['Infinity', [Infinity]],
    ['a fraction', { n: 0.5 }],
    ['an unsafe integer', { n: 2 ** 53 }],
    ['a function', { f: () => 1 }],
    ['a symbol', { s: Symbol('x') }],
    ['a Date', { d: new Date(0) }],
    ['a Map', { m: new Map() }],
    ['a Uint8Array', { b: new Uint8Array(2) }],
    ['a sparse array', { a: [1, , 3] }], // eslint-disable-line no-sparse-arrays
  ])('refuses %s', (_name, v) => {
    expect(() => canonicalJSON(v)).toThrow(AuditError);
  });

  it('names where a refused value sits', () => {
    expect(() => canonicalJSON({ a: [1, { b: 0.5 }] })).toThrow(
      '$.a[1].b must be a safe integer, got 0.5',
    );
    expect(() => canonicalJSON({ a: { c: [0, , 2] } })).toThrow('$.a.c[1] is a hole'); // eslint-disable-line no-sparse-arrays
    expect(() => canonicalJSON([{ d: new Map() }])).toThrow('$[0].d is a Map, not a plain object');
    expect(() => canonicalJSON(1n)).toThrow('$ is a bigint');
  });

  it('refuses a cycle instead of overflowing the stack', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => canonicalJSON(o)).toThrow(/cycle/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { a: 1 };
    expect(canonicalJSON([shared, shared])).toBe('[{"a":1},{"a":1}]');
  });

  it('accepts objects without a prototype (e.g. from a parser)', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.k = 'v';
    expect(canonicalJSON(o)).toBe('{"k":"v"}');
  });
});

describe('makeEntry', () => {
  it('starts each author at seq 0 with a zero prev and links the next entry to its hash', () => {
    const a = author('12D3KooWA');
    const e0 = append(a, 'identity.created');
    const e1 = append(a, 'group.created', { n: 1 }, 'g');
    expect(e0).toMatchObject({ v: 1, seq: 0, prev: GENESIS_PREV });
    expect(e0).not.toHaveProperty('group');
    expect(e1).toMatchObject({ seq: 1, prev: e0.hash, group: 'g' });
    expect(hashEntry(e1)).toBe(e1.hash);
    expect(ed25519.verify(hexToBytes(e1.sig), hexToBytes(e1.hash), a.publicKey)).toBe(true);
  });

  it('hashes the canonical JSON of every field but hash and sig', () => {
    const a = author('12D3KooWA');
    const e = append(a, 'group.created', { b: 2, a: 1 }, 'g');
    const text =
      `{"at":${e.at},"author":"12D3KooWA","body":{"a":1,"b":2},"group":"g",` +
      `"prev":"${GENESIS_PREV}","seq":0,"type":"group.created","v":1}`;
    expect(e.hash).toBe(bytesToHex(sha256Text(text)));
  });

  it('refuses a prev entry of another author', () => {
    const a = author('12D3KooWA');
    const b = author('12D3KooWB');
    const e = append(a, 'identity.created');
    expect(() =>
      makeEntry(e, { author: b.id, at: 1, type: 'x.y', body: {} }, (h) =>
        ed25519.sign(h, b.secret),
      ),
    ).toThrow(/belongs to 12D3KooWA/);
  });

  it('refuses a signer that does not return 64 bytes', () => {
    expect(() =>
      makeEntry(undefined, { author: 'a', at: 1, type: 'x.y', body: {} }, () => new Uint8Array(63)),
    ).toThrow(/64-byte/);
  });

  it('refuses a body that is not canonical JSON', () => {
    expect(() =>
      makeEntry(
        undefined,
        { author: 'a', at: 1, type: 'x.y', body: { n: 10n } },
        () => new Uint8Array(64),
      ),
    ).toThrow(AuditError);
  });

  it('refuses an entry larger than MAX_ENTRY_BYTES', () => {
    const body = { blob: 'x'.repeat(MAX_ENTRY_BYTES) };
    expect(() =>
      makeEntry(undefined, { author: 'a', at: 1, type: 'x.y', body }, () => new Uint8Array(64)),
    ).toThrow(/limit/);
  });

  it('refuses a malformed type, author or time', () => {
    const sign = () => new Uint8Array(64);
    expect(() =>
      makeEntry(undefined, { author: 'a', at: 1, type: 'Bad Type', body: {} }, sign),
    ).toThrow(/type must match/);
    expect(() => makeEntry(undefined, { author: '', at: 1, type: 'x.y', body: {} }, sign)).toThrow(
      /author/,
    );
    expect(() =>
      makeEntry(undefined, { author: 'a', at: -1, type: 'x.y', body: {} }, sign),
    ).toThrow(/at must be/);
  });
});

describe('parseEntry', () => {
  it('accepts an entry after a JSON round trip', () => {
    const { all } = setup();
    for (const e of all) expect(parseEntry(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });

  it('refuses unknown fields, versions and bad hex', () => {
    const { all } = setup();
    const e = all[0]!;
    expect(() => parseEntry({ ...e, extra: 1 })).toThrow(/unknown field "extra"/);
    expect(() => parseEntry({ ...e, v: 2 })).toThrow(/unsupported version 2/);
    expect(() => parseEntry({ ...e, hash: e.hash.toUpperCase() })).toThrow(/hash must be/);
    expect(() => parseEntry({ ...e, sig: e.sig.slice(2) })).toThrow(/sig must be/);
    expect(() => parseEntry({ ...e, body: [] })).toThrow(/body must be/);
    expect(() => parseEntry('entry')).toThrow(/not an object/);
  });
});

describe('checkEntry', () => {
  it("answers as entryProblem and hashEntry together: the hash of a well-formed entry, else entryProblem's reason", () => {
    const { all } = setup();
    for (const e of all) {
      const { hash, sig: _sig, ...unsigned } = clone(e);
      expect(checkEntry(clone(e))).toEqual({ hash: hashEntry(unsigned) });
      expect(hash).toBe(hashEntry(unsigned));
      // A changed field: still well formed, its hash no longer the one it carries.
      expect(checkEntry({ ...clone(e), at: e.at + 1 })).not.toEqual({ hash });
    }
    const e = all[0]!;
    const bad: unknown[] = [
      'entry',
      { ...e, extra: 1 },
      { ...e, v: 2 },
      { ...e, sig: e.sig.slice(2) },
      { ...e, body: { n: 0.5 } },
      { ...e, body: { big: 'x'.repeat(MAX_ENTRY_BYTES) } },
    ];
    for (const x of bad) {
      const problem = entryProblem(x);
      expect(problem).toBeDefined();
      expect(checkEntry(x)).toEqual({ problem });
    }
  });
});

describe('verifyEntries', () => {
  it('verifies the valid chains of two authors, whatever the input order', () => {
    const { all, keyOf } = setup();
    const report = verifyEntries(all, keyOf);
    expect(report).toEqual({ ok: true, entries: 7, authors: 2, problems: [] });
    const shuffled = [...all].reverse();
    expect(verifyEntries(shuffled, keyOf).ok).toBe(true);
  });

  it('checks each signature with the verifier given (noble strict by default)', () => {
    const { all, keyOf } = setup();
    const seen: string[] = [];
    const report = verifyEntries(all, keyOf, {
      verify: (sig, msg, key) => {
        seen.push(bytesToHex(sig));
        const e = all.find((x) => x.sig === bytesToHex(sig))!;
        expect(msg).toEqual(hexToBytes(e.hash));
        expect(key).toEqual(keyOf(e.author));
        return ed25519.verify(sig, msg, key, { zip215: false });
      },
    });
    expect(report.ok).toBe(true);
    expect(seen.sort()).toEqual(all.map((e) => e.sig).sort());
    // A verifier that refuses, or throws, makes every entry a bad signature.
    for (const verify of [
      () => false,
      () => {
        throw new Error('no Ed25519 here');
      },
    ]) {
      const bad = verifyEntries(all, keyOf, { verify });
      expect(bad.problems.map((p) => p.problem)).toEqual(Array(7).fill('bad signature'));
    }
  });

  it('verifies an empty log', () => {
    expect(verifyEntries([], () => undefined)).toEqual({
      ok: true,
      entries: 0,
      authors: 0,
      problems: [],
    });
  });

  it('counts an identical copy of an entry once and accepts it', () => {
    const { all, keyOf } = setup();
    const report = verifyEntries([...all, clone(all[2]!)], keyOf);
    expect(report).toMatchObject({ ok: true, entries: 7 });
  });

  it('reports a hash mismatch where a body was modified', () => {
    const { alice, bob, keyOf } = setup();
    const forged = clone(alice.entries);
    forged[2]!.body.sha256 = '00'.repeat(32);
    const report = verifyEntries([...forged, ...bob.entries], keyOf);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ author: alice.id, seq: 2, problem: 'hash mismatch' }]);
  });

  it('reports a bad signature where a modified entry was re-hashed without the key', () => {
    const { alice, bob, keyOf } = setup();
    const forged = clone(alice.entries);
    forged[1]!.body.threshold = 1;
    forged[1]!.hash = hashEntry(forged[1]!);
    // The next entry still links to the original hash; that is the same tampering, named once.
    const report = verifyEntries([...forged, ...bob.entries], keyOf);
    expect(report.problems).toEqual([{ author: alice.id, seq: 1, problem: 'bad signature' }]);
  });

  it('reports a bad signature when someone else signs in the author’s name', () => {
    const { alice, bob, keyOf } = setup();
    const mallory = author(alice.id);
    mallory.entries = alice.entries.slice(0, 3);
    const e = append(mallory, 'request.approved', { id: 'evil' }, 'g1');
    const report = verifyEntries([...alice.entries.slice(0, 3), e, ...bob.entries], keyOf);
    expect(report.problems).toEqual([{ author: alice.id, seq: 3, problem: 'bad signature' }]);
  });

  it('reports missing entries at the position of a removed middle entry', () => {
    const { alice, bob, keyOf } = setup();
    const report = verifyEntries(
      [...alice.entries.filter((e) => e.seq !== 1), ...bob.entries],
      keyOf,
    );
    expect(report.problems).toEqual([
      { author: alice.id, seq: 1, problem: 'missing entries 1..1' },
    ]);
    expect(report.entries).toBe(6);
  });

  it('reports a removed first entry and a removed range', () => {
    const { alice, bob, keyOf } = setup();
    const report = verifyEntries(
      [...alice.entries.filter((e) => e.seq === 3), ...bob.entries.slice(1)],
      keyOf,
    );
    expect(report.problems).toEqual([
      { author: alice.id, seq: 0, problem: 'missing entries 0..2' },
      { author: bob.id, seq: 0, problem: 'missing entries 0..0' },
    ]);
  });

  it('detects a fork: the author signs two different entries at one seq', () => {
    const { alice, bob, keyOf } = setup();
    const other = author(alice.id);
    other.secret = alice.secret;
    other.entries = alice.entries.slice(0, 2);
    const fork = append(other, 'request.created', { id: 'r-other' }, 'g1');
    const report = verifyEntries([...alice.entries, fork, ...bob.entries], keyOf);
    expect(report.ok).toBe(false);
    expect(report.entries).toBe(8);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ author: alice.id, seq: 2 });
    expect(report.problems[0]!.problem).toMatch(/^conflicting entries \(fork\): 2 signed versions/);
  });

  it('detects reordered entries: swapping the seq of two entries breaks both hashes', () => {
    const { alice, bob, keyOf } = setup();
    const swapped = clone(alice.entries);
    [swapped[1]!.seq, swapped[2]!.seq] = [swapped[2]!.seq, swapped[1]!.seq];
    const report = verifyEntries([...swapped, ...bob.entries], keyOf);
    expect(report.problems).toEqual([
      { author: alice.id, seq: 1, problem: 'hash mismatch' },
      { author: alice.id, seq: 2, problem: 'hash mismatch' },
    ]);
  });

  it('reports a broken link when a signed entry does not point at its predecessor', () => {
    const a = author('12D3KooWA');
    append(a, 'x.one');
    append(a, 'x.two');
    // A buggy or dishonest author skips the link: signed, hashed, but prev is wrong.
    const bad = makeEntry(
      { ...a.entries[1]!, hash: 'ab'.repeat(32) },
      { author: a.id, at: 5, type: 'x.three', body: {} },
      (h) => ed25519.sign(h, a.secret),
    );
    const report = verifyEntries([...a.entries, bad], () => a.publicKey);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ author: a.id, seq: 2 });
    expect(report.problems[0]!.problem).toMatch(/^broken link/);
  });

  it('reports an unknown author once and still checks the hashes', () => {
    const { alice, bob, keyOf } = setup();
    const forged = clone(bob.entries);
    forged[1]!.body.index = 9;
    const report = verifyEntries([...alice.entries, ...forged], (id) =>
      id === bob.id ? undefined : keyOf(id),
    );
    expect(report.problems).toEqual([
      { author: bob.id, seq: 0, problem: 'unknown author' },
      { author: bob.id, seq: 1, problem: 'hash mismatch' },
    ]);
  });

  it('reports a malformed entry with the author and seq it claims', () => {
    const { alice, bob, keyOf } = setup();
    const bad = { ...clone(bob.entries[1]!), extra: true } as unknown as AuditEntry;
    const report = verifyEntries([...alice.entries, bob.entries[0]!, bad, bob.entries[2]!], keyOf);
    expect(report.problems).toEqual([
      { author: bob.id, seq: 1, problem: 'malformed: unknown field "extra"' },
      { author: bob.id, seq: 1, problem: 'missing entries 1..1' },
    ]);
  });

  it('cannot see a removed last entry without a known head', () => {
    const { alice, bob, keyOf } = setup();
    expect(verifyEntries([...alice.entries.slice(0, -1), ...bob.entries], keyOf).ok).toBe(true);
  });

  it('reports truncation when the chain ends before a known head', () => {
    const { alice, bob, keyOf } = setup();
    const heads = {
      [alice.id]: { seq: 3, hash: alice.entries[3]!.hash },
      [bob.id]: { seq: 2, hash: bob.entries[2]!.hash },
      '12D3KooWCarol': { seq: 0, hash: 'cc'.repeat(32) },
    };
    const report = verifyEntries([...alice.entries.slice(0, 2), ...bob.entries], keyOf, { heads });
    expect(report.problems).toEqual([
      {
        author: alice.id,
        seq: 2,
        problem: 'truncated: missing entries 2..3 (known head is seq 3)',
      },
      {
        author: '12D3KooWCarol',
        seq: 0,
        problem: 'truncated: missing entries 0..0 (known head is seq 0)',
      },
    ]);
  });

  it('accepts a chain that reaches past a known head and reports one that contradicts it', () => {
    const { alice, bob, keyOf } = setup();
    const all = [...alice.entries, ...bob.entries];
    const older = { [alice.id]: { seq: 1, hash: alice.entries[1]!.hash } };
    expect(verifyEntries(all, keyOf, { heads: older }).ok).toBe(true);
    const wrong = { [alice.id]: { seq: 1, hash: 'ee'.repeat(32) } };
    const report = verifyEntries(all, keyOf, { heads: wrong });
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ author: alice.id, seq: 1 });
    expect(report.problems[0]!.problem).toMatch(/^conflicting entries \(fork\): the known head/);
  });

  it('exposes the shape check used on received entries', () => {
    const { all } = setup();
    expect(entryProblem(all[0])).toBeUndefined();
    expect(entryProblem({ ...all[0], seq: -1 })).toMatch(/seq/);
  });
});

// Finding 5 of issue 9: a non-member's entries, relayed by a member, verified as ok.
describe('accepted authors', () => {
  /** Group chains in the node's real format: author `<peer>/<group>`, every entry of that group. */
  function groupLog() {
    const alice = author('12D3KooWAlice/g1');
    const bob = author('12D3KooWBob/g1');
    const carol = author('12D3KooWCarol/g1'); // a former member (removed by a reshare)
    const mallory = author('12D3KooWMallory/g1'); // never a member, with a valid key of its own
    append(alice, 'group.created', { name: 'Treasury' }, 'g1');
    append(bob, 'group.joined', { index: 2 }, 'g1');
    append(carol, 'group.joined', { index: 3 }, 'g1');
    append(alice, 'request.created', { id: 'r1' }, 'g1');
    append(carol, 'group.left', { requestId: 'r2', epoch: 1 }, 'g1');
    append(bob, 'request.approved', { id: 'r1' }, 'g1');
    const forged = append(mallory, 'group.key_exposed', { requestId: 'r9', to: 'x' }, 'g1');
    const keys = new Map([alice, bob, carol, mallory].map((a) => [a.id, a.publicKey]));
    const keyOf = (id: string) => keys.get(id);
    const authors: AcceptedAuthors = {
      members: (g) =>
        g === 'g1' ? new Set(['12D3KooWAlice', '12D3KooWBob', '12D3KooWCarol']) : undefined,
      personal: ['12D3KooWAlice'],
    };
    return { alice, bob, carol, mallory, forged, keyOf, authors };
  }

  it("flags a non-member's forged group.key_exposed that verified as ok without the member set", () => {
    const { alice, bob, carol, forged, keyOf, authors } = groupLog();
    const all = [...alice.entries, ...bob.entries, ...carol.entries, forged];
    // Hash and signature are genuine (Mallory signed with its own key): the old check says ok.
    expect(verifyEntries(all, keyOf).ok).toBe(true);
    const report = verifyEntries(all, keyOf, { authors });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      {
        author: '12D3KooWMallory/g1',
        seq: 0,
        problem:
          'unknown_author: 12D3KooWMallory is not a current or former member of group g1 (entry "group.key_exposed")',
      },
    ]);
  });

  it("names each of an unknown author's entries once, copies counted once", () => {
    const { mallory, forged, keyOf, authors } = groupLog();
    const second = append(mallory, 'request.approved', { id: 'r1' }, 'g1');
    const report = verifyEntries([forged, clone(forged), second], keyOf, { authors });
    expect(report.problems.map((p) => [p.seq, p.problem.split(':')[0]])).toEqual([
      [0, 'unknown_author'],
      [1, 'unknown_author'],
    ]);
  });

  it("verifies current and former members' chains", () => {
    const { alice, bob, carol, keyOf, authors } = groupLog();
    const report = verifyEntries([...alice.entries, ...bob.entries, ...carol.entries], keyOf, {
      authors,
    });
    expect(report).toEqual({ ok: true, entries: 6, authors: 3, problems: [] });
  });

  it("flags a member's entry of another group in a group's chain, and a stranger's personal chain", () => {
    const { authors, keyOf } = groupLog();
    const alice = author('12D3KooWAlice/g1');
    const e = append(alice, 'group.key_exposed', {}, 'g2');
    expect(verifyEntries([e], keyOf, { authors }).problems[0]!.problem).toMatch(
      /^unknown_author: the chain of group g1 holds an entry of group g2/,
    );
    const mine = author('12D3KooWAlice');
    const other = author('12D3KooWBob');
    const keys = (id: string) => (id === mine.id ? mine.publicKey : other.publicKey);
    const own = append(mine, 'identity.created', {});
    const theirs = append(other, 'identity.created', {});
    const report = verifyEntries([own, theirs], keys, { authors });
    expect(report.problems).toEqual([
      {
        author: '12D3KooWBob',
        seq: 0,
        problem:
          'unknown_author: personal chain of 12D3KooWBob, which is not this node (entry "identity.created")',
      },
    ]);
  });

  it('still reports removed and reordered entries of a member', () => {
    const { alice, bob, keyOf, authors } = groupLog();
    const gap = verifyEntries([alice.entries[1]!, ...bob.entries], keyOf, { authors });
    expect(gap.problems).toEqual([{ author: alice.id, seq: 0, problem: 'missing entries 0..0' }]);
    const swapped = clone(alice.entries);
    [swapped[0]!.seq, swapped[1]!.seq] = [swapped[1]!.seq, swapped[0]!.seq];
    const report = verifyEntries([...swapped, ...bob.entries], keyOf, { authors });
    expect(report.ok).toBe(false);
    expect(report.problems.every((p) => p.author === alice.id)).toBe(true);
  });

  it('acceptableAuthor takes only members of the entry’s own group, never a personal chain', () => {
    const members = ['12D3KooWAlice', '12D3KooWBob'];
    const entry = (a: string, group?: string) => ({ author: a, group, type: 'x' });
    expect(acceptableAuthor(entry('12D3KooWAlice/g1', 'g1'), members)).toBe(true);
    expect(acceptableAuthor(entry('12D3KooWAlice/g1', 'g1'), new Set(members))).toBe(true);
    expect(acceptableAuthor(entry('12D3KooWMallory/g1', 'g1'), members)).toBe(false);
    expect(acceptableAuthor(entry('12D3KooWAlice/g1', 'g2'), members)).toBe(false);
    expect(acceptableAuthor(entry('12D3KooWAlice/g1'), members)).toBe(false);
    expect(acceptableAuthor(entry('12D3KooWAlice', undefined), members)).toBe(false);
    expect(acceptableAuthor(entry('12D3KooWAlice/g1/x', 'g1'), members)).toBe(false);
    expect(acceptableAuthor(entry('/g1', 'g1'), ['', ...members])).toBe(false);
  });

  it('splitAuthor and authorProblem read both author forms', () => {
    expect(splitAuthor('p/g')).toEqual({ peer: 'p', group: 'g' });
    expect(splitAuthor('p')).toEqual({ peer: 'p' });
    expect(splitAuthor('p/')).toBeUndefined();
    const authors: AcceptedAuthors = { members: () => undefined };
    expect(authorProblem({ author: 'p/g', group: 'g', type: 't' }, authors)).toMatch(
      /not a current or former member of group g/,
    );
  });
});

function sha256Text(text: string): Uint8Array {
  return sha256(new TextEncoder().encode(text));
}
