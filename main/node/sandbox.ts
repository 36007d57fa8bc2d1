// "Try it alone": two simulated co-custodians running the real protocol in this process, so one
// person can walk the whole flow (group, safety code, DKG, request, approvals, signature).
import { mkdtempSync, rmSync } from 'node:fs';
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
 * Simulated custodians live in a temporary directory with a file vault whose passphrase exists
 * only in memory: nothing about them outlives the process, and no secret is written in plaintext.
 */
export class Sandbox {
  private sims: Sim[] = [];
  private dir?: string;
  private starting?: Promise<GroupView>;
  private groupId?: string;

  constructor(
    private readonly main: Pick<Api, 'group.create' | 'group.show' | 'group.list' | 'node.status'>,
    private readonly entry: {
      initIdentity(o: InitOptions): Promise<InitResult>;
      startCustodian(o: StartOptions): Promise<RunningNode>;
    },
    private readonly log: (line: string) => void,
  ) {}

  start(): Promise<GroupView> {
    this.starting ??= this.doStart().catch((e) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async doStart(): Promise<GroupView> {
    this.dir = mkdtempSync(join(tmpdir(), 'conclave-sandbox-'));
    const passphrase = randomBytes(24).toString('base64url');
    const me = await this.main['node.status']({});
    for (const name of practiceNames(me.name)) {
      const home = join(this.dir, name.split(' ')[0]!.toLowerCase());
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
    for (const s of this.sims) await s.node.api['group.join']({ invite: created.invite });
    // The simulated members confirm the safety code as soon as the roster is complete; the person
    // using the sandbox confirms it in the UI, as they would in a real group.
    for (const s of this.sims) void this.autoConfirm(s);
    this.log(
      `sandbox group ${created.name} with ${this.sims.map((s) => s.name).join(' and ')}: compare the safety code and confirm`,
    );
    return this.main['group.show']({ group: created.id });
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
    await Promise.all(this.sims.map((s) => s.node.stop().catch(() => undefined)));
    this.sims = [];
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
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
