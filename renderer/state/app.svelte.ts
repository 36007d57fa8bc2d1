// The whole app's state: the node's status, the link to it, the screen shown, and the parts.
import {
  ApiError,
  type ApiEvent,
  type NodeStatus,
  type RequestView,
  type SandboxMember,
} from '../../shared/api/index.js';
import type { ShellEvent } from '../../shared/api/ipc-client.js';
import type { LinkStatus, NodeBridge } from '../lib/bridge.js';
import { explain } from '../lib/errors.js';
import { requestWords } from '../lib/activity.js';
import { AuditState } from './audit.svelte.js';
import { GroupsState } from './groups.svelte.js';
import { download, type Download } from '../lib/download.js';
import { IdentityForm, UnlockForm } from './identity.svelte.js';
import { ManageState } from './manage.svelte.js';
import { RequestsState } from './requests.svelte.js';
import { SettingsState } from './settings.svelte.js';

export type Screen = 'requests' | 'groups' | 'activity' | 'settings';

export interface AppOptions {
  clock?: () => number;
  /** How often `now` moves on (for "time left"); default 10 s. */
  tickMs?: number;
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  root?: HTMLElement;
  /** How files the user asked for (a share backup) are saved; the browser's download by default. */
  download?: Download;
}

export class AppState {
  screen = $state<Screen>('requests');
  status = $state<NodeStatus | undefined>();
  link = $state<LinkStatus>('connecting');
  error = $state<string | undefined>();
  now = $state(Date.now());
  /** Set while this node has no identity yet: the first-run screen shows, with this message. */
  firstRun = $state<string | undefined>();
  /** Set while the node's file vault waits for its passphrase: the unlock screen shows. */
  locked = $state<string | undefined>();
  readonly unlockForm = new UnlockForm();
  /** The sandbox's simulated co-custodians ("Try it alone"); empty when no sandbox runs. */
  sandbox = $state<SandboxMember[]>([]);
  sandboxStarting = $state(false);
  sandboxError = $state<string | undefined>();
  readonly identity = new IdentityForm();
  readonly groups: GroupsState;
  readonly requests: RequestsState;
  readonly audit: AuditState;
  readonly settings: SettingsState;
  readonly manage: ManageState;
  private readonly clock: () => number;
  private readonly tickMs: number;

  constructor(
    readonly bridge: NodeBridge,
    opts: AppOptions = {},
  ) {
    this.clock = opts.clock ?? (() => Date.now());
    this.tickMs = opts.tickMs ?? 10_000;
    this.now = this.clock();
    const api = bridge.api;
    this.groups = new GroupsState(api);
    this.requests = new RequestsState(
      api,
      () => this.status?.peerId,
      (id) => this.groups.group(id),
      (r) => this.manage.needed(r),
    );
    this.manage = new ManageState({
      api,
      group: (id) => this.groups.group(id),
      open: (id, action) => this.groups.open({ kind: 'detail', id, action }),
      track: (r) => this.requests.track(r),
      upsertGroup: (g) => this.groups.upsert(g),
      keepInvite: (id, invite) => (this.groups.invites[id] = invite),
      download: opts.download ?? download,
    });
    this.audit = new AuditState(
      api,
      (peer) => this.groups.nameOf(peer),
      (id) => (id === undefined ? '' : (this.groups.group(id)?.name ?? id)),
      opts.download ?? download,
      () => this.groups.list.flatMap((g) => g.members),
      (id) => requestWords(this.requests.list.find((r) => r.id === id)),
    );
    this.settings = new SettingsState(opts.storage, opts.root, api, () => {
      // The header shows the new name; the rest of the app is unchanged by a rename.
      api['node.status']({}).then(
        (s) => (this.status = s),
        () => undefined,
      );
    });
  }

  async load(): Promise<void> {
    try {
      this.status = await this.bridge.api['node.status']({});
      this.error = undefined;
      this.firstRun = undefined;
      this.locked = undefined;
    } catch (err) {
      // Browser mode before the identity exists answers everything with this.
      if (err instanceof ApiError && err.code === 'not_ready' && /^first run\b/.test(err.message)) {
        this.firstRun = err.message;
        return;
      }
      // Browser mode with a file vault started without its passphrase.
      if (err instanceof ApiError && err.code === 'locked') {
        this.locked = err.message;
        return;
      }
      this.error = explain(err, 'reach your Conclave node');
    }
    await Promise.all([this.groups.load(), this.requests.load(), this.loadSandbox()]);
    // The policies say how many approvals each request needs, which the inbox shows.
    void Promise.all(this.groups.ready.map((g) => this.manage.loadPolicy(g.id)));
    if (this.screen === 'activity') await this.audit.load();
  }

  /** Creates this custodian's identity (first run); with `tryAlone`, then starts the sandbox. */
  async createIdentity(tryAlone = false): Promise<void> {
    const f = this.identity;
    if (f.problem) {
      f.error = f.problem;
      return;
    }
    f.busy = true;
    f.error = undefined;
    try {
      const input =
        f.vault === 'file'
          ? { name: f.name.trim(), vault: f.vault, passphrase: f.passphrase }
          : { name: f.name.trim(), vault: f.vault };
      this.status = await this.bridge.api['identity.init'](input);
      f.passphrase = '';
      f.confirm = '';
      this.firstRun = undefined;
      await this.load();
      if (tryAlone) await this.startSandbox();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'keychain_unavailable') {
        // Nothing to unlock: offer the file vault right here instead of a dead end.
        f.keychainMissing = err.message;
        f.vault = 'file';
        f.error = undefined;
      } else f.error = explain(err, 'create your identity');
    } finally {
      f.busy = false;
    }
  }

  /** Opens a locked file vault with its passphrase; the node starts and the app loads. */
  async unlock(): Promise<void> {
    const f = this.unlockForm;
    if (f.passphrase === '') {
      f.error = 'Enter the passphrase of your vault.';
      return;
    }
    f.busy = true;
    f.error = undefined;
    try {
      this.status = await this.bridge.api['vault.unlock']({ passphrase: f.passphrase });
      f.passphrase = '';
      this.locked = undefined;
      await this.load();
    } catch (err) {
      f.error =
        err instanceof ApiError && err.code === 'vault'
          ? `That passphrase did not open your vault. Check it (and the keyboard layout) and try again. (Details: ${err.message})`
          : explain(err, 'unlock your vault');
    } finally {
      f.busy = false;
    }
  }

  private async loadSandbox(): Promise<void> {
    try {
      this.sandbox = await this.bridge.api['sandbox.members']({});
    } catch (_) {
      // A node without a sandbox (the desktop app, an older node) simply shows none.
      this.sandbox = [];
    }
  }

  /** "Try it alone": a 2-of-3 group with two simulated co-custodians, shown as it forms. */
  async startSandbox(): Promise<void> {
    this.sandboxStarting = true;
    this.sandboxError = undefined;
    try {
      const g = await this.bridge.api['sandbox.start']({});
      await Promise.all([this.groups.refresh(g.id), this.loadSandbox()]);
      this.groups.open({ kind: 'detail', id: g.id });
      this.screen = 'groups';
    } catch (err) {
      this.sandboxError = explain(err, 'start the sandbox');
    } finally {
      this.sandboxStarting = false;
    }
  }

  /**
   * Simulated co-custodians who are members of the request's group and have not decided yet. Read
   * from the request itself rather than their pending lists, which lag until the request reaches them.
   */
  simulatedFor(r: RequestView): SandboxMember[] {
    if (r.status !== 'pending') return [];
    const members = this.groups.group(r.group)?.members ?? [];
    const decided = [...r.approvals, ...r.denials].map((d) => d.peerId);
    return this.sandbox.filter(
      (m) => members.some((x) => x.peerId === m.peerId) && !decided.includes(m.peerId),
    );
  }

  /** A simulated co-custodian decides (its buttons stand in for another person's app). */
  async simulate(member: string, id: string, decision: 'approve' | 'deny'): Promise<void> {
    const card = this.requests.card(id);
    card.error = undefined;
    try {
      await this.bridge.api['sandbox.decide']({ member, id, decision });
      await Promise.all([this.requests.refresh(id), this.loadSandbox()]);
    } catch (err) {
      card.error = explain(err, `${decision} as ${member}`);
    }
  }

  go(screen: Screen): void {
    // The Groups tab from another tab returns to the group left open; pressed again while already
    // on Groups (a group page or a form), it leads back to the list.
    const again = this.screen === screen;
    this.screen = screen;
    if (screen === 'activity') void Promise.all([this.audit.load(), this.audit.verify()]);
    if (screen === 'groups' && (again || this.groups.view.kind !== 'detail'))
      this.groups.open({ kind: 'list' });
  }

  /** Opens the new-request form for `group` on the requests screen. */
  newRequest(group: string): void {
    this.requests.form.group = group;
    this.requests.form.open = true;
    this.screen = 'requests';
  }

  /** What a node event changes on screen. */
  handle(e: ApiEvent): void {
    if (e.type === 'group') void this.groups.refresh(e.id);
    else if (e.type === 'request') {
      void this.requests.refresh(e.id).then(() => {
        // An approved policy change is in force now: re-read the group's policy.
        const r = this.requests.list.find((x) => x.id === e.id);
        if (r?.kind === 'policy' && r.status === 'done') void this.manage.loadPolicy(r.group);
      });
    } else if (e.type === 'peer') this.groups.setOnline(e.peerId, e.online);
    if (this.screen === 'activity' && e.type !== 'peer') void this.audit.load();
  }

  /** What the desktop shell asks for: a clicked invite link, a clicked notification, first run. */
  handleShell(e: ShellEvent): void {
    if (e.type === 'deeplink') {
      this.groups.joinText = e.invite;
      this.groups.joinError = undefined;
      this.groups.open({ kind: 'join' });
      this.screen = 'groups';
    } else if (e.type === 'open-request') {
      this.screen = 'requests';
      void this.requests.refresh(e.id);
    } else if (e.type === 'first-run') {
      this.firstRun = e.message;
    }
  }

  /** Connects the app to the outside world: node events, the link, the clock. Returns the undo. */
  start(): () => void {
    const offEvents = this.bridge.onEvent((e) => this.handle(e));
    let wasOffline = false;
    const offStatus = this.bridge.onStatus?.((s) => {
      this.link = s;
      if (s === 'online' && wasOffline) void this.load(); // events were missed meanwhile
      if (s === 'offline') wasOffline = true;
    });
    if (!this.bridge.onStatus) this.link = 'online';
    const offShell = this.bridge.onShellEvent?.((e) => this.handleShell(e));
    const timer = setInterval(() => (this.now = this.clock()), this.tickMs);
    void this.load();
    return () => {
      offEvents();
      offStatus?.();
      offShell?.();
      clearInterval(timer);
    };
  }
}
