// Timing marks of the approve-to-signature path and of key generation steps, for measuring them
// across processes (issue 12):
// off unless CONCLAVE_TRACE_SIGN=1, then one line per mark on stderr with the wall clock in ms.
// The marks name request ids and steps only, never a secret.

const ON = process.env.CONCLAVE_TRACE_SIGN === '1';

/** Writes `trace <request> <step> <epoch ms>` when tracing is on; does nothing otherwise. */
export function trace(requestId: string, step: string): void {
  if (!ON) return;
  const at = performance.timeOrigin + performance.now();
  process.stderr.write(`trace ${requestId} ${step} ${at.toFixed(3)}\n`);
}
