// Closing a connection within a grace period (closeConnection), on a connection busy writing.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import { afterEach, expect, it } from 'vitest';
import { closeConnection } from '../../main/net/close.js';
import { corkedTransport } from '../../main/net/lean.js';

const nodes: Libp2p[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    // Corked as the host's are: a large write fills the socket's buffer within the tick.
    transports: [corkedTransport(tcp())],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  nodes.push(n);
  return n;
}

it('closing a connection with many streams while its socket is full raises no MaxListenersExceededWarning', async () => {
  const a = await node();
  const b = await node();
  await b.handle('/conclave-test/sink/1.0.0', () => undefined);
  const conn = await a.dial(b.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) });
  const streams = [];
  for (let i = 0; i < 14; i++) {
    streams.push(
      await conn.newStream('/conclave-test/sink/1.0.0', { signal: AbortSignal.timeout(10_000) }),
    );
  }
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    // More than the socket takes at once: every stream of the connection now waits for a drain
    // before it closes, each holding listeners on the close's signal (p-event never removes them).
    streams[0].send(new Uint8Array(200_000));
    await closeConnection(conn, 250);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  expect(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
  ).toEqual([]);
  // Closed within the grace, or reset at its end: either way no longer open.
  expect(['closed', 'aborted']).toContain(conn.status);
});
