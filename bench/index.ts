// `npm run bench`: prints the benchmark table, or with `--json` one JSON document on stdout, with
// every goal of issue 12 (now / goal / met) and the reliability figures the tests recorded (issue 13).
// `--no-network` skips the network section (real node processes), `--network-only` runs only it
// (the in-process crypto goals then read 'not measured'); `--quick` takes fewer samples everywhere
// (figures to look at, not to judge goals by). Progress goes to stderr.
import '../main/polyfill.js';
import { loadavg } from 'node:os';
import {
  alternated,
  benchCmdcode,
  benchDkgMedian,
  benchNobleCriticalPath,
  benchSign,
  benchSingleKey,
  middle,
  nobleFrost,
  pairedRatio,
  type DkgFigures,
  type SignFigures,
} from './crypto.js';
import { benchNetwork, formatNetwork, type NetworkFigures } from './node.js';
import { readReliability, formatReliability } from './reliability.js';
import type { SchemeName } from '../shared/crypto/suite.js';

const json = process.argv.includes('--json');
const network = !process.argv.includes('--no-network');
const cryptoSection = !process.argv.includes('--network-only');
const quick = process.argv.includes('--quick');
const log = (s: string) => {
  if (!json) process.stdout.write(s + '\n');
};
const progress = (s: string) => process.stderr.write(`${s}\n`);
const f = (x: number) => x.toFixed(2);
const load = loadavg();
const startedAt = new Date().toISOString();
log(
  `Load average at start ${load.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min)` +
    (quick ? '; --quick: fewer samples, figures to look at, not to judge goals by' : ''),
);

const signing: SignFigures[] = [];
const sizes: [number, number, number][] = [
  [2, 3, quick ? 20 : 60],
  [7, 10, quick ? 10 : 20],
  [34, 50, quick ? 5 : 7],
  [67, 100, quick ? 3 : 5],
];
const dkg: (DkgFigures & { runs: number; perMemberMinMs: number; perMemberMaxMs: number })[] = [];
const ratios: Record<string, number> = {};
let cmdcode = NaN;
let oursK1 = NaN;
if (cryptoSection) {
  progress('crypto: signing');
  log(
    '\nSigning (medians, ms; critical path = one signer commit + sign share, then coordinator aggregate)',
  );
  log('scheme     T-of-N    commit  signShare  aggregate  critical  totalCPU');
  for (const scheme of ['ed25519', 'secp256k1', 'taproot'] as SchemeName[]) {
    for (const [t, n, runs] of sizes) {
      if (scheme === 'taproot' && t > 2) continue;
      const r = benchSign(scheme, t, n, runs);
      signing.push(r);
      log(
        `${scheme.padEnd(10)} ${`${t}-of-${n}`.padEnd(9)} ${f(r.commitMs).padStart(6)} ${f(r.signShareMs).padStart(10)} ${f(r.aggregateMs).padStart(10)} ${f(r.criticalPathMs).padStart(9)} ${f(r.totalCpuMs).padStart(9)}`,
      );
    }
  }

  // Each ratio's sides are timed in alternating blocks (alternated), not one after the other.
  log(
    '\nRatios, 2-of-3, same run (the sides timed in alternating blocks; each ratio the median over the rounds)',
  );
  const rounds = quick ? 3 : 7;
  let vsCmdcode = NaN;
  for (const scheme of ['ed25519', 'secp256k1', 'taproot'] as SchemeName[]) {
    const sides = [
      () => benchSign(scheme, 2, 3, quick ? 8 : 15).criticalPathMs,
      () => benchSingleKey(scheme, quick ? 8 : 15),
      () => benchNobleCriticalPath(nobleFrost[scheme], quick ? 4 : 8),
    ];
    if (scheme === 'secp256k1') sides.push(() => benchCmdcode(quick ? 4 : 8));
    const [ours, single, noble, cmd] = alternated(sides, rounds) as [
      number[],
      number[],
      number[],
      number[] | undefined,
    ];
    ratios[`${scheme}.singleKeySignVerifyMs`] = middle(single);
    ratios[`${scheme}.nobleAsIsCriticalPathMs`] = middle(noble);
    ratios[`${scheme}.oursOverSingleKey`] = pairedRatio(ours, single);
    ratios[`${scheme}.nobleAsIsOverSingleKey`] = pairedRatio(noble, single);
    log(
      `${scheme.padEnd(10)} single-key sign+verify ${f(middle(single))} ms | ours ${f(middle(ours))} ms = ${f(pairedRatio(ours, single))}x | noble as is ${f(middle(noble))} ms = ${f(pairedRatio(noble, single))}x`,
    );
    if (cmd) {
      cmdcode = middle(cmd);
      oursK1 = middle(ours);
      vsCmdcode = pairedRatio(ours, cmd);
    }
  }
  ratios['cmdcode.criticalPathMs'] = cmdcode;
  ratios['secp256k1.oursOverCmdcode'] = vsCmdcode;
  log(
    `@cmdcode/frost secp256k1 2-of-3 critical path ${f(cmdcode)} ms; ours ${f(oursK1)} ms; ours ÷ cmdcode = ${f(vsCmdcode)}`,
  );

  progress('crypto: DKG');
  log('\nDKG, CPU of one member (ms), medians of fresh sessions');
  log(
    'scheme     T-of-N    round1  verifyR1+echo  finalize  per-member  (min, max, runs)  CPU time',
  );
  for (const scheme of ['ed25519', 'secp256k1'] as SchemeName[]) {
    // Groups stop at 50 members (MAX_GROUP_SIZE): no 67-of-100 DKG.
    for (const [t, n] of [
      [2, 3],
      [7, 10],
      [34, 50],
    ]) {
      // At least 5 runs where a goal reads the figure (7-of-10, 34-of-50).
      const runs = quick ? 5 : 9;
      const r = benchDkgMedian(scheme, t, n, runs);
      dkg.push(r);
      log(
        `${scheme.padEnd(10)} ${`${t}-of-${n}`.padEnd(9)} ${f(r.round1Ms).padStart(6)} ${f(r.verifyRound1Ms).padStart(14)} ${f(r.finalizeMs).padStart(9)} ${f(r.perMemberMs).padStart(11)}  (${f(r.perMemberMinMs)}, ${f(r.perMemberMaxMs)}, ${r.runs})  ${f(r.perMemberCpuMs)}`,
      );
    }
  }
}

let net: NetworkFigures | null = null;
/** Why the network section gave no figures (its goals then read 'not measured'). */
let networkError: string | null = null;
if (network) {
  try {
    net = await benchNetwork({ quick, log: progress });
    log('');
    for (const line of formatNetwork(net)) log(line);
  } catch (e) {
    networkError = (e as Error).message;
    process.exitCode = 1;
    progress(`network section failed: ${networkError}`);
    log(`\nNetwork section failed (its goals are not measured): ${networkError.split('\n')[0]}`);
  }
}
const notRun = networkError
  ? `network section failed: ${networkError.split('\n')[0]}`
  : 'network section not run (--no-network)';

// ------------------------------------------------------------------------------------ goals

interface Goal {
  name: string;
  /** The figure measured in this run; null when its section did not run (or gave no sample). */
  now: number | null;
  goal: number;
  unit: string;
  /** How now compares with goal to meet it. */
  op: '<=' | '<';
  /** null when not measured. */
  met: boolean | null;
  /** What the figure is, where it comes from. */
  note: string;
}

const goals: Goal[] = [];
const goal = (
  name: string,
  now: number | null | undefined,
  op: Goal['op'],
  target: number,
  unit: string,
  note: string,
) => {
  const n = now === undefined || now === null || !Number.isFinite(now) ? null : now;
  goals.push({
    name,
    now: n,
    goal: target,
    unit,
    op,
    met: n === null ? null : op === '<=' ? n <= target : n < target,
    note,
  });
};
const sign = (s: SchemeName, t: number) => signing.find((x) => x.scheme === s && x.t === t);
const dkgOf = (t: number) => dkg.find((d) => d.scheme === 'ed25519' && d.t === t);
const lat = (n: number) =>
  net?.latency.find((l) => l.n === n && l.tthApprover === 'coordinator') ?? null;
const dkgNet = (n: number) => net?.dkg.find((d) => d.n === n) ?? null;
const dkgWall = (n: number) => dkgNet(n)?.ms?.median ?? null;
/** Why a network figure is missing. */
const missing = (what: string) =>
  net
    ? (net.errors.find((e) => e.startsWith(what))?.split('\n')[0] ?? `${what}: no figure`)
    : notRun;

for (const n of [5, 10]) {
  const l = lat(n);
  goal(
    `approve-to-signature after the T-th approval, ${l?.t ?? (n === 5 ? 3 : 7)}-of-${n}, p50`,
    l?.p50Ms,
    '<=',
    l?.goalMs ?? NaN,
    'ms',
    l
      ? `goal = 3 × loopback RTT (${f(net!.rttMs)} ms) + crypto critical path (${f(l.cryptoMs)} ms) of the same run; ${l.samples} samples`
      : missing(`approve-to-signature ${n === 5 ? 3 : 7}-of-${n}`),
  );
}
{
  const l = lat(10);
  goal(
    'CPU of the whole group per signature, 7-of-10',
    l?.groupCpu.perSignatureMs,
    '<=',
    l ? 3 * l.groupCpu.cryptoMs : NaN,
    'ms',
    l
      ? `goal = 3 × the threshold crypto of all parties (${f(l.groupCpu.cryptoMs)} ms); raw ${f(l.groupCpu.rawPerSignatureMs)} ms before the idle rate (${f(l.groupCpu.idleMsPerSec)} ms/s) is subtracted`
      : missing('approve-to-signature 7-of-10'),
  );
}
for (const [t, n, target] of [
  [7, 10, 60],
  [34, 50, 1000],
] as const)
  goal(
    `DKG CPU per member, ed25519 ${t}-of-${n}`,
    dkgOf(t)?.perMemberCpuMs,
    '<=',
    target,
    'ms',
    dkgOf(t)
      ? `process CPU time, median of ${dkgOf(t)!.runs} runs (wall ${f(dkgOf(t)!.perMemberMs)} ms)`
      : 'crypto section not run (--network-only)',
  );
goal(
  'DKG 7-of-10 wall, processes on loopback',
  dkgWall(10),
  '<',
  1000,
  'ms',
  dkgNet(10)?.ms ? `median of ${dkgNet(10)!.ms!.samples} runs` : missing('DKG 7-of-10'),
);
goal(
  'DKG 14-of-20 wall, processes on loopback',
  dkgWall(20),
  '<',
  5000,
  'ms',
  dkgNet(20)?.ms ? `median of ${dkgNet(20)!.ms!.samples} runs` : missing('DKG 14-of-20'),
);
goal(
  'ours ÷ @cmdcode/frost, secp256k1 2-of-3 signing critical path',
  ratios['secp256k1.oursOverCmdcode'],
  '<=',
  0.2,
  '×',
  `ours ${f(oursK1)} ms, @cmdcode/frost ${f(cmdcode)} ms`,
);
goal(
  '`conclave start` to ready',
  net?.startToReadyMs.median,
  '<=',
  1000,
  'ms',
  net
    ? `median of ${net.startToReadyMs.samples} starts, file vault (scrypt alone ${f(net.scryptMs)} ms)`
    : notRun,
);
goal(
  'idle RSS of a started node',
  net?.idleRssMiB.median,
  '<=',
  150,
  'MiB',
  net ? `median of ${net.idleRssMiB.samples} nodes` : notRun,
);
goal(
  'failover when a signer hangs (alive, silent)',
  net?.failover?.hungApprovalToDoneMs.median,
  '<',
  2000,
  'ms',
  net?.failover
    ? `the hung signer's (T-th) approval, the third's right after → 'done', median of ${net.failover.hungApprovalToDoneMs.samples}`
    : missing('failover'),
);
goal(
  'ed25519 2-of-3 critical path ÷ single-key sign+verify',
  ratios['ed25519.oursOverSingleKey'],
  '<=',
  3,
  '×',
  'in-process',
);
goal(
  'secp256k1 2-of-3 critical path ÷ single-key sign+verify',
  ratios['secp256k1.oursOverSingleKey'],
  '<=',
  2,
  '×',
  'in-process',
);
goal(
  'taproot 2-of-3 critical path ÷ single-key sign+verify',
  ratios['taproot.oursOverSingleKey'],
  '<=',
  2,
  '×',
  'in-process',
);
goal(
  'ed25519 34-of-50 signing critical path',
  sign('ed25519', 34)?.criticalPathMs,
  '<=',
  100,
  'ms',
  'in-process',
);

const num = (x: number | null, unit: string) =>
  x === null || !Number.isFinite(x)
    ? 'not measured'
    : `${x.toFixed(unit === '×' ? 2 : x < 100 ? 1 : 0)} ${unit}`;
log('\nGoals (issue 12)');
log(`${'goal'.padEnd(64)} ${'now'.padStart(14)} ${'goal'.padStart(14)}  met`);
for (const g of goals)
  log(
    `${g.name.padEnd(64)} ${num(g.now, g.unit).padStart(14)} ${`${g.op} ${num(g.goal, g.unit)}`.padStart(14)}  ${g.met === null ? '-' : g.met ? 'met' : 'MISSED'}`,
  );
const missed = goals.filter((g) => g.met === false).length;
const unmeasured = goals.filter((g) => g.met === null).length;
log(
  `${goals.length - missed - unmeasured} of ${goals.length} met, ${missed} missed, ${unmeasured} not measured` +
    `; load average ${load[0].toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at the end`,
);

const reliability = readReliability();
log('');
for (const line of formatReliability(reliability)) log(line);

if (json) {
  process.stdout.write(
    JSON.stringify(
      {
        node: process.version,
        date: startedAt,
        quick,
        loadavg: { atStart: load, atEnd: loadavg() },
        goals,
        signing,
        ratios,
        dkg,
        network: net,
        networkError,
        reliability,
      },
      null,
      2,
    ) + '\n',
  );
}
