// The reliability figures of issue 13 for `npm run bench -- --json`: what the last test run recorded
// in test-results/reliability/*.jsonl (cases per suite, culprits named, crashes survived, inputs
// fuzzed), read with the suite's own summary. No files, no figures: the section says so.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, type ReliabilitySummary } from '../test/reliability-summary.js';

const DIR = fileURLToPath(new URL('../test-results/reliability/', import.meta.url));

export interface ReliabilityFigures {
  /** Where the figures come from, and whether there were any. */
  source: string;
  found: boolean;
  /** When the newest file was last written (the test run that recorded it), or null. */
  recordedAt: string | null;
  suites: ReliabilitySummary['suites'];
  unreadable: number;
  totals: { cases: number; culpritsNamed: number; crashesSurvived: number; inputsFuzzed: number };
  fuzz: {
    /** Decoders fuzzed in the last run that recorded them, or null if none did. */
    decoders: number | null;
    /** Inputs over all of them, or null. */
    inputs: number | null;
    /** Inputs per decoder (FUZZ_RUNS of that run: the most any one decoder got), or null. */
    runs: number | null;
  };
  /** Why the figures are missing or partial. */
  note?: string;
}

/** Never throws: a missing or unreadable directory is a section that says so. */
export function readReliability(dir = DIR): ReliabilityFigures {
  const empty: ReliabilityFigures = {
    source: 'test-results/reliability/*.jsonl',
    found: false,
    recordedAt: null,
    suites: {},
    unreadable: 0,
    totals: { cases: 0, culpritsNamed: 0, crashesSurvived: 0, inputsFuzzed: 0 },
    fuzz: { decoders: null, inputs: null, runs: null },
  };
  try {
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : [];
    if (files.length === 0)
      return { ...empty, note: 'no test run has recorded reliability cases here (run the tests)' };
    const newest = Math.max(...files.map((f) => statSync(join(dir, f)).mtimeMs));
    const { suites, unreadable } = summarize(dir);
    const all = Object.values(suites);
    const sum = (k: 'cases' | 'culpritsNamed' | 'survived' | 'inputs') =>
      all.reduce((a, s) => a + s[k], 0);
    let runs: number | null = null;
    if (existsSync(join(dir, 'fuzz.jsonl')))
      for (const line of readFileSync(join(dir, 'fuzz.jsonl'), 'utf8').split('\n')) {
        try {
          const c = JSON.parse(line) as { inputs?: unknown };
          if (typeof c.inputs === 'number' && Number.isSafeInteger(c.inputs))
            runs = Math.max(runs ?? 0, c.inputs);
        } catch {
          // counted as unreadable by summarize
        }
      }
    const fuzz = suites.fuzz;
    return {
      ...empty,
      found: true,
      recordedAt: new Date(newest).toISOString(),
      suites,
      unreadable,
      totals: {
        cases: sum('cases'),
        culpritsNamed: sum('culpritsNamed'),
        crashesSurvived: sum('survived'),
        inputsFuzzed: sum('inputs'),
      },
      fuzz: { decoders: fuzz?.cases ?? null, inputs: fuzz?.inputs ?? null, runs },
      ...(fuzz ? {} : { note: 'the last test run recorded no fuzz inputs' }),
    };
  } catch (e) {
    return { ...empty, note: `could not read ${dir}: ${(e as Error).message}` };
  }
}

/** The table section. */
export function formatReliability(r: ReliabilityFigures): string[] {
  const out = [`Reliability (issue 13), from ${r.source}`];
  if (!r.found) return [...out, `  none: ${r.note}`];
  out.push(`  recorded ${r.recordedAt}`);
  for (const [name, s] of Object.entries(r.suites).sort(([a], [b]) => (a < b ? -1 : 1)))
    out.push(
      `  ${name.padEnd(12)} ${String(s.cases).padStart(5)} cases, ${s.culpritsNamed} culprits named, ${s.survived} crashes survived, ${s.inputs} inputs fuzzed`,
    );
  out.push(
    `  total        ${String(r.totals.cases).padStart(5)} cases, ${r.totals.culpritsNamed} culprits named, ${r.totals.crashesSurvived} crashes survived, ${r.totals.inputsFuzzed} inputs fuzzed` +
      (r.fuzz.runs === null ? '' : ` (${r.fuzz.runs} per decoder)`),
  );
  if (r.unreadable) out.push(`  (${r.unreadable} unreadable lines)`);
  if (r.note) out.push(`  note: ${r.note}`);
  return out;
}
