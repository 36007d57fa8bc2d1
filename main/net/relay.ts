// A circuit-relay-v2 server that anyone in (or around) a custody group can host, so members behind
// NAT can reach each other; it relays Noise-encrypted bytes and cannot read or forge them.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { PrivateKey } from '@libp2p/interface';
import { NetError } from './errors.js';

export interface RelayOptions {
  listen: string[];
  log?: (line: string) => void;
  /** Members that may hold a slot at once (default 64). */
  maxReservations?: number;
  /** A stable identity keeps the relay's address (…/p2p/<id>) valid across restarts. */
  privateKey?: PrivateKey;
}

export interface Relay {
  readonly peerId: string;
  addrs(): string[];
  stop(): Promise<void>;
}

/**
 * Per relayed connection. libp2p's defaults (2 min, 128 KiB) cut a DKG or a signing round short;
 * a custody group's traffic is small but its ceremonies can take minutes of human approval.
 */
export const RELAY_DURATION_LIMIT_MS = 10 * 60_000;
export const RELAY_DATA_LIMIT_BYTES = 16n << 20n;

export async function createRelay(opts: RelayOptions): Promise<Relay> {
  const log = opts.log ?? ((): void => {});
  const t0 = performance.now();
  const node = await createLibp2p({
    ...(opts.privateKey === undefined ? {} : { privateKey: opts.privateKey }),
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: 512,
      maxIncomingPendingConnections: 64,
      // Members behind one NAT share an address.
      inboundConnectionThreshold: 64,
    },
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: opts.maxReservations ?? 64,
          // The relay enforces the duration in milliseconds (it arms AbortSignal.timeout with it).
          defaultDurationLimit: RELAY_DURATION_LIMIT_MS,
          defaultDataLimit: RELAY_DATA_LIMIT_BYTES,
        },
      }),
    },
  });
  const peerId = node.peerId.toString();
  const addrs = (): string[] => {
    const suffix = `/p2p/${peerId}`;
    return node.getMultiaddrs().map((ma) => {
      const s = ma.toString();
      return s.endsWith(suffix) ? s : `${s}${suffix}`;
    });
  };
  if (opts.listen.length > 0 && addrs().length === 0) {
    await node.stop();
    throw new NetError('listen_failed', `relay could not listen on ${opts.listen.join(', ')}`);
  }
  log(
    `net: relay ${peerId} started in ${Math.round(performance.now() - t0)} ms on ${addrs().join(' ')}`,
  );
  return {
    peerId,
    addrs,
    async stop() {
      const t1 = performance.now();
      for (const conn of node.getConnections()) conn.abort(new Error('relay stopping'));
      await node.stop();
      log(`net: relay ${peerId} stopped in ${Math.round(performance.now() - t1)} ms`);
    },
  };
}
