// The messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender.
import { BoundedBuckets } from '../../shared/protocol/bounded.js';
import { logSafe } from '../../shared/protocol/text.js';
import type { DkgInbox } from './common.js';
import { type NodeContext, NodeService } from './context.js';
import { trace } from './trace.js';

/** How many DKG or ceremony inboxes may be open at once, and for how long. */
export interface InboxBounds {
  /** Inboxes over all groups (default 256). */
  maxInboxes: number;
  /**
   * Inboxes opened by one group's messages (default 32; a group runs one ceremony at a time): a
   * member making up sessions evicts its own group's oldest, never another group's.
   */
  maxPerGroup: number;
  /**
   * ms an inbox lives after it was last created or awaited (default: twice the ceremony timeout
   * plus a minute, so a ceremony still waiting on one never loses it).
   */
  ttlMs: number;
}

export const INBOX_BOUNDS = { maxInboxes: 256, maxPerGroup: 32 } as const;

/** The bucket of inboxes this node opened itself, before any message of theirs arrived. */
const LOCAL = '';

/** The key of an inbox's waiters in ctx.waiters (stopping the node wakes every waiter there). */
const waiterKey = (key: string) => `inbox:${key}`;

/** A step's messages by sender; storing one wakes whoever awaits the inbox. */
class WakingMap extends Map<string, unknown> {
  constructor(private readonly onSet: () => void) {
    super();
  }
  override set(k: string, v: unknown): this {
    super.set(k, v);
    this.onSet();
    return this;
  }
}

export class Inboxes extends NodeService {
  /**
   * Peers fill these (a message can arrive before this node starts its part, so any session is
   * taken), hence the bounds and the time to live; a DKG or ceremony awaiting its inbox keeps it.
   * Bucket: the group whose message opened the inbox (LOCAL when this node opened it).
   */
  private readonly boxes: BoundedBuckets<string, string, DkgInbox>;
  /** The bucket each open inbox is in. */
  private readonly bucketOf = new Map<string, string>();

  constructor(ctx: NodeContext, bounds: Partial<InboxBounds> = {}) {
    super(ctx);
    this.boxes = new BoundedBuckets({
      maxSize: bounds.maxInboxes ?? INBOX_BOUNDS.maxInboxes,
      maxPerBucket: bounds.maxPerGroup ?? INBOX_BOUNDS.maxPerGroup,
      ttlMs: bounds.ttlMs ?? 2 * ctx.ceremonyTimeoutMs + 60_000,
      onEvict: (_group, key, _box, reason) => {
        this.bucketOf.delete(key);
        this.count(`inbox_${reason}`, `messages of ${logSafe(key, 80)}`);
      },
    });
    ctx.trackBuffer('inboxes', this.boxes);
  }

  /**
   * Messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender.
   * `group`: the group whose member's message is being put in (an inbox a message opens counts
   * against that group's budget); absent when this node reads its own inbox.
   */
  inbox(key: string, group?: string): DkgInbox {
    const open = this.bucketOf.get(key);
    const box = open === undefined ? undefined : this.boxes.get(open, key);
    if (box) return box;
    const wake = () => this.wake(key);
    const made: DkgInbox = {
      round1: new WakingMap(wake),
      echo: new WakingMap(wake),
      round2: new WakingMap(wake),
      done: new WakingMap(wake),
    };
    const bucket = group ?? LOCAL;
    this.boxes.set(bucket, key, made);
    this.bucketOf.set(key, bucket);
    return made;
  }

  /** Inboxes open now. */
  get size(): number {
    return this.boxes.size;
  }

  /**
   * Wakes whoever awaits the inbox `key` to look again: a message arrived (WakingMap does this), or
   * something its `check` reads changed (a ceremony was stopped).
   */
  wake(key: string): void {
    const ws = this.ctx.waiters.get(waiterKey(key));
    if (ws) for (const w of [...ws]) w();
  }

  /** Until wake(key), the node stops, or just past `deadline`, whichever is first. */
  private nextWake(key: string, deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const k = waiterKey(key);
      let ws = this.ctx.waiters.get(k);
      if (!ws) this.ctx.waiters.set(k, (ws = new Set()));
      const done = () => {
        clearTimeout(timer);
        ws.delete(done);
        if (ws.size === 0 && this.ctx.waiters.get(k) === ws) this.ctx.waiters.delete(k);
        resolve();
      };
      ws.add(done);
      // Not a poll: fires once, so the caller sees the deadline has passed.
      const timer = setTimeout(done, Math.min(Math.max(deadline - Date.now() + 1, 0), 2 ** 31 - 1));
    });
  }

  /**
   * Resolves once `n` messages of `step` arrived, or throws on the deadline. Looks again whenever a
   * message is put in this inbox, wake(key) is called or the node stops, never on a timer.
   */
  async awaitInbox(
    key: string,
    step: keyof DkgInbox,
    n: number,
    deadline: number,
    check?: () => void,
  ): Promise<Map<string, unknown>> {
    trace(key, `inbox.${step}.wait`);
    for (;;) {
      const inbox = this.inbox(key);
      // Awaited: it lives on, and is the last of its group's to go should the bound be reached.
      this.boxes.set(this.bucketOf.get(key)!, key, inbox);
      const box = inbox[step];
      if (box.size >= n) {
        trace(key, `inbox.${step}.all`);
        return box;
      }
      if (this.stopped) throw new Error('node stopped');
      check?.();
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${step} messages (${box.size} of ${n})`);
      await this.nextWake(key, deadline);
    }
  }

  /** Drops the messages of a DKG or ceremony that ended. */
  drop(key: string): void {
    const bucket = this.bucketOf.get(key);
    if (bucket === undefined) return;
    this.boxes.delete(bucket, key);
    this.bucketOf.delete(key);
  }
}
