// The per-stream savings of main/net/lean.ts: each keeps libp2p's behaviour and only drops work.
import { disable, enable } from '@libp2p/logger';
import type { Peer, PeerId, PeerStore } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import '../../main/polyfill.js';
import { generateIdentity } from '../../main/net/identity.js';
import {
  corkWrites,
  leanLogger,
  MAX_REMEMBERED_PEERS,
  skipKnownProtocolMerges,
} from '../../main/net/lean.js';

/** Whether a log function would print: debug's loggers and ours carry `enabled`. */
const on = (f: unknown): boolean => (f as { enabled: boolean }).enabled;

describe('leanLogger', () => {
  afterEach(() => disable());

  it('gives a do-nothing logger to a disabled component, with disabled scopes', () => {
    disable();
    const log = leanLogger().forComponent('libp2p:yamux');
    expect(log.enabled).toBe(false);
    expect(on(log.error)).toBe(false);
    expect(on(log.trace)).toBe(false);
    expect(() => log('x %s', 'y')).not.toThrow();
    expect(log.newScope('outbound:1').enabled).toBe(false);
  });

  it('logs as libp2p does when DEBUG enables the component or only its scope', () => {
    enable('libp2p:yamux');
    expect(leanLogger().forComponent('libp2p:yamux').enabled).toBe(true);
    disable();
    enable('libp2p:yamux:outbound*');
    const log = leanLogger().forComponent('libp2p:yamux');
    expect(log.enabled).toBe(false);
    expect(log.newScope('outbound:7').enabled).toBe(true);
    enable('libp2p:conn:error');
    expect(on(leanLogger().forComponent('libp2p:conn').error)).toBe(true);
  });
});

async function somePeer(): Promise<PeerId> {
  const { peerId } = await generateIdentity();
  return peerIdFromString(peerId);
}

/** A peer store whose merge records its calls and keeps protocols the way libp2p's does. */
function fakeStore() {
  const records = new Map<string, Peer>();
  const calls: Array<{ id: string; data: object }> = [];
  const events = new EventTarget();
  const store = {
    async merge(id: PeerId, data: { protocols?: string[] }) {
      calls.push({ id: id.toString(), data });
      const old = records.get(id.toString());
      const protocols = [...new Set([...(old?.protocols ?? []), ...(data.protocols ?? [])])];
      const peer = { id, protocols, addresses: [], metadata: new Map(), tags: new Map() } as Peer;
      records.set(id.toString(), peer);
      return peer;
    },
    async delete(id: PeerId) {
      records.delete(id.toString());
    },
  };
  const update = (peer: Peer) => {
    records.set(peer.id.toString(), peer);
    events.dispatchEvent(new CustomEvent('peer:update', { detail: { peer } }));
  };
  return { store, records, calls, events, update };
}

describe('skipKnownProtocolMerges', () => {
  it('merges a protocol once per peer, and again after the store dropped it or the peer', async () => {
    const { store, records, calls, events, update } = fakeStore();
    const counter = skipKnownProtocolMerges(store as unknown as PeerStore, events as never);
    const a = await somePeer();
    const b = await somePeer();
    for (let i = 0; i < 5; i++) await store.merge(a, { protocols: ['/p/1'] });
    expect(calls).toHaveLength(1);
    expect(records.get(a.toString())!.protocols).toEqual(['/p/1']);
    // Another peer, another protocol, and anything but protocols alone, all go through.
    await store.merge(b, { protocols: ['/p/1'] });
    await store.merge(a, { protocols: ['/p/2'] });
    await store.merge(a, { protocols: ['/p/1'], tags: {} } as never);
    expect(calls).toHaveLength(4);
    await store.merge(a, { protocols: ['/p/2', '/p/1'] });
    expect(calls).toHaveLength(4);
    expect(counter.skipped()).toBe(5);
    // identify replaced a's protocols: the next merge of /p/1 goes to the store again.
    update({ ...records.get(a.toString())!, protocols: ['/p/2'] });
    await store.merge(a, { protocols: ['/p/1'] });
    expect(calls).toHaveLength(5);
    expect(records.get(a.toString())!.protocols).toEqual(['/p/2', '/p/1']);
    // A deleted peer is merged again (the merge re-creates its record).
    await store.delete(a);
    await store.merge(a, { protocols: ['/p/1'] });
    expect(calls).toHaveLength(6);
    expect(records.has(a.toString())).toBe(true);
  });

  it('still honours an aborted signal on a skipped merge', async () => {
    const { store, events } = fakeStore();
    skipKnownProtocolMerges(store as unknown as PeerStore, events as never);
    const a = await somePeer();
    await store.merge(a, { protocols: ['/p/1'] });
    const merge = store.merge as (id: PeerId, d: object, o: object) => Promise<Peer>;
    await expect(
      merge(a, { protocols: ['/p/1'] }, { signal: AbortSignal.abort() }),
    ).rejects.toThrow();
  });

  it('remembers a bounded number of peers', async () => {
    const { store, calls, events } = fakeStore();
    skipKnownProtocolMerges(store as unknown as PeerStore, events as never);
    const first = await somePeer();
    await store.merge(first, { protocols: ['/p'] });
    for (let i = 0; i < MAX_REMEMBERED_PEERS; i++) {
      const { peerId } = await generateIdentity();
      await store.merge(peerIdFromString(peerId), { protocols: ['/p'] });
    }
    const before = calls.length;
    await store.merge(first, { protocols: ['/p'] });
    expect(calls.length).toBe(before + 1);
  });
});

describe('corkWrites', () => {
  it('corks the socket for the rest of the tick, once, and passes every chunk through in order', async () => {
    const log: string[] = [];
    const socket = {
      destroyed: false,
      cork: () => log.push('cork'),
      uncork: () => log.push('uncork'),
    };
    const conn = {
      socket,
      sendData(data: string) {
        log.push(`send ${data}`);
        return { sentBytes: data.length, canSendMore: true };
      },
    };
    corkWrites(conn);
    expect(conn.sendData('a')).toEqual({ sentBytes: 1, canSendMore: true });
    conn.sendData('bb');
    expect(log).toEqual(['cork', 'send a', 'send bb']);
    await new Promise((r) => process.nextTick(r));
    expect(log).toEqual(['cork', 'send a', 'send bb', 'uncork']);
    conn.sendData('c');
    await new Promise((r) => process.nextTick(r));
    expect(log.slice(4)).toEqual(['cork', 'send c', 'uncork']);
  });

  it('leaves a connection without a socket (a relayed one) as it is', () => {
    const sendData = () => ({ sentBytes: 0, canSendMore: true });
    const conn = { sendData };
    corkWrites(conn);
    expect(conn.sendData).toBe(sendData);
  });
});
