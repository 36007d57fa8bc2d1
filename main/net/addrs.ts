// Which of the addresses a peer advertises (in hello and join messages) we keep and later dial:
// only what its own connection vouches for, so a peer cannot make us dial third parties.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { ipOf } from './gate.js';

export interface AdvertisedAddrOptions {
  /** The advertising peer: an address naming another peer (/p2p/<other>) is dropped. */
  peerId?: string;
  /** Our own relays (ending in /p2p/<relayId>): circuit addresses through them are kept too. */
  relays?: string[];
  /** At most this many addresses are kept (default 8). */
  max?: number;
  /** Longer addresses are dropped unread (default 256 characters). */
  maxLength?: number;
}

export const MAX_ADVERTISED_ADDRS = 8;
export const MAX_ADVERTISED_ADDR_LENGTH = 256;

/**
 * The addresses in `advertised` that the connection the peer sent them on (`remoteAddr`) supports:
 * - a direct address (/ip4|ip6/<ip>/tcp/<port>[/p2p/<peer>]) only when <ip> is the IP the
 *   connection comes from (any port: the one we see is the peer's outgoing port, not its listener);
 *   DNS names, other transports and other IPs are dropped, so are all direct addresses when the
 *   connection is relayed (its IP is the relay's, not the peer's);
 * - a relayed address (<relay>/p2p-circuit[/p2p/<peer>]) only when <relay> is exactly the relay
 *   this connection comes through, or one of our own relays: we never dial a relay we were merely
 *   told about.
 * Anything that is not a string, too long, not a multiaddr, or naming another peer is dropped;
 * duplicates are dropped; at most `max` are kept, in the order given.
 */
export function advertisedAddrsFor(
  advertised: readonly unknown[],
  remoteAddr: string,
  opts: AdvertisedAddrOptions = {},
): string[] {
  const max = opts.max ?? MAX_ADVERTISED_ADDRS;
  const maxLength = opts.maxLength ?? MAX_ADVERTISED_ADDR_LENGTH;
  const remote = parse(remoteAddr, Infinity);
  if (!Array.isArray(advertised) || remote === undefined) return [];
  const remoteIp = ipOf(remote);
  const relays = new Set<string>();
  const viaRelay = relayPart(remote);
  if (viaRelay !== undefined) relays.add(viaRelay);
  for (const r of opts.relays ?? []) {
    const ma = parse(r, Infinity);
    if (ma !== undefined && relayPart(ma) === undefined) relays.add(withoutTrailingSlash(ma));
  }

  const kept = new Set<string>();
  for (const item of advertised) {
    if (kept.size >= max) break;
    const ma = parse(item, maxLength);
    if (ma === undefined) continue;
    const via = relayPart(ma);
    const target = via === undefined ? ma : multiaddr(ma.toString().slice(via.length));
    if (!namesOnly(target, via === undefined ? 'direct' : 'circuit', opts.peerId)) continue;
    if (via === undefined) {
      if (remoteIp === undefined || ipOf(ma) !== remoteIp) continue;
    } else if (!relays.has(via)) {
      continue;
    }
    kept.add(ma.toString());
  }
  return [...kept];
}

function parse(value: unknown, maxLength: number): Multiaddr | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) return undefined;
  try {
    return multiaddr(value);
  } catch {
    return undefined;
  }
}

/** Everything before the first /p2p-circuit, or undefined for a direct address. */
function relayPart(ma: Multiaddr): string | undefined {
  const s = ma.toString();
  const at = s.indexOf('/p2p-circuit');
  return at === -1 ? undefined : s.slice(0, at);
}

function withoutTrailingSlash(ma: Multiaddr): string {
  return ma.toString().replace(/\/$/, '');
}

/**
 * A direct address must be exactly ip4|ip6, tcp with a real port, and at most the peer's /p2p/;
 * what follows /p2p-circuit must be exactly /p2p-circuit and at most the peer's /p2p/.
 */
function namesOnly(ma: Multiaddr, kind: 'direct' | 'circuit', peerId: string | undefined): boolean {
  const c = ma.getComponents();
  let rest: typeof c;
  if (kind === 'direct') {
    const [ip, tcp] = c;
    if (ip === undefined || (ip.name !== 'ip4' && ip.name !== 'ip6')) return false;
    if (tcp === undefined || tcp.name !== 'tcp' || Number(tcp.value) <= 0) return false;
    rest = c.slice(2);
  } else {
    // A second hop (circuit within a circuit) is not something we dial.
    if (c[0]?.name !== 'p2p-circuit') return false;
    rest = c.slice(1);
  }
  if (rest.length === 0) return true;
  if (rest.length > 1 || rest[0].name !== 'p2p') return false;
  return peerId === undefined || rest[0].value === peerId;
}
