// Network benchmark: real `conclave` processes on 127.0.0.1, each with its own temporary home and a
// file vault, driven over their control sockets. Start-to-ready, idle RSS, DKG time, approve-to-
// signature latency and the whole group's CPU per signature (beside the loopback RTT and the
// in-process crypto of the same run, both timed before any node starts) and signing failover.
// Between samples it waits until every node's CPU time stops advancing. Every process, temp dir
// and the benchmark's own bundle are removed at the end, also on failure.
// Knobs (environment, to run parts of the section while working on it; the figures of a run with
// any of them are partial):
//   CONCLAVE_BENCH_SIZES=5,10   only the groups of these sizes N (of 3, 5, 10, 20); fewer nodes
//                               start when 20 is left out
//   CONCLAVE_BENCH_SKIP=latency,failover   leave out those parts
//   CONCLAVE_BENCH_KEEP=1       keep the temporary root (each node's home, and its stderr as
//                               <root>/<name>.log, written as it arrives) instead of removing it
import '../main/polyfill.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import type {
  ApiInput,
  ApiMethod,
  ApiOutput,
  GroupView,
  RequestView,
} from '../shared/api/index.js';
import { logSafe } from '../shared/protocol/text.js';
import { makeEntry, type AuditEntry } from '../shared/audit/chain.js';
import { callControl } from '../main/server/control.js';
import { DEFAULT_KDF } from '../shared/crypto/backup.js';
import { nodeScrypt } from '../main/vault/scrypt.js';
import { createHost, generateIdentity, type Host } from '../main/net/index.js';
import { openStore } from '../main/store/index.js';
import { benchSign } from './crypto.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * The benchmark's own bundle of the `conclave` command, built at the start of the section as
 * `npm run build:node` builds dist/node/conclave.mjs (which bin/conclave.mjs runs when it is fresh):
 * a source edited by someone else during the run cannot switch the nodes to tsx halfway.
 */
const BIN = join(ROOT, 'dist', 'node', 'bench-conclave.mjs');
const LOOPBACK = '/ip4/127.0.0.1/tcp/0';
const SCHEME = 'ed25519';
/** The file vault's KDF, as a new vault gets it. */
const SCRYPT = { ...DEFAULT_KDF, dkLen: 32 };
/** CONCLAVE_BENCH_SIZES (see the header): the group sizes to run, or every size when unset. */
const ONLY_SIZES = (process.env.CONCLAVE_BENCH_SIZES ?? '')
  .split(',')
  .filter((x) => x.trim())
  .map(Number);
const bySize = ([, n]: [number, number]) => ONLY_SIZES.length === 0 || ONLY_SIZES.includes(n);
/** CONCLAVE_BENCH_SKIP (see the header): the parts left out. */
const SKIP = new Set((process.env.CONCLAVE_BENCH_SKIP ?? '').split(',').map((x) => x.trim()));
/** CONCLAVE_BENCH_KEEP (see the header). */
const KEEP = process.env.CONCLAVE_BENCH_KEEP === '1';
/** The groups whose DKG is timed (the last members of each are the first N nodes). */
const DKG_SIZES: [number, number][] = (
  [
    [2, 3],
    [3, 5],
    [7, 10],
    [14, 20],
  ] as [number, number][]
).filter(bySize);
/** The groups whose approve-to-signature latency and CPU are measured. */
const LATENCY_SIZES: [number, number][] = (
  [
    [3, 5],
    [7, 10],
  ] as [number, number][]
).filter(bySize);
/** A node's idle RSS is read this long after its `ready:` line. */
const IDLE_RSS_AFTER_MS = 3_000;
/** Interval of the status polls that wait for the failover's 'signing' state. */
const POLL_MS = 20;
/** `init`s run at once (one per core of the 2-core reference machine); starts run one at a time. */
const STAGGER = 2;
/** The coordinator's default per-signer deadline (CONCLAVE_SIGN_TIMEOUT_MS unset). */
const DEFAULT_SIGN_TIMEOUT_MS = 10_000;
/** Variables of the caller's environment that would change what the nodes do. */
const NODE_ENV_DROP = [
  'CONCLAVE_HOME',
  'CONCLAVE_FAULT',
  'CONCLAVE_ALLOW_FAULTS',
  'CONCLAVE_SIGN_TIMEOUT_MS',
  'CONCLAVE_PASSPHRASE',
];

export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number;
}

export interface DkgNetFigures {
  t: number;
  n: number;
  /** Last member's `group confirm` returned → every member shows status 'ready' (ms); null if none did. */
  ms: Spread | null;
  /** How long that last `group confirm` call itself took (it runs the caller's DKG round 1). */
  lastConfirmCallMs: Spread | null;
  /**
   * The members' CPU (/proc utime + stime, summed over their processes, divided by N) from just
   * before the last `group confirm` until the last member logged 'ready' (ms per member): the
   * key generation and everything the members did meanwhile (messages, audit, nonces of those
   * already ready). On 2 cores the wall time cannot be less than N × this ÷ 2.
   */
  cpuPerMemberMs: Spread | null;
  /** Why a run failed (the section goes on without it). */
  error?: string;
}

export interface LatencyFigures {
  t: number;
  n: number;
  /** Who gives the T-th approval: the coordinator-to-be, or another approver (one more hop each way). */
  tthApprover: 'coordinator' | 'other';
  samples: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  /** How long the T-th `request.approve` call itself took (the node's synchronous part), p50. */
  approveCallP50Ms: number;
  /** Samples whose request records a culprit (the coordinator had to retry with other signers). */
  retried: number;
  /**
   * Runs that never completed: the coordinator gave up on a signer (with exactly T approvers that
   * leaves the request pending). Not in the percentiles; the series stops after 3 of them.
   */
  stuck: number;
  /** The coordinator's log lines about them. */
  stuckReasons: string[];
  /**
   * Times the coordinator never tried to sign (it lacked an approver's nonce commitments) and was
   * restarted to get them; that run is not in the figures.
   */
  coordinatorRestarts: number;
  /**
   * In-process critical path of one signature for the same T-of-N (bench/crypto.ts benchSign),
   * timed before any node started.
   */
  cryptoMs: number;
  /** The issue's goal for p50: 3 × loopback RTT + cryptoMs. */
  goalMs: number;
  /** p50 / (loopback RTT + cryptoMs). */
  ratio: number;
  /** CPU of all N members' processes per completed signature, from /proc (see groupCpu). */
  groupCpu: GroupCpuFigures;
}

export interface GroupCpuFigures {
  /**
   * (utime + stime of every member's process over the whole series: creating the requests, the
   * approvals, signing, outcomes, audit replication, up to every member idle again) minus the idle
   * rate × the series' wall time, per completed signature (ms).
   */
  perSignatureMs: number;
  /** The same without subtracting the idle rate. */
  rawPerSignatureMs: number;
  /** The members' summed CPU while idle (ms of CPU per s), measured just before the series. */
  idleMsPerSec: number;
  /** In-process CPU of the whole group's threshold crypto for one signature (benchSign totalCpuMs). */
  cryptoMs: number;
  /** perSignatureMs / cryptoMs. */
  ratio: number;
}

export interface FailoverFigures {
  /**
   * SIGKILL of the hung signer → 'done' on the coordinator (the stream reset triggers the retry);
   * null when no kill came before the coordinator asked another approver anyway.
   */
  killToDoneMs: Spread | null;
  /** Kills that came after the coordinator had already asked another approver (not timed). */
  killTooLate: number;
  /**
   * The hung signer left running: its own (T-th) approval, third's right after → 'done' (the
   * coordinator asks third once hung is late).
   */
  hungApprovalToDoneMs: Spread;
  signTimeoutMs: number;
  /** Times the coordinator never tried to sign and was restarted (see LatencyFigures). */
  coordinatorRestarts: number;
}

export interface NetworkFigures {
  scheme: typeof SCHEME;
  vault: { kind: 'file'; kdf: string; note: string };
  process: string;
  nodes: number;
  /** How the nodes run. */
  bundle: string;
  /** Spawn → the `ready:` line on stderr, nodes started one at a time. */
  startToReadyMs: Spread;
  /** The file vault's scrypt alone (N=2^17, r=8, p=1), median of 3 in this process: part of each start. */
  scryptMs: number;
  /** VmRSS of a headless node about 3 s after ready (MiB). */
  idleRssMiB: Spread;
  /** VmRSS of the same nodes at the end, after the DKGs and signatures (MiB). */
  rssAfterRunMiB: Spread;
  dkg: DkgNetFigures[];
  /**
   * Median warm request/response between two in-process libp2p hosts on loopback (ms), timed before
   * any node started.
   */
  rttMs: number;
  /** The same, passing the peer's addresses with every request as the node's sends do. */
  rttWithAddrsMs: number;
  rttSamples: number;
  /**
   * One durable commit of a small row as the node makes it (main/store's Store: WAL,
   * synchronous=FULL; one audit entry appended in store.tx), in a store under the benchmark's temp
   * root, on the disk the nodes' homes are on, timed before any node started (ms). Context for
   * the approve-to-signature goal, not part of it: fail-closed auditing puts three such commits in
   * series on the path after the T-th approval (the approval, each signer's share released, the
   * coordinator's signed outcome).
   */
  durableCommitMs: Spread;
  latency: LatencyFigures[];
  /** null when it failed (see errors). */
  failover: FailoverFigures | null;
  /** What failed; the rest of the section went on (their figures are missing, never made up). */
  errors: string[];
  /** The largest factor a wait's deadline was stretched by (load average per CPU, see until). */
  patience: number;
  /** Waits for every node to be idle (CPU time not advancing) and how many hit their deadline. */
  idleWaits: { count: number; timeouts: number; medianMs: number; maxMs: number };
  wallMs: number;
  /** Wall time of each phase of the section (s). */
  phasesSec: Record<string, number>;
  /**
   * 1-minute load average at the start of the section (only this process was busy, so well above 1
   * means other work shared the machine and skews the figures) and at its end.
   */
  loadavg: { before: number; after: number };
  cpus: number;
}

export interface NetworkOptions {
  quick?: boolean;
  /** Progress lines (to stderr in `npm run bench`). */
  log?: (line: string) => void;
}

// ------------------------------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

function spread(xs: number[]): Spread {
  if (xs.length === 0) throw new Error('no samples');
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)],
    min: s[0],
    max: s[s.length - 1],
    samples: s.length,
  };
}

/** Nearest-rank percentile (p in 0..1); over 30 samples p99 is the largest one. NaN if none. */
function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}

/** Runs `fn` over `items`, at most `width` at a time, keeping the order of the results. */
async function inBatches<T, R>(items: T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width)
    out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

/**
 * How much longer than on a quiet machine the section waits for anything before it gives up: the
 * 1-minute load average per CPU (at least 1, at most 8), at the section's start or when the wait
 * begins, whichever is higher (other work that starts meanwhile slows the nodes as much). A loaded
 * machine makes the figures worse, never the benchmark fail; every wait stays bounded.
 */
let basePatience = 1;
/** The largest factor any wait used, for the figures. */
let maxPatience = 1;
function patienceNow(): number {
  const p = Math.max(basePatience, Math.min(8, loadavg()[0] / cpus().length));
  maxPatience = Math.max(maxPatience, p);
  return p;
}

/** Polls `check` every `everyMs` until it returns a truthy value; throws at the deadline. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs * patienceNow();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Clock ticks per second of /proc/<pid>/stat's times (100 on Linux almost everywhere). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a process so far (ms), from /proc/<pid>/stat; 0 once it is gone. */
function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name in parentheses may hold spaces: fields are counted after its ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

const groupCpuMs = (nodes: BenchNode[]) =>
  nodes.reduce((a, m) => a + (m.proc?.pid ? cpuMs(m.proc.pid) : 0), 0);

/** Every wait for idle nodes, for the figures. */
const idleWaits: { ms: number; timedOut: boolean }[] = [];

/**
 * Waits until no running node in `nodes` uses more than one clock tick of CPU in a `windowMs`
 * window (their background timers aside, nothing is left over from the last sample), or until
 * `deadlineMs` passes: then it goes on (a loaded machine must not stall the benchmark) and the
 * figures count the timeout. Resolves with the members' summed CPU rate in the last window (ms/s).
 */
async function waitIdle(nodes: BenchNode[], windowMs = 250, deadlineMs = 15_000): Promise<number> {
  const t0 = now();
  const tick = 1000 / CLK_TCK;
  const live = () => nodes.filter((m) => m.proc?.pid);
  let before = live().map((m) => cpuMs(m.pid));
  for (;;) {
    const w0 = now();
    await sleep(windowMs);
    const ms = live();
    const after = ms.map((m) => cpuMs(m.pid));
    const deltas = after.map((a, i) => a - (before[i] ?? a));
    const rate = (deltas.reduce((a, b) => a + b, 0) * 1000) / (now() - w0);
    before = after;
    const timedOut = now() - t0 > deadlineMs;
    if (deltas.every((d) => d <= tick + 1e-9) || timedOut) {
      idleWaits.push({ ms: now() - t0, timedOut });
      return rate;
    }
  }
}

function ed25519Verify(publicKeyHex: string, message: Buffer, signatureHex: string): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyHex, 'hex').toString('base64url') },
    format: 'jwk',
  });
  return nodeVerify(null, message, key, Buffer.from(signatureHex, 'hex'));
}

// ------------------------------------------------------------------------------------ processes

/** Every child this benchmark spawned and has not seen exit; killed on the way out, whatever happens. */
const children = new Set<ChildProcess>();

function killAll(signal: NodeJS.Signals): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill(signal);
}

/** Builds BIN (scripts/build-node.mjs, the build `npm run build:node` runs), within 3 minutes. */
async function buildBundle(): Promise<void> {
  const script =
    `import(${JSON.stringify(join(ROOT, 'scripts', 'build-node.mjs'))})` +
    `.then((m) => m.buildNode({ outfile: ${JSON.stringify(BIN)}, quiet: true }))`;
  const p = track(
    spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const killer = setTimeout(() => p.kill('SIGKILL'), 180_000);
  const code = await new Promise<number | null>((r) => p.once('close', r));
  clearTimeout(killer);
  if (code !== 0 || !existsSync(BIN)) throw new Error(`building ${BIN} failed (${code}): ${err}`);
}

function removeBundle(): void {
  for (const f of [BIN, `${BIN}.map`]) rmSync(f, { force: true });
  // Its chunks (scripts/build-node.mjs chunkDir), which only this bundle loads.
  rmSync(BIN.replace(/\.mjs$/, '-chunks'), { recursive: true, force: true });
}

/** Every node started, for the log tails that come with an error. */
const started = new Set<BenchNode>();

function logTails(): string {
  return [...started]
    .map((m) => {
      const state = m.exited ?? (m.proc ? 'running' : 'stopped');
      const tail = m.logs.trimEnd().split('\n').slice(-12).join('\n    ');
      return `  ${m.name} (${state}):\n    ${tail}`;
    })
    .join('\n');
}

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

class BenchNode {
  readonly home: string;
  peerId = '';
  proc?: ChildProcess;
  logs = '';
  /** How the last started process ended, once it did. */
  exited?: string;
  /** What the last start added to the environment (a restart adds it again). */
  extraEnv: NodeJS.ProcessEnv = {};
  constructor(
    readonly name: string,
    root: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.home = join(root, name);
  }

  async init(): Promise<void> {
    const p = track(
      spawn(
        process.execPath,
        [BIN, '--home', this.home, 'init', '--name', this.name, '--vault', 'file', '--json'],
        { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    const code = await new Promise<number | null>((r) => p.once('close', r));
    clearTimeout(killer);
    if (code !== 0) throw new Error(`init ${this.name} exited ${code}: ${err}`);
    this.peerId = (JSON.parse(out) as { peerId: string }).peerId;
  }

  /** Starts `conclave start` and resolves with the ms from spawn to the `ready:` line. */
  start(extraEnv: NodeJS.ProcessEnv = {}): Promise<number> {
    this.logs = '';
    this.partial = '';
    this.exited = undefined;
    this.extraEnv = extraEnv;
    started.add(this);
    const t0 = now();
    const p = track(
      spawn(process.execPath, [BIN, '--home', this.home, 'start', '--listen', LOOPBACK], {
        cwd: ROOT,
        env: { ...this.env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    this.proc = p;
    p.once('exit', (code, sig) => (this.exited = `exited ${code ?? sig}`));
    p.stdout!.on('data', (d) => (this.logs += d));
    p.stderr!.on('data', (d: Buffer) => this.onStderr(d.toString('utf8')));
    return new Promise<number>((resolve, reject) => {
      const readyMs = 60_000 * patienceNow();
      const timer = setTimeout(
        () => fail(new Error(`${this.name} not ready after ${Math.round(readyMs / 1000)} s`)),
        readyMs,
      );
      const fail = (e: Error) => {
        clearTimeout(timer);
        off();
        reject(new Error(`${e.message}; log: ${this.logs.slice(-2000)}`));
      };
      p.once('exit', (code, sig) => fail(new Error(`${this.name} exited (${code ?? sig})`)));
      const off = this.onLine((line, at) => {
        if (!line.startsWith('ready: ')) return;
        clearTimeout(timer);
        off();
        resolve(at - t0);
      });
    });
  }

  private partial = '';
  private readonly lineListeners = new Set<(line: string, at: number) => void>();

  /** Timestamps each stderr line as it arrives (the node logs its milestones there). */
  private onStderr(chunk: string): void {
    const at = now();
    this.logs += chunk;
    if (KEEP) appendFileSync(`${this.home}.log`, chunk);
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) for (const l of [...this.lineListeners]) l(line, at);
  }

  onLine(cb: (line: string, at: number) => void): () => void {
    this.lineListeners.add(cb);
    return () => this.lineListeners.delete(cb);
  }

  /** Resolves with the arrival time of the first stderr line `match` accepts; `fail` lines reject. */
  waitLine(
    what: string,
    match: (line: string) => boolean,
    fail: (line: string) => boolean = () => false,
    timeoutMs = 120_000,
  ): Promise<number> {
    const waitMs = timeoutMs * patienceNow();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no "${what}" within ${Math.round(waitMs)} ms`));
      }, waitMs);
      timer.unref();
      const off = this.onLine((line, at) => {
        if (!match(line) && !fail(line)) return;
        clearTimeout(timer);
        off();
        if (match(line)) resolve(at);
        else reject(new Error(`${this.name}: ${line}`));
      });
    });
  }

  get pid(): number {
    if (!this.proc?.pid) throw new Error(`${this.name} is not running`);
    return this.proc.pid;
  }

  api<M extends ApiMethod>(method: M, params: ApiInput<M>, timeoutMs = 30_000) {
    return callControl(this.home, method, params, {
      timeoutMs: timeoutMs * patienceNow(),
    }) as Promise<ApiOutput<M>>;
  }

  /** Signals the process and waits for it to exit (SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

// ------------------------------------------------------------------------------------ phases

/** Forms a T-of-N group on `nodes` (the first creates it) and times its DKG. */
async function formGroup(
  nodes: BenchNode[],
  name: string,
  t: number,
): Promise<{ group: GroupView; dkgMs: number; lastConfirmCallMs: number; cpuPerMemberMs: number }> {
  const n = nodes.length;
  const [creator, ...rest] = nodes;
  const created = await creator.api('group.create', {
    name,
    threshold: t,
    size: n,
    scheme: SCHEME,
  });
  for (const m of rest) await m.api('group.join', { invite: created.invite });
  const shows = (pred: (g: GroupView) => boolean, what: string) =>
    Promise.all(
      nodes.map((m) =>
        until(`${m.name}: ${name} ${what}`, async () => {
          const g = await m.api('group.show', { group: created.id });
          if (g.status === 'failed') throw new Error(`group ${name} failed: ${g.error}`);
          return pred(g) ? g : undefined;
        }),
      ),
    );
  await shows((g) => g.members.length === n && g.status === 'confirming', 'has its roster');
  const last = nodes[n - 1];
  await Promise.all(nodes.slice(0, -1).map((m) => m.api('group.confirm', { group: created.id })));
  // Every member has heard the other confirmations, so only the last one's travel is timed.
  await shows(
    (g) => g.status === 'confirming' && g.members.filter((m) => m.confirmed).length >= n - 1,
    'has N-1 confirmations',
  );
  // Each member logs 'key generation for "NAME" done' right after it stored the key (status
  // 'ready'); the name is quoted as logSafe quotes it.
  const done = `key generation for ${logSafe(name)} done`;
  const readyAt = Promise.all(
    nodes.map((m) =>
      m.waitLine(
        done,
        (l) => l.startsWith(done),
        (l) => l.startsWith(`group ${created.id}: `),
      ),
    ),
  );
  readyAt.catch(() => {}); // awaited below; no unhandled rejection meanwhile
  const cpu0 = groupCpuMs(nodes);
  const c0 = now();
  await last.api('group.confirm', { group: created.id });
  const t0 = now();
  // Read as the last member's 'ready' line arrives (the others may still be busy after theirs).
  const cpuAtReady = readyAt.then(() => groupCpuMs(nodes));
  cpuAtReady.catch(() => {});
  const dkgMs = Math.max(...(await readyAt)) - t0;
  const cpuPerMemberMs = ((await cpuAtReady) - cpu0) / n;
  const views = await Promise.all(nodes.map((m) => m.api('group.show', { group: created.id })));
  if (views.some((v) => v.status !== 'ready'))
    throw new Error(`a member of ${name} logged its key but does not show 'ready'`);
  if (new Set(views.map((v) => v.publicKey)).size !== 1)
    throw new Error(`members of ${name} disagree on the group key`);
  return {
    group: views[0],
    dkgMs,
    lastConfirmCallMs: t0 - c0,
    cpuPerMemberMs,
  };
}

/** The nodes' log lines that mention `what`, for error messages. */
function mentions(nodes: BenchNode[], what: string): string {
  return nodes
    .flatMap((m) =>
      m.logs
        .split('\n')
        .filter((l) => l.includes(what))
        .map((l) => `${m.name}: ${l}`),
    )
    .join('\n');
}

/** Waits until every node in `nodes` has request `id` and `ok` holds for its view there. */
async function seen(
  nodes: BenchNode[],
  id: string,
  what: string,
  ok: (r: RequestView) => boolean = () => true,
): Promise<void> {
  await Promise.all(
    nodes.map((m) =>
      until(`${m.name}: request ${id} ${what}`, async () =>
        ok(await m.api('request.show', { id })),
      ),
    ),
  );
}

const approved = (k: number) => (r: RequestView) => r.approvals.length >= k;

/**
 * Restarts a coordinator that never tried to sign: it holds no nonce commitments of some approver
 * (a member that finishes its DKG first sends them at once, and a node still in its own DKG drops
 * them). On the reconnection every member sends it fresh ones.
 */
async function restartCoordinator(m: BenchNode, groupId: string): Promise<void> {
  await m.stop();
  await m.start(m.extraEnv);
  await until(
    `${m.name} to see the members of ${groupId} online again`,
    async () => {
      const g = await m.api('group.show', { group: groupId });
      return g.members.every((x) => x.peerId === m.peerId || x.online);
    },
    30_000,
    100,
  );
  await sleep(500);
}

/** Why a request the coordinator was to sign is not done: the coordinator's account of it. */
async function noAttempt(coordinator: BenchNode, id: string, approvals: number): Promise<boolean> {
  const r = await coordinator.api('request.show', { id });
  return (
    r.status === 'pending' &&
    r.approvals.length >= approvals &&
    r.culprits.length === 0 &&
    !mentions([coordinator], `failed for request ${id}`)
  );
}

/**
 * Approve-to-signature samples. All requests are prepared first (created, and approved by the
 * T−1 approvers other than `last`, on every approver), so each timed sample runs on a quiet
 * system: the clock runs from sending `last`'s (the T-th) approval until a `request.wait` on
 * `last`'s node returns 'done'; the signature is then checked with OpenSSL.
 */
async function latencySeries(
  group: GroupView,
  members: BenchNode[],
  approvers: BenchNode[],
  coordinator: BenchNode,
  last: BenchNode,
  count: number,
): Promise<{
  ms: number[];
  approveCallMs: number[];
  retried: number;
  stuck: number;
  stuckReasons: string[];
  coordinatorRestarts: number;
  cpu: { totalMs: number; wallMs: number; idleMsPerSec: number; signatures: number };
}> {
  const early = approvers.filter((a) => a !== last);
  const idleMsPerSec = await waitIdle(members);
  const cpu0 = groupCpuMs(members);
  const wall0 = now();
  let signatures = 0;
  const reqs: { id: string; message: string }[] = [];
  for (let i = 0; i < count; i++) {
    const message = `bench ${i} ${randomBytes(8).toString('hex')}`;
    const r = await last.api('request.sign', { group: group.id, message, encoding: 'utf8' });
    reqs.push({ id: r.id, message });
  }
  await inBatches(reqs, 8, async (r) => {
    await seen(approvers, r.id, 'arrived');
    await Promise.all(early.map((a) => a.api('request.approve', { id: r.id })));
  });
  await inBatches(reqs, 8, (r) =>
    seen(approvers, r.id, 'has T-1 approvals', approved(early.length)),
  );
  await waitIdle(members);
  const ms: number[] = [];
  const approveCallMs: number[] = [];
  let retried = 0;
  const stuckReasons: string[] = [];
  let coordinatorRestarts = 0;
  for (const r of reqs) {
    // With exactly T approvers a signer the coordinator gives up on leaves the request pending for
    // good; its log line says so at once, and the wait's own deadline catches anything else.
    const gaveUp = coordinator
      .waitLine(
        'a signer failed',
        (l) => l.includes(`failed for request ${r.id}`),
        undefined,
        6_000,
      )
      .then(
        () => undefined,
        () => undefined,
      );
    const waiting = last.api('request.wait', {
      id: r.id,
      timeoutSec: Math.ceil(5 * patienceNow()),
    });
    waiting.catch(() => {}); // a late failure after a stuck run must not go unhandled
    await sleep(5); // let the wait register before the approval it waits for
    const t0 = now();
    const approving = last.api('request.approve', { id: r.id }).then(() => now() - t0);
    const done = await Promise.race([
      waiting,
      gaveUp.then(() => Promise.race([waiting, sleep(1_000).then(() => undefined)])),
    ]);
    const elapsed = now() - t0;
    const callMs = await approving;
    if (done?.status !== 'done' || !done.signature) {
      if (await noAttempt(coordinator, r.id, approvers.length)) {
        if (++coordinatorRestarts > 2) throw new Error(`${coordinator.name} never tries to sign`);
        await restartCoordinator(coordinator, group.id);
        // It signs this one on the reconnection, untimed.
        await last.api('request.wait', { id: r.id, timeoutSec: 10 });
        continue;
      }
      stuckReasons.push(
        mentions([coordinator], `failed for request ${r.id}`) ||
          `${r.id} still ${done?.status ?? 'signing'} after ${Math.round(elapsed)} ms`,
      );
      if (stuckReasons.length >= 3) break; // each costs the refusing signer a pooled nonce
      continue;
    }
    ms.push(elapsed);
    approveCallMs.push(callMs);
    if (!ed25519Verify(group.publicKey!, Buffer.from(r.message), done.signature))
      throw new Error(`the signature of request ${r.id} does not verify`);
    if (done.culprits.length > 0) retried++;
    signatures++;
    // The outcome reaches the other approvers, and every member is done with it (audit batches
    // replicated and stored), before the next sample starts.
    await Promise.all(approvers.map((a) => a.api('request.wait', { id: r.id, timeoutSec: 10 })));
    await waitIdle(members);
  }
  // A restart above replaced a process: its CPU so far is not comparable, so the figure is dropped.
  const restarted = coordinatorRestarts > 0;
  return {
    cpu: {
      totalMs: restarted ? NaN : groupCpuMs(members) - cpu0,
      wallMs: now() - wall0,
      idleMsPerSec,
      signatures,
    },
    ms,
    approveCallMs,
    retried,
    stuck: stuckReasons.length,
    stuckReasons,
    coordinatorRestarts,
  };
}

/**
 * Median warm request/response time between two in-process hosts on loopback, as bench/net.ts
 * measures it, and the same with the peer's addresses passed on every request, as the node's
 * sends do (each such request first merges them into the peer store).
 */
async function loopbackRtt(samples: number): Promise<{ plain: number; withAddrs: number }> {
  const proto = '/conclave-bench/echo/1.0.0';
  const hosts: Host[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const { privateKey } = await generateIdentity();
      const h = await createHost({ privateKey, listen: [LOOPBACK] });
      hosts.push(h);
      await h.start();
    }
    const [a, b] = hosts;
    await a.handle(proto, async (_from, msg) => msg, { allow: () => true, maxBytes: 4096 });
    await b.request(a.peerId, proto, { n: 0 }, { addrs: a.addrs() });
    for (let i = 0; i < 20; i++) await b.request(a.peerId, proto, { n: i });
    const plain: number[] = [];
    const withAddrs: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = now();
      await b.request(a.peerId, proto, { n: i });
      const t1 = now();
      await b.request(a.peerId, proto, { n: i }, { addrs: a.addrs() });
      withAddrs.push(now() - t1);
      plain.push(t1 - t0);
    }
    return { plain: spread(plain).median, withAddrs: spread(withAddrs).median };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

/**
 * One durable commit as the node makes it on the path of a signature: a `request.share_released`
 * audit entry appended in its own store.tx, through main/store itself (its pragmas: WAL,
 * synchronous=FULL, so each COMMIT waits for an fsync of the write-ahead log). The store lives in
 * `dir`, under the benchmark's temp root, so it is on the disk the nodes' homes are on. The entries
 * are made (hashed, signed) before the clock starts: only BEGIN, the insert and the COMMIT are
 * timed. The first commits (creating the WAL file) are not counted.
 */
async function durableCommit(dir: string, samples: number): Promise<Spread> {
  const warmup = 10;
  const [me, ...others] = await Promise.all(
    Array.from({ length: 3 }, async () => (await generateIdentity()).peerId),
  );
  const secret = ed25519.utils.randomSecretKey();
  const group = randomBytes(16).toString('hex');
  const entries: AuditEntry[] = [];
  for (let i = 0; i < warmup + samples; i++)
    entries.push(
      makeEntry(
        entries[i - 1],
        {
          author: me,
          at: Date.now(),
          type: 'request.share_released',
          group,
          body: { id: randomBytes(16).toString('hex'), coordinator: me, signers: others, epoch: 0 },
        },
        (h) => ed25519.sign(h, secret),
      ),
    );
  mkdirSync(dir);
  const store = openStore(join(dir, 'conclave.db'));
  try {
    const ms: number[] = [];
    for (const e of entries) {
      const t0 = now();
      store.tx(() => store.audit.append(e));
      ms.push(now() - t0);
    }
    return spread(ms.slice(warmup));
  } finally {
    store.close();
  }
}

// ------------------------------------------------------------------------------------ the benchmark

export async function benchNetwork(opts: NetworkOptions = {}): Promise<NetworkFigures> {
  const quick = opts.quick === true;
  const began = now();
  const phases: Record<string, number> = {};
  let phase = '';
  let phaseAt = began;
  /** Logs progress and times each phase (the JSON document keeps the times). */
  const log = (line: string) => {
    const at = now();
    if (phase) phases[phase] = (phases[phase] ?? 0) + (at - phaseAt) / 1000;
    phase = line.replace(/ \(\d+\/\d+\)$/, '');
    phaseAt = at;
    opts.log?.(line);
  };
  const load0 = loadavg()[0];
  basePatience = maxPatience = Math.min(8, Math.max(1, load0 / cpus().length));
  const root = mkdtempSync(join(tmpdir(), 'conclave-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of NODE_ENV_DROP) delete env[k];
  env.CONCLAVE_PASSPHRASE = randomBytes(24).toString('base64url');
  // Whatever ends this process (an unhandled error too) takes the nodes and their homes with it.
  idleWaits.length = 0;
  const onExit = () => {
    killAll('SIGKILL');
    if (!KEEP) rmSync(root, { recursive: true, force: true });
    removeBundle();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    killAll('SIGKILL');
    if (!KEEP) rmSync(root, { recursive: true, force: true });
    removeBundle();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const nodes: BenchNode[] = [];
  const errors: string[] = [];
  try {
    // Everything in-process first, while no node runs: the vault's KDF alone (part of each start),
    // the crypto of one signature of each T-of-N and the loopback RTT the latency goals are read by,
    // and one durable store commit (the floor fail-closed auditing adds to that path, shown beside).
    log(
      'network: in-process figures (scrypt, signing crypto, loopback RTT, durable commit), before any node runs',
    );
    const kdf: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s0 = now();
      await nodeScrypt(randomBytes(16), randomBytes(32), SCRYPT);
      kdf.push(now() - s0);
    }
    const scryptMs = spread(kdf).median;
    const signRuns = quick ? 15 : 40;
    const crypto = new Map(
      LATENCY_SIZES.map(([t, n]) => [n, benchSign(SCHEME, t, n, signRuns)] as const),
    );
    const rttSamples = quick ? 100 : 300;
    const rtt = await loopbackRtt(rttSamples);
    const rttMs = rtt.plain;
    const durableCommitMs = await durableCommit(join(root, 'durable-commit'), 100);

    log('network: build the bundle the nodes run (scripts/build-node.mjs)');
    await buildBundle();

    // Twenty nodes: enough for 14-of-20, the largest group.
    const N = Math.max(3, ...DKG_SIZES.map(([, n]) => n));
    for (let i = 0; i < N; i++)
      nodes.push(new BenchNode(`n${String(i).padStart(2, '0')}`, root, env));
    log(`network: init ${N} nodes (file vault), ${STAGGER} at a time`);
    await inBatches(nodes, STAGGER, (m) => m.init());
    // One at a time: a start is CPU-bound (module loading, scrypt), so parallel starts time the queue.
    log(`network: start ${N} nodes, one at a time, each once the others are idle`);
    const startMs: number[] = [];
    const idleRss: number[] = [];
    for (const m of nodes) {
      await waitIdle(nodes);
      startMs.push(await m.start());
      await sleep(IDLE_RSS_AFTER_MS);
      idleRss.push(rssMiB(m.pid));
    }

    const dkg: DkgNetFigures[] = [];
    const groups = new Map<number, GroupView>();
    for (const [t, n] of DKG_SIZES) {
      // Three runs at every size (one in --quick): a single 14-of-20 run ranged 4.3-6.7 s on this
      // machine, too wide to say whether its goal is met.
      const runs = quick ? 1 : 3;
      const ms: number[] = [];
      const call: number[] = [];
      const cpu: number[] = [];
      let error: string | undefined;
      for (let r = 0; r < runs && !error; r++) {
        log(`network: DKG ${t}-of-${n} (${r + 1}/${runs})`);
        await waitIdle(nodes);
        try {
          const out = await formGroup(nodes.slice(0, n), `bench-${t}of${n}-${r}`, t);
          ms.push(out.dkgMs);
          call.push(out.lastConfirmCallMs);
          cpu.push(out.cpuPerMemberMs);
          groups.set(n, out.group);
        } catch (e) {
          error = (e as Error).message;
          errors.push(`DKG ${t}-of-${n}: ${error}`);
          log(`network: DKG ${t}-of-${n} failed: ${error}`);
        }
      }
      dkg.push({
        t,
        n,
        ms: ms.length ? spread(ms) : null,
        lastConfirmCallMs: call.length ? spread(call) : null,
        cpuPerMemberMs: cpu.length ? spread(cpu) : null,
        ...(error ? { error } : {}),
      });
    }

    // The T-th approval by another approver is a side figure (and meets a race, see `stuck`).
    const samples = { coordinator: quick ? 10 : 30, other: quick ? 5 : 10 };
    const warmup = 2;
    const latency: LatencyFigures[] = [];
    for (const [t, n] of SKIP.has('latency') ? [] : LATENCY_SIZES) {
      const group = groups.get(n);
      if (!group) {
        errors.push(`approve-to-signature ${t}-of-${n}: not measured, its DKG failed`);
        continue;
      }
      const byId = new Map(nodes.map((m) => [m.peerId, m]));
      const members = group.members.map((m) => byId.get(m.peerId)!);
      // The coordinator is the approver with the smallest peer id.
      const approvers = [...members].sort((a, b) => (a.peerId < b.peerId ? -1 : 1)).slice(0, t);
      const sign = crypto.get(n)!;
      for (const who of ['coordinator', 'other'] as const) {
        const last = who === 'coordinator' ? approvers[0] : approvers[t - 1];
        log(`network: approve-to-signature ${t}-of-${n}, T-th approval by the ${who}`);
        let series: Awaited<ReturnType<typeof latencySeries>>;
        try {
          series = await latencySeries(
            group,
            members,
            approvers,
            approvers[0],
            last,
            warmup + samples[who],
          );
        } catch (e) {
          errors.push(`approve-to-signature ${t}-of-${n} by the ${who}: ${(e as Error).message}`);
          continue;
        }
        const xs = series.ms.slice(warmup);
        const calls = series.approveCallMs.slice(warmup);
        const p50Ms = percentile(xs, 0.5);
        const { totalMs, wallMs, idleMsPerSec, signatures } = series.cpu;
        const perSignatureMs = (totalMs - (idleMsPerSec * wallMs) / 1000) / signatures;
        latency.push({
          t,
          n,
          tthApprover: who,
          samples: xs.length,
          p50Ms,
          p99Ms: percentile(xs, 0.99),
          minMs: percentile(xs, 0),
          maxMs: percentile(xs, 1),
          approveCallP50Ms: percentile(calls, 0.5),
          retried: series.retried,
          stuck: series.stuck,
          stuckReasons: series.stuckReasons,
          coordinatorRestarts: series.coordinatorRestarts,
          cryptoMs: sign.criticalPathMs,
          goalMs: 3 * rttMs + sign.criticalPathMs,
          ratio: p50Ms / (rttMs + sign.criticalPathMs),
          groupCpu: {
            perSignatureMs,
            rawPerSignatureMs: totalMs / signatures,
            idleMsPerSec,
            cryptoMs: sign.totalCpuMs,
            ratio: perSignatureMs / sign.totalCpuMs,
          },
        });
      }
    }
    const rssAfter = nodes.map((m) => rssMiB(m.pid));
    log(`network: stop ${N} nodes`);
    await Promise.all(nodes.map((m) => m.stop()));

    let failover: FailoverFigures | null = null;
    try {
      if (!SKIP.has('failover')) failover = await benchFailover(root, env, quick, log);
    } catch (e) {
      errors.push(`failover: ${(e as Error).message}`);
    }
    log('network: done');
    started.clear();
    const waits = idleWaits.map((w) => w.ms);
    return {
      scheme: SCHEME,
      vault: {
        kind: 'file',
        kdf: `scrypt N=2^${Math.log2(SCRYPT.N)} r=${SCRYPT.r} p=${SCRYPT.p} (node:crypto)`,
        note: 'init --vault file, CONCLAVE_PASSPHRASE random per run; scrypt runs once per start',
      },
      process: `node ${process.version}, one process per node`,
      bundle:
        'dist/node/bench-conclave.mjs, built at the start of this section as npm run build:node builds the one bin/conclave.mjs runs',
      nodes: N,
      startToReadyMs: spread(startMs),
      scryptMs,
      idleRssMiB: spread(idleRss),
      rssAfterRunMiB: spread(rssAfter),
      dkg,
      rttMs,
      rttWithAddrsMs: rtt.withAddrs,
      rttSamples,
      durableCommitMs,
      latency,
      failover,
      errors,
      patience: maxPatience,
      idleWaits: {
        count: waits.length,
        timeouts: idleWaits.filter((w) => w.timedOut).length,
        medianMs: waits.length ? spread(waits).median : 0,
        maxMs: waits.length ? Math.max(...waits) : 0,
      },
      wallMs: now() - began,
      phasesSec: phases,
      loadavg: { before: load0, after: loadavg()[0] },
      cpus: cpus().length,
    };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message += `\nnode logs (last lines):\n${logTails()}`;
    throw err;
  } finally {
    started.clear();
    killAll('SIGKILL');
    await Promise.all(
      [...children].map(
        (p) => new Promise<void>((r) => (p.exitCode === null ? p.once('exit', () => r()) : r())),
      ),
    );
    if (!KEEP) rmSync(root, { recursive: true, force: true });
    removeBundle();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * 2-of-3 where the approver the coordinator asks first hangs when asked to sign. The coordinator is
 * the approver with the smallest peer id; it asks the other approvers in peer-id order, so the
 * middle peer id hangs and the largest one is the fallback.
 */
async function benchFailover(
  root: string,
  env: NodeJS.ProcessEnv,
  quick: boolean,
  log: (line: string) => void,
): Promise<FailoverFigures> {
  const trio = ['f1', 'f2', 'f3'].map((name) => new BenchNode(name, root, env));
  log('network: failover, init and start a 2-of-3 group with a hanging signer');
  await inBatches(trio, STAGGER, (m) => m.init());
  const [coord, hung, third] = [...trio].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  const faulty = { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'hang-sign' };
  await Promise.all([coord.start(), hung.start(faulty)]);
  await third.start();
  const { group } = await formGroup([coord, hung, third], 'bench-failover', 2);
  await sleep(500); // the members' first nonce commitments reach the coordinator
  const online = (m: BenchNode) =>
    until(`${m.name} online everywhere`, async () => {
      for (const x of [coord, third]) {
        const g = await x.api('group.show', { group: group.id });
        if (!g.members.find((y) => y.peerId === m.peerId)?.online) return false;
      }
      return true;
    });

  let coordinatorRestarts = 0;
  let notAskedFirst = 0;
  /**
   * The coordinator creates and approves, then hung (the T-th: signing starts and asks hung), then
   * third. Resolves with the time to 'done' from hung's approval (or from the kill),
   * null when a kill came too late (the coordinator had already asked third), or undefined when the
   * coordinator had to be restarted first.
   */
  const attempt = async (kill: boolean): Promise<number | null | undefined> => {
    if (!hung.proc) {
      // Killed by the last attempt: back, with fresh nonce commitments for the coordinator.
      await hung.start(faulty);
      await online(hung);
      await sleep(500);
    }
    const message = `failover ${randomBytes(8).toString('hex')}`;
    // The coordinator approves first (with the request): had hung and third approved before it,
    // those two would be T approvals and hung, the smaller peer id of the two, would coordinate
    // and sign with third, never asked to sign itself.
    const req = await coord.api('request.sign', {
      group: group.id,
      message,
      encoding: 'utf8',
      approve: true,
    });
    await seen([hung, third], req.id, 'arrived with its approval', approved(1));
    const waiting = coord.api('request.wait', { id: req.id, timeoutSec: 60 });
    waiting.catch(() => {}); // awaited below, unless something else fails first
    await sleep(5);
    // hung's approval is the T-th: the coordinator asks hung (the only other approver yet); third's
    // approval right after gives it someone to ask instead once hung is late.
    const t0 = now();
    await hung.api('request.approve', { id: req.id });
    await third.api('request.approve', { id: req.id });
    const status = await until(
      'the coordinator to be signing',
      async () => {
        const s = (await coord.api('request.show', { id: req.id })).status;
        return s === 'signing' || s === 'done' ? s : undefined;
      },
      5_000,
      kill ? 5 : POLL_MS,
    ).catch(() => undefined);
    if (!status) {
      if (!(await noAttempt(coord, req.id, 3)) || ++coordinatorRestarts > 2)
        throw new Error(`the coordinator does not start signing request ${req.id}`);
      await restartCoordinator(coord, group.id);
      return undefined;
    }
    let k0 = t0;
    if (kill) {
      // Only while hung holds the coordinator's only attempt does the kill time anything.
      if (status !== 'signing' || mentions([coord], `late for request ${req.id}`)) {
        await waiting;
        return null;
      }
      k0 = now();
      await hung.stop('SIGKILL');
    }
    const done = await waiting;
    const ms = now() - k0;
    if (done.status !== 'done' || !done.signature)
      throw new Error(`failover request ended ${done.status}: ${done.failure ?? ''}`);
    if (!ed25519Verify(group.publicKey!, Buffer.from(message), done.signature))
      throw new Error('the failover signature does not verify');
    // Late (hung) is no fault and names nobody; a kill resets the stream and names it. Neither:
    // the coordinator did not ask hung at all (it held none of hung's nonce commitments yet), so
    // this run timed no failover: tried again, at most 3 times.
    if (!done.culprits.includes(hung.peerId) && !mentions([coord], `late for request ${req.id}`)) {
      if (++notAskedFirst > 3)
        throw new Error('the coordinator never asked the hung signer first (3 tries)');
      await sleep(500);
      return undefined;
    }
    return ms;
  };

  const measure = async (kill: boolean): Promise<number | null> => {
    for (;;) {
      const ms = await attempt(kill);
      if (ms !== undefined) return ms;
    }
  };
  const hungMs: number[] = [];
  const runs = quick ? 1 : 3;
  for (let r = 0; r < runs; r++) {
    log(`network: failover, hung signer left alone (${r + 1}/${runs})`);
    hungMs.push((await measure(false))!);
  }
  const killMs: number[] = [];
  let killTooLate = 0;
  for (let r = 0; r < runs; r++) {
    log(`network: failover, hung signer SIGKILLed (${r + 1}/${runs})`);
    const ms = await measure(true);
    if (ms === null) killTooLate++;
    else killMs.push(ms);
  }
  await Promise.all(trio.map((m) => m.stop()));
  return {
    killToDoneMs: killMs.length ? spread(killMs) : null,
    killTooLate,
    hungApprovalToDoneMs: spread(hungMs),
    signTimeoutMs: DEFAULT_SIGN_TIMEOUT_MS,
    coordinatorRestarts,
  };
}

/** The table section for `npm run bench`. */
export function formatNetwork(f: NetworkFigures): string[] {
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
  const sp = (s: Spread | null, unit = 'ms') =>
    s === null
      ? 'not measured'
      : s.samples === 1
        ? `${ms(s.median)} ${unit} (n=1)`
        : `${ms(s.median)} ${unit} (min ${ms(s.min)}, max ${ms(s.max)}, n=${s.samples})`;
  const row = (label: string, value: string) => `${label.padEnd(58)} ${value}`;
  const out = [
    'Network (real processes on loopback)',
    `${f.scheme} groups; file vault: init --vault file, random CONCLAVE_PASSPHRASE, ${f.vault.kdf} once per start`,
    `${f.process}; ${f.bundle}`,
    `${f.cpus} CPUs; 1-min load average ${f.loadavg.before.toFixed(1)} at the start of this section, ${f.loadavg.after.toFixed(1)} at its end`,
    `Between samples every node is waited for until its CPU time stops advancing: ${f.idleWaits.count} waits,`,
    `median ${ms(f.idleWaits.medianMs)} ms, max ${ms(f.idleWaits.maxMs)} ms, ${f.idleWaits.timeouts} gave up at their deadline (went on busy)`,
    row(`start-to-ready (spawn → "ready:"), started one at a time`, sp(f.startToReadyMs)),
    row(`  of which the vault's scrypt (same KDF alone, in-process)`, `${ms(f.scryptMs)} ms`),
    row(
      `idle RSS of a headless node, ${IDLE_RSS_AFTER_MS / 1000} s after ready`,
      sp(f.idleRssMiB, 'MiB'),
    ),
    row('RSS at the end (after the DKGs and signatures)', sp(f.rssAfterRunMiB, 'MiB')),
    `DKG: last "group confirm" returned → every member 'ready' (ms; timed by each node's`,
    `"key generation … done" stderr line as it arrives: event-timed, no polling)`,
    'T-of-N    median     min     max  runs  last confirm call  CPU per member (median; members summed ÷ N)',
  ];
  for (const d of f.dkg)
    out.push(
      d.ms && d.lastConfirmCallMs
        ? `${`${d.t}-of-${d.n}`.padEnd(9)} ${ms(d.ms.median).padStart(6)} ${ms(d.ms.min).padStart(7)} ${ms(d.ms.max).padStart(7)} ${String(d.ms.samples).padStart(5)}  ${ms(d.lastConfirmCallMs.median).padStart(17)}  ${d.cpuPerMemberMs ? ms(d.cpuPerMemberMs.median).padStart(17) : ''}` +
            (d.error ? '  (a later run failed)' : '')
        : `${`${d.t}-of-${d.n}`.padEnd(9)} failed: ${(d.error ?? '').split('\n')[0]}`,
    );
  out.push(
    `Approve-to-signature: T-th approval sent → request.wait on that node returns 'done' (ms; signature`,
    `verified after). T-th by the coordinator: approval + one round trip; by another approver: the approval`,
    `travels to the coordinator and the outcome back. p99 is nearest-rank (the max at 30 runs);`,
    `"approve call" is the p50 of the T-th request.approve call's own round trip to its node.`,
    `loopback RTT, in-process host pair, warm request/response, median of ${f.rttSamples}, before any node ran: ${ms(f.rttMs)} ms` +
      ` (${ms(f.rttWithAddrsMs)} ms passing the peer's addrs)`,
    'crypto = in-process critical path of the same T-of-N, before any node ran (commit + sign share + aggregate)',
    'T-of-N    T-th by      runs     p50     p99     min  approve call  retried  stuck  goal 3xRTT+crypto  p50/(RTT+crypto)',
  );
  for (const l of f.latency)
    out.push(
      `${`${l.t}-of-${l.n}`.padEnd(9)} ${l.tthApprover.padEnd(11)} ${String(l.samples).padStart(5)} ${ms(l.p50Ms).padStart(7)} ${ms(l.p99Ms).padStart(7)} ${ms(l.minMs).padStart(7)} ${ms(l.approveCallP50Ms).padStart(13)} ${String(l.retried).padStart(8)} ${String(l.stuck).padStart(6)}  ${ms(l.goalMs).padStart(17)}  ${l.ratio.toFixed(1).padStart(16)}`,
    );
  // Context only (the goal and its met/missed stay 3 × RTT + crypto): what the durable writes that
  // fail-closed auditing requires on this path cost on this disk, so the gap to the goal can be
  // read against the floor the design sets.
  const dc = f.durableCommitMs;
  const floors = [...new Map(f.latency.map((l) => [`${l.t}-of-${l.n}`, l.goalMs])).entries()];
  out.push(
    `durable commit (fsync'd SQLite, this disk; main/store, one audit entry in store.tx, in-process before any`,
    `node ran): p50 ${ms(dc.median)} ms (min ${ms(dc.min)}, max ${ms(dc.max)}, n=${dc.samples}). The T-th-approval path has 3 in series`,
    `(approval, share released, signed): 3xRTT + crypto + 3 commits = ` +
      (floors.length
        ? floors.map(([tn, g]) => `${ms(g + 3 * dc.median)} ms (${tn})`).join(', ')
        : 'not measured (no approve-to-signature run)'),
  );
  out.push(
    `Whole group's CPU per signature (every member's process, /proc utime+stime over the series: requests,`,
    `approvals, signing, outcomes, audit replication, until idle; minus the members' idle rate × wall time)`,
    'T-of-N    T-th by      per signature      raw   idle ms/s  crypto (all parties)  ratio',
  );
  for (const l of f.latency)
    out.push(
      `${`${l.t}-of-${l.n}`.padEnd(9)} ${l.tthApprover.padEnd(11)} ${ms(l.groupCpu.perSignatureMs).padStart(13)} ${ms(l.groupCpu.rawPerSignatureMs).padStart(8)} ${ms(l.groupCpu.idleMsPerSec).padStart(11)} ${ms(l.groupCpu.cryptoMs).padStart(21)}  ${l.groupCpu.ratio.toFixed(1).padStart(5)}`,
    );
  const fo = f.failover;
  const none = SKIP.has('failover') ? 'not run (CONCLAVE_BENCH_SKIP)' : 'failed';
  out.push(
    `Failover, 2-of-3: the approver asked first hangs (CONCLAVE_FAULT=hang-sign); sign timeout ${DEFAULT_SIGN_TIMEOUT_MS / 1000} s (default);`,
    `the coordinator approves with its request, the hung signer's approval is the T-th, the third's follows at once`,
    row(`hung signer left alone: T-th approval → 'done'`, fo ? sp(fo.hungApprovalToDoneMs) : none),
    row(
      `SIGKILL of the hung signer → 'done' (stream reset, retry)`,
      fo
        ? sp(fo.killToDoneMs) +
            (fo.killTooLate ? ` (${fo.killTooLate} kills too late to time)` : '')
        : none,
    ),
    `network section wall time ${(f.wallMs / 1000).toFixed(1)} s`,
  );
  const notes = f.latency.flatMap((l) =>
    l.stuckReasons.slice(0, 1).map((r) => `  stuck: ${r.split('\n')[0]}`),
  );
  const restarts =
    f.latency.reduce((a, l) => a + l.coordinatorRestarts, 0) + (fo?.coordinatorRestarts ?? 0);
  if (restarts > 0)
    notes.push(
      `  a coordinator never tried to sign ${restarts}x (no nonce commitments of an approver that`,
      `  finished its DKG first) and was restarted to get them; those runs are not counted`,
    );
  out.splice(out.length - 5, 0, ...notes);
  for (const e of f.errors) out.push(`  failed: ${e.split('\n')[0]}`);
  return out;
}
