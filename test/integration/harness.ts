// Spawns real custodian node processes on 127.0.0.1, each with its own home, and talks to them
// through the `conclave` CLI and the control socket, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ApiInput,
  ApiMethod,
  ApiOutput,
  GroupView,
  RequestView,
} from '../../shared/api/index.js';
import { callControl } from '../../main/server/control.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'conclave.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one `conclave` command to completion. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`conclave ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs a `--json` command and parses its one JSON document; throws with stderr on failure. */
export async function cliJson<T = Record<string, unknown>>(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<T> {
  const r = await cli([...args, '--json'], env);
  if (r.code !== 0)
    throw new Error(`conclave ${args.join(' ')} exited ${r.code}: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Thrown by a `waitFor` check to end the wait at once (the condition can no longer be met). */
export class GiveUp extends Error {}

/**
 * Polls `check` until it returns a truthy value or the deadline passes; an error thrown by
 * `check` is retried (the last one is reported), except a `GiveUp`, which ends the wait.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export class TestNode {
  readonly name: string;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  peerId = '';
  proc?: ChildProcess;
  logs = '';

  /** A command the node process runs under (e.g. `ip netns exec NS`); none by default. */
  readonly prefix: string[];

  constructor(name: string, root: string, env: NodeJS.ProcessEnv = {}, prefix: string[] = []) {
    this.name = name;
    this.home = join(root, name);
    this.env = env;
    this.prefix = prefix;
  }

  async init(): Promise<void> {
    const r = await cliJson<{ peerId: string }>(
      ['--home', this.home, 'init', '--name', this.name],
      this.env,
    );
    this.peerId = r.peerId;
  }

  /** Starts `conclave start` in the background and resolves when it serves its control socket. */
  async start(
    args: string[] = ['--listen', '/ip4/127.0.0.1/tcp/0'],
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<void> {
    const argv = [process.execPath, BIN, '--home', this.home, 'start', ...args];
    const [cmd, ...rest] = [...this.prefix, ...argv];
    const p = spawn(cmd!, rest, {
      cwd: ROOT,
      env: { ...process.env, ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    // Only this process's own "ready:" line counts (a restart keeps the earlier logs).
    const from = this.logs.length;
    p.stdout!.on('data', (d) => (this.logs += d));
    p.stderr!.on('data', (d) => (this.logs += d));
    await waitFor(
      `${this.name} to be ready`,
      () => {
        if (p.exitCode !== null) throw new Error(`${this.name} exited: ${this.logs}`);
        return /ready:/.test(this.logs.slice(from));
      },
      60_000,
    );
  }

  api<M extends ApiMethod>(
    method: M,
    params: ApiInput<M>,
    timeoutMs = 30_000,
  ): Promise<ApiOutput<M>> {
    return callControl(this.home, method, params, { timeoutMs }) as Promise<ApiOutput<M>>;
  }

  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return cli(['--home', this.home, ...args], { ...this.env, ...env });
  }

  cliJson<T = Record<string, unknown>>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
    return cliJson<T>(['--home', this.home, ...args], { ...this.env, ...env });
  }

  /** Stops the process with a signal and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    const code = await exited;
    this.proc = undefined;
    return code;
  }
}

/** A temporary directory for several node homes, removed by `cleanup`. */
export function tempRoot(prefix = 'conclave-it-'): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Resolves once `n` has received request `id`. */
export function seen(n: TestNode, id: string): Promise<boolean> {
  return waitFor(`${n.name} to see ${id}`, async () =>
    (await n.api('request.list', {})).some((r) => r.id === id),
  );
}

/** Resolves with the request once it has status `want` on `n`; a failure ends the wait early. */
export function requestStatus(
  n: TestNode,
  id: string,
  want: string,
  timeoutMs = 90_000,
): Promise<RequestView> {
  return waitFor(
    `${want} on ${n.name}`,
    async () => {
      const r = await n.api('request.show', { id });
      if (r.status === 'failed' && want !== 'failed')
        throw new GiveUp(`request ${id} failed on ${n.name}: ${r.failure}`);
      return r.status === want ? r : undefined;
    },
    timeoutMs,
  );
}

/** Each of `approvers` waits to see request `id`, then approves it (in order). */
export async function approveBy(id: string, approvers: TestNode[]): Promise<void> {
  for (const n of approvers) {
    await seen(n, id);
    await n.cliJson(['approve', id]);
  }
}

/** Resolves with the group as `n` shows it once it has status `want`; a failed group ends it. */
export function groupStatus(
  n: TestNode,
  id: string,
  want: GroupView['status'],
  timeoutMs = 60_000,
): Promise<GroupView> {
  return waitFor(
    `group ${want} on ${n.name}`,
    async () => {
      const g = await n.api('group.show', { group: id });
      if (g.status === 'failed' && want !== 'failed')
        throw new GiveUp(`group ${id} failed on ${n.name}: ${g.error}`);
      return g.status === want ? g : undefined;
    },
    timeoutMs,
  );
}

/**
 * Forms a group the way custodians do: `creator` creates it (or imports `keyFile`), the others
 * join with the invite, everyone confirms the roster. Resolves once the invite is confirmed by
 * all; with `ready` (the default) also waits until every member holds its share.
 */
export async function formGroup(
  creator: TestNode,
  joiners: TestNode[],
  opts: {
    name: string;
    threshold: number;
    scheme: 'ed25519' | 'secp256k1' | 'taproot';
    keyFile?: string;
    ready?: boolean;
  },
): Promise<{ id: string; invite: string; warning?: string; groups: GroupView[] }> {
  const all = [creator, ...joiners];
  const created = await creator.cliJson<{ id: string; invite: string; warning?: string }>([
    'group',
    opts.keyFile ? 'import' : 'create',
    '--name',
    opts.name,
    '--threshold',
    String(opts.threshold),
    '--size',
    String(all.length),
    '--scheme',
    opts.scheme,
    ...(opts.keyFile ? ['--key-file', opts.keyFile] : []),
  ]);
  for (const n of joiners) await n.cliJson(['group', 'join', created.invite]);
  await Promise.all(all.map((n) => groupStatus(n, created.id, 'confirming')));
  for (const n of all) await n.cliJson(['group', 'confirm', created.id]);
  const groups =
    opts.ready === false
      ? []
      : await Promise.all(all.map((n) => groupStatus(n, created.id, 'ready')));
  return { ...created, groups };
}

/**
 * Changes the group's policy so that reconstruction is allowed: `by` proposes it, `approvers`
 * approve, and it is in force on every node of `members` when this resolves.
 */
export async function allowReconstruction(
  group: string,
  by: TestNode,
  approvers: TestNode[],
  members: TestNode[],
  dir: string,
): Promise<void> {
  const current = await by.cliJson<{ policy: { allowedKinds: string[] } }>([
    'group',
    'policy',
    group,
  ]);
  const file = join(dir, `allow-reconstruct-${by.name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      ...current.policy,
      allowReconstruct: true,
      allowedKinds: [...current.policy.allowedKinds, 'reconstruct'],
    }),
  );
  const change = await by.cliJson<RequestView>([
    'request',
    'policy',
    '--group',
    group,
    '--file',
    file,
  ]);
  await approveBy(change.id, approvers);
  for (const n of members) await requestStatus(n, change.id, 'done');
}
