// "Try it alone": two simulated co-custodians running the real protocol in this process, so one
// person can walk the whole flow (group, safety code, DKG, request, approvals, signature).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ApiError,
  type Api,
  type GroupView,
  type RequestView,
  type SandboxMember,
} from '../../shared/api/index.js';
import type { InitOptions, InitResult, RunningNode, StartOptions } from './index.js';

interface Sim {
  name: string;
  node: RunningNode;
}

/** First names for the simulated co-custodians, in order of preference. */
const SIM_FIRST_NAMES = ['Bob', 'Carol', 'Dave', 'Erin', 'Frank'];

/**
 * The two simulated co-custodians' names: the first of SIM_FIRST_NAMES that are not the person's
 * own first name (a user called Carol practises with Bob and Dave, never with another Carol).
 */
export function practiceNames(userName: string): string[] {
  const own = userName.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  return SIM_FIRST_NAMES.filter((n) => n.toLowerCase() !== own)
    .slice(0, 2)
    .map((n) => `${n} (simulated)`);
}

/** `base`, or `base (2)`, `base (3)`... whichever no group in `taken` is called yet. */
export function freeGroupName(base: string, taken: readonly string[]): string {
  let name = base;
  for (let i = 2; taken.includes(name); i++) name = `${base} (${i})`;
  return name;
}

/**
 * Where the practice group is kept between runs, so the next start brings the same simulated
 * members back instead of adding another group whose members are gone for good: their homes under
 * `dir`, and their file vaults' passphrase in the person's own vault (never written in plaintext).
 */
export interface SandboxKeep {
  dir: string;
  getSecret(): Promise<string | undefined>;
  putSecret(secret: string): Promise<void>;
  /** Connects the person's node to a member started again (its port is new at every start). */
  introduce?(peerId: string, addrs: string[]): Promise<void>;
}

/** What `dir/practice.json` records: the practice group and its simulated members' homes. */
interface PracticeRecord {
  groupId: string;
  sims: { name: string; home: string }[];
}

/**
 * The practice record at `path`, checked: an unreadable one is an error naming the file (the
 * caller starts a new practice group), not a raw JSON or type error from deep in the reuse.
 */
function readPracticeRecord(path: string): PracticeRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    rec = undefined;
  }
  if (!isPracticeRecord(rec)) throw new Error(`the practice record ${path} is unreadable`);
  return rec;
}

function isPracticeRecord(v: unknown): v is PracticeRecord {
  if (typeof v !== 'object' || v === null) return false;
  const { groupId, sims } = v as { groupId?: unknown; sims?: unknown };
  return (
    typeof groupId === 'string' &&
    groupId.length > 0 &&
    groupId.length <= 200 &&
    Array.isArray(sims) &&
    sims.length > 0 &&
    sims.length <= 16 &&
    sims.every(
      (s: unknown) =>
        typeof s === 'object' &&
        s !== null &&
        typeof (s as { name?: unknown }).name === 'string' &&
        typeof (s as { home?: unknown }).home === 'string' &&
        (s as { home: string }).home.length > 0,
    )
  );
}

/**
 * Simulated custodians live in `keep.dir` (kept, reused at the next start) or, without it, in a
 * temporary directory whose file vault passphrase exists only in memory.
 */
export class Sandbox {
  private sims: Sim[] = [];
  private dir?: string;
  private starting?: Promise<GroupView>;
  private groupId?: string;

  constructor(
    private readonly main: Pick<
      Api,
      'group.create' | 'group.show' | 'group.list' | 'group.leave' | 'node.status'
    >,
    private readonly entry: {
      initIdentity(o: InitOptions): Promise<InitResult>;
      startCustodian(o: StartOptions): Promise<RunningNode>;
    },
    private readonly log: (line: string) => void,
    private readonly keep?: SandboxKeep,
  ) {}

  start(): Promise<GroupView> {
    this.starting ??= this.doStart().catch((e) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async doStart(): Promise<GroupView> {
    const reused = await this.reuse().catch((e: Error) => {
      this.log(`sandbox: the practice group cannot be brought back (${e.message}); starting anew`);
      return undefined;
    });
    if (reused) return reused;
    await this.stopSims();
    let passphrase = randomBytes(24).toString('base64url');
    if (this.keep) {
      // A fresh run directory: the old one's members are gone, and their group with them.
      rmSync(this.keep.dir, { recursive: true, force: true });
      this.dir = join(this.keep.dir, `run-${Date.now()}`);
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      passphrase = (await this.keep.getSecret()) ?? passphrase;
      await this.keep.putSecret(passphrase);
    } else this.dir = mkdtempSync(join(tmpdir(), 'conclave-sandbox-'));
    const me = await this.main['node.status']({});
    for (const name of practiceNames(me.name)) {
      const home = join(this.dir, practiceHome(name));
      await this.entry.initIdentity({ home, name, vault: 'file', passphrase });
      const node = await this.entry.startCustodian({
        home,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        relays: [],
        mdns: false,
        passphrase,
        log: (l) => this.log(`[${name}] ${l}`),
      });
      this.sims.push({ name, node });
    }
    // Group names are unique on a node: a second start within the minute gets "(2)".
    const taken = (await this.main['group.list']({})).map((g) => g.name);
    const created = await this.main['group.create']({
      name: freeGroupName(`Sandbox ${new Date().toISOString().slice(11, 16)}`, taken),
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
    });
    this.groupId = created.id;
    if (this.keep) this.record(created.id);
    for (const s of this.sims) await s.node.api['group.join']({ invite: created.invite });
    // The simulated members confirm the safety code as soon as the roster is complete; the person
    // using the sandbox confirms it in the UI, as they would in a real group.
    for (const s of this.sims) void this.autoConfirm(s);
    this.log(
      `sandbox group ${created.name} with ${this.sims.map((s) => s.name).join(' and ')}: compare the safety code and confirm`,
    );
    return this.main['group.show']({ group: created.id });
  }

  private get recordPath(): string {
    return join(this.keep!.dir, 'practice.json');
  }

  private record(groupId: string): void {
    const rec: PracticeRecord = {
      groupId,
      sims: this.sims.map((s) => ({
        name: s.name,
        home: join(this.dir!, practiceHome(s.name)),
      })),
    };
    writeFileSync(this.recordPath, JSON.stringify(rec), { mode: 0o600 });
  }

  /**
   * The practice group of an earlier run, its simulated members started again from their kept
   * homes; undefined when there is none. One that cannot be brought back (its members' homes or
   * passphrase are gone) is left, so its members are not dialled for ever, and a new one is made.
   */
  private async reuse(): Promise<GroupView | undefined> {
    if (!this.keep || !existsSync(this.recordPath)) return undefined;
    const rec = readPracticeRecord(this.recordPath);
    const group = await this.main['group.show']({ group: rec.groupId }).catch(() => undefined);
    if (!group) return undefined;
    const passphrase = await this.keep.getSecret();
    if (!passphrase || !rec.sims.every((s) => existsSync(s.home))) {
      await this.main['group.leave']({ group: rec.groupId, confirm: true }).catch(() => undefined);
      this.log(
        `sandbox: left the old practice group ${group.name}: its simulated members are gone`,
      );
      return undefined;
    }
    this.dir = join(rec.sims[0]!.home, '..');
    for (const s of rec.sims) {
      const node = await this.entry.startCustodian({
        home: s.home,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        relays: [],
        mdns: false,
        passphrase,
        log: (l) => this.log(`[${s.name}] ${l}`),
      });
      this.sims.push({ name: s.name, node });
      await this.keep.introduce?.(node.peerId, node.addrs());
    }
    this.groupId = rec.groupId;
    for (const s of this.sims) void this.autoConfirm(s);
    this.log(
      `sandbox: the practice group ${group.name} again, with ${rec.sims.map((s) => s.name).join(' and ')}`,
    );
    return this.main['group.show']({ group: rec.groupId });
  }

  private async stopSims(): Promise<void> {
    await Promise.all(this.sims.map((s) => s.node.stop().catch(() => undefined)));
    this.sims = [];
  }

  private async autoConfirm(s: Sim): Promise<void> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const g = await s.node.api['group.show']({ group: this.groupId! }).catch(() => undefined);
      if (g?.status === 'confirming') {
        await s.node.api['group.confirm']({ group: this.groupId! });
        return;
      }
      if (g && g.status !== 'forming') return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async members(): Promise<SandboxMember[]> {
    const out: SandboxMember[] = [];
    for (const s of this.sims) {
      const pending = await s.node.api['request.list']({ pending: true });
      const status = await s.node.api['node.status']({});
      out.push({
        name: s.name,
        peerId: status.peerId,
        pending: pending
          .filter((r) => ![...r.approvals, ...r.denials].some((d) => d.peerId === status.peerId))
          .map((r) => r.id),
      });
    }
    return out;
  }

  async decide(
    member: string,
    id: string,
    decision: 'approve' | 'deny',
    reason?: string,
  ): Promise<RequestView> {
    const sim = this.sims.find((s) => s.name === member || s.node.peerId === member);
    if (!sim)
      throw new ApiError(
        'not_found',
        this.sims.length
          ? `no simulated custodian "${member}"`
          : 'the sandbox is not running: start it first',
      );
    await waitForRequest(sim.node.api, id);
    return decision === 'approve'
      ? sim.node.api['request.approve']({ id })
      : sim.node.api['request.deny']({ id, reason });
  }

  async stop(): Promise<void> {
    await this.stopSims();
    // Kept homes stay for the next start; a temporary directory goes.
    if (this.dir && !this.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A simulated member's home directory name: its first name, lower case. */
function practiceHome(name: string): string {
  return name.split(' ')[0]!.toLowerCase();
}

async function waitForRequest(api: Api, id: string): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      await api['request.show']({ id });
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
