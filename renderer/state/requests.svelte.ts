// Requests: the inbox, each card's approve/deny steps, and new sign requests.
import type { Api, GroupView, RequestResult, RequestView } from '../../shared/api/index.js';
import { explain } from '../lib/errors.js';

export type CardMode = 'idle' | 'confirm-approve' | 'deny';

/** What one request card is doing: its own steps, separate from the request itself. */
export class CardState {
  mode = $state<CardMode>('idle');
  reason = $state('');
  busy = $state(false);
  error = $state<string | undefined>();
  showHex = $state(false);
  /** The whole message has been on screen down to its end (MessageView says so): Approve waits. */
  seenAll = $state(false);
  /** For a group whose key was exposed: the approver said they understand what that means. */
  exposedAck = $state(false);
}

export class NewRequestForm {
  open = $state(false);
  group = $state('');
  encoding = $state<'utf8' | 'hex'>('utf8');
  message = $state('');
  expiresHours = $state(24);
  /** The group whose exposed key the requester acknowledged (reset by choosing another group). */
  exposedAckFor = $state<string | undefined>();
  busy = $state(false);
  error = $state<string | undefined>();

  readonly problem = $derived.by(() => {
    if (this.group === '') return 'Choose the group whose key signs.';
    if (this.message === '') return 'Enter what is to be signed.';
    if (this.encoding === 'hex') {
      const hex = this.message.replace(/\s+/g, '');
      if (!/^[0-9a-fA-F]*$/.test(hex)) return 'Hex may only contain 0-9 and a-f.';
      if (hex.length % 2 !== 0) return 'Hex needs an even number of digits (two per byte).';
    }
    if (!(this.expiresHours >= 0.25 && this.expiresHours <= 720)) {
      return 'The request must expire between 15 minutes and 30 days from now.';
    }
    return undefined;
  });
}

const ACTIVE = ['pending', 'signing'];

export class RequestsState {
  list = $state<RequestView[]>([]);
  loaded = $state(false);
  error = $state<string | undefined>();
  readonly form = new NewRequestForm();
  // Not reactive on purpose: a cache of card states, each reactive itself.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private cards = new Map<string, CardState>();

  /** Pending requests that this custodian has not decided on yet. */
  readonly waiting = $derived(
    this.list.filter((r) => r.status === 'pending' && !this.decidedByMe(r)),
  );
  readonly inProgress = $derived(
    this.list.filter((r) => ACTIVE.includes(r.status) && !this.waiting.includes(r)),
  );
  readonly finished = $derived(this.list.filter((r) => !ACTIVE.includes(r.status)));

  constructor(
    private readonly api: Api,
    private readonly me: () => string | undefined,
    private readonly groupOf: (id: string) => GroupView | undefined,
    /** Approvals the group's policy asks for this request, when known (else T). */
    private readonly neededOf: (r: RequestView) => number | undefined = () => undefined,
  ) {}

  decidedByMe(r: RequestView): boolean {
    const me = this.me();
    return [...r.approvals, ...r.denials].some((d) => d.peerId === me);
  }

  card(id: string): CardState {
    let c = this.cards.get(id);
    if (!c) {
      c = new CardState();
      this.cards.set(id, c);
    }
    return c;
  }

  async load(): Promise<void> {
    try {
      this.list = await this.api['request.list']({});
      this.error = undefined;
    } catch (err) {
      this.error = explain(err, 'load the requests');
    } finally {
      this.loaded = true;
    }
  }

  async refresh(id: string): Promise<void> {
    try {
      this.upsert(await this.api['request.show']({ id }));
    } catch (_) {
      // A request that cannot be read now shows up again on the next full load.
    }
  }

  /** A request this node just made elsewhere (a key-management form): into the list at once. */
  track(r: RequestView): void {
    this.upsert(r);
  }

  private upsert(r: RequestView): void {
    const i = this.list.findIndex((x) => x.id === r.id);
    if (i === -1) {
      this.list.unshift(r);
      this.list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    } else {
      this.list[i] = r;
    }
  }

  /** Approvals the request needs: the group policy's number for its kind, else T. */
  needed(r: RequestView): number | undefined {
    return this.neededOf(r) ?? this.groupOf(r.group)?.threshold;
  }

  /** The approvals still missing before the group can sign (or run the ceremony). */
  missing(r: RequestView): number | undefined {
    const need = this.needed(r);
    return need === undefined ? undefined : Math.max(0, need - r.approvals.length);
  }

  /**
   * For a finished request, the approvals its group needed at the time, out of how many members:
   * the node does not record that number, so it is the group's rule today, given only when no
   * change of members or policy can have taken effect since the request was made (else undefined).
   */
  thresholdThen(r: RequestView): { needed: number; of: number } | undefined {
    const g = this.groupOf(r.group);
    const needed = this.needed(r);
    if (!g || needed === undefined || ACTIVE.includes(r.status)) return undefined;
    const made = Date.parse(r.createdAt);
    // A reshare or policy change that finished may have done so after this request was made
    // whenever it could still run then (it had not expired yet).
    const changed = this.list.some(
      (x) =>
        x.group === r.group &&
        x.id !== r.id &&
        (x.kind === 'reshare' || x.kind === 'policy') &&
        (x.status === 'done' || x.status === 'signing') &&
        Date.parse(x.expiresAt) > made,
    );
    return changed ? undefined : { needed, of: g.size };
  }

  /** Member names for peer ids (culprits), the id's start where a name is unknown. */
  names(r: RequestView, peerIds: readonly string[]): string[] {
    const members = this.groupOf(r.group)?.members ?? [];
    return peerIds.map((p) => members.find((m) => m.peerId === p)?.name ?? `${p.slice(0, 12)}…`);
  }

  /** Approvers whose nodes are offline while the signature is being made. */
  offlineApprovers(r: RequestView): string[] {
    const members = this.groupOf(r.group)?.members ?? [];
    return r.approvals
      .map((a) => members.find((m) => m.peerId === a.peerId))
      .filter((m) => m !== undefined && !m.online)
      .map((m) => m!.name);
  }

  /** What a done request of a use produced (a certificate, a signed PSBT or event…). */
  async result(id: string): Promise<RequestResult> {
    return this.api['request.result']({ id });
  }

  async approve(id: string): Promise<void> {
    const c = this.card(id);
    c.busy = true;
    c.error = undefined;
    try {
      this.upsert(await this.api['request.approve']({ id }));
      c.mode = 'idle';
    } catch (err) {
      c.error = explain(err, 'approve this request');
      void this.refresh(id);
    } finally {
      c.busy = false;
    }
  }

  async deny(id: string): Promise<void> {
    const c = this.card(id);
    c.busy = true;
    c.error = undefined;
    const reason = c.reason.trim();
    try {
      this.upsert(await this.api['request.deny'](reason ? { id, reason } : { id }));
      c.mode = 'idle';
      c.reason = '';
    } catch (err) {
      c.error = explain(err, 'deny this request');
      void this.refresh(id);
    } finally {
      c.busy = false;
    }
  }

  async submitNew(): Promise<RequestView | undefined> {
    const f = this.form;
    if (f.problem) {
      f.error = f.problem;
      return undefined;
    }
    const g = this.groupOf(f.group);
    if (g?.exposed && f.exposedAckFor !== g.id) {
      f.error = `The key of “${g.name}” is exposed: tick that you understand before sending.`;
      return undefined;
    }
    f.busy = true;
    f.error = undefined;
    try {
      const message =
        f.encoding === 'hex' ? f.message.replace(/\s+/g, '').toLowerCase() : f.message;
      const r = await this.api['request.sign']({
        group: f.group,
        message,
        encoding: f.encoding,
        expiresInSec: Math.round(f.expiresHours * 3600),
      });
      this.upsert(r);
      f.message = '';
      f.exposedAckFor = undefined;
      f.open = false;
      return r;
    } catch (err) {
      f.error = explain(err, 'create the request');
      return undefined;
    } finally {
      f.busy = false;
    }
  }
}
