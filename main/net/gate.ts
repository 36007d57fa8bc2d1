// Who gets a connection slot: members always (tagged so libp2p never prunes them for others),
// outsiders (newcomers joining, strangers) only a few at a time, a few per address, and briefly.
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { Connection, ConnectionGater, PeerId } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';
import { closeConnection } from './close.js';
import type { DropLog } from './drops.js';
import { NetError } from './errors.js';

/** What the node tells the host about a peer; asked on every inbound connection, so keep it cheap. */
export interface PeerPolicy {
  isMember(peerId: string): boolean;
}

export interface ConnectionLimits {
  /** All connections, members' included (libp2p refuses new inbound sockets beyond it). */
  maxConnections: number;
  /** Inbound connections from non-members open (or being set up) at once. */
  maxOutsiders: number;
  /** Of those, from one IP address (relayed connections count only towards maxOutsiders). */
  maxOutsidersPerIp: number;
  /** An outsider's connection is closed after this, unless the peer has become a member. */
  outsiderLifetimeMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = {
  // A custody group is a handful of peers and a relay or two; room for many groups.
  maxConnections: 128,
  maxOutsiders: 16,
  // Several devices behind one NAT may join at once.
  maxOutsidersPerIp: 8,
  // A join (invite check, roster, key package) takes well under a second.
  outsiderLifetimeMs: 30_000,
};

export interface GateStats {
  /** Open connections to members. */
  members: number;
  /** Open inbound connections from outsiders. */
  outsiders: number;
  /** Outsider connections refused by a cap. */
  refused: number;
  /** Outsider connections closed at the end of their lifetime. */
  expired: number;
}

/** Nobody is a member until the node says otherwise. */
export const NOBODY: PeerPolicy = { isMember: () => false };

/** The peer store tag that keeps members' connections out of libp2p's pruning (values are 1-100). */
export const MEMBER_TAG = 'conclave-member';
const MEMBER_TAG_VALUE = 100;

/**
 * How long an inbound connection may take to finish its upgrade (libp2p's inboundUpgradeTimeout),
 * and an admitted outsider its slot. A member dialling a node busy on a loaded machine needs more
 * than a quiet machine's handshake: at 5 s the busy node reset its members' handshakes and they
 * dialled again and again (a dial is given 20 s, host.ts).
 */
export const INBOUND_UPGRADE_TIMEOUT_MS = 15_000;
/** Time to close an expired outsider's connection gracefully before resetting it. */
const EXPIRE_GRACE_MS = 1_000;

interface Outsider {
  peer: string;
  ip: string | undefined;
  timer: ReturnType<typeof setTimeout>;
}

export function resolveLimits(given: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new NetError('bad_request', `limits.${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.maxOutsiders >= limits.maxConnections) {
    // Otherwise outsiders could fill every slot before a member's socket is even accepted.
    throw new NetError(
      'bad_request',
      `limits.maxOutsiders (${limits.maxOutsiders}) must be below limits.maxConnections (${limits.maxConnections})`,
    );
  }
  return limits;
}

export class ConnectionGate {
  readonly limits: ConnectionLimits;
  #policy: PeerPolicy;
  readonly #drop: DropLog;
  readonly #log: (line: string) => void;
  #node: Libp2p | undefined;
  /** Admitted at the gate, connection not open yet; each expires with the upgrade timeout. */
  readonly #reserved = new Set<{ peer: string; ip: string | undefined }>();
  /** Open inbound outsider connections, by connection id. */
  readonly #outsiders = new Map<string, Outsider>();
  /** Peers we have tagged as members in the peer store. */
  readonly #tagged = new Set<string>();
  #refused = 0;
  #expired = 0;

  constructor(opts: {
    limits: ConnectionLimits;
    policy?: PeerPolicy;
    drop: DropLog;
    log: (line: string) => void;
  }) {
    this.limits = opts.limits;
    this.#policy = opts.policy ?? NOBODY;
    this.#drop = opts.drop;
    this.#log = opts.log;
  }

  /** libp2p's connection gater: decides on inbound connections once Noise names the peer. */
  gater(): ConnectionGater {
    return {
      denyInboundEncryptedConnection: (peerId, maConn) =>
        !this.#admit(peerId.toString(), maConn.remoteAddr),
    };
  }

  /** Starts watching the node's connections (call once, before it starts). */
  attach(node: Libp2p): void {
    this.#node = node;
    node.addEventListener('connection:open', (evt) => this.#opened(evt.detail));
    node.addEventListener('connection:close', (evt) => this.#closed(evt.detail));
  }

  setPolicy(policy: PeerPolicy): void {
    this.#policy = policy;
    this.review();
  }

  /** Applies the policy to every open connection again (after membership changed). */
  review(): void {
    const node = this.#node;
    if (node === undefined) return;
    const connected = new Set<string>();
    for (const conn of node.getConnections()) {
      if (conn.status !== 'open') continue;
      const peer = conn.remotePeer.toString();
      connected.add(peer);
      if (this.#isMember(peer)) {
        this.#untrack(conn.id);
        this.#tag(conn.remotePeer);
      } else {
        this.#untag(conn.remotePeer);
        // A former member's connection becomes an outsider's, with a fresh lifetime.
        if (conn.direction === 'inbound' && !this.#outsiders.has(conn.id)) this.#track(conn);
      }
    }
    for (const peer of [...this.#tagged]) {
      if (!connected.has(peer) && !this.#isMember(peer)) this.#untag(peerIdFromString(peer));
    }
  }

  stats(): GateStats {
    const members = new Set<string>();
    for (const conn of this.#node?.getConnections() ?? []) {
      if (conn.status === 'open' && this.#isMember(conn.remotePeer.toString()))
        members.add(conn.id);
    }
    return {
      members: members.size,
      outsiders: this.#outsiders.size,
      refused: this.#refused,
      expired: this.#expired,
    };
  }

  stop(): void {
    for (const o of this.#outsiders.values()) clearTimeout(o.timer);
    this.#outsiders.clear();
    this.#reserved.clear();
  }

  #admit(peer: string, remoteAddr: Multiaddr): boolean {
    if (this.#isMember(peer)) return true;
    const ip = ipOf(remoteAddr);
    const where = `${peer} at ${remoteAddr.toString()}`;
    if (this.#outsiders.size + this.#reserved.size >= this.limits.maxOutsiders) {
      this.#refused++;
      this.#drop(
        'outsider_limit',
        `connection from ${where}: ${this.limits.maxOutsiders} outsiders connected`,
      );
      return false;
    }
    if (ip !== undefined && this.#fromIp(ip) >= this.limits.maxOutsidersPerIp) {
      this.#refused++;
      this.#drop(
        'outsider_ip_limit',
        `connection from ${where}: ${this.limits.maxOutsidersPerIp} outsiders connected from ${ip}`,
      );
      return false;
    }
    // Holds the slot until the connection opens (or its upgrade times out).
    const slot = { peer, ip };
    this.#reserved.add(slot);
    setTimeout(() => this.#reserved.delete(slot), INBOUND_UPGRADE_TIMEOUT_MS).unref?.();
    return true;
  }

  #fromIp(ip: string): number {
    let n = 0;
    for (const o of this.#outsiders.values()) if (o.ip === ip) n++;
    for (const r of this.#reserved) if (r.ip === ip) n++;
    return n;
  }

  #opened(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    for (const r of this.#reserved) {
      if (r.peer === peer) {
        this.#reserved.delete(r);
        break;
      }
    }
    if (this.#isMember(peer)) this.#tag(conn.remotePeer);
    else if (conn.direction === 'inbound') this.#track(conn);
  }

  #closed(conn: Connection): void {
    this.#untrack(conn.id);
  }

  #track(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    const timer = setTimeout(() => this.#expire(conn), this.limits.outsiderLifetimeMs);
    timer.unref?.();
    this.#outsiders.set(conn.id, { peer, ip: ipOf(conn.remoteAddr), timer });
  }

  #untrack(id: string): void {
    const o = this.#outsiders.get(id);
    if (o === undefined) return;
    clearTimeout(o.timer);
    this.#outsiders.delete(id);
  }

  #expire(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    this.#untrack(conn.id);
    if (conn.status !== 'open') return;
    if (this.#isMember(peer)) {
      // It joined while connected: from now on it is a member's connection.
      this.#tag(conn.remotePeer);
      return;
    }
    this.#expired++;
    this.#drop(
      'outsider_expired',
      `connection from ${peer}: open ${this.limits.outsiderLifetimeMs} ms`,
    );
    void closeConnection(conn, EXPIRE_GRACE_MS);
  }

  #tag(peerId: PeerId): void {
    const peer = peerId.toString();
    if (this.#tagged.has(peer) || this.#node === undefined) return;
    this.#tagged.add(peer);
    this.#node.peerStore
      .merge(peerId, { tags: { [MEMBER_TAG]: { value: MEMBER_TAG_VALUE } } })
      .catch((err: unknown) => {
        this.#tagged.delete(peer);
        this.#log(`net: could not tag member ${peer}: ${String(err)}`);
      });
  }

  #untag(peerId: PeerId): void {
    const peer = peerId.toString();
    if (!this.#tagged.delete(peer) || this.#node === undefined) return;
    this.#node.peerStore.merge(peerId, { tags: { [MEMBER_TAG]: undefined } }).catch(() => {
      // The peer store forgot the peer already: nothing to untag.
    });
  }

  #isMember(peer: string): boolean {
    try {
      return this.#policy.isMember(peer) === true;
    } catch (err) {
      this.#log(`net: isMember() threw for ${peer}: ${String(err)}`);
      return false;
    }
  }
}

/** The IP a direct connection comes from; undefined for relayed ones (the relay's IP says nothing). */
export function ipOf(addr: Multiaddr): string | undefined {
  const components = addr.getComponents();
  if (components.some((c) => c.name === 'p2p-circuit')) return undefined;
  const first = components[0];
  if (first === undefined || (first.name !== 'ip4' && first.name !== 'ip6')) return undefined;
  return normalizeIp(first.value ?? '');
}

/** Lower case, and an IPv4-mapped IPv6 address (either spelling) as the IPv4 address it is. */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted !== null) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex === null) return lower;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}
