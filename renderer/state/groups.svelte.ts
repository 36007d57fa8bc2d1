// Groups: the list, creating and joining, the safety-code check, and each group's live state.
import type { Api, GroupStatus, GroupView, MemberView, Scheme } from '../../shared/api/index.js';
import { explain } from '../lib/errors.js';
import type { ManageAction } from './manage.svelte.js';

export type GroupsView =
  | { kind: 'list' }
  | { kind: 'create' }
  | { kind: 'join' }
  | { kind: 'import' }
  | { kind: 'detail'; id: string; action?: ManageAction };

export const SCHEME_LABELS: Record<Scheme, string> = {
  ed25519: 'Ed25519 (SSH keys, software signing)',
  secp256k1: 'secp256k1 Schnorr',
  taproot: 'Bitcoin Taproot (BIP340)',
};

export const GROUP_STATUS: Record<GroupStatus, { label: string; tone: string }> = {
  forming: { label: 'Waiting for members', tone: 'warn' },
  confirming: { label: 'Compare the safety code', tone: 'warn' },
  dkg: { label: 'Generating the key', tone: 'info' },
  ready: { label: 'Ready', tone: 'ok' },
  failed: { label: 'Failed', tone: 'danger' },
};

/**
 * The status tag of a group: an imported key is handed out by the importer, not generated; a ready
 * key that was reconstructed is no longer "Ready" but exposed, whatever else holds.
 */
export function groupStatus(g: Pick<GroupView, 'status' | 'importedKey' | 'exposed'>): {
  label: string;
  tone: string;
} {
  if (g.exposed) return { label: 'Exposed', tone: 'danger' };
  return g.status === 'dkg' && g.importedKey
    ? { label: 'Handing out the shares', tone: 'info' }
    : GROUP_STATUS[g.status];
}

/**
 * Who imported an imported group's key: its creator, who is member 1 of the roster (a repair gives
 * the same person's new device that place; a reshare never reuses it).
 */
export function importerOf(g: GroupView): MemberView | undefined {
  return g.importedKey ? g.members.find((m) => m.index === 1) : undefined;
}

export class CreateGroupForm {
  name = $state('');
  threshold = $state(2);
  size = $state(3);
  scheme = $state<Scheme>('ed25519');
  busy = $state(false);
  error = $state<string | undefined>();
  /** Set when the group is to replace one whose key was exposed: that group, to say so and whom to invite. */
  replacing = $state<GroupView | undefined>();

  /** What is wrong with the form, in words; undefined when it can be sent. */
  readonly problem = $derived.by(() => {
    if (this.name.trim() === '') return 'Give the group a name.';
    if (!Number.isInteger(this.size) || this.size < 2 || this.size > 50) {
      return 'A group has from 2 to 50 members.';
    }
    if (!Number.isInteger(this.threshold) || this.threshold < 2 || this.threshold > this.size) {
      return `The number of approvals needed must be from 2 to ${this.size}.`;
    }
    return undefined;
  });

  reset(): void {
    this.name = '';
    this.threshold = 2;
    this.size = 3;
    this.scheme = 'ed25519';
    this.error = undefined;
    this.replacing = undefined;
  }

  /** The same shape as an exposed group (threshold, size, kind of key), to move to a new key. */
  replace(g: GroupView): void {
    this.reset();
    this.name = `${g.name} (new key)`.slice(0, 64);
    this.threshold = g.threshold;
    this.size = g.size;
    this.scheme = g.scheme;
    this.replacing = g;
  }
}

export class GroupsState {
  list = $state<GroupView[]>([]);
  view = $state<GroupsView>({ kind: 'list' });
  loaded = $state(false);
  error = $state<string | undefined>();
  /** Invite codes of the groups this node created, kept while the page is open. */
  invites = $state<Record<string, string>>({});
  /** Groups where the user said the safety codes do not match. */
  mismatch = $state<Record<string, boolean>>({});
  confirming = $state<Record<string, boolean>>({});
  actionError = $state<Record<string, string | undefined>>({});
  /** Groups whose "leave" confirmation step is open, and those being left right now. */
  leaving = $state<Record<string, boolean>>({});
  leaveBusy = $state<Record<string, boolean>>({});
  /** What the last leave did, shown above the list it returns to. */
  notice = $state<string | undefined>();
  readonly create = new CreateGroupForm();
  joinText = $state('');
  joining = $state(false);
  joinError = $state<string | undefined>();

  readonly selected = $derived.by(() => {
    const v = this.view;
    return v.kind === 'detail' ? this.list.find((g) => g.id === v.id) : undefined;
  });
  readonly ready = $derived(this.list.filter((g) => g.status === 'ready'));

  constructor(private readonly api: Api) {}

  async load(): Promise<void> {
    try {
      this.list = await this.api['group.list']({});
      this.error = undefined;
    } catch (err) {
      this.error = explain(err, 'load your groups');
    } finally {
      this.loaded = true;
    }
  }

  /** Re-reads one group after an event about it. */
  async refresh(id: string): Promise<void> {
    try {
      this.upsert(await this.api['group.show']({ group: id }));
    } catch (_) {
      // The next full load shows the problem; an event about a vanished group is no news.
    }
  }

  /** Puts a group the node returned into the list (replacing its older view). */
  upsert(g: GroupView): void {
    const i = this.list.findIndex((x) => x.id === g.id);
    if (i === -1) this.list.push(g);
    else this.list[i] = g;
  }

  open(view: GroupsView): void {
    // Leaving the form forgets a replacement in progress; the form's values stay for a return.
    if (view.kind !== 'create' && this.create.replacing) this.create.reset();
    this.view = view;
  }

  /** Opens group creation prefilled to replace a group whose key was exposed. */
  replaceExposed(g: GroupView): void {
    this.create.replace(g);
    this.view = { kind: 'create' };
  }

  nameOf(peerId: string): string | undefined {
    for (const g of this.list) {
      const m = g.members.find((x) => x.peerId === peerId);
      if (m) return m.name;
    }
    return undefined;
  }

  group(id: string): GroupView | undefined {
    return this.list.find((g) => g.id === id);
  }

  setOnline(peerId: string, online: boolean): void {
    for (const g of this.list) {
      for (const m of g.members) if (m.peerId === peerId && !m.me) m.online = online;
    }
  }

  async submitCreate(): Promise<void> {
    const f = this.create;
    if (f.problem) {
      f.error = f.problem;
      return;
    }
    f.busy = true;
    f.error = undefined;
    try {
      const created = await this.api['group.create']({
        name: f.name.trim(),
        threshold: f.threshold,
        size: f.size,
        scheme: f.scheme,
      });
      const { invite, ...view } = created;
      this.invites[view.id] = invite;
      this.upsert(view);
      f.reset();
      this.view = { kind: 'detail', id: view.id };
    } catch (err) {
      f.error = explain(err, 'create the group');
    } finally {
      f.busy = false;
    }
  }

  async submitJoin(): Promise<void> {
    const invite = this.joinText.trim();
    if (invite === '') {
      this.joinError = 'Paste the invite code you were sent.';
      return;
    }
    this.joining = true;
    this.joinError = undefined;
    try {
      const g = await this.api['group.join']({ invite });
      this.upsert(g);
      this.joinText = '';
      this.view = { kind: 'detail', id: g.id };
    } catch (err) {
      this.joinError = explain(err, 'join with this invite');
    } finally {
      this.joining = false;
    }
  }

  /** The user compared the safety code with every other member and it matched. */
  async confirm(id: string): Promise<void> {
    this.confirming[id] = true;
    this.actionError[id] = undefined;
    try {
      this.upsert(await this.api['group.confirm']({ group: id }));
      this.mismatch[id] = false;
    } catch (err) {
      this.actionError[id] = explain(err, 'confirm the safety code');
    } finally {
      this.confirming[id] = false;
    }
  }

  reportMismatch(id: string, mismatch: boolean): void {
    this.mismatch[id] = mismatch;
  }

  /** Leaves a group (the custodian confirmed): it is removed here and the list is shown again. */
  async leave(g: GroupView): Promise<void> {
    this.leaveBusy[g.id] = true;
    this.actionError[g.id] = undefined;
    try {
      const r = await this.api['group.leave']({ group: g.id, confirm: true });
      this.list = this.list.filter((x) => x.id !== g.id);
      delete this.leaving[g.id];
      delete this.mismatch[g.id];
      this.notice =
        `You left “${r.name}”${r.shareDeleted ? ' and your share of its key is deleted from this computer' : ''}.` +
        (r.warning ? ` ${r.warning}` : '');
      this.open({ kind: 'list' });
    } catch (err) {
      this.actionError[g.id] = explain(err, `leave “${g.name}”`);
    } finally {
      this.leaveBusy[g.id] = false;
    }
  }
}
