// Closing one libp2p connection within a grace period, then resetting it.
import type { Connection } from '@libp2p/interface';
import { defaultMaxListeners, setMaxListeners } from 'node:events';

/**
 * Closes `conn` gracefully within `graceMs`, else resets it. Never throws.
 *
 * Each connection gets its own grace signal, never one shared with other closes: libp2p holds
 * abort listeners on it until the close ends, so one signal for all of a host's connections held
 * a dozen or more at once when a member of a 10-20 node group stopped (Node warns past 10).
 *
 * Within one close the listeners are bounded by the connection's streams: libp2p listens once for
 * the muxer, at most twice for each stream still writing (its write queue going idle, then
 * draining) and three times for the socket (idle, drain, closed). It waits with p-event, which
 * never removes its listener from the signal (p-event/index.js, pEventMultiple), so they add up
 * rather than come and go. A closing muxer takes no new stream into its close, so the streams it
 * has now bound them: the limit is raised to that, on this signal only.
 */
export async function closeConnection(conn: Connection, graceMs: number): Promise<void> {
  const grace = AbortSignal.timeout(graceMs);
  setMaxListeners(Math.max(defaultMaxListeners, 2 * conn.streams.length + 4), grace);
  try {
    await conn.close({ signal: grace });
  } catch (err) {
    conn.abort(err instanceof Error ? err : new Error(String(err)));
  }
}
