// The request channel (main/net/channel.ts): its frame parser on bytes cut anywhere and on bytes
// that are not frames, and a host serving it to a peer that speaks it by hand (hostile or old).
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL_PROTOCOL,
  ChannelProtocolError,
  encodeFrame,
  encodeRequest,
  FRAME,
  FrameParser,
  type FrameHeader,
} from '../../main/net/channel.js';
import { createHost, generateIdentity, NetError, type Host } from '../../main/net/index.js';
import { waitFor } from './wait.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const ECHO = '/conclave-test/echo/1.0.0';
const enc = new TextEncoder();
const dec = new TextDecoder();

const stopAfterEach: Array<{ stop(): void | Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(stopAfterEach.splice(0).map((h) => h.stop()));
});

async function newHost(): Promise<Host> {
  const { privateKey } = await generateIdentity();
  const host = await createHost({ privateKey, listen: LOOPBACK });
  stopAfterEach.push(host);
  await host.start();
  return host;
}

async function rawNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: LOOPBACK },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  stopAfterEach.push(node);
  return node;
}

/** A request frame; `body` as JSON, or a string's bytes as they are. */
function requestFrame(id: number, protocol: string, body: unknown): Uint8Array {
  return encodeRequest(
    id,
    protocol,
    enc.encode(typeof body === 'string' ? body : JSON.stringify(body)),
  );
}

/** Collects every frame a stream delivers (the requester's view of a channel). */
function collect(stream: Stream): {
  frames: Array<{ h: FrameHeader; body: unknown }>;
  closed: () => boolean;
} {
  const frames: Array<{ h: FrameHeader; body: unknown }> = [];
  let closed = false;
  const parser = new FrameParser(
    () => true,
    (h, body) => frames.push({ h, body: JSON.parse(dec.decode(body)) }),
  );
  stream.addEventListener('message', (evt) => parser.push(evt.data));
  stream.addEventListener('close', () => (closed = true));
  return { frames, closed: () => closed };
}

async function rawChannel(node: Libp2p, to: Host): Promise<Stream> {
  return node.dialProtocol(multiaddr(to.addrs()[0]), CHANNEL_PROTOCOL, {
    signal: AbortSignal.timeout(5_000),
  });
}

describe('FrameParser', () => {
  const frames = [
    requestFrame(1, '/a/1', { x: 1 }),
    encodeFrame(FRAME.RESPONSE, 2, [enc.encode('{"ok":2}')]),
    encodeFrame(FRAME.CANCEL, 3, []),
    requestFrame(0xffffffff, '/b/' + 'x'.repeat(120), ''),
    encodeFrame(FRAME.RESPONSE, 4, [new Uint8Array(3000).fill(0x61)]),
  ];
  const all = Uint8Array.from(frames.flatMap((f) => [...f]));

  function parse(pieces: Uint8Array[], decide: (h: FrameHeader) => boolean = () => true) {
    const out: Array<[FrameHeader, number[]]> = [];
    const p = new FrameParser(decide, (h, body) => out.push([h, [...body]]));
    for (const piece of pieces) p.push(piece);
    return { out, buffered: p.buffered };
  }

  it('reads the same frames however the bytes are cut', () => {
    const whole = parse([all]);
    expect(whole.out.map(([h]) => [h.kind, h.id, h.protocol, h.bodyLength])).toEqual([
      [FRAME.REQUEST, 1, '/a/1', 7],
      [FRAME.RESPONSE, 2, '', 8],
      [FRAME.CANCEL, 3, '', 0],
      [FRAME.REQUEST, 0xffffffff, '/b/' + 'x'.repeat(120), 0],
      [FRAME.RESPONSE, 4, '', 3000],
    ]);
    expect(whole.buffered).toBe(0);
    // Byte by byte, and in pieces of every size up to 40.
    expect(parse([...all].map((b) => Uint8Array.of(b))).out).toEqual(whole.out);
    for (let size = 2; size <= 40; size++) {
      const pieces: Uint8Array[] = [];
      for (let at = 0; at < all.byteLength; at += size) pieces.push(all.subarray(at, at + size));
      expect(parse(pieces).out).toEqual(whole.out);
    }
  });

  it('skips a body it does not want as it arrives, holding none of it', () => {
    const big = encodeFrame(FRAME.RESPONSE, 9, [new Uint8Array(1 << 20)]);
    const next = encodeFrame(FRAME.RESPONSE, 10, [enc.encode('{}')]);
    const out: number[] = [];
    const p = new FrameParser(
      (h) => h.id !== 9,
      (h) => out.push(h.id),
    );
    let most = 0;
    for (let at = 0; at < big.byteLength; at += 16 * 1024) {
      p.push(big.subarray(at, at + 16 * 1024));
      most = Math.max(most, p.buffered);
    }
    p.push(next);
    expect(out).toEqual([10]);
    expect(most).toBe(0);
  });

  it('refuses bytes that are not a frame', () => {
    const bad: Array<[string, Uint8Array]> = [
      ['unknown kind', encodeFrame(7, 1, [])],
      ['length below the header', Uint8Array.of(0, 0, 0, 4, 1, 0, 0, 0, 1)],
      ['cancel with a body', encodeFrame(FRAME.CANCEL, 1, [Uint8Array.of(1)])],
      ['empty protocol', encodeFrame(FRAME.REQUEST, 1, [Uint8Array.of(0)])],
      ['protocol longer than allowed', encodeFrame(FRAME.REQUEST, 1, [Uint8Array.of(200)])],
      [
        'protocol past the frame',
        encodeFrame(FRAME.REQUEST, 1, [Uint8Array.of(10), enc.encode('/a')]),
      ],
      ['protocol not an id', requestFrame(1, 'no-slash', {})],
      ['protocol with a space', requestFrame(1, '/a b', {})],
    ];
    for (const [what, bytes] of bad) {
      expect(() => parse([bytes]), what).toThrow(ChannelProtocolError);
    }
  });

  it('held, finishes the frame under way and starts no other until released', () => {
    const out: number[] = [];
    const p = new FrameParser(
      () => true,
      (h) => {
        out.push(h.id);
        if (h.id === 1) p.hold();
      },
    );
    p.push(
      Uint8Array.from([
        ...requestFrame(1, '/a/1', {}),
        ...requestFrame(2, '/a/1', {}),
        ...requestFrame(3, '/a/1', {}),
      ]),
    );
    expect(out).toEqual([1]);
    p.release();
    expect(out).toEqual([1, 2, 3]);
  });
});

describe('a host serving channels', () => {
  it('answers requests on one channel by id, each judged by its header before its body', async () => {
    const a = await newHost();
    const seen: unknown[] = [];
    await a.handle(
      ECHO,
      async (_from, msg) => {
        seen.push(msg);
        return { echo: msg };
      },
      { allow: () => true, maxBytes: 1000 },
    );
    await a.handle('/conclave-test/closed/1.0.0', async () => 1, {
      allow: () => false,
      maxBytes: 1000,
    });
    const raw = await rawNode();
    const stream = await rawChannel(raw, a);
    const got = collect(stream);
    stream.send(
      Uint8Array.from([
        ...requestFrame(5, ECHO, { n: 5 }),
        ...requestFrame(6, ECHO, 'not json'),
        ...requestFrame(7, ECHO, { pad: 'x'.repeat(5000) }),
        ...requestFrame(8, '/conclave-test/closed/1.0.0', {}),
        ...requestFrame(9, '/conclave-test/none/1.0.0', {}),
        ...requestFrame(10, ECHO, { n: 10 }),
      ]),
    );
    await waitFor('six answers', () => got.frames.length === 6);
    const byId = Object.fromEntries(got.frames.map((f) => [f.h.id, f.body]));
    expect(byId).toEqual({
      5: { ok: { echo: { n: 5 } } },
      6: { error: 'malformed' },
      7: { error: 'oversized' },
      8: { error: 'not_allowed' },
      9: { error: 'unsupported_protocol' },
      10: { ok: { echo: { n: 10 } } },
    });
    expect(got.frames.every((f) => f.h.kind === FRAME.RESPONSE)).toBe(true);
    expect(seen).toEqual([{ n: 5 }, { n: 10 }]);
    const dropped = a.stats().dropped;
    expect(dropped).toMatchObject({ malformed: 1, oversized: 1, not_allowed: 1 });
    expect(got.closed()).toBe(false);
  });

  it('closes a channel that carries bytes that are not frames, and keeps serving others', async () => {
    const a = await newHost();
    await a.handle(ECHO, async (_f, msg) => msg, { allow: () => true, maxBytes: 1000 });
    const raw = await rawNode();
    for (const bad of [
      encodeFrame(9, 1, []),
      encodeFrame(FRAME.RESPONSE, 1, [enc.encode('{}')]),
      Uint8Array.from([...requestFrame(1, ECHO, { slow: true }), ...requestFrame(1, ECHO, {})]),
    ]) {
      const stream = await rawChannel(raw, a);
      const got = collect(stream);
      stream.send(bad);
      await waitFor('the channel closed', got.closed);
    }
    expect(a.stats().dropped.malformed).toBe(3);
    const b = await newHost();
    expect(await b.request(a.peerId, ECHO, { still: 1 }, { addrs: a.addrs() })).toEqual({
      still: 1,
    });
  });

  it('serves at most 32 requests of one channel at once; the rest wait their turn, none refused', async () => {
    const a = await newHost();
    let running = 0;
    let most = 0;
    let release!: () => void;
    const full = new Promise<void>((r) => (release = r));
    await a.handle(
      ECHO,
      async (_f, msg) => {
        if (msg.warm === true) return msg;
        running++;
        most = Math.max(most, running);
        if (running === 32) release();
        await full;
        running--;
        return msg;
      },
      { allow: () => true, maxBytes: 1000 },
    );
    const b = await newHost();
    await b.request(a.peerId, ECHO, { warm: true }, { addrs: a.addrs() });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, n) => b.request(a.peerId, ECHO, { n })),
    );
    expect(answers).toEqual(Array.from({ length: 50 }, (_, n) => ({ n })));
    expect(most).toBe(32);
  });

  it('a request given up by its requester ends its handler’s signal there, counted as reset', async () => {
    const a = await newHost();
    let aborted = false;
    let started!: () => void;
    const begun = new Promise<void>((r) => (started = r));
    await a.handle(
      ECHO,
      async (_f, msg, ctx) => {
        if (msg.wait !== true) return msg;
        started();
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
        aborted = true;
        return msg;
      },
      { allow: () => true, maxBytes: 1000, timeoutMs: 60_000 },
    );
    const b = await newHost();
    await b.request(a.peerId, ECHO, { warm: true }, { addrs: a.addrs() });
    const giveUp = new AbortController();
    const pending = b.request(a.peerId, ECHO, { wait: true }, { signal: giveUp.signal });
    await begun;
    giveUp.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('timeout');
    await waitFor('the handler to see the cancel', () => aborted);
    await waitFor('the drop counted', () => a.stats().dropped.reset === 1);
    // The channel carries on.
    expect(await b.request(a.peerId, ECHO, { after: 1 })).toEqual({ after: 1 });
  });

  it('a channel that ends after the request went out fails the request; it is never sent twice', async () => {
    const peer = await rawNode();
    let received = 0;
    await peer.handle(CHANNEL_PROTOCOL, (stream) => {
      const parser = new FrameParser(
        () => true,
        () => {
          received++;
          stream.abort(new Error('gone mid-request'));
        },
      );
      stream.addEventListener('message', (evt) => parser.push(evt.data));
    });
    const b = await newHost();
    const addrs = peer.getMultiaddrs().map((m) => m.toString());
    const err = await b
      .request(peer.peerId.toString(), ECHO, { once: true }, { addrs })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('refused');
    expect(received).toBe(1);
  });

  it('talks to a peer that serves no channel (an older version) with a stream per request', async () => {
    const old = await rawNode();
    await old.handle(ECHO, async (stream) => {
      const lp = lpStream(stream);
      const req = JSON.parse(dec.decode((await lp.read()).subarray())) as unknown;
      await lp.write(enc.encode(JSON.stringify({ ok: { old: req } })));
      await stream.close();
    });
    const b = await newHost();
    const addrs = old.getMultiaddrs().map((m) => m.toString());
    expect(await b.request(old.peerId.toString(), ECHO, { n: 1 }, { addrs })).toEqual({
      old: { n: 1 },
    });
    expect(await b.request(old.peerId.toString(), ECHO, { n: 2 })).toEqual({ old: { n: 2 } });
  });
});
