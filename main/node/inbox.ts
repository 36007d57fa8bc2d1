// The messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender.
import type { DkgInbox } from './common.js';
import { NodeService } from './context.js';

export class Inboxes extends NodeService {
  private dkgInbox = new Map<string, DkgInbox>();

  /** Messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender. */
  inbox(key: string): DkgInbox {
    let b = this.dkgInbox.get(key);
    if (!b)
      this.dkgInbox.set(
        key,
        (b = { round1: new Map(), echo: new Map(), round2: new Map(), done: new Map() }),
      );
    return b;
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
    this.dkgInbox.delete(key);
  }
}
