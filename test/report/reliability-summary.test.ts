// The reliability summary counts what the tests recorded and nothing else: cases per suite,
// culprits named, crashes survived and inputs fuzzed; broken lines are counted apart, never thrown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { summarize } from '../reliability-summary.js';

const dir = mkdtempSync(join(tmpdir(), 'conclave-reliability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('sums each suite’s cases, culprits, survived crashes and fuzzed inputs; skips broken lines', () => {
  const line = (o: unknown) => JSON.stringify(o);
  writeFileSync(
    join(dir, 'adversary.jsonl'),
    [
      line({ suite: 'adversary', name: 'bad share', culprit: 'peerA', outcome: 'blamed' }),
      line({ suite: 'adversary', name: 'flood', culprit: null, outcome: 'bounded' }),
      '{not json',
      line({ suite: 'adversary' }),
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'crash.jsonl'),
    [
      line({ suite: 'crash', name: 'dkg after round1', culprit: null, survived: true }),
      line({ suite: 'crash', name: 'sign', culprit: null, survived: false }),
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'fuzz.jsonl'),
    [
      line({ suite: 'fuzz', name: 'decodeSigned', culprit: null, inputs: 100 }),
      line({ suite: 'fuzz', name: 'decodeInvite', culprit: null, inputs: 250 }),
      line({ suite: 'fuzz', name: 'odd', culprit: null, inputs: 1.5 }),
    ].join('\n'),
  );
  writeFileSync(join(dir, 'notes.txt'), 'ignored');
  expect(summarize(dir)).toEqual({
    suites: {
      adversary: { cases: 2, culpritsNamed: 1, survived: 0, inputs: 0 },
      crash: { cases: 2, culpritsNamed: 0, survived: 1, inputs: 0 },
      fuzz: { cases: 3, culpritsNamed: 0, survived: 0, inputs: 350 },
    },
    unreadable: 2,
  });
  expect(summarize(join(dir, 'missing'))).toEqual({ suites: {}, unreadable: 0 });
});
