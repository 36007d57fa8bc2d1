// Waiting in the network tests: for a condition, polled against a deadline (no fixed sleeps).

/** Polls `cond` until it holds, failing after `ms` (no fixed sleeps). */
export async function waitFor(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
