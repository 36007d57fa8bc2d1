// `npm run soak`: five real member nodes on 127.0.0.1 form a 3-of-5 Ed25519 group and make
// --count signatures (default 1000), each approved by its requester and two other members through
// the control API; every signature is verified, and each node's RSS and open file descriptors are
// sampled every --every signatures. Prints a table and one JSON line; exits 1 when a signature
// failed or memory / descriptors grew past the tolerance after warm-up (so a leak fails the run).
import '../main/polyfill.js';
import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { GroupView, RequestView } from '../shared/api/index.js';
import { cli, formGroup, tempRoot, TestNode, waitFor } from '../test/integration/harness.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`--${name}: a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

const COUNT = arg('count', 1000);
const EVERY = arg('every', 50);
/** Signatures in flight at once (each on its own requester, so the nodes stay busy). */
const CONCURRENCY = arg('concurrency', 2);
/** Samples up to this many signatures are warm-up: caches, JIT and pools fill, not a leak. */
const WARMUP = Math.min(arg('warmup', 200), Math.floor(COUNT / 2));
/** Allowed growth per node from the first sample after warm-up to the last one. */
const RSS_TOLERANCE_MIB = arg('rss-tolerance', 40);
const FD_TOLERANCE = arg('fd-tolerance', 10);
/** How long one signature may take, approvals included (generous: the machine may be shared). */
const SIGN_TIMEOUT_SEC = arg('timeout', 180);
const API_TIMEOUT_MS = 60_000;
const N = 5;
const T = 3;

interface Sample {
  signatures: number;
  rssMiB: number[];
  fds: number[];
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function ed25519Verify(publicKeyHex: string, message: Buffer, signatureHex: string): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyHex, 'hex').toString('base64url') },
    format: 'jwk',
  });
  return nodeVerify(null, message, key, Buffer.from(signatureHex, 'hex'));
}

const log = (s: string) => process.stderr.write(`soak: ${s}\n`);

async function main(): Promise<number> {
  const began = Date.now();
  const { root, cleanup } = tempRoot('conclave-soak-');
  // The file vault with a random passphrase: no keychain needed, nothing of the caller's used.
  const env: NodeJS.ProcessEnv = { CONCLAVE_PASSPHRASE: randomBytes(24).toString('base64url') };
  for (const k of ['CONCLAVE_HOME', 'CONCLAVE_FAULT', 'CONCLAVE_ALLOW_FAULTS']) env[k] = undefined;
  const nodes = Array.from({ length: N }, (_, i) => new TestNode(`m${i + 1}`, root, env));
  const stopAll = () => {
    for (const n of nodes) if (n.proc && n.proc.exitCode === null) n.proc.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    stopAll();
    cleanup();
    process.exit(130);
  });
  try {
    log(`init and start ${N} nodes`);
    for (const n of nodes) {
      const r = await cli(
        ['--home', n.home, 'init', '--name', n.name, '--vault', 'file', '--json'],
        env,
      );
      if (r.code !== 0) throw new Error(`init ${n.name}: ${r.stderr}`);
      n.peerId = (JSON.parse(r.stdout) as { peerId: string }).peerId;
    }
    for (const n of nodes) await n.start();
    log(`form a ${T}-of-${N} ed25519 group`);
    const formed = await formGroup(nodes[0], nodes.slice(1), {
      name: 'soak',
      threshold: T,
      scheme: 'ed25519',
    });
    const group: GroupView = formed.groups[0];
    const publicKey = group.publicKey!;
    // Every member online to every other, so the first signatures find their nonce commitments.
    await Promise.all(
      nodes.map((n) =>
        waitFor(`${n.name} sees every member online`, async () => {
          const g = await n.api('group.show', { group: formed.id });
          return g.members.every((m) => m.peerId === n.peerId || m.online);
        }),
      ),
    );

    const pids = nodes.map((n) => n.proc!.pid!);
    const samples: Sample[] = [];
    const sample = (signatures: number) => {
      const s = { signatures, rssMiB: pids.map(rssMiB), fds: pids.map(fdCount) };
      samples.push(s);
      log(
        `${signatures}/${COUNT}: rss ${s.rssMiB.map((x) => x.toFixed(0)).join(' ')} MiB, fds ${s.fds.join(' ')}`,
      );
    };
    sample(0);

    const failures: string[] = [];
    const latencies: number[] = [];
    let done = 0;
    let verified = 0;
    let next = 0;
    const signOne = async (i: number): Promise<void> => {
      // Requester and approvers rotate, so every member coordinates and signs in turn.
      const requester = nodes[i % N];
      const approvers = [nodes[(i + 1) % N], nodes[(i + 2) % N]];
      const message = `soak ${i} ${randomBytes(8).toString('hex')}`;
      const t0 = performance.now();
      let id = '';
      try {
        const r = await requester.api(
          'request.sign',
          { group: formed.id, message, encoding: 'utf8', approve: true },
          API_TIMEOUT_MS,
        );
        id = r.id;
        for (const a of approvers) {
          await waitFor(
            `${a.name} to see ${r.id}`,
            async () =>
              (
                await a.api('request.list', { group: formed.id, pending: true }, API_TIMEOUT_MS)
              ).some((x) => x.id === r.id),
            SIGN_TIMEOUT_SEC * 1000,
          );
          await a.api('request.approve', { id: r.id }, API_TIMEOUT_MS);
        }
        const end: RequestView = await requester.api(
          'request.wait',
          { id: r.id, timeoutSec: SIGN_TIMEOUT_SEC },
          (SIGN_TIMEOUT_SEC + 10) * 1000,
        );
        if (end.status !== 'done' || !end.signature)
          throw new Error(`${r.id} ended ${end.status}${end.failure ? `: ${end.failure}` : ''}`);
        if (!ed25519Verify(publicKey, Buffer.from(message, 'utf8'), end.signature))
          throw new Error(`${r.id}: the signature does not verify`);
        verified++;
        latencies.push(performance.now() - t0);
      } catch (e) {
        // The requester's account of it (status, approvals, failure, culprits), when it has one.
        const view = id
          ? await requester.api('request.show', { id }, API_TIMEOUT_MS).then(
              (v) =>
                ` [${v.status}, ${v.approvals.length} approvals${v.failure ? `, ${v.failure}` : ''}${v.culprits.length ? `, culprits ${v.culprits.join(' ')}` : ''}]`,
              () => '',
            )
          : '';
        failures.push(`#${i} ${id}: ${(e as Error).message}${view}`);
        log(`signature #${i} failed: ${(e as Error).message}${view}`);
      }
      done++;
      if (done % EVERY === 0) sample(done);
    };
    log(`${COUNT} signatures, ${CONCURRENCY} at a time`);
    const loopStart = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < COUNT) await signOne(next++);
      }),
    );
    const loopSec = (performance.now() - loopStart) / 1000;
    if (samples[samples.length - 1].signatures !== done) sample(done);
    for (const n of nodes)
      if (n.proc?.exitCode !== null) failures.push(`${n.name} exited during the soak`);

    // Growth: from the first sample at or after warm-up to the last one, per node.
    const base = samples.find((s) => s.signatures >= WARMUP) ?? samples[0];
    const last = samples[samples.length - 1];
    const rssGrowth = last.rssMiB.map((x, j) => x - base.rssMiB[j]);
    const fdGrowth = last.fds.map((x, j) => x - base.fds[j]);
    const leaks: string[] = [];
    nodes.forEach((n, j) => {
      if (rssGrowth[j] > RSS_TOLERANCE_MIB)
        leaks.push(`${n.name}: RSS +${rssGrowth[j].toFixed(1)} MiB > ${RSS_TOLERANCE_MIB}`);
      if (fdGrowth[j] > FD_TOLERANCE)
        leaks.push(`${n.name}: fds +${fdGrowth[j]} > ${FD_TOLERANCE}`);
    });

    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number) =>
      sorted.length ? Math.round(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]) : NaN;
    const out = process.stdout;
    out.write(`\nSoak: ${COUNT} signatures, ${T}-of-${N} ed25519, ${CONCURRENCY} in flight\n`);
    out.write(`sigs   ${nodes.map((n) => `${n.name} MiB  fds`.padStart(13)).join(' ')}\n`);
    for (const s of samples)
      out.write(
        `${String(s.signatures).padStart(5)}  ${s.rssMiB.map((r, j) => `${r.toFixed(1).padStart(8)} ${String(s.fds[j]).padStart(4)}`).join(' ')}\n`,
      );
    out.write(
      `growth after warm-up (${base.signatures} → ${last.signatures} signatures): RSS ${rssGrowth.map((x) => x.toFixed(1)).join(' ')} MiB (tolerance ${RSS_TOLERANCE_MIB}), fds ${fdGrowth.join(' ')} (tolerance ${FD_TOLERANCE})\n`,
    );
    out.write(
      `verified ${verified}/${COUNT}, failed ${failures.length}; latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; ${(done / loopSec).toFixed(2)} signatures/s\n`,
    );
    for (const f of [...failures.slice(0, 20), ...leaks]) out.write(`  ${f}\n`);
    if (failures.length)
      for (const n of nodes)
        process.stderr.write(
          `--- ${n.name} log tail\n${n.logs.trimEnd().split('\n').slice(-15).join('\n')}\n`,
        );
    const ok = failures.length === 0 && leaks.length === 0 && verified === COUNT;
    out.write(
      JSON.stringify({
        soak: {
          ok,
          count: COUNT,
          verified,
          failed: failures.length,
          threshold: T,
          size: N,
          concurrency: CONCURRENCY,
          warmup: base.signatures,
          rssGrowthMiB: rssGrowth.map((x) => Number(x.toFixed(1))),
          fdGrowth,
          tolerance: { rssMiB: RSS_TOLERANCE_MIB, fds: FD_TOLERANCE },
          latencyMs: { p50: pct(0.5), p99: pct(0.99) },
          signaturesPerSec: Number((done / loopSec).toFixed(2)),
          wallSec: Math.round((Date.now() - began) / 1000),
          samples,
          leaks,
          failures: failures.slice(0, 20),
        },
      }) + '\n',
    );
    return ok ? 0 : 1;
  } finally {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM').catch(() => undefined)));
    stopAll();
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
