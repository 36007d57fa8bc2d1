// Rate-limited logging of dropped messages and refused connections: a flood of bad input must not
// become a flood of log lines (disk, terminal, and the one real line hidden among thousands).

export interface DropLog {
  /**
   * Logs `dropped (reason) detail`, unless a line for this reason went out less than the interval
   * ago: then the drop is only counted, and one `N more dropped (reason) since T` line follows when
   * the interval ends. `reason` must come from a fixed set of codes, never from the network.
   */
  (reason: string, detail: string): void;
  /** Writes the pending summaries now and cancels their timers (call when stopping). */
  flush(): void;
}

export interface DropLogOptions {
  /** Put before every line, e.g. 'net: '. */
  prefix?: string;
  /** At most one line per reason per this many ms (default 10 s). */
  intervalMs?: number;
}

export const DROP_LOG_INTERVAL_MS = 10_000;

interface Window {
  /** When the line that opened this window went out. */
  since: number;
  /** Drops counted, not logged, since then. */
  suppressed: number;
  timer: ReturnType<typeof setTimeout>;
}

export function createDropLog(log: (line: string) => void, opts: DropLogOptions = {}): DropLog {
  const prefix = opts.prefix ?? '';
  const intervalMs = opts.intervalMs ?? DROP_LOG_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new RangeError(`intervalMs must be a positive number, got ${intervalMs}`);
  }
  const windows = new Map<string, Window>();

  const summary = (reason: string, w: Window): string =>
    `${prefix}${w.suppressed} more dropped (${reason}) since ${new Date(w.since).toISOString()}`;

  /** Ends a window: its summary (if any drop was held back) opens the next one. */
  const close = (reason: string): void => {
    const w = windows.get(reason);
    if (w === undefined) return;
    windows.delete(reason);
    if (w.suppressed === 0) return;
    safeLog(log, summary(reason, w));
    open(reason);
  };

  const open = (reason: string): void => {
    const timer = setTimeout(() => close(reason), intervalMs);
    // A pending summary must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
    windows.set(reason, { since: Date.now(), suppressed: 0, timer });
  };

  const drop = ((reason: string, detail: string): void => {
    const w = windows.get(reason);
    if (w !== undefined) {
      w.suppressed++;
      return;
    }
    safeLog(log, `${prefix}dropped (${reason}) ${detail}`);
    open(reason);
  }) as DropLog;

  drop.flush = (): void => {
    for (const [reason, w] of [...windows]) {
      clearTimeout(w.timer);
      windows.delete(reason);
      if (w.suppressed > 0) safeLog(log, summary(reason, w));
    }
  };
  return drop;
}

function safeLog(log: (line: string) => void, line: string): void {
  try {
    log(line);
  } catch {
    // A broken log sink must not turn a dropped message into a crash.
  }
}
