// The libp2p host every custodian node runs: request/response protocols over Noise-authenticated
// connections, with the remote peer taken from the connection, a size limit and a deadline on every
// message, and drops counted instead of thrown. Who may talk and what messages mean is the node's.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { identify } from '@libp2p/identify';
import { mdns } from '@libp2p/mdns';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p, type ServiceFactoryMap } from 'libp2p';
import { setMaxListeners } from 'node:events';
import type {
  Connection,
  FaultTolerance,
  PeerDiscovery,
  PeerId,
  PrivateKey,
  Stream,
} from '@libp2p/interface';
import { CHANNEL_PROTOCOL, ChannelClient, ChannelClosedError, ChannelServer } from './channel.js';
import { closeConnection } from './close.js';
import { createDropLog, type DropLog } from './drops.js';
import { corkedTransport, leanLogger, skipKnownProtocolMerges } from './lean.js';
import { NetError } from './errors.js';
import {
  ConnectionGate,
  INBOUND_UPGRADE_TIMEOUT_MS,
  resolveLimits,
  type ConnectionLimits,
  type GateStats,
  type PeerPolicy,
} from './gate.js';
import { assertEd25519 } from './identity.js';
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_TIMEOUT_MS,
  Deadline,
  decodeObject,
  encodeJson,
  frames,
  type FrameBytes,
  isPlainObject,
  parseResponse,
  race,
  readFailure,
  refusalEnvelope,
  type RefusalCode,
} from './wire.js';

export interface HostOptions {
  /** The custodian identity (Ed25519, from @libp2p/crypto/keys). */
  privateKey: PrivateKey;
  /** e.g. ['/ip4/127.0.0.1/tcp/0']; may be empty when the host is reachable only via relays. */
  listen: string[];
  /**
   * Relay multiaddrs ending in /p2p/<relayId>: the host reserves a slot on each and listens on
   * <relay>/p2p-circuit; also enables DCUtR (hole punching) when the other side runs it too.
   */
  relays?: string[];
  /** LAN discovery by multicast DNS; discovered peers go to onPeerDiscovered, never auto-dialled. */
  mdns?: boolean;
  /** Who the members are (default: nobody); see Host.setPeerPolicy. */
  peerPolicy?: PeerPolicy;
  /** Connection limits; each defaults to DEFAULT_CONNECTION_LIMITS' value. */
  limits?: Partial<ConnectionLimits>;
  log?: (line: string) => void;
}

/** Why an inbound message (or a response) was dropped; every key is always present in stats(). */
export type DropReason =
  | RefusalCode
  /** The requester reset the stream before its request was complete. */
  | 'reset'
  /** A response we received was not a JSON envelope. */
  | 'response_malformed';

export interface HandlerContext {
  /** Aborts at the handler's deadline and when the host stops. */
  signal: AbortSignal;
  protocol: string;
  /** The connection's remote address; contains /p2p-circuit when relayed. */
  remoteAddr: string;
  /** True on a relayed connection with data/duration limits. */
  limited: boolean;
}

export interface HandleOptions {
  /** Who may use this protocol; false drops the stream before its payload is read. */
  allow: (peerId: string) => boolean;
  /** Largest request accepted, in bytes of JSON. */
  maxBytes: number;
  /** Largest response the handler may return (default 1 MiB); larger ones are refused. */
  maxResponseBytes?: number;
  /** The whole exchange (read, handler, write) must finish within this (default 10 s). */
  timeoutMs?: number;
  /** Serve over relayed (limited) connections too; needed for peers reachable only via a relay. */
  runOnLimitedConnection?: boolean;
}

export type Handler = (
  from: string,
  msg: Record<string, unknown>,
  ctx: HandlerContext,
) => Promise<unknown>;

export interface RequestOptions {
  /** Addresses to add for the peer before dialling (kept for later dials). */
  addrs?: string[];
  /** Deadline of the whole request, dial included (default 10 s). */
  timeoutMs?: number;
  /** Aborting it ends the request with 'timeout' (or 'unreachable' while still dialling). */
  signal?: AbortSignal;
  /** Largest response accepted (default 1 MiB); larger ones fail with 'too_large' unread. */
  maxResponseBytes?: number;
  /** Largest request we send (default 1 MiB); larger ones fail with 'too_large' unsent. */
  maxRequestBytes?: number;
  /** Open the stream on a relayed (limited) connection if that is all there is (default true). */
  runOnLimitedConnection?: boolean;
}

export interface HostStats {
  dropped: Record<DropReason, number>;
  /** Requests answered with a handler result. */
  served: number;
  /** Requests written to a peer, whatever came back. */
  sent: number;
  /** Connection slots: members', outsiders', and outsiders refused or closed by the gate. */
  connections: GateStats;
}

export interface Host {
  readonly peerId: string;
  /** Full multiaddrs including /p2p/<peerId> (direct and circuit). */
  addrs(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Serves a request/response protocol: one length-prefixed JSON request, one JSON response. */
  handle(protocol: string, handler: Handler, opts: HandleOptions): Promise<void>;
  /** Sends one request and awaits the response. Rejects with a NetError (see NetErrorCode). */
  request(peerId: string, protocol: string, msg: unknown, opts?: RequestOptions): Promise<unknown>;
  addAddresses(peerId: string, addrs: string[]): Promise<void>;
  isConnected(peerId: string): boolean;
  /** Dials the peer (known or given addrs); true if connected. Never throws for network errors. */
  connect(peerId: string, opts?: { addrs?: string[]; timeoutMs?: number }): Promise<boolean>;
  onPeerConnect(cb: (peerId: string) => void): () => void;
  onPeerDisconnect(cb: (peerId: string) => void): () => void;
  /** Peers found by mDNS (only with `mdns: true`). */
  onPeerDiscovered(cb: (peerId: string, addrs: string[]) => void): () => void;
  /**
   * Tells the host who the members are. Members' connections are never pruned for outsiders'
   * (tagged in the peer store); outsiders' inbound connections are capped and closed after
   * limits.outsiderLifetimeMs unless the peer has become a member by then. Call it again (it is
   * cheap) whenever membership changes, so that connections are re-classified at once.
   */
  setPeerPolicy(policy: PeerPolicy): void;
  stats(): HostStats;
}

const DROP_REASONS: readonly DropReason[] = [
  'not_allowed',
  'oversized',
  'malformed',
  'handler_error',
  'timeout',
  'reset',
  'response_oversized',
  'response_malformed',
];

/** After we have answered, how long a peer may keep its side of the stream open. */
const LINGER_MS = 2_000;
/** Time to deliver a refusal frame. */
const REFUSAL_TIMEOUT_MS = 1_000;
/** Retry interval bounds for a configured relay whose reservation is missing. */
const RELAY_RETRY_MIN_MS = 2_000;
const RELAY_RETRY_MAX_MS = 60_000;
/** How long stop() lets connections close gracefully before resetting them. */
const STOP_GRACE_MS = 250;
/** libp2p's limits on one connection's streams of one protocol (its registrar's defaults). */
const MAX_INBOUND_STREAMS = 32;
const MAX_OUTBOUND_STREAMS = 64;
/** Channels (channel.ts) a peer may have open to us at once on one connection. */
const MAX_CHANNELS = 4;
/**
 * Streams a peer may open on a connection before our side of it is ready for them. The side that
 * completes the Noise handshake last (the one dialled) creates its muxer, which at once reads what
 * the dialler sent meanwhile, before libp2p has attached its listener for new streams: yamux keeps
 * those "early streams", and past its limit (10 by default) it resets every stream and leaves the
 * connection unusable. A peer sending many requests at once to a peer it has just dialled (catch-up
 * sync on connect, a coordinator's broadcast) opened a dozen or more in that window.
 */
const MAX_EARLY_STREAMS = MAX_INBOUND_STREAMS;
/**
 * Streams we open at once on a connection before the peer has shown it takes them (one of ours
 * negotiated a protocol, or it opened one to us): with libp2p's own (identify), within the
 * early-stream limit of a peer that keeps yamux's default of 10. The rest wait for that proof.
 */
const EARLY_OPENS = 8;
/** How often to try a direct connection to a peer we reach only through a relay. */
const UPGRADE_COOLDOWN_MS = 60_000;
/** Dial-only libp2p would throw when one listen address fails; we check direct ones ourselves. */
const NO_FATAL = 1 as FaultTolerance.NO_FATAL;
/** Unchanged addresses of a peer are merged into the peer store again after this long. */
const ADDRS_REMERGE_MS = 60_000;
/** Peers whose last merged addresses are remembered (past it the memory starts over). */
const MAX_MERGED_PEERS = 4096;
/**
 * How long a dial to a peer (TCP, Noise handshake, muxer) may take, whoever asked for it. A caller
 * with a shorter deadline stops waiting for it but does not end it: on a loaded machine a
 * handshake can take seconds, and a dial cut short by one impatient caller (a reconnect round
 * with 2.5 s) used to fail every request that had joined it and was started all over again.
 */
const DIAL_TIMEOUT_MS = 20_000;
/**
 * The connection monitor pings every peer every 10 s and closes a connection whose ping is not
 * answered in time. A peer busy with seconds of key generation on a loaded machine answers late
 * but is there: its connection is closed only after this long (at 5 s, libp2p's default, a busy
 * 20-member group lost its connections, then spent its CPU re-dialling and re-syncing).
 */
const PING_TIMEOUT_MIN_MS = 30_000;
/**
 * connect() to a peer whose last dial failed waits this long before it dials again, doubling up
 * to CONNECT_BACKOFF_MAX_MS, until the peer connects: reconnect rounds every 3 s re-dialled every
 * unreachable member each time, and under load every failed handshake cost both sides again.
 */
const CONNECT_BACKOFF_MIN_MS = 3_000;
const CONNECT_BACKOFF_MAX_MS = 30_000;

type Services = Record<string, unknown>;

/** The part of libp2p's internal components the relay supervisor needs (not in the public API). */
interface InternalTransportManager {
  listen(addrs: Multiaddr[]): Promise<void>;
}

export async function createHost(opts: HostOptions): Promise<Host> {
  const privateKey = assertEd25519(opts.privateKey);
  const relays = (opts.relays ?? []).map((r) => parseRelay(r));
  const log = opts.log ?? ((): void => {});
  const drop = createDropLog(log, { prefix: 'net: ' });
  const gate = new ConnectionGate({
    limits: resolveLimits(opts.limits),
    policy: opts.peerPolicy,
    drop,
    log,
  });

  const services: ServiceFactoryMap<Services> = {
    identify: identify(),
    ping: ping(),
  };
  if (relays.length > 0) services.dcutr = dcutr();

  const discovered = new Set<(peerId: string, addrs: string[]) => void>();
  let selfId = '';
  const peerDiscovery = opts.mdns
    ? [
        (components: Parameters<ReturnType<typeof mdns>>[0]): PeerDiscovery => {
          const discovery = mdns()(components);
          // Listen on the mDNS service itself: libp2p's own 'peer:discovery' event also fires for
          // every peer added to the peer store by any means.
          discovery.addEventListener('peer', (evt) => {
            const id = evt.detail.id.toString();
            if (id === selfId) return;
            const addrs = evt.detail.multiaddrs.map((ma) => ma.toString());
            for (const cb of discovered) safeCall(log, 'onPeerDiscovered', () => cb(id, addrs));
          });
          return discovery;
        },
      ]
    : [];

  const node = await createLibp2p<Services>({
    privateKey,
    start: false,
    logger: leanLogger(),
    addresses: {
      listen: [...opts.listen, ...relays.map((r) => `${r.addr.toString()}/p2p-circuit`)],
    },
    // circuitRelayTransport is always present: a host without relays must still be able to dial a
    // peer that is reachable only through one. It listens only on the /p2p-circuit addrs above.
    transports: [corkedTransport(tcp()), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: MAX_EARLY_STREAMS })],
    peerDiscovery,
    connectionManager: {
      // The gate keeps outsiders well below this, so a member's socket is always accepted.
      maxConnections: gate.limits.maxConnections,
      maxParallelDials: 16,
      maxIncomingPendingConnections: 16,
      // Sockets that never finish the handshake hold a pending slot only this long.
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS,
      // New sockets per second from one address. Several members behind one NAT (or every test on
      // 127.0.0.1) share an address.
      inboundConnectionThreshold: 32,
      dialTimeout: DIAL_TIMEOUT_MS,
      // One address of a peer may take the whole dial: a handshake under load is slow, not dead.
      addressDialTimeout: DIAL_TIMEOUT_MS,
    },
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS } },
    connectionGater: gate.gater(),
    transportManager: { faultTolerance: NO_FATAL },
    services,
  });
  gate.attach(node);
  skipKnownProtocolMerges(node.peerStore, node);
  return new Libp2pHost(node, {
    log,
    drop,
    gate,
    relays,
    listen: opts.listen,
    discovered,
    setSelf: (id) => (selfId = id),
  });
}

interface Registration {
  protocol: string;
  handler: Handler;
  allow: (peerId: string) => boolean;
  maxBytes: number;
  maxResponseBytes: number;
  timeoutMs: number;
  runOnLimitedConnection: boolean;
}

/** What #answer made of a request. */
type Answer =
  | { kind: 'answer'; body: Uint8Array }
  | { kind: 'refuse'; code: RefusalCode; detail: string }
  | { kind: 'none' };

/**
 * A channel's answer to a request for a protocol this host does not serve (on that connection):
 * the requester fails it as when libp2p refuses a stream of that protocol. Not a drop.
 */
const UNSUPPORTED_PROTOCOL = 'unsupported_protocol';

interface HostInternals {
  log: (line: string) => void;
  drop: DropLog;
  gate: ConnectionGate;
  relays: Array<{ addr: Multiaddr; peerId: string }>;
  listen: string[];
  discovered: Set<(peerId: string, addrs: string[]) => void>;
  setSelf: (id: string) => void;
}

class Libp2pHost implements Host {
  readonly peerId: string;
  readonly #node: Libp2p<Services>;
  readonly #log: (line: string) => void;
  readonly #dropLog: DropLog;
  readonly #gate: ConnectionGate;
  readonly #relays: Array<{ addr: Multiaddr; peerId: string }>;
  readonly #listen: string[];
  readonly #connectCbs = new Set<(peerId: string) => void>();
  readonly #disconnectCbs = new Set<(peerId: string) => void>();
  readonly #discoveredCbs: Set<(peerId: string, addrs: string[]) => void>;
  readonly #dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  #served = 0;
  #sent = 0;
  #running = false;
  #shutdown: AbortController;
  #relayTimer: ReturnType<typeof setTimeout> | undefined;
  #relayRetryMs = RELAY_RETRY_MIN_MS;
  #relayChecking = false;
  /** When a relayed-only peer may next be tried directly. */
  readonly #upgradeAfter = new Map<string, number>();
  /**
   * The addresses last merged into the peer store, by peer, and when: a send passes the peer's
   * addresses every time, and merging them is an async peer-store write that delayed each request.
   * They are merged again when they change, or a minute later (the store ages addresses out).
   */
  readonly #merged = new Map<string, { addrs: string; at: number }>();
  /** Peer ids parsed, by their text: every request names its target as text (base58). */
  readonly #peerIds = new Map<string, PeerId>();
  /** The dial in flight to each peer: every caller waits for that one (see DIAL_TIMEOUT_MS). */
  readonly #dials = new Map<string, Promise<Connection>>();
  /** Peers whose last connect() failed: when connect() may dial them again, and the next wait. */
  readonly #backoff = new Map<string, { until: number; ms: number }>();
  /** The protocols served, for requests that come over a channel. */
  readonly #registrations = new Map<string, Registration>();
  /** Whether CHANNEL_PROTOCOL is registered with libp2p (once; it survives stop and start). */
  #channelServed = false;
  /** Our channel on each connection, or 'legacy' when the peer serves none (a stream per request). */
  readonly #channelOf = new WeakMap<Connection, ChannelClient | 'legacy'>();
  /** Every channel stream open, ours and peers': stop() ends them before closing connections. */
  readonly #channelStreams = new Set<Stream>();
  /** A channel being opened on a connection: every request meanwhile waits for that one. */
  readonly #channelOpening = new WeakMap<Connection, Promise<ChannelClient | 'legacy'>>();
  /** Connections whose peer has shown it takes our streams (see EARLY_OPENS). */
  readonly #proven = new WeakSet<Connection>();
  /** Stream opens in flight on a connection not yet proven, and the requests waiting for a turn. */
  readonly #opening = new WeakMap<Connection, { inFlight: number; waiting: Set<() => void> }>();

  constructor(node: Libp2p<Services>, internals: HostInternals) {
    this.#node = node;
    this.peerId = node.peerId.toString();
    internals.setSelf(this.peerId);
    this.#log = internals.log;
    this.#dropLog = internals.drop;
    this.#gate = internals.gate;
    this.#relays = internals.relays;
    this.#listen = internals.listen;
    this.#discoveredCbs = internals.discovered;
    this.#shutdown = this.#newShutdown();
    node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString();
      this.#backoff.delete(id);
      for (const cb of this.#connectCbs) safeCall(this.#log, 'onPeerConnect', () => cb(id));
    });
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString();
      // Losing the connection to a relay loses the reservation: try to get it back soon.
      if (this.#relays.some((r) => r.peerId === id)) this.#relayLost();
      for (const cb of this.#disconnectCbs) safeCall(this.#log, 'onPeerDisconnect', () => cb(id));
    });
  }

  /**
   * The signal that ends every operation in flight when the host stops. Each request, dial,
   * refusal and stream served holds one abort listener on it (its Deadline) until it ends, so
   * under load it holds many more than Node's default of 10 before it warns of a leak (and the
   * warning filled busy nodes' logs). libp2p lets one connection carry at most 32 inbound and 64
   * outbound streams of a protocol: with every connection that busy, a host holds about
   * maxConnections × 96. Beyond that, listeners are not being removed, and the warning says so.
   */
  #newShutdown(): AbortController {
    const shutdown = new AbortController();
    setMaxListeners(
      this.#gate.limits.maxConnections * (MAX_INBOUND_STREAMS + MAX_OUTBOUND_STREAMS),
      shutdown.signal,
    );
    return shutdown;
  }

  addrs(): string[] {
    const suffix = `/p2p/${this.peerId}`;
    return this.#node.getMultiaddrs().map((ma) => {
      const s = ma.toString();
      return s.endsWith(suffix) ? s : `${s}${suffix}`;
    });
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const t0 = performance.now();
    this.#shutdown = this.#newShutdown();
    if (!this.#channelServed) {
      await this.#node.handle(
        CHANNEL_PROTOCOL,
        (stream, connection) => this.#serveChannel(stream, connection),
        // Each protocol it carries says whether it runs on a limited connection (#serveChannel).
        // A requester needs one channel per connection; a few cover a reopen racing a close.
        { runOnLimitedConnection: true, maxInboundStreams: MAX_CHANNELS },
      );
      this.#channelServed = true;
    }
    await this.#node.start();
    this.#running = true;
    const direct = this.#node.getMultiaddrs().filter((ma) => !isCircuit(ma));
    if (this.#listen.length > 0 && direct.length === 0) {
      // Tolerating failures is meant for relays that are down, not for a port we cannot bind.
      await this.stop();
      throw new NetError('listen_failed', `could not listen on ${this.#listen.join(', ')}`);
    }
    const missing = this.#missingRelays();
    for (const relay of missing) {
      this.#log(`net: no reservation on relay ${relay.peerId} yet; retrying in the background`);
    }
    if (this.#relays.length > 0) this.#scheduleRelayCheck(RELAY_RETRY_MIN_MS);
    this.#log(
      `net: host ${this.peerId} started in ${Math.round(performance.now() - t0)} ms on ${this.addrs().join(' ') || '(no address)'}`,
    );
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#relayTimer !== undefined) clearTimeout(this.#relayTimer);
    this.#relayTimer = undefined;
    // In-flight requests and handlers end now rather than at their deadlines.
    this.#shutdown.abort(new DOMException('host stopped', 'AbortError'));
    const t0 = performance.now();
    // Channels stay open for good: left to the close below, each would hold it to its grace.
    for (const stream of [...this.#channelStreams]) stream.abort(new Error('host stopped'));
    // Close connections gracefully, but only briefly: a peer with streams still open (a request
    // of ours it never answered, a relayed circuit) would otherwise hold stop() for libp2p's
    // close timeout per connection. What is left is reset. Each has its own grace signal.
    await Promise.all(
      this.#node.getConnections().map((conn) => closeConnection(conn, STOP_GRACE_MS)),
    );
    await this.#node.stop();
    this.#gate.stop();
    this.#dropLog.flush();
    this.#log(`net: host ${this.peerId} stopped in ${Math.round(performance.now() - t0)} ms`);
  }

  async handle(protocol: string, handler: Handler, opts: HandleOptions): Promise<void> {
    assertProtocol(protocol);
    assertLimit('maxBytes', opts.maxBytes);
    const reg: Registration = {
      protocol,
      handler,
      allow: opts.allow,
      maxBytes: opts.maxBytes,
      maxResponseBytes: assertLimit('maxResponseBytes', opts.maxResponseBytes ?? DEFAULT_MAX_BYTES),
      timeoutMs: assertLimit('timeoutMs', opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      runOnLimitedConnection: opts.runOnLimitedConnection === true,
    };
    this.#registrations.set(protocol, reg);
    await this.#node.handle(
      protocol,
      (stream, connection) => this.#serve(reg, stream, connection),
      {
        runOnLimitedConnection: reg.runOnLimitedConnection,
      },
    );
  }

  async request(
    peerId: string,
    protocol: string,
    msg: unknown,
    opts: RequestOptions = {},
  ): Promise<unknown> {
    if (!this.#running) throw new NetError('stopped', 'the host is not running');
    const target = this.#parsePeer(peerId);
    assertProtocol(protocol);
    if (!isPlainObject(msg)) throw new NetError('bad_request', 'a request must be a JSON object');
    const body = encodeJson(msg);
    if (body === undefined) throw new NetError('bad_request', 'the request has no JSON form');
    const maxRequest = opts.maxRequestBytes ?? DEFAULT_MAX_BYTES;
    if (body.byteLength > maxRequest) {
      throw new NetError('too_large', `request of ${body.byteLength} bytes exceeds ${maxRequest}`);
    }
    const maxResponse = opts.maxResponseBytes ?? DEFAULT_MAX_BYTES;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (opts.addrs !== undefined) await this.addAddresses(peerId, opts.addrs);

    const deadline = new Deadline(timeoutMs, [this.#shutdown.signal, opts.signal]);
    const { signal } = deadline;
    let phase: 'dial' | 'open' | 'exchange' = 'dial';
    let connection: Connection | undefined;
    let stream: Stream | undefined;
    try {
      const allowLimited = opts.runOnLimitedConnection !== false;
      connection = await this.#connection(target, allowLimited, signal);
      phase = 'open';
      const channel = await this.#channel(connection, allowLimited, signal);
      let frame: FrameBytes;
      if (channel !== undefined) {
        phase = 'exchange';
        const { answer } = await this.#sendOnChannel(connection, channel, allowLimited, signal, {
          protocol,
          body,
          maxResponse,
        });
        this.#sent++;
        frame = await answer;
      } else {
        stream = await this.#openStream(connection, protocol, signal, allowLimited);
        phase = 'exchange';
        const lp = frames(stream, maxResponse);
        await lp.write(body, { signal });
        this.#sent++;
        // One request per stream: closing our side tells the responder nothing more is coming.
        await stream.close({ signal });
        frame = await lp.read({ signal });
        this.#linger(stream);
      }
      const response = parseResponse(frame);
      if (response.kind === 'ok') return response.value;
      if (response.kind === 'error' && response.code === UNSUPPORTED_PROTOCOL) {
        throw new NetError(
          'refused',
          `${peerId} on ${protocol}: the peer does not serve this protocol`,
        );
      }
      if (response.kind === 'error') {
        throw new NetError(
          'refused',
          `${peerId} refused the request on ${protocol}: ${response.code}`,
          {
            remoteCode: response.code,
          },
        );
      }
      this.#drop('response_malformed', `malformed response from ${peerId} on ${protocol}`);
      throw new NetError('bad_response', `${peerId} sent a response that is not a JSON envelope`);
    } catch (err) {
      if (stream !== undefined && stream.status === 'open') {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
      if (err instanceof NetError) throw err;
      throw this.#requestFailure(err, {
        peerId,
        protocol,
        phase,
        deadline,
        timeoutMs,
        connection,
        maxResponse,
      });
    } finally {
      deadline.clear();
    }
  }

  async addAddresses(peerId: string, addrs: string[]): Promise<void> {
    const key = addrs.join(' ');
    const last = this.#merged.get(peerId);
    if (last?.addrs === key && Date.now() - last.at < ADDRS_REMERGE_MS) return;
    const target = this.#parsePeer(peerId);
    const multiaddrs = addrs.map((a) => parsePeerAddr(a, peerId));
    if (multiaddrs.length === 0) return;
    await this.#node.peerStore.merge(target, { multiaddrs });
    // Peers that send to us can be many (join requests): the memory stays bounded.
    if (this.#merged.size >= MAX_MERGED_PEERS) this.#merged.clear();
    this.#merged.set(peerId, { addrs: key, at: Date.now() });
  }

  isConnected(peerId: string): boolean {
    let target: PeerId;
    try {
      target = peerIdFromString(peerId);
    } catch {
      return false;
    }
    return this.#node.getConnections(target).some((c) => c.status === 'open');
  }

  async connect(
    peerId: string,
    opts: { addrs?: string[]; timeoutMs?: number } = {},
  ): Promise<boolean> {
    if (!this.#running) return false;
    const target = this.#parsePeer(peerId);
    // New addresses are worth a dial at once; the same ones (a reconnect round passes the
    // member's known addresses every time) only once the back-off has passed.
    const backoff = this.#backoff.get(peerId);
    const news =
      opts.addrs !== undefined && this.#merged.get(peerId)?.addrs !== opts.addrs.join(' ');
    if (!news && backoff !== undefined && Date.now() < backoff.until) return false;
    if (opts.addrs !== undefined) await this.addAddresses(peerId, opts.addrs);
    const deadline = new Deadline(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, [this.#shutdown.signal]);
    try {
      await this.#connection(target, true, deadline.signal);
      this.#backoff.delete(peerId);
      return true;
    } catch (err) {
      this.#log(`net: could not connect to ${peerId}: ${describe(err)}`);
      const ms = Math.min(
        backoff === undefined ? CONNECT_BACKOFF_MIN_MS : backoff.ms * 2,
        CONNECT_BACKOFF_MAX_MS,
      );
      // Bounded like #merged: members are few, but anyone can be passed in.
      if (this.#backoff.size >= MAX_MERGED_PEERS) this.#backoff.clear();
      this.#backoff.set(peerId, { until: Date.now() + ms, ms });
      return false;
    } finally {
      deadline.clear();
    }
  }

  onPeerConnect(cb: (peerId: string) => void): () => void {
    this.#connectCbs.add(cb);
    return () => this.#connectCbs.delete(cb);
  }

  onPeerDisconnect(cb: (peerId: string) => void): () => void {
    this.#disconnectCbs.add(cb);
    return () => this.#disconnectCbs.delete(cb);
  }

  onPeerDiscovered(cb: (peerId: string, addrs: string[]) => void): () => void {
    this.#discoveredCbs.add(cb);
    return () => this.#discoveredCbs.delete(cb);
  }

  setPeerPolicy(policy: PeerPolicy): void {
    this.#gate.setPolicy(policy);
  }

  stats(): HostStats {
    return {
      dropped: { ...this.#dropped },
      served: this.#served,
      sent: this.#sent,
      connections: this.#gate.stats(),
    };
  }

  // --- serving ---------------------------------------------------------------------------------

  async #serve(reg: Registration, stream: Stream, connection: Connection): Promise<void> {
    // The only identity we trust: the peer that completed the Noise handshake on this connection.
    const from = connection.remotePeer.toString();
    const where = `${reg.protocol} from ${from}`;
    // A requester that resets or disconnects ends the handler's work too.
    const gone = new AbortController();
    const onClose = (): void => gone.abort(new DOMException('stream closed', 'AbortError'));
    stream.addEventListener('close', onClose, { once: true });
    // Once the handler has answered, the stream's own close (ours, after the answer) is no news:
    // without this every served request built and dispatched an abort (a DOMException and its
    // stack) as its stream closed. A reset while the answer is written still fails the write.
    const answered = (): void => stream.removeEventListener('close', onClose);
    const deadline = new Deadline(reg.timeoutMs, [this.#shutdown.signal, gone.signal]);
    const { signal } = deadline;
    try {
      if (!safeAllow(reg, from, this.#log)) {
        // Decided before a byte of the payload is read.
        await this.#refuse(stream, 'not_allowed', where);
        return;
      }
      const lp = frames(stream, reg.maxBytes);
      let msg: Record<string, unknown> | undefined;
      try {
        msg = decodeObject(await lp.read({ signal }));
      } catch (err) {
        if (this.#shutdown.signal.aborted) return;
        const failure = deadline.firedBy === 'timer' ? 'timeout' : readFailure(err);
        if (failure === 'reset' || failure === 'closed') {
          this.#drop('reset', `${where}: stream ended before the request (${describe(err)})`);
          return;
        }
        await this.#refuse(stream, failure, `${where}: ${describe(err)}`);
        return;
      }
      const outcome = await this.#answer(reg, from, connection, msg, deadline, gone.signal);
      if (outcome.kind === 'none') return;
      if (outcome.kind === 'refuse') {
        await this.#refuse(stream, outcome.code, outcome.detail);
        return;
      }
      answered();
      await lp.write(outcome.body, { signal });
      await stream.close({ signal });
      this.#served++;
      this.#linger(stream);
    } catch (err) {
      // Writing the answer failed (peer gone, deadline): nothing left to tell anyone.
      if (!this.#shutdown.signal.aborted) this.#log(`net: ${where}: ${describe(err)}`);
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      answered();
      deadline.clear();
    }
  }

  /**
   * Runs `reg`'s handler on one request, whichever way it came (a stream of its own or a channel):
   * the envelope to send back, the refusal to send, or nothing (the requester left, the host is
   * stopping). Drops of the requester leaving are counted here; refusals by the caller.
   */
  async #answer(
    reg: Registration,
    from: string,
    connection: Connection,
    msg: Record<string, unknown> | undefined,
    deadline: Deadline,
    gone: AbortSignal,
  ): Promise<Answer> {
    const where = `${reg.protocol} from ${from}`;
    if (msg === undefined)
      return { kind: 'refuse', code: 'malformed', detail: `${where}: not a JSON object` };
    const ctx: HandlerContext = {
      signal: deadline.signal,
      protocol: reg.protocol,
      remoteAddr: connection.remoteAddr.toString(),
      limited: connection.limits != null,
    };
    let result: unknown;
    try {
      result = await race(
        Promise.resolve().then(() => reg.handler(from, msg, ctx)),
        deadline.signal,
      );
    } catch (err) {
      if (this.#shutdown.signal.aborted) return { kind: 'none' };
      if (deadline.firedBy === gone) {
        this.#drop('reset', `${where}: requester left before the answer`);
        return { kind: 'none' };
      }
      if (deadline.firedBy === 'timer') {
        return {
          kind: 'refuse',
          code: 'timeout',
          detail: `${where}: handler did not answer in ${reg.timeoutMs} ms`,
        };
      }
      return {
        kind: 'refuse',
        code: 'handler_error',
        detail: `${where}: handler threw ${describe(err)}`,
      };
    }
    const body = encodeJson({ ok: result === undefined ? null : result });
    if (body === undefined) {
      return {
        kind: 'refuse',
        code: 'handler_error',
        detail: `${where}: handler result has no JSON form`,
      };
    }
    if (body.byteLength > reg.maxResponseBytes) {
      return {
        kind: 'refuse',
        code: 'response_oversized',
        detail: `${where}: response of ${body.byteLength} bytes exceeds ${reg.maxResponseBytes}`,
      };
    }
    return { kind: 'answer', body };
  }

  /**
   * Serves a peer's channel (channel.ts): each request is judged by its header (which protocol,
   * whether this peer may use it, its size) before its body is read, then answered as on a stream
   * of its own (#answer), with the same drops counted.
   */
  #serveChannel(stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString();
    const limited = connection.limits != null;
    this.#trackChannel(stream);
    new ChannelServer(stream, {
      maxInFlight: MAX_INBOUND_STREAMS,
      writeTimeoutMs: DEFAULT_TIMEOUT_MS,
      admit: (protocol, bodyLength) => {
        const reg = this.#registrations.get(protocol);
        // As libp2p answers a stream of a protocol not served (on this connection).
        if (reg === undefined || (limited && !reg.runOnLimitedConnection)) {
          return { serve: false, code: UNSUPPORTED_PROTOCOL };
        }
        const where = `${protocol} from ${from}`;
        if (!safeAllow(reg, from, this.#log)) {
          this.#drop('not_allowed', where);
          return { serve: false, code: 'not_allowed' };
        }
        if (bodyLength > reg.maxBytes) {
          this.#drop(
            'oversized',
            `${where}: request of ${bodyLength} bytes exceeds ${reg.maxBytes}`,
          );
          return { serve: false, code: 'oversized' };
        }
        return { serve: true };
      },
      serve: async (protocol, body, gone) => {
        const reg = this.#registrations.get(protocol)!;
        const deadline = new Deadline(reg.timeoutMs, [this.#shutdown.signal, gone]);
        try {
          const outcome = await this.#answer(
            reg,
            from,
            connection,
            decodeObject(body),
            deadline,
            gone,
          );
          if (outcome.kind === 'none') return undefined;
          if (outcome.kind === 'refuse') {
            this.#drop(outcome.code, outcome.detail);
            return refusalEnvelope(outcome.code);
          }
          this.#served++;
          return outcome.body;
        } finally {
          deadline.clear();
        }
      },
      onViolation: (detail) => this.#drop('malformed', `channel from ${from}: ${detail}`),
      onWriteFailure: (detail) => {
        if (!this.#shutdown.signal.aborted) this.#log(`net: channel from ${from}: ${detail}`);
      },
    });
  }

  /** Counts the drop, then tells the requester why in one small frame and closes the stream. */
  async #refuse(stream: Stream, code: RefusalCode, detail: string): Promise<void> {
    this.#drop(code, detail);
    // Its own short deadline: the exchange's may be the very thing that expired.
    const deadline = new Deadline(REFUSAL_TIMEOUT_MS, [this.#shutdown.signal]);
    const { signal } = deadline;
    try {
      // Discard whatever else the peer sends: we will not read it.
      await stream.closeRead({ signal });
      const body = refusalEnvelope(code);
      await frames(stream, body.byteLength).write(body, { signal });
      await stream.close({ signal });
      this.#linger(stream);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      deadline.clear();
    }
  }

  /** Resets a stream whose peer keeps its side open after we answered. */
  #linger(stream: Stream): void {
    if (stream.status !== 'open') return;
    const timer = setTimeout(() => {
      if (stream.status === 'open') stream.abort(new Error('peer kept the stream open'));
    }, LINGER_MS);
    timer.unref?.();
  }

  #drop(reason: DropReason, detail: string): void {
    this.#dropped[reason]++;
    this.#dropLog(reason, detail);
  }

  // --- requesting ------------------------------------------------------------------------------

  #requestFailure(
    err: unknown,
    c: {
      peerId: string;
      protocol: string;
      phase: 'dial' | 'open' | 'exchange';
      deadline: Deadline;
      timeoutMs: number;
      connection: Connection | undefined;
      maxResponse: number;
    },
  ): NetError {
    const what = `${c.protocol} to ${c.peerId}`;
    const by = c.deadline.firedBy;
    if (by === this.#shutdown.signal) return new NetError('stopped', `host stopped during ${what}`);
    if (c.phase === 'dial') {
      const why = by === undefined ? describe(err) : `not reached within ${c.timeoutMs} ms`;
      return new NetError('unreachable', `${what}: ${why}`, { cause: err });
    }
    if (by !== undefined) {
      const why = by === 'timer' ? `no answer within ${c.timeoutMs} ms` : 'aborted by caller';
      return new NetError('timeout', `${what}: ${why}`, { cause: err });
    }
    const name = err instanceof Error ? err.name : '';
    if (name === 'UnsupportedProtocolError') {
      return new NetError('refused', `${what}: the peer does not serve this protocol`, {
        cause: err,
      });
    }
    if (c.phase === 'open') {
      return new NetError('unreachable', `${what}: could not open a stream: ${describe(err)}`, {
        cause: err,
      });
    }
    const failure = readFailure(err);
    if (failure === 'oversized') {
      this.#drop('response_oversized', `${what}: response exceeds ${c.maxResponse} bytes`);
      return new NetError('too_large', `${what}: response exceeds ${c.maxResponse} bytes`, {
        cause: err,
      });
    }
    if (c.connection !== undefined && c.connection.status !== 'open') {
      return new NetError('unreachable', `${what}: connection lost: ${describe(err)}`, {
        cause: err,
      });
    }
    // Reset, or closed without an answer: the peer dropped it.
    return new NetError('refused', `${what}: the peer closed the stream without answering`, {
      cause: err,
    });
  }

  /**
   * An open connection to the peer, dialling only when there is none. libp2p's own dial never
   * reuses a limited (relayed) connection: it builds a new circuit, then drops it as a duplicate,
   * ~20-50 ms per request. So we pick: direct, then any unlimited, then a relayed one (while a
   * direct connection is tried in the background when the peer has advertised direct addresses).
   */
  async #connection(
    target: PeerId,
    allowLimited: boolean,
    signal: AbortSignal,
  ): Promise<Connection> {
    const open = this.#node.getConnections(target).filter((c) => c.status === 'open');
    const unlimited =
      open.find((c) => c.limits == null && c.direct) ?? open.find((c) => c.limits == null);
    if (unlimited !== undefined) return unlimited;
    const limited = open.find((c) => c.limits != null);
    if (limited !== undefined && allowLimited) {
      this.#upgradeInBackground(target);
      return limited;
    }
    return race(this.#dial(target), signal);
  }

  /**
   * Our channel on `connection` (channel.ts), opened on first use and again after it closed;
   * undefined when the peer serves none (an older version): then each request has its own stream.
   * The open has its own deadline: a request that gives up meanwhile does not end it for the
   * others waiting for it.
   */
  async #channel(
    connection: Connection,
    allowLimited: boolean,
    signal: AbortSignal,
  ): Promise<ChannelClient | undefined> {
    const known = this.#channelOf.get(connection);
    if (known === 'legacy') return undefined;
    if (known !== undefined && known.open) return known;
    let opening = this.#channelOpening.get(connection);
    if (opening === undefined) {
      opening = this.#openChannel(connection, allowLimited).finally(() =>
        this.#channelOpening.delete(connection),
      );
      // Callers that stopped waiting leave nobody to see its failure.
      opening.catch(() => undefined);
      this.#channelOpening.set(connection, opening);
    }
    const channel = await race(opening, signal);
    return channel === 'legacy' ? undefined : channel;
  }

  /**
   * Writes a request on `channel`; when the channel turns out closed before the request was
   * written (it ended between our look and our write), once more on a new one.
   */
  async #sendOnChannel(
    connection: Connection,
    channel: ChannelClient,
    allowLimited: boolean,
    signal: AbortSignal,
    req: { protocol: string; body: Uint8Array; maxResponse: number },
  ): Promise<{ answer: Promise<Uint8Array> }> {
    try {
      return await channel.send(req.protocol, req.body, req.maxResponse, signal);
    } catch (err) {
      if (!(err instanceof ChannelClosedError) || connection.status !== 'open') throw err;
      const again = await this.#channel(connection, allowLimited, signal);
      if (again === undefined || again === channel) throw err;
      return again.send(req.protocol, req.body, req.maxResponse, signal);
    }
  }

  #trackChannel(stream: Stream): void {
    this.#channelStreams.add(stream);
    stream.addEventListener('close', () => this.#channelStreams.delete(stream), { once: true });
  }

  async #openChannel(
    connection: Connection,
    allowLimited: boolean,
  ): Promise<ChannelClient | 'legacy'> {
    const deadline = new Deadline(DEFAULT_TIMEOUT_MS, [this.#shutdown.signal]);
    try {
      const stream = await this.#openStream(
        connection,
        CHANNEL_PROTOCOL,
        deadline.signal,
        allowLimited,
      );
      this.#trackChannel(stream);
      const channel = new ChannelClient(stream);
      this.#channelOf.set(connection, channel);
      return channel;
    } catch (err) {
      if (err instanceof Error && err.name === 'UnsupportedProtocolError') {
        this.#channelOf.set(connection, 'legacy');
        return 'legacy';
      }
      throw err;
    } finally {
      deadline.clear();
    }
  }

  /**
   * Opens a stream, at most EARLY_OPENS at once on a connection until the peer has shown that it
   * takes streams on it (see MAX_EARLY_STREAMS): past that, a burst of requests on a connection just
   * made would have the peer reset them all and every one of them would time out.
   */
  async #openStream(
    connection: Connection,
    protocol: string,
    signal: AbortSignal,
    allowLimited: boolean,
  ): Promise<Stream> {
    const open = (): Promise<Stream> =>
      connection.newStream(protocol, { signal, runOnLimitedConnection: allowLimited });
    if (this.#isProven(connection)) return open();
    let state = this.#opening.get(connection);
    if (state === undefined) {
      state = { inFlight: 0, waiting: new Set() };
      this.#opening.set(connection, state);
    }
    while (state.inFlight >= EARLY_OPENS) {
      await this.#waitTurn(state, signal);
      if (this.#isProven(connection)) return open();
    }
    state.inFlight++;
    let proven = false;
    try {
      const stream = await open();
      proven = true;
      return stream;
    } catch (err) {
      // The peer answered multistream-select: its side takes our streams.
      if (err instanceof Error && err.name === 'UnsupportedProtocolError') proven = true;
      throw err;
    } finally {
      state.inFlight--;
      if (proven) {
        this.#proven.add(connection);
        this.#opening.delete(connection);
      }
      // Every waiter when proven; else one, to take the freed turn.
      for (const wake of [...state.waiting].slice(0, proven ? undefined : 1)) wake();
    }
  }

  /** Whether the peer has shown it takes our streams on `connection`. */
  #isProven(connection: Connection): boolean {
    if (this.#proven.has(connection)) return true;
    // A stream the peer opened came from its side's connection, which was taking streams by then.
    if (connection.streams.some((s) => s.direction === 'inbound')) {
      this.#proven.add(connection);
      return true;
    }
    return false;
  }

  /** Resolves when an early stream open ends (see #openStream); rejects when `signal` aborts. */
  #waitTurn(state: { waiting: Set<() => void> }, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        state.waiting.delete(wake);
        reject(signal.reason);
      };
      const wake = (): void => {
        state.waiting.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      state.waiting.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The one dial in flight to `target`, started if there is none. It runs to DIAL_TIMEOUT_MS (or
   * until the host stops) whoever started it: libp2p lets later dials join a pending one, which
   * then ended at the first caller's deadline for all of them.
   */
  #dial(target: PeerId): Promise<Connection> {
    const key = target.toString();
    const pending = this.#dials.get(key);
    if (pending !== undefined) return pending;
    const deadline = new Deadline(DIAL_TIMEOUT_MS, [this.#shutdown.signal]);
    const dial = this.#node.dial(target, { signal: deadline.signal }).finally(() => {
      deadline.clear();
      this.#dials.delete(key);
    });
    // Callers that stopped waiting leave nobody to see its failure.
    dial.catch(() => undefined);
    this.#dials.set(key, dial);
    return dial;
  }

  #upgradeInBackground(target: PeerId): void {
    const peerId = target.toString();
    const now = Date.now();
    if ((this.#upgradeAfter.get(peerId) ?? 0) > now) return;
    this.#upgradeAfter.set(peerId, now + UPGRADE_COOLDOWN_MS);
    void (async () => {
      const peer = await this.#node.peerStore.get(target).catch(() => undefined);
      const direct = (peer?.addresses ?? [])
        .map((a) => a.multiaddr)
        .filter((ma) => !isCircuit(ma))
        .map((ma) => (lastPeerId(ma) === undefined ? ma.encapsulate(`/p2p/${peerId}`) : ma));
      if (direct.length === 0 || !this.#running) return;
      const deadline = new Deadline(DEFAULT_TIMEOUT_MS, [this.#shutdown.signal]);
      try {
        const conn = await this.#node.dial(direct, { signal: deadline.signal });
        this.#log(`net: direct connection to ${peerId} via ${conn.remoteAddr.toString()}`);
      } catch (err) {
        if (this.#running) this.#log(`net: ${peerId} stays relayed: ${describe(err)}`);
      } finally {
        deadline.clear();
      }
    })();
  }

  #parsePeer(peerId: string): PeerId {
    let target = this.#peerIds.get(peerId);
    if (target !== undefined) return target;
    try {
      target = peerIdFromString(peerId);
    } catch {
      throw new NetError(
        'bad_request',
        `not a peer id: ${JSON.stringify(String(peerId).slice(0, 80))}`,
      );
    }
    if (target.toString() === this.peerId)
      throw new NetError('bad_request', 'the target is this host');
    // Bounded like #merged: members are few, but anyone can be passed in.
    if (this.#peerIds.size >= MAX_MERGED_PEERS) this.#peerIds.clear();
    this.#peerIds.set(peerId, target);
    return target;
  }

  // --- relays ----------------------------------------------------------------------------------

  #missingRelays(): Array<{ addr: Multiaddr; peerId: string }> {
    const circuits = this.#node
      .getMultiaddrs()
      .map((ma) => ma.toString())
      .filter((s) => s.includes('/p2p-circuit'));
    return this.#relays.filter(
      (r) => !circuits.some((c) => c.includes(`/p2p/${r.peerId}/p2p-circuit`)),
    );
  }

  #relayLost(): void {
    if (!this.#running || this.#relayChecking) return;
    if (this.#relayTimer !== undefined) clearTimeout(this.#relayTimer);
    this.#relayRetryMs = RELAY_RETRY_MIN_MS;
    this.#scheduleRelayCheck(RELAY_RETRY_MIN_MS);
  }

  /**
   * libp2p drops a configured relay's reservation when the connection to the relay closes and never
   * makes it again (only relays it discovered itself are replaced), so we listen on it again.
   */
  #scheduleRelayCheck(ms: number): void {
    if (!this.#running) return;
    this.#relayTimer = setTimeout(() => void this.#checkRelays(), ms);
    this.#relayTimer.unref?.();
  }

  async #checkRelays(): Promise<void> {
    this.#relayTimer = undefined;
    if (!this.#running) return;
    const missing = this.#missingRelays();
    if (missing.length === 0) {
      this.#relayRetryMs = RELAY_RETRY_MIN_MS;
      this.#scheduleRelayCheck(RELAY_RETRY_MAX_MS);
      return;
    }
    // Not in libp2p's public API: the transport manager is what listens on <relay>/p2p-circuit.
    const internals = this.#node as unknown as {
      components?: { transportManager?: InternalTransportManager };
    };
    const transportManager = internals.components?.transportManager;
    if (transportManager === undefined) {
      this.#log('net: cannot listen on relays again: libp2p internals changed');
      return;
    }
    this.#relayChecking = true;
    try {
      for (const relay of missing) {
        try {
          await transportManager.listen([multiaddr(`${relay.addr.toString()}/p2p-circuit`)]);
          if (!this.#missingRelays().includes(relay)) {
            this.#log(`net: reservation on relay ${relay.peerId} restored`);
          }
        } catch (err) {
          this.#log(`net: relay ${relay.peerId} still unavailable: ${describe(err)}`);
        }
      }
    } finally {
      this.#relayChecking = false;
    }
    const stillMissing = this.#missingRelays().length > 0;
    this.#relayRetryMs = stillMissing
      ? Math.min(this.#relayRetryMs * 2, RELAY_RETRY_MAX_MS)
      : RELAY_RETRY_MIN_MS;
    this.#scheduleRelayCheck(stillMissing ? this.#relayRetryMs : RELAY_RETRY_MAX_MS);
  }
}

// --- helpers -------------------------------------------------------------------------------------

function safeAllow(reg: Registration, from: string, log: (line: string) => void): boolean {
  try {
    return reg.allow(from) === true;
  } catch (err) {
    log(`net: allow() threw for ${from} on ${reg.protocol}: ${describe(err)}`);
    return false;
  }
}

function safeCall(log: (line: string) => void, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log(`net: ${what} callback threw: ${describe(err)}`);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function assertProtocol(protocol: string): void {
  if (typeof protocol !== 'string' || !/^\/[\x21-\x7e]{1,127}$/.test(protocol)) {
    throw new NetError(
      'bad_request',
      `not a protocol id: ${JSON.stringify(String(protocol).slice(0, 80))}`,
    );
  }
}

function assertLimit(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new NetError('bad_request', `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function isCircuit(ma: Multiaddr): boolean {
  return ma.toString().includes('/p2p-circuit');
}

/** The last /p2p/ component names the peer an address reaches (a circuit's relay comes earlier). */
function lastPeerId(ma: Multiaddr): string | undefined {
  const p2p = ma.getComponents().filter((c) => c.name === 'p2p');
  return p2p.length === 0 ? undefined : p2p[p2p.length - 1].value;
}

function parsePeerAddr(addr: string, peerId: string): Multiaddr {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    throw new NetError(
      'bad_request',
      `not a multiaddr: ${JSON.stringify(String(addr).slice(0, 200))}`,
    );
  }
  // Whatever follows the last /p2p-circuit (or the whole address when direct) may name only the
  // target: an address that leads to someone else would be dialled and fail Noise anyway.
  const s = ma.toString();
  const at = s.lastIndexOf('/p2p-circuit');
  const named = (at === -1 ? ma : multiaddr(s.slice(at)))
    .getComponents()
    .filter((c) => c.name === 'p2p')
    .map((c) => c.value);
  if (named.some((id) => id !== peerId)) {
    throw new NetError('bad_request', `address ${addr} does not lead to ${peerId}`);
  }
  return ma;
}

/** Whether `addr` is a relay address createHost takes (a multiaddr ending in /p2p/<relay id>). */
export function isRelayAddr(addr: unknown): addr is string {
  if (typeof addr !== 'string' || addr.length > MAX_RELAY_ADDR_CHARS) return false;
  try {
    parseRelay(addr);
    return true;
  } catch {
    return false;
  }
}

/** As long as the settings take one (shared/api/schema.ts). */
const MAX_RELAY_ADDR_CHARS = 512;

function parseRelay(addr: string): { addr: Multiaddr; peerId: string } {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    throw new NetError(
      'bad_request',
      `not a relay multiaddr: ${JSON.stringify(addr.slice(0, 200))}`,
    );
  }
  const peerId = lastPeerId(ma);
  if (peerId === undefined || isCircuit(ma)) {
    throw new NetError('bad_request', `relay address must end in /p2p/<relayId>: ${addr}`);
  }
  return { addr: ma, peerId };
}
