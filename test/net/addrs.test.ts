// advertisedAddrsFor: a peer's advertised addresses are kept only as far as its connection vouches.
import { describe, expect, it } from 'vitest';
import { advertisedAddrsFor } from '../../main/net/index.js';

const PEER = '12D3KooWGrrVrkBNoFDrJwGEqgF5c9VqKDBVLFD5ig9xzXXz7xxW';
const OTHER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const RELAY = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
const RELAY2 = '12D3KooWNvSZnPi3RrhrTwEY4LuuBeB6K6facKUCJcyWG1aoDd2p';

describe('advertisedAddrsFor on a direct connection', () => {
  const remote = '/ip4/192.168.1.20/tcp/51234';

  it('keeps direct addresses on the IP the connection comes from, any port, and drops the rest', () => {
    expect(
      advertisedAddrsFor(
        [
          '/ip4/192.168.1.20/tcp/4001',
          `/ip4/192.168.1.20/tcp/4002/p2p/${PEER}`,
          '/ip4/127.0.0.1/tcp/4001', // its loopback is ours when we dial it
          '/ip4/10.0.0.5/tcp/22', // a third party
          '/ip6/::1/tcp/4001',
          '/dns4/example.com/tcp/4001', // a name we cannot check
          '/ip4/192.168.1.20/udp/4001/quic-v1', // not a transport we have
          '/ip4/192.168.1.20/tcp/0', // not a listener
          '/ip4/192.168.1.20/tcp/4001/ws', // trailing protocols
          `/ip4/192.168.1.20/tcp/4003/p2p/${OTHER}`, // leads to someone else
        ],
        remote,
        { peerId: PEER },
      ),
    ).toEqual(['/ip4/192.168.1.20/tcp/4001', `/ip4/192.168.1.20/tcp/4002/p2p/${PEER}`]);
  });

  it('compares IPv6 and IPv4-mapped addresses by the address, not its spelling', () => {
    expect(
      advertisedAddrsFor(['/ip6/fe80::1/tcp/4001', '/ip6/fe80::2/tcp/4001'], '/ip6/FE80::1/tcp/9'),
    ).toEqual(['/ip6/fe80::1/tcp/4001']);
    expect(
      advertisedAddrsFor(['/ip4/192.0.2.7/tcp/4001'], '/ip6/::ffff:192.0.2.7/tcp/50000'),
    ).toEqual(['/ip4/192.0.2.7/tcp/4001']);
  });

  it('keeps relayed addresses only through our own relays', () => {
    const ours = `/ip4/203.0.113.9/tcp/4001/p2p/${RELAY}`;
    expect(
      advertisedAddrsFor(
        [
          `${ours}/p2p-circuit/p2p/${PEER}`,
          `${ours}/p2p-circuit`,
          `/ip4/203.0.113.9/tcp/4001/p2p/${RELAY2}/p2p-circuit`, // a relay we do not use
          `/ip4/10.0.0.5/tcp/80/p2p/${RELAY}/p2p-circuit`, // our relay's id, someone else's IP
          `${ours}/p2p-circuit/p2p/${OTHER}`,
          `${ours}/p2p-circuit/p2p/${RELAY2}/p2p-circuit`, // two hops
        ],
        remote,
        { peerId: PEER, relays: [ours] },
      ),
    ).toEqual([`${ours}/p2p-circuit/p2p/${PEER}`, `${ours}/p2p-circuit`]);
  });
});

describe('advertisedAddrsFor on a relayed connection', () => {
  const relay = `/ip4/203.0.113.9/tcp/4001/p2p/${RELAY}`;
  const remote = `${relay}/p2p-circuit/p2p/${PEER}`;

  it('keeps circuit addresses through the same relay, and no direct address', () => {
    expect(
      advertisedAddrsFor(
        [
          `${relay}/p2p-circuit/p2p/${PEER}`,
          '/ip4/203.0.113.9/tcp/5000', // the relay's IP is not the peer's
          '/ip4/192.168.1.20/tcp/4001',
          `/ip4/198.51.100.1/tcp/4001/p2p/${RELAY2}/p2p-circuit/p2p/${PEER}`,
        ],
        remote,
        { peerId: PEER },
      ),
    ).toEqual([`${relay}/p2p-circuit/p2p/${PEER}`]);
  });
});

describe('advertisedAddrsFor bounds', () => {
  const remote = '/ip4/127.0.0.1/tcp/50000';

  it('keeps at most max addresses, drops duplicates, long strings, non-strings and garbage', () => {
    const many = Array.from({ length: 50 }, (_, i) => `/ip4/127.0.0.1/tcp/${4000 + i}`);
    expect(advertisedAddrsFor(many, remote)).toEqual(many.slice(0, 8));
    expect(advertisedAddrsFor(many, remote, { max: 2 })).toEqual(many.slice(0, 2));
    expect(
      advertisedAddrsFor(
        [
          '/ip4/127.0.0.1/tcp/4001',
          '/ip4/127.0.0.1/tcp/4001',
          `/ip4/127.0.0.1/tcp/4002/p2p/${PEER}`,
          42,
          null,
          { addr: '/ip4/127.0.0.1/tcp/4003' },
          'not a multiaddr',
          '',
        ],
        remote,
        { maxLength: 30 },
      ),
    ).toEqual(['/ip4/127.0.0.1/tcp/4001']);
  });

  it('keeps nothing when the input or the connection address is not what it should be', () => {
    expect(advertisedAddrsFor('/ip4/127.0.0.1/tcp/1' as unknown as string[], remote)).toEqual([]);
    expect(advertisedAddrsFor(['/ip4/127.0.0.1/tcp/1'], 'garbage')).toEqual([]);
    expect(advertisedAddrsFor(['/ip4/127.0.0.1/tcp/1'], '')).toEqual([]);
  });
});
