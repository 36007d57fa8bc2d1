// The libp2p host on loopback: authenticated sender, allow lists, limits, deadlines, relays, mDNS.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey as libp2pPeerId } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createLibp2p, type Libp2p } from 'libp2p';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createHost,
  createRelay,
  generateIdentity,
  IdentityError,
  NetError,
  peerIdFromPrivateKey,
  privateKeyFromBytes,
  privateKeyToBytes,
  publicKeyFromPeerId,
  type Host,
  type HostOptions,
  type Relay,
} from '../../main/net/index.js';
import { waitFor } from './wait.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const ECHO = '/conclave-test/echo/1.0.0';

const stopAfterEach: Array<{ stop(): void | Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(stopAfterEach.splice(0).map((h) => h.stop()));
});

async function newHost(opts: Partial<HostOptions> = {}): Promise<Host> {
  const { privateKey } = await generateIdentity();
  const host = await createHost({ privateKey, listen: LOOPBACK, ...opts });
  stopAfterEach.push(host);
  await host.start();
  return host;
}

/**
 * A TCP proxy on loopback to `port` that holds what clients send until `release()`: a handshake
 * through it stalls, as with a peer too busy to answer, and then completes.
 */
async function heldProxy(port: number): Promise<{ port: number; release(): void; stop(): void }> {
  const held: Array<() => void> = [];
  let released = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    upstream.on('data', (d) => client.write(d));
    client.on('data', (d) => (released ? upstream.write(d) : held.push(() => upstream.write(d))));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    release: () => {
      released = true;
      for (const send of held.splice(0)) send();
    },
    stop: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The process warnings emitted while `run` runs (Node emits them on a later tick). */
async function collectWarnings(run: () => Promise<unknown>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

function leakWarnings(warnings: Error[]): string[] {
  return warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message);
}

async function rejection(p: Promise<unknown>): Promise<NetError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NetError);
    return err as NetError;
  }
  throw new Error('expected the request to fail');
}

/** A bare libp2p node (no host wrapper), to send bytes our host would never send. */
async function rawNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  stopAfterEach.push(node);
  return node;
}

async function rawExchange(node: Libp2p, to: Host, frame: Uint8Array | null, raw?: Uint8Array) {
  const stream = await node.dialProtocol(multiaddr(to.addrs()[0]), ECHO, {
    signal: AbortSignal.timeout(5_000),
  });
  const lp = lpStream(stream, { maxDataLength: 4096 });
  const signal = AbortSignal.timeout(5_000);
  if (frame !== null) await lp.write(frame, { signal });
  if (raw !== undefined) stream.send(raw);
  await stream.close({ signal });
  const reply = await lp.read({ signal });
  return JSON.parse(new TextDecoder().decode(reply.subarray())) as unknown;
}

function echoHandler(host: Host, opts: { maxBytes?: number } = {}) {
  const seen: Array<{ from: string; msg: unknown }> = [];
  const ready = host.handle(
    ECHO,
    async (from, msg) => {
      seen.push({ from, msg });
      return { from, msg };
    },
    { allow: () => true, maxBytes: opts.maxBytes ?? 4096 },
  );
  return { seen, ready };
}

describe('identity helpers', () => {
  it('round-trips the key through bytes and recovers the raw public key from the peer id', async () => {
    const id = await generateIdentity();
    expect(id.publicKeyRaw).toHaveLength(32);
    expect(peerIdFromPrivateKey(id.privateKey)).toBe(id.peerId);
    const back = privateKeyFromBytes(privateKeyToBytes(id.privateKey));
    expect(peerIdFromPrivateKey(back)).toBe(id.peerId);
    expect(publicKeyFromPeerId(id.peerId)).toEqual(id.publicKeyRaw);
    // The raw key checks an identity signature made with libp2p's key.
    const msg = new TextEncoder().encode('approve request 42');
    const sig = await id.privateKey.sign(msg);
    expect(ed25519.verify(sig, msg, publicKeyFromPeerId(id.peerId))).toBe(true);
  });

  it('publicKeyFromPeerId refuses a secp256k1 peer id and garbage', async () => {
    const k1 = libp2pPeerId(await generateKeyPair('secp256k1')).toString();
    expect(() => publicKeyFromPeerId(k1)).toThrow(IdentityError);
    expect(() => publicKeyFromPeerId(k1)).toThrow(/unsupported_key_type/);
    expect(() => publicKeyFromPeerId('not-a-peer-id')).toThrow(/bad_peer_id/);
  });

  it('privateKeyFromBytes refuses bytes that are not a key, and a non-Ed25519 key', async () => {
    expect(() => privateKeyFromBytes(new Uint8Array([1, 2, 3]))).toThrow(/bad_key/);
    const k1 = await generateKeyPair('secp256k1');
    const { privateKeyToProtobuf } = await import('@libp2p/crypto/keys');
    expect(() => privateKeyFromBytes(privateKeyToProtobuf(k1))).toThrow(/unsupported_key_type/);
    await expect(createHost({ privateKey: k1, listen: [] })).rejects.toThrow(
      /unsupported_key_type/,
    );
  });
});

describe('request/response between two hosts', () => {
  it('the handler sees the connection’s peer id, not what the payload claims', async () => {
    const a = await newHost();
    const b = await newHost();
    const { seen, ready } = echoHandler(a);
    await ready;
    const res = await b.request(
      a.peerId,
      ECHO,
      { from: a.peerId, claim: 'I am A' },
      { addrs: a.addrs() },
    );
    expect(res).toEqual({ from: b.peerId, msg: { from: a.peerId, claim: 'I am A' } });
    expect(seen).toEqual([{ from: b.peerId, msg: { from: a.peerId, claim: 'I am A' } }]);
    expect(a.stats().served).toBe(1);
    expect(b.stats().sent).toBe(1);
    expect(b.isConnected(a.peerId)).toBe(true);
  });

  it('a handler result of undefined arrives as null; addrs() carry the peer id', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(ECHO, async () => undefined, { allow: () => true, maxBytes: 100 });
    expect(a.addrs().every((x) => x.endsWith(`/p2p/${a.peerId}`))).toBe(true);
    expect(await b.request(a.peerId, ECHO, {}, { addrs: a.addrs() })).toBeNull();
  });

  it('start() fails with listen_failed when the listen address is taken', async () => {
    const a = await newHost();
    const taken = a.addrs()[0].replace(`/p2p/${a.peerId}`, '');
    const { privateKey } = await generateIdentity();
    const b = await createHost({ privateKey, listen: [taken] });
    await expect(b.start()).rejects.toMatchObject({ code: 'listen_failed' });
    await b.stop();
  });

  it('reports peer connect and disconnect', async () => {
    const a = await newHost();
    const b = await newHost();
    const connected: string[] = [];
    const disconnected: string[] = [];
    a.onPeerConnect((p) => connected.push(p));
    const off = a.onPeerDisconnect((p) => disconnected.push(p));
    expect(await b.connect(a.peerId, { addrs: a.addrs() })).toBe(true);
    await waitFor('connect event', () => connected.includes(b.peerId));
    await b.stop();
    await waitFor('disconnect event', () => disconnected.includes(b.peerId));
    off();
    expect(await b.connect(a.peerId)).toBe(false); // stopped hosts do not dial
  });
});

describe('dropping what must not be served', () => {
  it('a disallowed peer is refused before its payload is read; an allowed one is served after', async () => {
    const a = await newHost();
    const b = await newHost();
    const c = await newHost();
    const calls: string[] = [];
    const asked: string[] = [];
    await a.handle(
      ECHO,
      async (from) => {
        calls.push(from);
        return { ok: true };
      },
      {
        allow: (p) => {
          asked.push(p);
          return p === c.peerId;
        },
        maxBytes: 4096,
      },
    );
    const err = await rejection(b.request(a.peerId, ECHO, { hello: 1 }, { addrs: a.addrs() }));
    expect(err.code).toBe('refused');
    expect(err.remoteCode).toBe('not_allowed');
    expect(a.stats().dropped.not_allowed).toBe(1);
    expect(calls).toEqual([]);
    expect(asked).toEqual([b.peerId]);

    expect(await c.request(a.peerId, ECHO, { hello: 2 }, { addrs: a.addrs() })).toEqual({
      ok: true,
    });
    expect(calls).toEqual([c.peerId]);
  });

  it('an allow() that throws counts as not allowed', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(ECHO, async () => 1, {
      allow: () => {
        throw new Error('roster unavailable');
      },
      maxBytes: 100,
    });
    const err = await rejection(b.request(a.peerId, ECHO, {}, { addrs: a.addrs() }));
    expect(err.remoteCode).toBe('not_allowed');
  });

  it('an oversized request is dropped and counted, and both hosts keep working', async () => {
    const a = await newHost();
    const b = await newHost();
    const { seen, ready } = echoHandler(a, { maxBytes: 1024 });
    await ready;
    const big = { pad: 'x'.repeat(4096) };
    const err = await rejection(b.request(a.peerId, ECHO, big, { addrs: a.addrs() }));
    expect(err.code).toBe('refused');
    expect(err.remoteCode).toBe('oversized');
    expect(a.stats().dropped.oversized).toBe(1);
    expect(seen).toEqual([]);
    // Far over the limit: the stream may be reset before the refusal frame goes out; either way
    // the requester is refused and the drop is counted.
    const huge = await rejection(b.request(a.peerId, ECHO, { pad: 'x'.repeat(512 * 1024) }));
    expect(huge.code).toBe('refused');
    expect(a.stats().dropped.oversized).toBe(2);
    // Same connection, next request.
    expect(await b.request(a.peerId, ECHO, { small: true })).toEqual({
      from: b.peerId,
      msg: { small: true },
    });
  });

  it('the requester refuses to send more than its own limit', async () => {
    const a = await newHost();
    const b = await newHost();
    const err = await rejection(
      b.request(
        a.peerId,
        ECHO,
        { pad: 'x'.repeat(200) },
        { addrs: a.addrs(), maxRequestBytes: 100 },
      ),
    );
    expect(err.code).toBe('too_large');
    expect(b.stats().sent).toBe(0);
  });

  it('raw bytes that are not a JSON object are dropped as malformed; the host keeps serving', async () => {
    const lines: string[] = [];
    const a = await newHost({ log: (l) => lines.push(l) });
    const { seen, ready } = echoHandler(a);
    await ready;
    const raw = await rawNode();
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(await rawExchange(raw, a, enc('this is not json'))).toEqual({ error: 'malformed' });
    expect(await rawExchange(raw, a, enc('[1,2,3]'))).toEqual({ error: 'malformed' });
    expect(await rawExchange(raw, a, enc('"a string"'))).toEqual({ error: 'malformed' });
    expect(await rawExchange(raw, a, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toEqual({
      error: 'malformed',
    }); // invalid UTF-8
    // A length prefix promising 5 bytes, then the stream closes after 2.
    expect(await rawExchange(raw, a, null, new Uint8Array([5, 0x7b, 0x7d]))).toEqual({
      error: 'malformed',
    });
    // A length prefix far above the limit: refused before the payload is read.
    expect(await rawExchange(raw, a, null, new Uint8Array([0xff, 0xff, 0xff, 0x7f]))).toEqual({
      error: 'oversized',
    });
    expect(a.stats().dropped.malformed).toBe(5);
    expect(a.stats().dropped.oversized).toBe(1);
    expect(seen).toEqual([]);
    // Counted every time, logged once per reason (the rest are summed up later).
    expect(lines.filter((l) => l.startsWith('net: dropped (malformed)'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('net: dropped (oversized)'))).toHaveLength(1);

    const b = await newHost();
    expect(await b.request(a.peerId, ECHO, { after: 'garbage' }, { addrs: a.addrs() })).toEqual({
      from: b.peerId,
      msg: { after: 'garbage' },
    });
    expect(a.stats().served).toBe(1);
  });

  it('a handler that throws is refused as handler_error; oversized responses are refused too', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(
      ECHO,
      async (_from, msg) => {
        if (msg.kind === 'throw') throw new Error('boom');
        if (msg.kind === 'bigint') return { n: 1n };
        return { pad: 'y'.repeat(Number(msg.size)) };
      },
      { allow: () => true, maxBytes: 1024, maxResponseBytes: 2048 },
    );
    const thrown = await rejection(
      b.request(a.peerId, ECHO, { kind: 'throw' }, { addrs: a.addrs() }),
    );
    expect([thrown.code, thrown.remoteCode]).toEqual(['refused', 'handler_error']);
    const bigint = await rejection(b.request(a.peerId, ECHO, { kind: 'bigint' }));
    expect([bigint.code, bigint.remoteCode]).toEqual(['refused', 'handler_error']);
    const tooBig = await rejection(b.request(a.peerId, ECHO, { size: 4096 }));
    expect([tooBig.code, tooBig.remoteCode]).toEqual(['refused', 'response_oversized']);
    // Within the responder's limit but above ours: we do not read it.
    const ours = await rejection(
      b.request(a.peerId, ECHO, { size: 1500 }, { maxResponseBytes: 1000 }),
    );
    expect(ours.code).toBe('too_large');
    expect(a.stats().dropped).toMatchObject({ handler_error: 2, response_oversized: 1 });
    expect(b.stats().dropped.response_oversized).toBe(1);
    expect(await b.request(a.peerId, ECHO, { size: 10 })).toEqual({ pad: 'y'.repeat(10) });
  });

  it('a peer that does not serve the protocol refuses; non-object requests are caller errors', async () => {
    const a = await newHost();
    const b = await newHost();
    const err = await rejection(
      b.request(a.peerId, '/conclave-test/none/1.0.0', {}, { addrs: a.addrs() }),
    );
    expect(err.code).toBe('refused');
    for (const bad of [null, [1], 'str', 3]) {
      expect((await rejection(b.request(a.peerId, ECHO, bad))).code).toBe('bad_request');
    }
    expect((await rejection(b.request('nope', ECHO, {}))).code).toBe('bad_request');
    expect((await rejection(b.request(b.peerId, ECHO, {}))).code).toBe('bad_request');
    await expect(
      b.addAddresses(a.peerId, [`/ip4/127.0.0.1/tcp/1/p2p/${b.peerId}`]),
    ).rejects.toThrow(/does not lead to/);
  });
});

describe('deadlines', () => {
  it('an unreachable peer fails with unreachable well within the deadline', async () => {
    const b = await newHost();
    const { peerId: nobody } = await generateIdentity();
    // No known address at all.
    let t0 = performance.now();
    let err = await rejection(b.request(nobody, ECHO, {}, { timeoutMs: 3_000 }));
    expect(err.code).toBe('unreachable');
    expect(performance.now() - t0).toBeLessThan(3_000);
    // A closed port on loopback: take a port from a host that then stops.
    const gone = await newHost();
    const deadAddrs = gone.addrs();
    await gone.stop();
    t0 = performance.now();
    err = await rejection(b.request(gone.peerId, ECHO, {}, { addrs: deadAddrs, timeoutMs: 3_000 }));
    expect(err.code).toBe('unreachable');
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(b.isConnected(gone.peerId)).toBe(false);
  });

  it('a live address that belongs to another peer fails the Noise handshake: unreachable', async () => {
    const a = await newHost();
    const b = await newHost();
    const { peerId: impostor } = await generateIdentity();
    const direct = a.addrs()[0].replace(`/p2p/${a.peerId}`, '');
    const err = await rejection(
      b.request(impostor, ECHO, {}, { addrs: [direct], timeoutMs: 3_000 }),
    );
    expect(err.code).toBe('unreachable');
    expect(b.isConnected(impostor)).toBe(false);
  });

  it('a handler that never answers gives timeout at the requester’s deadline', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(ECHO, () => new Promise<never>(() => {}), { allow: () => true, maxBytes: 100 });
    await b.connect(a.peerId, { addrs: a.addrs() });
    const t0 = performance.now();
    const err = await rejection(b.request(a.peerId, ECHO, {}, { timeoutMs: 300 }));
    const elapsed = performance.now() - t0;
    expect(err.code).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_500);
    // The responder notices the requester left and stops waiting for its handler.
    await waitFor('responder to count the abandoned request', () => a.stats().dropped.reset === 1);
  });

  it('a caller signal ends the request as timeout; the responder’s own deadline refuses slow handlers', async () => {
    const a = await newHost();
    const b = await newHost();
    let handlerSignal: AbortSignal | undefined;
    await a.handle(
      ECHO,
      (_from, _msg, ctx) => {
        handlerSignal = ctx.signal;
        return new Promise<never>(() => {});
      },
      { allow: () => true, maxBytes: 100, timeoutMs: 200 },
    );
    const slow = await rejection(
      b.request(a.peerId, ECHO, {}, { addrs: a.addrs(), timeoutMs: 5_000 }),
    );
    expect([slow.code, slow.remoteCode]).toEqual(['refused', 'timeout']);
    expect(a.stats().dropped.timeout).toBe(1);
    expect(handlerSignal?.aborted).toBe(true);

    const controller = new AbortController();
    const pending = b.request(a.peerId, ECHO, {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await rejection(pending)).code).toBe('timeout');
  });

  it('a dial runs to its own deadline whoever started it: a caller that gives up early does not end it', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(ECHO, async (_from, msg) => msg, { allow: () => true, maxBytes: 100 });
    // b reaches a only through a proxy that holds b's bytes back: the handshake is slow (a busy
    // peer), and it goes on once the proxy lets them through.
    const proxy = await heldProxy(Number(/\/tcp\/(\d+)/.exec(a.addrs()[0])![1]));
    stopAfterEach.push(proxy);
    await b.addAddresses(a.peerId, [`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${a.peerId}`]);
    // A reconnect round that gives up after 200 ms: its handshake is not thrown away (under load
    // every round's was, and the next round started another that met the same fate).
    expect(await b.connect(a.peerId, { timeoutMs: 200 })).toBe(false);
    proxy.release();
    await waitFor('the dial to complete', () => b.isConnected(a.peerId));
    expect(await b.request(a.peerId, ECHO, { n: 1 })).toEqual({ n: 1 });
  });

  it('connect() backs off a peer it could not reach, dials new addresses at once, and forgets the back-off when the peer connects', async () => {
    const lines: string[] = [];
    const b = await newHost({ log: (l) => lines.push(l) });
    const { privateKey } = await generateIdentity();
    const gone = await createHost({ privateKey, listen: LOOPBACK });
    await gone.start();
    const deadAddrs = gone.addrs();
    await gone.stop();
    const dials = () => lines.filter((l) => l.includes(`could not connect to ${gone.peerId}`));
    expect(await b.connect(gone.peerId, { addrs: deadAddrs })).toBe(false);
    // Reconnect rounds right after, with or without the same addresses: no second dial (under
    // load each one cost both sides).
    expect(await b.connect(gone.peerId)).toBe(false);
    expect(await b.connect(gone.peerId, { addrs: deadAddrs })).toBe(false);
    expect(dials()).toHaveLength(1);
    // Other addresses are news: dialled at once.
    const other = deadAddrs.map((a) => a.replace(/\/tcp\/\d+/, '/tcp/1'));
    expect(await b.connect(gone.peerId, { addrs: other })).toBe(false);
    expect(dials()).toHaveLength(2);
    // The peer comes back on another port and connects: its back-off is gone with it.
    const back = await createHost({ privateKey, listen: LOOPBACK });
    stopAfterEach.push(back);
    await back.start();
    expect(await back.connect(b.peerId, { addrs: b.addrs() })).toBe(true);
    await waitFor('b to see the connection', () => b.isConnected(gone.peerId));
    await back.stop();
    await waitFor('b to see it go', () => !b.isConnected(gone.peerId));
    await b.addAddresses(gone.peerId, back.addrs().length ? back.addrs() : deadAddrs);
    expect(await b.connect(gone.peerId)).toBe(false);
    expect(dials()).toHaveLength(3);
  });

  it('many requests in flight at once raise no MaxListenersExceededWarning', async () => {
    const a = await newHost();
    const b = await newHost();
    const release: Array<() => void> = [];
    await a.handle(
      ECHO,
      async (_from, msg) => {
        await new Promise<void>((r) => release.push(r));
        return msg;
      },
      { allow: () => true, maxBytes: 100 },
    );
    await b.addAddresses(a.peerId, a.addrs());
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      // Every request, and every stream served, holds a deadline on its host's shutdown signal
      // (Node warns past 10 listeners). 30: libp2p takes 32 streams of a protocol per connection.
      const n = 30;
      const all = Promise.allSettled(
        Array.from({ length: n }, (_, i) => b.request(a.peerId, ECHO, { i })),
      );
      await waitFor('every request to reach the handler', () => release.length === n);
      for (const r of release) r();
      const results = await all;
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(n);
      // Node emits the warning on a later tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('a burst of requests on connections just made all reach the handler', async () => {
    // The peer dialled finishes its handshake last: what the dialler sends meanwhile waits in its
    // buffer, and more than 10 streams there (yamux's early-stream limit) had every one reset and
    // the connection left unusable, so all of them timed out. A race: several fresh connections.
    const b = await newHost();
    const responders = await Promise.all([newHost(), newHost(), newHost(), newHost()]);
    const n = 24;
    const held: Array<() => void> = [];
    const reached = new Map<string, number>();
    for (const a of responders) {
      await a.handle(
        ECHO,
        async (from, msg) => {
          reached.set(a.peerId, (reached.get(a.peerId) ?? 0) + 1);
          await new Promise<void>((r) => held.push(r));
          return msg;
        },
        { allow: () => true, maxBytes: 100 },
      );
      await b.addAddresses(a.peerId, a.addrs());
    }
    const all = Promise.allSettled(
      responders.flatMap((a) =>
        Array.from({ length: n }, (_, i) =>
          b.request(a.peerId, ECHO, { i }, { timeoutMs: 30_000 }),
        ),
      ),
    );
    try {
      await waitFor(
        'every request to reach its handler',
        () => held.length === n * responders.length,
        25_000,
      );
    } finally {
      for (const r of held) r();
    }
    const results = await all;
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(responders.map((a) => reached.get(a.peerId))).toEqual(responders.map(() => n));
  });

  it('a peer that opens many streams at once on a connection it just made is served', async () => {
    // An older peer (or any libp2p node) does not hold its streams back until ours takes them.
    const a = await newHost();
    const { seen, ready } = echoHandler(a);
    await ready;
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const raw = await rawNode();
        const conn = await raw.dial(multiaddr(a.addrs()[0]), {
          signal: AbortSignal.timeout(20_000),
        });
        return Promise.allSettled(
          Array.from({ length: n }, async (_, i) => {
            const signal = AbortSignal.timeout(20_000);
            const stream = await conn.newStream(ECHO, { signal });
            const lp = lpStream(stream, { maxDataLength: 4096 });
            await lp.write(new TextEncoder().encode(JSON.stringify({ i })), { signal });
            await stream.close({ signal });
            const reply = await lp.read({ signal });
            return JSON.parse(new TextDecoder().decode(reply.subarray())) as unknown;
          }),
        );
      }),
    );
    const failed = results.flat().filter((r) => r.status === 'rejected');
    expect(failed.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(seen).toHaveLength(4 * n);
  });

  it('stop() ends in-flight requests and later ones fail with stopped', async () => {
    const a = await newHost();
    const b = await newHost();
    await a.handle(ECHO, () => new Promise<never>(() => {}), { allow: () => true, maxBytes: 100 });
    const pending = rejection(
      b.request(a.peerId, ECHO, {}, { addrs: a.addrs(), timeoutMs: 10_000 }),
    );
    await waitFor('connection', () => b.isConnected(a.peerId));
    const t0 = performance.now();
    await b.stop();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await pending).code).toBe('stopped');
    expect((await rejection(b.request(a.peerId, ECHO, {}))).code).toBe('stopped');
  });

  it('stopping a host with many connections raises no MaxListenersExceededWarning', async () => {
    // stop() closes every connection at once, each within a short grace: one grace signal shared
    // by all of them held an abort listener per connection (Node warns past 10), which the nodes
    // of a 10-20 member group printed every time one stopped.
    const hub = await newHost();
    const others = await Promise.all(Array.from({ length: 12 }, () => newHost()));
    for (const o of others) expect(await hub.connect(o.peerId, { addrs: o.addrs() })).toBe(true);
    await waitFor('every connection', () => others.every((o) => hub.isConnected(o.peerId)));
    const warnings = await collectWarnings(() => hub.stop());
    expect(leakWarnings(warnings)).toEqual([]);
    expect(others.some((o) => hub.isConnected(o.peerId))).toBe(false);
  });
});

describe('relay-only reachability', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await createRelay({ listen: LOOPBACK });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('a host with no listen address is reached through the relay, and can call back', async () => {
    expect(relay.addrs().length).toBeGreaterThan(0);
    const a = await newHost({ listen: [], relays: relay.addrs() });
    const b = await newHost({ listen: LOOPBACK });
    // start() waits for the reservation, so the circuit address is there already.
    const aAddrs = a.addrs();
    expect(aAddrs.length).toBeGreaterThan(0);
    expect(
      aAddrs.every((x) => x.includes(`/p2p/${relay.peerId}/p2p-circuit/p2p/${a.peerId}`)),
    ).toBe(true);

    const seenByA: Array<{ from: string; remoteAddr: string; limited: boolean }> = [];
    await a.handle(
      ECHO,
      async (from, msg, ctx) => {
        seenByA.push({ from, remoteAddr: ctx.remoteAddr, limited: ctx.limited });
        return msg;
      },
      { allow: (p) => p === b.peerId, maxBytes: 4096, runOnLimitedConnection: true },
    );
    const seenByB: string[] = [];
    await b.handle(
      ECHO,
      async (from) => {
        seenByB.push(from);
        return { pong: true };
      },
      { allow: (p) => p === a.peerId, maxBytes: 4096, runOnLimitedConnection: true },
    );

    expect(await b.request(a.peerId, ECHO, { via: 'relay' }, { addrs: aAddrs })).toEqual({
      via: 'relay',
    });
    expect(seenByA).toEqual([
      { from: b.peerId, remoteAddr: expect.stringContaining('/p2p-circuit'), limited: true },
    ]);
    // A calls B back (over the relayed connection B opened, or directly to B's loopback address).
    expect(await a.request(b.peerId, ECHO, { back: true })).toEqual({ pong: true });
    expect(seenByB).toEqual([a.peerId]);
  });

  it('a handler that does not opt in to limited connections is not reachable through the relay', async () => {
    const a = await newHost({ listen: [], relays: relay.addrs() });
    const b = await newHost();
    await a.handle(ECHO, async () => 1, { allow: () => true, maxBytes: 100 });
    const err = await rejection(
      b.request(a.peerId, ECHO, {}, { addrs: a.addrs(), timeoutMs: 3_000 }),
    );
    expect(err.code).toBe('refused');
  });

  it('a host whose relay is down still starts, and reserves again whenever the relay is back', async () => {
    // A relay with a fixed key and port, so its address survives a restart.
    const key = await generateKeyPair('Ed25519');
    let current = await createRelay({ listen: LOOPBACK, privateKey: key });
    const relayAddr = current.addrs()[0];
    const port = multiaddr(relayAddr)
      .getComponents()
      .find((c) => c.name === 'tcp')?.value;
    const restart = async () => {
      current = await createRelay({ listen: [`/ip4/127.0.0.1/tcp/${port}`], privateKey: key });
    };
    await current.stop();
    try {
      const a = await newHost({ listen: [], relays: [relayAddr] });
      expect(a.addrs()).toEqual([]);
      await restart();
      await waitFor('reservation on the restarted relay', () => a.addrs().length > 0, 15_000);
      expect(a.addrs()[0]).toContain(`/p2p/${current.peerId}/p2p-circuit`);

      // Lost while running (libp2p alone would not reserve a configured relay again).
      await current.stop();
      await waitFor('the circuit address to go', () => a.addrs().length === 0);
      await restart();
      await waitFor('reservation after the relay came back', () => a.addrs().length > 0, 15_000);
    } finally {
      await current.stop();
    }
  });
});

describe('mDNS', () => {
  it('starts and stops cleanly when enabled (multicast itself may be missing here)', async () => {
    const { privateKey } = await generateIdentity();
    const host = await createHost({ privateKey, listen: LOOPBACK, mdns: true });
    const off = host.onPeerDiscovered(() => {});
    await host.start();
    expect(host.addrs().length).toBeGreaterThan(0);
    const t0 = performance.now();
    await host.stop();
    expect(performance.now() - t0).toBeLessThan(1_000);
    off();
  });
});

describe('connection slots: members before outsiders', () => {
  /** Opens up to `attempts` connections from bare nodes (forced: one peer, many connections). */
  async function flood(target: Host, nodes: Libp2p[], attempts: number): Promise<number> {
    const ma = multiaddr(target.addrs()[0]);
    let held = 0;
    for (let i = 0; i < attempts; i++) {
      // Below libp2p's per-address rate limit (32 a second), as a patient attacker would be.
      const paced = new Promise((r) => setTimeout(r, 35));
      try {
        await nodes[i % nodes.length].dial(ma, { force: true, signal: AbortSignal.timeout(3_000) });
        held++;
      } catch {
        // Refused: the slot stays with someone else.
      }
      await paced;
    }
    return held;
  }

  it('outsiders holding every connection they can get do not keep out a member, nor the same member restarted', async () => {
    const member = await generateIdentity();
    const target = await newHost({ peerPolicy: { isMember: (p) => p === member.peerId } });
    const { ready } = echoHandler(target);
    await ready;
    const attackers = await Promise.all([rawNode(), rawNode(), rawNode(), rawNode()]);
    await Promise.all(attackers.map((n) => n.start()));
    // More than the 64 connections today's host takes in all.
    await flood(target, attackers, 70);
    // What the attackers still hold once the target has had its say (a refused dial may look
    // successful to the dialer for a moment).
    const held = (): number =>
      attackers.reduce(
        (n, a) => n + a.getConnections().filter((c) => c.status === 'open').length,
        0,
      );
    await waitFor('outsiders held to the cap', () => held() <= 16);
    for (const run of ['first', 'restarted']) {
      const m = await createHost({ privateKey: member.privateKey, listen: LOOPBACK });
      stopAfterEach.push(m);
      await m.start();
      const res = await m.request(target.peerId, ECHO, { run }, { addrs: target.addrs() });
      expect(res).toEqual({ from: member.peerId, msg: { run } });
      await m.stop();
    }
  });

  it('outsiders beyond the cap, or beyond the per-address cap, are refused; members are not', async () => {
    const members = new Set<string>();
    const policy = { isMember: (p: string) => members.has(p) };
    const capped = await newHost({
      peerPolicy: policy,
      limits: { maxOutsiders: 3, maxOutsidersPerIp: 3, outsiderLifetimeMs: 60_000 },
    });
    const perIp = await newHost({
      peerPolicy: policy,
      limits: { maxOutsiders: 10, maxOutsidersPerIp: 2, outsiderLifetimeMs: 60_000 },
    });
    for (const [target, cap] of [
      [capped, 3],
      [perIp, 2],
    ] as const) {
      const outsiders = await Promise.all([1, 2, 3, 4].map(() => newHost()).slice(0, cap + 1));
      for (const o of outsiders) await o.connect(target.peerId, { addrs: target.addrs() });
      // Every test host is on 127.0.0.1: each cap binds in turn.
      await waitFor('the extra outsider refused', () => target.stats().connections.refused === 1);
      await waitFor(
        'the refused outsider disconnected',
        () => outsiders.filter((o) => o.isConnected(target.peerId)).length === cap,
      );
      expect(target.stats().connections).toMatchObject({ outsiders: cap, members: 0 });
      const member = await newHost();
      members.add(member.peerId);
      expect(await member.connect(target.peerId, { addrs: target.addrs() })).toBe(true);
      await waitFor('the member counted', () => target.stats().connections.members === 1);
      expect(member.isConnected(target.peerId)).toBe(true);
      expect(target.stats().connections.refused).toBe(1);
    }
  });

  it('an outsider is served during its lifetime, then disconnected unless it has become a member', async () => {
    const members = new Set<string>();
    const target = await newHost({
      peerPolicy: { isMember: (p) => members.has(p) },
      limits: { outsiderLifetimeMs: 500 },
    });
    const { ready } = echoHandler(target);
    await ready;
    const member = await newHost();
    members.add(member.peerId);
    target.setPeerPolicy({ isMember: (p) => members.has(p) });
    const [stranger, joiner, quiet] = await Promise.all([newHost(), newHost(), newHost()]);
    const t0 = Date.now();
    // Like a newcomer using the join protocol while still an outsider.
    for (const o of [member, stranger, joiner, quiet]) {
      expect(await o.request(target.peerId, ECHO, { hi: 1 }, { addrs: target.addrs() })).toEqual({
        from: o.peerId,
        msg: { hi: 1 },
      });
    }
    // The joiner becomes a member and the node says so; the quiet one becomes a member and the
    // node does not say so (it is checked again when its lifetime ends).
    members.add(joiner.peerId);
    target.setPeerPolicy({ isMember: (p) => members.has(p) });
    members.add(quiet.peerId);
    await waitFor('the stranger disconnected', () => !target.isConnected(stranger.peerId));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    await waitFor('every lifetime over', () => target.stats().connections.outsiders === 0);
    expect(target.stats().connections).toMatchObject({ expired: 1, refused: 0, members: 3 });
    for (const o of [member, joiner, quiet]) expect(target.isConnected(o.peerId)).toBe(true);
    // The stranger may come back, for another lifetime.
    expect(await stranger.request(target.peerId, ECHO, {}, { addrs: target.addrs() })).toEqual({
      from: stranger.peerId,
      msg: {},
    });
    await waitFor('the stranger disconnected again', () => !target.isConnected(stranger.peerId));
    expect(target.stats().connections.expired).toBe(2);
  });

  it('when libp2p must prune, members are the last to go (their connections are tagged)', async () => {
    const members = new Set<string>();
    const target = await newHost({
      peerPolicy: { isMember: (p) => members.has(p) },
      limits: { maxConnections: 4, maxOutsiders: 2, outsiderLifetimeMs: 60_000 },
    });
    const [outsider, m1, m2, other1, other2] = await Promise.all(
      [1, 2, 3, 4, 5].map(() => newHost()),
    );
    members.add(m1.peerId);
    members.add(m2.peerId);
    // Oldest first: left alone, libp2p would prune the newest inbound connection, a member's.
    for (const h of [outsider, m1, m2]) {
      expect(await h.connect(target.peerId, { addrs: target.addrs() })).toBe(true);
      await waitFor('connected', () => target.isConnected(h.peerId));
    }
    // Two peers the node dials itself take the total over maxConnections.
    for (const h of [other1, other2]) {
      expect(await target.connect(h.peerId, { addrs: h.addrs() })).toBe(true);
    }
    await waitFor('one connection pruned', () => !target.isConnected(outsider.peerId));
    for (const h of [m1, m2, other1]) expect(target.isConnected(h.peerId)).toBe(true);
  });

  it('refuses limits that would let outsiders take every slot', async () => {
    const { privateKey } = await generateIdentity();
    await expect(
      createHost({ privateKey, listen: LOOPBACK, limits: { maxConnections: 8, maxOutsiders: 8 } }),
    ).rejects.toThrow(/maxOutsiders \(8\) must be below limits.maxConnections \(8\)/);
    await expect(
      createHost({ privateKey, listen: LOOPBACK, limits: { outsiderLifetimeMs: 0 } }),
    ).rejects.toThrow(/outsiderLifetimeMs must be a positive integer, got 0/);
  });
});
