// Managing a ready group's key: proposing a refresh, a reshare, a repair, a policy change or a
// reconstruction (each a request the group approves), backing up and restoring this member's share,
// and importing an existing key as a new group.
import type {
  Api,
  GroupView,
  NewcomerView,
  PolicyView,
  RequestKind,
  RequestView,
  Scheme,
} from '../../shared/api/index.js';
import { LIMITS } from '../../shared/api/schema.js';
import type { Download } from '../lib/download.js';
import { explain } from '../lib/errors.js';
import {
  approvalsNeeded,
  policyDiff,
  POLICY_LIMITS,
  readPolicy,
  SWITCHABLE,
  type PolicyChangeRow,
  type PolicyRules,
} from '../lib/policy.js';

export type ManageAction = 'refresh' | 'members' | 'repair' | 'policy' | 'backup' | 'reconstruct';

const MIN_PASS = LIMITS.minPassphraseChars;

/** Why a new passphrase (typed twice) cannot be used, or undefined. */
function passphraseProblem(passphrase: string, confirm: string): string | undefined {
  if ([...passphrase].length < MIN_PASS)
    return `The passphrase needs at least ${MIN_PASS} characters.`;
  if (passphrase.length > LIMITS.maxPassphraseChars)
    return `The passphrase may have at most ${LIMITS.maxPassphraseChars} characters.`;
  if (passphrase !== confirm) return 'The two passphrases differ.';
  return undefined;
}

/** What every form that sends something has: whether it is sending, and what went wrong. */
interface Sending {
  busy: boolean;
  error: string | undefined;
}

/** What every proposal form has: sending, its error, and the request it made. */
export class ProposalForm implements Sending {
  busy = $state(false);
  error = $state<string | undefined>();
  /** The request this form sent; the form then shows where to follow it. */
  sent = $state<RequestView | undefined>();

  reset(): void {
    this.busy = false;
    this.error = undefined;
    this.sent = undefined;
  }
}

export class RefreshForm extends ProposalForm {}

/** The newcomers a form may pick from: those who joined through this node's invites. */
function newcomersOf(g: GroupView): NewcomerView[] {
  return g.newcomers ?? [];
}

export class ReshareForm extends ProposalForm {
  /** Peer ids of the newcomers (from the group's `newcomers`) to add. */
  add = $state<string[]>([]);
  /** Peer ids of the members to remove. */
  remove = $state<string[]>([]);
  threshold = $state(2);

  newSize(g: GroupView): number {
    return g.members.length - this.remove.length + this.add.length;
  }

  problem(g: GroupView): string | undefined {
    // The list is re-read on every group event: someone picked may have been added meanwhile.
    if (this.add.some((p) => !newcomersOf(g).some((n) => n.peerId === p)))
      return 'Someone you picked is no longer waiting to be added. Check the list and pick again.';
    if (this.add.length > 16 || this.remove.length > 16)
      return 'Add or remove at most 16 members at a time.';
    const size = this.newSize(g);
    if (size < 2) return 'A group needs at least 2 members: remove fewer, or add someone.';
    if (size > LIMITS.maxSize) return `A group has at most ${LIMITS.maxSize} members.`;
    const t = this.threshold;
    if (!Number.isInteger(t) || t < 2 || t > size)
      return `The number of approvals needed must be from 2 to ${size}, the group’s new size.`;
    if (this.add.length === 0 && this.remove.length === 0 && t === g.threshold)
      return 'Nothing changes yet: add or remove a member, or change the number of approvals.';
    return undefined;
  }

  start(g: GroupView): void {
    this.reset();
    this.add = [];
    this.remove = [];
    this.threshold = g.threshold;
  }
}

export class RepairForm extends ProposalForm {
  /** Peer id of the member whose device was lost. */
  member = $state('');
  /** Peer id of their new device (one of the group's `newcomers`). */
  newcomer = $state('');

  problem(g: GroupView): string | undefined {
    if (this.member === '') return 'Choose the member whose device was lost.';
    if (!g.members.some((m) => m.peerId === this.member && !m.me))
      return 'Choose one of the other members.';
    const newcomers = newcomersOf(g);
    if (newcomers.length === 0)
      return 'The new device has not joined yet: send it the invite, then choose it here.';
    if (this.newcomer === '') return 'Choose the new device, after comparing its fingerprint.';
    if (!newcomers.some((n) => n.peerId === this.newcomer))
      return 'The device you chose is no longer waiting. Check the list and choose again.';
    return undefined;
  }

  start(): void {
    this.reset();
    this.member = '';
    this.newcomer = '';
  }
}

/** Presets for a request's time to approve, in seconds. */
export const EXPIRY_CHOICES: readonly number[] = [
  3600,
  8 * 3600,
  24 * 3600,
  3 * 24 * 3600,
  7 * 24 * 3600,
  30 * 24 * 3600,
];

/** A new policy being written; it starts as a copy of the policy in force. */
export class PolicyForm extends ProposalForm {
  editing = $state(false);
  allowed = $state<Record<string, boolean>>({});
  approvals = $state<Record<string, number>>({});
  policyChange = $state<'threshold' | 'all'>('threshold');
  defaultExpirySec = $state(24 * 3600);
  maxExpirySec = $state(30 * 24 * 3600);
  allowReconstruct = $state(false);
  refreshAfterRepair = $state(false);
  prefixesText = $state('');
  /** The policy this draft started from, to build upon and to compare with. */
  base = $state<PolicyRules | undefined>();

  start(p: PolicyRules, t: number, n: number): void {
    this.reset();
    this.base = p;
    this.editing = true;
    this.allowed = Object.fromEntries(SWITCHABLE.map((k) => [k, p.allowedKinds.includes(k)]));
    this.approvals = Object.fromEntries(
      [...SWITCHABLE, 'reconstruct' as const].map((k) => [k, approvalsNeeded(p, k, t, n)]),
    );
    this.policyChange = p.policyChange;
    this.defaultExpirySec = p.defaultExpirySec;
    this.maxExpirySec = p.maxExpirySec;
    this.allowReconstruct = p.allowReconstruct;
    this.refreshAfterRepair = p.refreshAfterRepair === true;
    this.prefixesText = p.messagePrefixes.join('\n');
  }

  get prefixes(): string[] {
    return this.prefixesText
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** The complete policy the draft describes. */
  build(t: number): PolicyRules {
    const kinds: RequestKind[] = SWITCHABLE.filter((k) => this.allowed[k]);
    if (this.allowReconstruct) kinds.push('reconstruct');
    kinds.push('policy');
    const approvals: Partial<Record<RequestKind, number>> = {};
    for (const k of [...SWITCHABLE, 'reconstruct' as const]) {
      const v = this.approvals[k];
      // T is what a kind without a number needs: leave it out, as the node's default does.
      if (v !== undefined && v !== t) approvals[k] = v;
    }
    return {
      v: 1,
      allowedKinds: kinds,
      approvals,
      policyChange: this.policyChange,
      defaultExpirySec: this.defaultExpirySec,
      maxExpirySec: this.maxExpirySec,
      allowReconstruct: this.allowReconstruct,
      messagePrefixes: this.prefixes,
      // The node keeps the field only when true, so a false one is left out (same policy hash).
      ...(this.refreshAfterRepair ? { refreshAfterRepair: true } : {}),
    };
  }

  /** The rules that change, in words. */
  changes(t: number, n: number): PolicyChangeRow[] {
    return this.base ? policyDiff(this.base, this.build(t), t, n) : [];
  }

  problem(t: number, n: number): string | undefined {
    for (const k of [...SWITCHABLE, 'reconstruct' as const]) {
      const v = this.approvals[k];
      if (!Number.isInteger(v) || v! < t || v! > n)
        return `Approvals needed must be from ${t} (the group’s threshold) to ${n} (every member).`;
    }
    if (this.defaultExpirySec > this.maxExpirySec)
      return 'The usual time to approve cannot be longer than the longest time allowed.';
    const prefixes = this.prefixes;
    if (prefixes.length > POLICY_LIMITS.maxPrefixes)
      return `List at most ${POLICY_LIMITS.maxPrefixes} message beginnings.`;
    const long = prefixes.find((x) => [...x].length > POLICY_LIMITS.maxPrefixChars);
    if (long)
      return `A message beginning may have at most ${POLICY_LIMITS.maxPrefixChars} characters.`;
    if (prefixes.some((x, i) => prefixes.indexOf(x) !== i))
      return 'A message beginning is listed twice.';
    if (this.changes(t, n).length === 0) return 'Nothing changes yet: this is the policy in force.';
    return undefined;
  }
}

export class BackupForm {
  passphrase = $state('');
  confirm = $state('');
  busy = $state(false);
  error = $state<string | undefined>();
  /** The file just saved and the epoch of the share in it. */
  saved = $state<{ filename: string; epoch: number } | undefined>();
  /** The custodian is being asked to agree to what the file lets its holder do. */
  confirming = $state(false);

  get problem(): string | undefined {
    return passphraseProblem(this.passphrase, this.confirm);
  }

  start(): void {
    this.passphrase = '';
    this.confirm = '';
    this.busy = false;
    this.error = undefined;
    this.saved = undefined;
    this.confirming = false;
  }

  /** The first step of saving: a valid passphrase, then the question of what is at stake. */
  review(): void {
    this.error = this.problem;
    this.saved = undefined;
    this.confirming = this.error === undefined;
  }
}

export class RestoreForm {
  fileName = $state('');
  fileText = $state('');
  passphrase = $state('');
  busy = $state(false);
  error = $state<string | undefined>();
  restored = $state<string | undefined>();

  get problem(): string | undefined {
    if (this.fileText === '') return 'Choose the backup file first.';
    if (this.fileText.length > LIMITS.backupChars)
      return 'That file is too large to be a Conclave share backup.';
    if ([...this.passphrase].length < MIN_PASS)
      return `Enter the backup’s passphrase (at least ${MIN_PASS} characters).`;
    return undefined;
  }

  start(): void {
    this.fileName = '';
    this.fileText = '';
    this.passphrase = '';
    this.busy = false;
    this.error = undefined;
    this.restored = undefined;
  }
}

export class ReconstructForm extends ProposalForm {
  purpose = $state('');
  operation = $state<'export' | 'ecdsa-sign'>('export');
  out = $state('');
  passphrase = $state('');
  confirm = $state('');
  digest = $state('');
  understood = $state(false);

  problem(g: GroupView): string | undefined {
    if (g.exposed)
      return `The key of “${g.name}” is already exposed (${g.exposed}): create a new group instead.`;
    const purpose = this.purpose.trim();
    if (purpose === '')
      return 'Say why the key must be reconstructed: every member reads this before deciding.';
    if ([...purpose].length > LIMITS.reasonChars)
      return `The purpose may have at most ${LIMITS.reasonChars} characters.`;
    if (this.operation === 'export') {
      if (this.out.trim() === '') return 'Enter where on this computer the key file is written.';
      const pass = passphraseProblem(this.passphrase, this.confirm);
      if (pass) return pass;
    } else {
      if (g.scheme === 'ed25519') return 'An Ed25519 key cannot make ECDSA signatures.';
      if (!/^[0-9a-fA-F]{64}$/.test(this.digest.trim()))
        return 'The digest must be 32 bytes written as 64 hex characters (0-9, a-f).';
    }
    if (!this.understood) return 'Tick the box to confirm you understand what this exposes.';
    return undefined;
  }

  start(): void {
    this.reset();
    this.purpose = '';
    this.operation = 'export';
    this.out = '';
    this.passphrase = '';
    this.confirm = '';
    this.digest = '';
    this.understood = false;
  }
}

export class ImportForm {
  name = $state('');
  threshold = $state(2);
  size = $state(3);
  scheme = $state<Scheme>('ed25519');
  keyFile = $state('');
  busy = $state(false);
  error = $state<string | undefined>();

  get problem(): string | undefined {
    if (this.name.trim() === '') return 'Give the group a name.';
    if (!Number.isInteger(this.size) || this.size < LIMITS.minSize || this.size > LIMITS.maxSize)
      return `A group has from ${LIMITS.minSize} to ${LIMITS.maxSize} members.`;
    if (!Number.isInteger(this.threshold) || this.threshold < 2 || this.threshold > this.size)
      return `The number of approvals needed must be from 2 to ${this.size}.`;
    if (this.keyFile.trim() === '') return 'Enter the path of the file that holds the key.';
    return undefined;
  }

  reset(): void {
    this.name = '';
    this.threshold = 2;
    this.size = 3;
    this.scheme = 'ed25519';
    this.keyFile = '';
    this.error = undefined;
  }
}

export interface ManageDeps {
  api: Api;
  group: (id: string) => GroupView | undefined;
  /** Shows a group (and one of its actions). */
  open: (id: string, action?: ManageAction) => void;
  /** Puts a request this node made into the inbox at once. */
  track: (r: RequestView) => void;
  /** Puts a group the node returned into the list at once. */
  upsertGroup: (g: GroupView) => void;
  /** Keeps the invite of a group this node created, where the group screen shows it. */
  keepInvite: (groupId: string, invite: string) => void;
  download: Download;
}

export class ManageState {
  /** The policy in force per group id, as the node reported it. */
  policies = $state<Record<string, PolicyView>>({});
  policyErrors = $state<Record<string, string | undefined>>({});
  /** Every policy seen, by hash: what a policy request changes is shown against the one it replaces. */
  known = $state<Record<string, PolicyRules>>({});
  /** Invites for newcomers (new members, a lost member's new device), per group id. */
  invites = $state<Record<string, string>>({});
  inviting = $state(false);
  inviteError = $state<string | undefined>();
  /** The warning an import gave, per group id: shown on the group for as long as the page is open. */
  importWarnings = $state<Record<string, string>>({});
  readonly refresh = new RefreshForm();
  readonly reshare = new ReshareForm();
  readonly repair = new RepairForm();
  readonly policy = new PolicyForm();
  readonly backup = new BackupForm();
  readonly restore = new RestoreForm();
  readonly reconstruct = new ReconstructForm();
  readonly importForm = new ImportForm();

  constructor(private readonly deps: ManageDeps) {}

  private get api(): Api {
    return this.deps.api;
  }

  /** Opens one action of a group with a fresh form. */
  open(groupId: string, action: ManageAction): void {
    const g = this.deps.group(groupId);
    if (action === 'refresh') this.refresh.reset();
    else if (action === 'members' && g) this.reshare.start(g);
    else if (action === 'repair') this.repair.start();
    else if (action === 'policy') {
      this.policy.reset();
      this.policy.editing = false;
    } else if (action === 'backup') {
      this.backup.start();
      this.restore.start();
    } else if (action === 'reconstruct') this.reconstruct.start();
    this.inviteError = undefined;
    this.deps.open(groupId, action);
    if (action === 'policy' || action === 'reconstruct') void this.loadPolicy(groupId);
    if (action === 'members' || action === 'repair') void this.rereadGroup(groupId);
  }

  /**
   * Reads the group afresh: its newcomers (who the reshare and repair forms pick from) also come
   * with every group event, but one missed while this page was away would leave the list stale.
   */
  private async rereadGroup(groupId: string): Promise<void> {
    try {
      this.deps.upsertGroup(await this.api['group.show']({ group: groupId }));
    } catch (_) {
      // The form still shows the group as last read; proposing reports any real problem.
    }
  }

  /** The policy in force, parsed; undefined until loaded (or when unreadable). */
  rules(groupId: string): PolicyRules | undefined {
    const v = this.policies[groupId];
    return v ? readPolicy(v.policy) : undefined;
  }

  async loadPolicy(groupId: string): Promise<void> {
    try {
      const view = await this.api['group.policy']({ group: groupId });
      this.policies[groupId] = view;
      const rules = readPolicy(view.policy);
      if (rules) this.known[view.hash] = rules;
      this.policyErrors[groupId] = undefined;
    } catch (err) {
      this.policyErrors[groupId] = explain(err, 'read the group’s policy');
    }
  }

  /** Approvals a request needs under its group's policy; undefined while that is not known. */
  needed(r: Pick<RequestView, 'group' | 'kind'>): number | undefined {
    const g = this.deps.group(r.group);
    const rules = this.rules(r.group);
    return g && rules ? approvalsNeeded(rules, r.kind, g.threshold, g.size) : undefined;
  }

  async invite(groupId: string): Promise<void> {
    this.inviting = true;
    this.inviteError = undefined;
    try {
      const { invite } = await this.api['group.invite']({ group: groupId });
      this.invites[groupId] = invite;
    } catch (err) {
      this.inviteError = explain(err, 'create an invite');
    } finally {
      this.inviting = false;
    }
  }

  /**
   * Runs `work` for `form`, unless `problem` (what the form's own check found) stops it first:
   * the form is busy meanwhile and shows what went wrong in words.
   */
  private async run<T>(
    form: Sending,
    problem: string | undefined,
    doing: string,
    work: () => Promise<T>,
  ): Promise<T | undefined> {
    if (problem) {
      form.error = problem;
      return undefined;
    }
    form.busy = true;
    form.error = undefined;
    try {
      return await work();
    } catch (err) {
      form.error = explain(err, doing);
      return undefined;
    } finally {
      form.busy = false;
    }
  }

  /** Sends a proposal through `form`; the made request goes to the inbox. */
  private propose(
    form: ProposalForm,
    problem: string | undefined,
    doing: string,
    send: () => Promise<RequestView>,
  ): Promise<RequestView | undefined> {
    return this.run(form, problem, doing, async () => {
      const r = await send();
      form.sent = r;
      this.deps.track(r);
      return r;
    });
  }

  proposeRefresh(g: GroupView): Promise<RequestView | undefined> {
    return this.propose(this.refresh, undefined, 'propose the refresh', () =>
      this.api['request.refresh']({ group: g.id }),
    );
  }

  proposeReshare(g: GroupView): Promise<RequestView | undefined> {
    const f = this.reshare;
    return this.propose(f, f.problem(g), 'propose the change of members', () => {
      const input: { group: string; threshold: number; add?: string[]; remove?: string[] } = {
        group: g.id,
        threshold: f.threshold,
      };
      if (f.add.length) input.add = [...f.add];
      if (f.remove.length) input.remove = [...f.remove];
      return this.api['request.reshare'](input);
    });
  }

  proposeRepair(g: GroupView): Promise<RequestView | undefined> {
    const f = this.repair;
    return this.propose(f, f.problem(g), 'propose the repair', () =>
      this.api['request.repair']({ group: g.id, member: f.member, newcomer: f.newcomer }),
    );
  }

  async proposePolicy(g: GroupView): Promise<RequestView | undefined> {
    const f = this.policy;
    const r = await this.propose(f, f.problem(g.threshold, g.size), 'propose the new policy', () =>
      this.api['request.policy']({
        group: g.id,
        policy: f.build(g.threshold) as unknown as Record<string, unknown>,
      }),
    );
    if (r) f.editing = false;
    return r;
  }

  async proposeReconstruct(g: GroupView): Promise<RequestView | undefined> {
    const f = this.reconstruct;
    const problem = f.problem(g);
    const base = { group: g.id, purpose: f.purpose.trim() };
    const r = await this.propose(f, problem, 'ask for the reconstruction', () =>
      f.operation === 'export'
        ? this.api['request.reconstruct']({
            ...base,
            operation: 'export',
            out: f.out.trim(),
            passphrase: f.passphrase,
          })
        : this.api['request.reconstruct']({
            ...base,
            operation: 'ecdsa-sign',
            digest: f.digest.trim().toLowerCase(),
          }),
    );
    // The node keeps the passphrase until the key is written; this page has no use for it.
    if (!problem) {
      f.passphrase = '';
      f.confirm = '';
    }
    return r;
  }

  /**
   * Saves this member's share, encrypted under the passphrase, as a file: only once the custodian
   * agreed (BackupForm.review, then the confirm step) that its holder can act as them.
   */
  async exportBackup(g: GroupView): Promise<void> {
    const f = this.backup;
    const problem = f.problem ?? (f.confirming ? undefined : 'Confirm that you want the backup.');
    await this.run(f, problem, 'back up your share', async () => {
      f.saved = undefined;
      const b = await this.api['backup.export']({
        group: g.id,
        passphrase: f.passphrase,
        confirm: true,
      });
      f.confirming = false;
      const safe = b.groupName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'group';
      const filename = `conclave-share-${safe}-epoch${b.epoch}.json`;
      this.deps.download(filename, b.file, 'application/json');
      f.saved = { filename, epoch: b.epoch };
      f.passphrase = '';
      f.confirm = '';
    });
  }

  /** Reads a chosen backup file's text into the restore form. */
  async chooseBackupFile(file: File | undefined): Promise<void> {
    const f = this.restore;
    f.error = undefined;
    f.restored = undefined;
    if (!file) {
      f.fileName = '';
      f.fileText = '';
      return;
    }
    if (file.size > LIMITS.backupChars) {
      f.fileName = file.name;
      f.fileText = '';
      f.error = 'That file is too large to be a Conclave share backup.';
      return;
    }
    f.fileName = file.name;
    f.fileText = await file.text();
  }

  async restoreBackup(): Promise<void> {
    const f = this.restore;
    await this.run(f, f.problem, 'restore the backup', async () => {
      const g = await this.api['backup.restore']({ file: f.fileText, passphrase: f.passphrase });
      this.deps.upsertGroup(g);
      f.restored = `Your share of “${g.name}” (epoch ${g.epoch}) is back on this computer.`;
      f.passphrase = '';
    });
  }

  /** Imports an existing key as a new group; the group opens with the node's warning. */
  async importKey(): Promise<void> {
    const f = this.importForm;
    await this.run(f, f.problem, 'import the key', async () => {
      const created = await this.api['group.import']({
        name: f.name.trim(),
        threshold: f.threshold,
        size: f.size,
        scheme: f.scheme,
        keyFile: f.keyFile.trim(),
      });
      const { invite, warning, ...view } = created;
      this.importWarnings[view.id] = warning;
      this.deps.upsertGroup(view);
      this.deps.keepInvite(view.id, invite);
      f.reset();
      this.deps.open(view.id);
    });
  }
}
