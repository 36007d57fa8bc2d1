// Per-stream costs libp2p pays that buy us nothing (issue 12). Each of our messages opens a stream,
// and libp2p then (1) builds three `debug` loggers for the stream, the connection's scope and the
// muxer's, each asking the terminal whether stderr is a TTY, and (2) merges the stream's protocol
// into the peer store under the peer's write lock (a datastore read, a protobuf decode and a
// comparison) before the stream reaches us, on both ends. In a 10-node profile the two were ~7% of
// all CPU and sit on every message's path.
import { defaultLogger, enabled } from '@libp2p/logger';
import type { ComponentLogger, Logger, Peer, PeerId, PeerStore } from '@libp2p/interface';

/** A logger that does nothing: what `debug` gives when its namespace is disabled. */
function disabledLogger(newScope: (scope: string) => Logger): Logger {
  const log = Object.assign(() => {}, {
    enabled: false,
    error: Object.assign(() => {}, { enabled: false }),
    trace: Object.assign(() => {}, { enabled: false }),
    newScope,
  });
  return log as unknown as Logger;
}

/**
 * libp2p's default logger, except that a component whose namespaces are all disabled (the normal
 * case: DEBUG unset) gets a do-nothing logger instead of three fresh `debug` instances.
 * With DEBUG=libp2p:* (or any namespace that enables the component) it logs exactly as before.
 */
export function leanLogger(): ComponentLogger {
  const full = defaultLogger();
  const off = (name: string): boolean =>
    !enabled(name) && !enabled(`${name}:error`) && !enabled(`${name}:trace`);
  const wrap = (name: string): Logger =>
    off(name)
      ? // A scope may be enabled where its parent is not (DEBUG=libp2p:yamux:*).
        disabledLogger((scope) => wrap(`${name}:${scope}`))
      : full.forComponent(name);
  return { forComponent: wrap };
}

/** At most this many peers' protocol lists are remembered (members are a few dozen). */
export const MAX_REMEMBERED_PEERS = 1024;

/**
 * Makes `peerStore.merge(peer, { protocols })` return at once when the store already lists every
 * one of those protocols for that peer, as it does for every stream after a peer's first on a
 * protocol. What the store holds is unchanged: such a merge would find nothing to update. The
 * remembered lists come from the store itself (each merge's result and every 'peer:update' event,
 * which libp2p emits whenever a peer's record changes), so a protocol removed from the store (by
 * identify's patch) is merged again the next time, and a deleted peer is forgotten. Every other
 * merge goes through untouched.
 */
export function skipKnownProtocolMerges(
  peerStore: PeerStore,
  events: {
    addEventListener(type: 'peer:update', cb: (e: CustomEvent<{ peer: Peer }>) => void): void;
  },
): { skipped: () => number } {
  const known = new Map<string, { peer: Peer; protocols: Set<string> }>();
  let skipped = 0;
  const remember = (peer: Peer): void => {
    if (known.size >= MAX_REMEMBERED_PEERS && !known.has(peer.id.toString())) known.clear();
    known.set(peer.id.toString(), { peer, protocols: new Set(peer.protocols) });
  };
  events.addEventListener('peer:update', (e) => remember(e.detail.peer));
  const merge = peerStore.merge.bind(peerStore);
  const remove = peerStore.delete.bind(peerStore);
  peerStore.delete = async (id: PeerId, options) => {
    known.delete(id.toString());
    await remove(id, options);
  };
  peerStore.merge = async (id: PeerId, data, options) => {
    const keys = Object.keys(data);
    if (keys.length === 1 && keys[0] === 'protocols' && Array.isArray(data.protocols)) {
      const had = known.get(id.toString());
      if (had !== undefined && data.protocols.every((p) => had.protocols.has(p))) {
        options?.signal?.throwIfAborted();
        skipped++;
        return had.peer;
      }
    }
    const peer = await merge(id, data, options);
    remember(peer);
    return peer;
  };
  return { skipped: () => skipped };
}

interface SocketConn {
  socket?: { cork?: () => void; uncork?: () => void; destroyed?: boolean };
  sendData?: (data: unknown) => unknown;
}

/**
 * Gathers what a connection writes within one tick into one system call. libp2p's TCP connection
 * writes every chunk it is given with its own `socket.write`, and a message's frames arrive as many
 * small chunks (Noise's length prefix and ciphertext for each yamux header and body): ~34 writes per
 * request/response on a loopback pair. With the socket corked until the next tick, Node hands the
 * kernel all of them in one writev. The bytes and their order are unchanged.
 */
export function corkWrites(maConn: unknown): void {
  const conn = maConn as SocketConn;
  const socket = conn.socket;
  const send = conn.sendData;
  if (socket?.cork === undefined || socket.uncork === undefined || typeof send !== 'function') {
    return;
  }
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork!();
  };
  conn.sendData = (data: unknown) => {
    if (!corked && socket.destroyed !== true) {
      socket.cork!();
      corked = true;
      process.nextTick(uncork);
    }
    return send.call(conn, data);
  };
}

type Upgrader = Record<string, unknown> & {
  upgradeInbound(maConn: unknown, opts?: unknown): Promise<unknown>;
  upgradeOutbound(maConn: unknown, opts?: unknown): Promise<unknown>;
};

/** The upgrader, with every raw connection's writes corked (corkWrites) before it is upgraded. */
function corkingUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === 'upgradeInbound' || prop === 'upgradeOutbound') {
        return (maConn: unknown, opts?: unknown) => {
          corkWrites(maConn);
          return target[prop](maConn, opts);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A transport factory (tcp()) whose connections write through corkWrites, dialled and accepted. */
export function corkedTransport<C, T extends object>(
  factory: (components: C) => T,
): (components: C) => T {
  return (components: C) => {
    const t = factory(components) as T & {
      dial(ma: unknown, opts: { upgrader: Upgrader }): Promise<unknown>;
      createListener(opts: { upgrader: Upgrader }): unknown;
    };
    const dial = t.dial.bind(t);
    t.dial = (ma, opts) => dial(ma, { ...opts, upgrader: corkingUpgrader(opts.upgrader) });
    const createListener = t.createListener.bind(t);
    t.createListener = (opts) =>
      createListener({ ...opts, upgrader: corkingUpgrader(opts.upgrader) });
    return t;
  };
}
