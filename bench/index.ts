// `npm run bench`: prints the benchmark table, or with `--json` one JSON document on stdout.
// `--no-network` skips the network section (real node processes); `--quick` takes fewer samples
// there. Progress of the network section goes to stderr.
import '../main/polyfill.js';
import {
  benchCmdcode,
  benchDkg,
  benchNobleCriticalPath,
  benchSign,
  benchSingleKey,
  nobleFrost,
  type DkgFigures,
  type SignFigures,
} from './crypto.js';
import { benchNetwork, formatNetwork, type NetworkFigures } from './node.js';
import type { SchemeName } from '../shared/crypto/suite.js';

const json = process.argv.includes('--json');
const network = !process.argv.includes('--no-network');
const quick = process.argv.includes('--quick');
const log = (s: string) => {
  if (!json) process.stdout.write(s + '\n');
};
const f = (x: number) => x.toFixed(2);

const signing: SignFigures[] = [];
const sizes: [number, number, number][] = [
  [2, 3, 60],
  [7, 10, 20],
  [34, 50, 7],
  [67, 100, 5],
];
log(
  'Signing (medians, ms; critical path = one signer commit + sign share, then coordinator aggregate)',
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

const ratios: Record<string, number | string> = {};
log('\nRatios, 2-of-3, same run');
for (const scheme of ['ed25519', 'secp256k1', 'taproot'] as SchemeName[]) {
  const ours = signing.find((s) => s.scheme === scheme && s.t === 2)!.criticalPathMs;
  const single = benchSingleKey(scheme, 60);
  const noble = benchNobleCriticalPath(nobleFrost[scheme], 30);
  ratios[`${scheme}.singleKeySignVerifyMs`] = single;
  ratios[`${scheme}.nobleAsIsCriticalPathMs`] = noble;
  ratios[`${scheme}.oursOverSingleKey`] = ours / single;
  ratios[`${scheme}.nobleAsIsOverSingleKey`] = noble / single;
  log(
    `${scheme.padEnd(10)} single-key sign+verify ${f(single)} ms | ours ${f(ours)} ms = ${f(ours / single)}x | noble as is ${f(noble)} ms = ${f(noble / single)}x`,
  );
}
const cmdcode = benchCmdcode(30);
const oursK1 = signing.find((s) => s.scheme === 'secp256k1' && s.t === 2)!.criticalPathMs;
ratios['cmdcode.criticalPathMs'] = cmdcode;
ratios['secp256k1.oursOverCmdcode'] = oursK1 / cmdcode;
log(
  `@cmdcode/frost secp256k1 2-of-3 critical path ${f(cmdcode)} ms; ours ÷ cmdcode = ${f(oursK1 / cmdcode)}`,
);

const dkg: DkgFigures[] = [];
log('\nDKG, CPU of one member (ms)');
log('scheme     T-of-N    round1  verifyR1+echo  finalize  per-member');
for (const scheme of ['ed25519', 'secp256k1'] as SchemeName[]) {
  for (const [t, n] of [
    [2, 3],
    [7, 10],
    [34, 50],
    [67, 100],
  ]) {
    const r = benchDkg(scheme, t, n);
    dkg.push(r);
    log(
      `${scheme.padEnd(10)} ${`${t}-of-${n}`.padEnd(9)} ${f(r.round1Ms).padStart(6)} ${f(r.verifyRound1Ms).padStart(14)} ${f(r.finalizeMs).padStart(9)} ${f(r.perMemberMs).padStart(11)}`,
    );
  }
}

let net: NetworkFigures | null = null;
if (network) {
  net = await benchNetwork({ quick, log: (l) => process.stderr.write(`${l}\n`) });
  log('');
  for (const line of formatNetwork(net)) log(line);
}

const get = (s: SchemeName, t: number) => signing.find((x) => x.scheme === s && x.t === t)!;
const goals = {
  'ed25519 2-of-3 critical path <= 3x single-key':
    (ratios['ed25519.oursOverSingleKey'] as number) <= 3,
  'secp256k1 2-of-3 critical path <= 2x single-key':
    (ratios['secp256k1.oursOverSingleKey'] as number) <= 2,
  'taproot 2-of-3 critical path <= 2x single-key':
    (ratios['taproot.oursOverSingleKey'] as number) <= 2,
  'ed25519 34-of-50 critical path <= 100 ms': get('ed25519', 34).criticalPathMs <= 100,
  'ed25519 DKG 7-of-10 <= 60 ms per member':
    dkg.find((d) => d.scheme === 'ed25519' && d.t === 7)!.perMemberMs <= 60,
  'ed25519 DKG 34-of-50 <= 1 s per member':
    dkg.find((d) => d.scheme === 'ed25519' && d.t === 34)!.perMemberMs <= 1000,
};
log('\nGoals');
for (const [k, v] of Object.entries(goals)) log(`${v ? 'met   ' : 'MISSED'} ${k}`);

if (json) {
  process.stdout.write(
    JSON.stringify(
      {
        node: process.version,
        date: new Date().toISOString(),
        signing,
        ratios,
        dkg,
        network: net,
        goals,
      },
      null,
      2,
    ) + '\n',
  );
}
