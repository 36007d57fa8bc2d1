// What the reliability tests (issue 13) tried and what came of it, one JSON line per case in
// test-results/reliability/<suite>.jsonl; `npm run bench -- --json` and the suite's summary read them.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../test-results/reliability/', import.meta.url));

export interface ReliabilityCase {
  suite: string;
  name: string;
  /** The member the case's misbehaviour was pinned on, or null where nobody is to blame. */
  culprit: string | null;
  outcome: string;
  [extra: string]: unknown;
}

/** Appends one case to its suite's file (never throws: a report must not fail a test). */
export function recordCase(c: ReliabilityCase): void {
  try {
    mkdirSync(DIR, { recursive: true });
    appendFileSync(
      join(DIR, `${c.suite.replace(/[^a-z0-9-]/gi, '_')}.jsonl`),
      JSON.stringify({ ...c, at: new Date().toISOString() }) + '\n',
    );
  } catch {
    // The report is a by-product; the assertions already said what matters.
  }
}
