// Waiting for a use's request to be decided, for the commands that save its result (--out): one
// line each time its approvals change, until it is no longer pending or signing.
import type { RequestView } from '../../shared/api/index.js';
import { callControl } from '../server/control.js';
import { clean, type Context } from '../cli.js';

/** How long one request.wait call lasts before the command looks again. */
const WAIT_SLICE_SEC = 60;

/** Waits (printing each change; on stderr under --json) until the request is decided. */
export async function waitDone(ctx: Context, first: RequestView): Promise<RequestView> {
  const progress = ctx.json ? ctx.io.stderr : ctx.io.stdout;
  let r = first;
  let shown = '';
  while (r.status === 'pending' || r.status === 'signing') {
    const line = `${clean(r.id)}: ${r.status}; approved by ${r.approvals.map((d) => clean(d.name)).join(', ') || 'nobody yet'}`;
    if (line !== shown) progress.write(`${line}\n`);
    shown = line;
    const left = Math.ceil((Date.parse(r.expiresAt) - Date.now()) / 1000);
    r = await callControl(ctx.home, 'request.wait', {
      id: r.id,
      timeoutSec: Math.max(1, Math.min(WAIT_SLICE_SEC, left + 5)),
    });
  }
  return r;
}
