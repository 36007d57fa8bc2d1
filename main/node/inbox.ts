// The messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender.
import { BoundedMap } from '../../shared/protocol/bounded.js';
import { logSafe } from '../../shared/protocol/text.js';
import type { DkgInbox } from './common.js';
import { type NodeContext, NodeService } from './context.js';

/** How many DKG or ceremony inboxes may be open at once, and for how long. */
export interface InboxBounds {
  /** Inboxes at once (default 64): a member making up sessions evicts the oldest, not memory. */
  maxInboxes: number;
  /**
   * ms an inbox lives after it was last created or awaited (default: twice the ceremony timeout
   * plus a minute, so a ceremony still waiting on one never loses it).
   */
  ttlMs: number;
}

export const MAX_INBOXES = 64;

export class Inboxes extends NodeService {
  /**
   * Peers fill these (a message can arrive before this node starts its part, so any session is
   * taken), hence the bound and the time to live; a DKG or ceremony awaiting its inbox keeps it.
   */
  private readonly boxes: BoundedMap<string, DkgInbox>;

  constructor(ctx: NodeContext, bounds: Partial<InboxBounds> = {}) {
    super(ctx);
    this.boxes = new BoundedMap({
      maxSize: bounds.maxInboxes ?? MAX_INBOXES,
      ttlMs: bounds.ttlMs ?? 2 * ctx.ceremonyTimeoutMs + 60_000,
      onEvict: (key, _box, reason) =>
        this.count(`inbox_${reason}`, `messages of ${logSafe(key, 80)}`),
    });
    ctx.trackBuffer('inboxes', this.boxes);
  }

  /** Messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender. */
  inbox(key: string): DkgInbox {
    return this.boxes.getOrSet(key, () => ({
      round1: new Map(),
      echo: new Map(),
      round2: new Map(),
      done: new Map(),
    }));
  }

  /** Inboxes open now. */
  get size(): number {
    return this.boxes.size;
  }

  /** Resolves once `n` messages of `step` arrived, or throws on the deadline. */
  async awaitInbox(
    key: string,
    step: keyof DkgInbox,
    n: number,
    deadline: number,
    check?: () => void,
  ): Promise<Map<string, unknown>> {
    for (;;) {
      const box = this.inbox(key)[step];
      // Awaited: it lives on (and is the last to go should the bound be reached).
      this.boxes.touch(key);
      if (box.size >= n) return box;
      if (this.stopped) throw new Error('node stopped');
      check?.();
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${step} messages (${box.size} of ${n})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Drops the messages of a DKG or ceremony that ended. */
  drop(key: string): void {
    this.boxes.delete(key);
  }
}
