// Vitest global setup: empties test-results/reliability/ before a run, and after it prints what
// the reliability tests of issue 13 tried (adversary cases and the culprits they named, crashes
// survived, inputs fuzzed), from the lines test/integration/reliability-record.ts appended.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../test-results/reliability/', import.meta.url));

export interface ReliabilitySummary {
  suites: Record<
    string,
    { cases: number; culpritsNamed: number; survived: number; inputs: number }
  >;
  /** Lines that were not a JSON object with a suite and a name (never counted). */
  unreadable: number;
}

/** Reads every suite file in `dir`; a missing directory is an empty summary. */
export function summarize(dir = DIR): ReliabilitySummary {
  const out: ReliabilitySummary = { suites: {}, unreadable: 0 };
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let c: Record<string, unknown>;
      try {
        c = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.unreadable++;
        continue;
      }
      if (typeof c?.suite !== 'string' || typeof c.name !== 'string') {
        out.unreadable++;
        continue;
      }
      const s = (out.suites[c.suite] ??= { cases: 0, culpritsNamed: 0, survived: 0, inputs: 0 });
      s.cases++;
      if (typeof c.culprit === 'string' && c.culprit !== '') s.culpritsNamed++;
      if (c.survived === true) s.survived++;
      if (typeof c.inputs === 'number' && Number.isSafeInteger(c.inputs)) s.inputs += c.inputs;
    }
  }
  return out;
}

// Every project inherits this global setup and vitest runs it once per project in one process:
// the directory is emptied by the first, and the summary printed by the last teardown.
// (Each project may load its own copy of this module: the count lives on the process.)
const state = ((
  globalThis as { __conclaveReliability?: { active: number; cleared: boolean } }
).__conclaveReliability ??= { active: 0, cleared: false });

export function setup(): void {
  state.active++;
  if (state.cleared) return;
  state.cleared = true;
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
}

export function teardown(): void {
  if (--state.active > 0) return;
  const { suites, unreadable } = summarize();
  const names = Object.keys(suites).sort();
  if (names.length === 0) return;
  const lines = names.map((n) => {
    const s = suites[n]!;
    return `  ${n.padEnd(12)} ${String(s.cases).padStart(5)} cases, ${s.culpritsNamed} culprits named, ${s.survived} crashes survived, ${s.inputs} inputs fuzzed`;
  });
  if (unreadable) lines.push(`  (${unreadable} unreadable lines)`);
  console.log(`\nReliability (issue 13), from test-results/reliability/:\n${lines.join('\n')}`);
}
