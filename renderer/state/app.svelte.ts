// The whole app's state: the node's status, the link to it, the screen shown, and the parts.
import type { ApiEvent, NodeStatus } from '../../shared/api/index.js';
import type { ShellEvent } from '../../shared/api/ipc-client.js';
import type { LinkStatus, NodeBridge } from '../lib/bridge.js';
import { explain } from '../lib/errors.js';
import { AuditState } from './audit.svelte.js';
import { GroupsState } from './groups.svelte.js';
import { RequestsState } from './requests.svelte.js';
import { SettingsState } from './settings.svelte.js';

export type Screen = 'requests' | 'groups' | 'activity' | 'settings';

export interface AppOptions {
  clock?: () => number;
  /** How often `now` moves on (for "time left"); default 10 s. */
  tickMs?: number;
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  root?: HTMLElement;
}

export class AppState {
  screen = $state<Screen>('requests');
  status = $state<NodeStatus | undefined>();
  link = $state<LinkStatus>('connecting');
  error = $state<string | undefined>();
  now = $state(Date.now());
  readonly groups: GroupsState;
  readonly requests: RequestsState;
  readonly audit: AuditState;
  readonly settings: SettingsState;
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
    );
    this.audit = new AuditState(
      api,
      (peer) => this.groups.nameOf(peer),
      (id) => (id === undefined ? '' : (this.groups.group(id)?.name ?? id)),
    );
    this.settings = new SettingsState(opts.storage, opts.root);
  }

  async load(): Promise<void> {
    try {
      this.status = await this.bridge.api['node.status']({});
      this.error = undefined;
    } catch (err) {
      this.error = explain(err, 'reach your Conclave node');
    }
    await Promise.all([this.groups.load(), this.requests.load()]);
    if (this.screen === 'activity') await this.audit.load();
  }

  go(screen: Screen): void {
    this.screen = screen;
    if (screen === 'activity') void Promise.all([this.audit.load(), this.audit.verify()]);
    if (screen === 'groups' && this.groups.view.kind !== 'detail')
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
    else if (e.type === 'request') void this.requests.refresh(e.id);
    else if (e.type === 'peer') this.groups.setOnline(e.peerId, e.online);
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
      this.error = e.message;
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
