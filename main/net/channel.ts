// One long-lived stream per connection and direction that carries many request/response exchanges.
//
// Opening a libp2p stream per request costs a round trip before the request is written (this
// libp2p's multistream-select waits for the responder's echo of the protocol) and about 1 ms of
// CPU across both ends (stream open and close frames, each Noise-encrypted); over one stream that
// stays open an exchange is one frame each way (measured on loopback: ~0.2 ms of CPU, 1 round
// trip). The requester opens the channel on the first request over a connection; a peer that does
// not serve CHANNEL_PROTOCOL (an older version) gets a stream per request as before (host.ts).
//
// Frames, in both directions:
//   u32 length (big-endian; of what follows) · u8 kind · u32 id · rest by kind:
//   REQUEST  (1): u8 protocol length · protocol id (ASCII) · the request body (JSON)
//   RESPONSE (2): the responder's envelope, as on a stream of its own ({ ok } or { error })
//   CANCEL   (3): nothing (the requester gave up on request `id`)
// Requests go requester → responder on the requester's channel; responses and nothing else come
// back on it. The responder judges each request by its header (protocol, size, who asks) before
// the body arrives: a body it will not take is skipped as it streams in, never held.
import type { Stream } from '@libp2p/interface';
import { refusalEnvelope } from './wire.js';

export const CHANNEL_PROTOCOL = '/conclave/channel/1.0.0';

const REQUEST = 1;
const RESPONSE = 2;
const CANCEL = 3;
/** The frame kinds (exported for tests that speak the channel by hand). */
export const FRAME = { REQUEST, RESPONSE, CANCEL } as const;
/** kind + id */
const FIXED = 5;
const MAX_PROTOCOL_CHARS = 128;
const PROTOCOL_ID = /^\/[\x21-\x7e]{1,127}$/;
/** Ids wrap within a u32; a pending one is never reused (see ChannelClient.#newId). */
const MAX_ID = 0xffff_ffff;

/** The peer sent bytes that are not a frame of this protocol: the channel is closed. */
export class ChannelProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelProtocolError';
  }
}

/** The channel ended (reset, closed, the connection went) before the answer came. */
export class ChannelClosedError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ChannelClosedError';
  }
}

/** The answer's length exceeds what the request accepts; it is skipped unread. */
export class ChannelResponseTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelResponseTooLargeError';
  }
}

export interface FrameHeader {
  kind: typeof REQUEST | typeof RESPONSE | typeof CANCEL;
  id: number;
  /** REQUEST only. */
  protocol: string;
  bodyLength: number;
}

type Chunk = Uint8Array | Iterable<Uint8Array>;

/**
 * Reads frames out of the bytes a stream delivers, in whatever pieces they come. For each frame,
 * `decide` is asked with its header whether the body is wanted: if so, `onFrame` gets it whole;
 * if not it is discarded as it arrives. The bytes held are one header, or one wanted body.
 * `push` throws ChannelProtocolError on bytes that are not a frame.
 */
export class FrameParser {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  /** Body bytes of a frame not wanted, still to discard. */
  #skip = 0;
  /** A wanted frame whose body is still arriving. */
  #pending: FrameHeader | undefined;
  #held = false;

  constructor(
    private readonly decide: (h: FrameHeader) => boolean,
    private readonly onFrame: (h: FrameHeader, body: Uint8Array) => void,
  ) {}

  push(data: Chunk): void {
    for (const c of data instanceof Uint8Array ? [data] : data) {
      if (c.byteLength === 0) continue;
      this.#chunks.push(c);
      this.#length += c.byteLength;
    }
    this.#run();
  }

  /**
   * Stops starting new frames out of what is buffered until release() (a frame whose header was
   * taken is still finished: see ChannelServer).
   */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#run();
  }

  get buffered(): number {
    return this.#length;
  }

  #run(): void {
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#length);
        if (n === 0) return;
        this.#drop(n);
        this.#skip -= n;
        continue;
      }
      if (this.#pending !== undefined) {
        const h = this.#pending;
        if (this.#length < h.bodyLength) return;
        this.#pending = undefined;
        this.onFrame(h, this.#take(h.bodyLength));
        continue;
      }
      // Held: the frame under way is finished above, the next one waits.
      if (this.#held || !this.#header()) return;
    }
  }

  /** Reads the next frame's header when it is all here; false when more bytes are needed. */
  #header(): boolean {
    if (this.#length < 4 + FIXED) return false;
    const head = this.#peek(Math.min(this.#length, 4 + FIXED + 1 + MAX_PROTOCOL_CHARS));
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const length = view.getUint32(0);
    const kind = head[4];
    const id = view.getUint32(5);
    if (length < FIXED) throw new ChannelProtocolError(`frame of ${length} bytes`);
    let headerLength = 4 + FIXED;
    let protocol = '';
    if (kind === REQUEST) {
      if (head.byteLength < headerLength + 1) return false;
      const chars = head[headerLength];
      if (chars === 0 || chars > MAX_PROTOCOL_CHARS || length < FIXED + 1 + chars) {
        throw new ChannelProtocolError(`request frame with a protocol id of ${chars} bytes`);
      }
      if (head.byteLength < headerLength + 1 + chars) return false;
      protocol = String.fromCharCode(...head.subarray(headerLength + 1, headerLength + 1 + chars));
      if (!PROTOCOL_ID.test(protocol)) throw new ChannelProtocolError('not a protocol id');
      headerLength += 1 + chars;
    } else if (kind === CANCEL) {
      if (length !== FIXED) throw new ChannelProtocolError('cancel frame with a body');
    } else if (kind !== RESPONSE) {
      throw new ChannelProtocolError(`frame of unknown kind ${kind}`);
    }
    const h: FrameHeader = {
      kind: kind as FrameHeader['kind'],
      id,
      protocol,
      bodyLength: length + 4 - headerLength,
    };
    this.#drop(headerLength);
    if (this.decide(h)) {
      if (h.bodyLength === 0) this.onFrame(h, new Uint8Array(0));
      else this.#pending = h;
    } else {
      this.#skip = h.bodyLength;
    }
    return true;
  }

  /** The first `n` buffered bytes (n ≤ buffered), left buffered. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.byteLength >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.#chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.byteLength;
      if (at === n) break;
    }
    return out;
  }

  #take(n: number): Uint8Array {
    const out = this.#peek(n);
    this.#drop(n);
    // A view into a chunk is copied: the frame must not pin the whole chunk it came in.
    return out.buffer.byteLength !== n ? out.slice() : out;
  }

  #drop(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const first = this.#chunks[0];
      if (first.byteLength <= n) {
        this.#chunks.shift();
        n -= first.byteLength;
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

/** One frame: its header, then `parts` as its body (a request's parts start with its protocol). */
export function encodeFrame(kind: number, id: number, parts: Uint8Array[]): Uint8Array {
  const bodyLength = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(4 + FIXED + bodyLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, FIXED + bodyLength);
  out[4] = kind;
  view.setUint32(5, id);
  let at = 4 + FIXED;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A request frame: the protocol id's length and bytes, then the request body. */
export function encodeRequest(id: number, protocol: string, body: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(protocol);
  return encodeFrame(REQUEST, id, [Uint8Array.of(name.byteLength), name, body]);
}

/** Writes one frame whole, after any backlog has drained (so the send buffer stays bounded). */
async function write(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (stream.writableNeedsDrain) await stream.onDrain({ signal });
  stream.send(bytes);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

interface Pending {
  maxResponse: number;
  resolve: (body: Uint8Array) => void;
  reject: (err: Error) => void;
}

/**
 * The requester's end: many requests in flight at once, each answered by id. Once the stream ends
 * every request still waiting fails with ChannelClosedError, and `open` turns false for good.
 */
export class ChannelClient {
  readonly #stream: Stream;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(stream: Stream) {
    this.#stream = stream;
    const parser = new FrameParser(
      (h) => this.#decide(h),
      (h, body) => this.#pending.get(h.id)?.resolve(body),
    );
    stream.addEventListener('message', (evt) => {
      try {
        parser.push(evt.data);
      } catch (err) {
        stream.abort(asError(err));
      }
    });
    stream.addEventListener(
      'close',
      (evt) => this.#end(evt.error ?? new Error('the peer closed the channel')),
      { once: true },
    );
    // The responder never ends its side while serving: its half-close is a close.
    stream.addEventListener(
      'remoteCloseWrite',
      () => stream.abort(new Error('channel half-closed')),
      {
        once: true,
      },
    );
  }

  get open(): boolean {
    return this.#closed === undefined && this.#stream.status === 'open';
  }

  /**
   * Writes the request, then gives the promise of its answer (the responder's envelope bytes),
   * wrapped so that awaiting the write does not wait for the answer. Aborting `signal` sends a
   * cancel and rejects the answer with the signal's reason. Throws ChannelClosedError when the
   * channel is closed and the request was not written.
   */
  async send(
    protocol: string,
    body: Uint8Array,
    maxResponse: number,
    signal: AbortSignal,
  ): Promise<{ answer: Promise<Uint8Array> }> {
    if (!this.open) throw new ChannelClosedError('channel closed', { cause: this.#closed });
    signal.throwIfAborted();
    const id = this.#newId();
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      const done = (): void => {
        this.#pending.delete(id);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
        if (this.open) {
          try {
            this.#stream.send(encodeFrame(CANCEL, id, []));
          } catch {
            // Closing: the responder learns from the close instead.
          }
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        maxResponse,
        resolve: (b) => {
          done();
          resolve(b);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
    });
    // Whoever awaits it later sees its failure; until then it is not an unhandled rejection.
    answer.catch(() => undefined);
    try {
      await write(this.#stream, encodeRequest(id, protocol, body), signal);
    } catch (err) {
      this.#pending.get(id)?.reject(asError(err));
      // Not written: a caller may try again on another channel.
      throw this.open
        ? err
        : new ChannelClosedError('channel closed', { cause: this.#closed ?? err });
    }
    return { answer };
  }

  #newId(): number {
    let id = this.#nextId;
    while (this.#pending.has(id)) id = id === MAX_ID ? 1 : id + 1;
    this.#nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  #decide(h: FrameHeader): boolean {
    if (h.kind !== RESPONSE) throw new ChannelProtocolError('a responder sent a request or cancel');
    const p = this.#pending.get(h.id);
    // An answer to a request given up on (or never made) is skipped.
    if (p === undefined) return false;
    if (h.bodyLength > p.maxResponse) {
      p.reject(
        new ChannelResponseTooLargeError(
          `response of ${h.bodyLength} bytes exceeds ${p.maxResponse}`,
        ),
      );
      return false;
    }
    return true;
  }

  #end(err: Error): void {
    if (this.#closed !== undefined) return;
    this.#closed = err;
    for (const p of [...this.#pending.values()]) {
      p.reject(new ChannelClosedError(`channel closed: ${err.message}`, { cause: err }));
    }
  }
}

/** What the responder does with a request, by its header (see ChannelServer). */
export type Admission =
  | { serve: true }
  /** Answered at once with { error: code } (the body is skipped). */
  | { serve: false; code: string };

export interface ChannelServerOptions {
  /** Judges a request by its header, before its body is read. */
  admit: (protocol: string, bodyLength: number) => Admission;
  /**
   * Serves one request; resolves with the envelope to send back, or undefined to send nothing
   * (the requester left: `gone` fired). Never rejects.
   */
  serve: (protocol: string, body: Uint8Array, gone: AbortSignal) => Promise<Uint8Array | undefined>;
  /** Requests served at once; more wait in the stream (the peer's flow control) until one ends. */
  maxInFlight: number;
  /** How long an answer may wait for the requester to read earlier ones. */
  writeTimeoutMs: number;
  /** When the channel is closed for a protocol violation. */
  onViolation: (detail: string) => void;
  /** A failure writing an answer (the requester not reading, the stream gone). */
  onWriteFailure: (detail: string) => void;
}

/** The responder's end of a requester's channel. */
export class ChannelServer {
  readonly #stream: Stream;
  readonly #opts: ChannelServerOptions;
  readonly #parser: FrameParser;
  /** Requests being served, by id: aborting one tells its handler the requester left. */
  readonly #inFlight = new Map<number, AbortController>();
  #paused = false;

  constructor(stream: Stream, opts: ChannelServerOptions) {
    this.#stream = stream;
    this.#opts = opts;
    this.#parser = new FrameParser(
      (h) => this.#decide(h),
      (h, body) => this.#start(h, body),
    );
    stream.addEventListener('message', (evt) => {
      try {
        this.#parser.push(evt.data);
      } catch (err) {
        opts.onViolation(`${asError(err).message}`);
        stream.abort(asError(err));
      }
    });
    stream.addEventListener(
      'close',
      () => {
        for (const c of this.#inFlight.values())
          c.abort(new DOMException('channel closed', 'AbortError'));
        this.#inFlight.clear();
      },
      { once: true },
    );
  }

  #decide(h: FrameHeader): boolean {
    if (h.kind === RESPONSE) throw new ChannelProtocolError('a requester sent a response');
    if (h.kind === CANCEL) {
      this.#inFlight.get(h.id)?.abort(new DOMException('requester cancelled', 'AbortError'));
      return false;
    }
    if (this.#inFlight.has(h.id))
      throw new ChannelProtocolError(`request id ${h.id} reused while in flight`);
    const admission = this.#opts.admit(h.protocol, h.bodyLength);
    if (!admission.serve) {
      this.#answer(h.id, refusalEnvelope(admission.code));
      return false;
    }
    this.#inFlight.set(h.id, new AbortController());
    return true;
  }

  #start(h: FrameHeader, body: Uint8Array): void {
    const gone = this.#inFlight.get(h.id);
    if (gone === undefined) return;
    // Full: the frames that follow wait (in the stream, under the peer's flow control).
    this.#maybePause();
    void this.#opts
      .serve(h.protocol, body, gone.signal)
      .then((envelope) => {
        if (envelope !== undefined && !gone.signal.aborted) this.#answer(h.id, envelope);
      })
      .finally(() => {
        if (this.#inFlight.get(h.id) === gone) this.#inFlight.delete(h.id);
        this.#maybeResume();
      });
  }

  #answer(id: number, envelope: Uint8Array): void {
    if (this.#stream.status !== 'open') return;
    const bytes = encodeFrame(RESPONSE, id, [envelope]);
    if (!this.#stream.writableNeedsDrain) {
      try {
        this.#stream.send(bytes);
      } catch {
        // Closing under us: the requester learns from the close.
      }
      return;
    }
    write(this.#stream, bytes, AbortSignal.timeout(this.#opts.writeTimeoutMs)).catch(
      (err: unknown) => {
        if (this.#stream.status !== 'open') return;
        this.#opts.onWriteFailure(`answer ${id}: ${asError(err).message}`);
        // A requester that does not read its answers loses its channel (and what it had asked).
        this.#stream.abort(asError(err));
      },
    );
  }

  #maybePause(): void {
    if (this.#paused || this.#inFlight.size < this.#opts.maxInFlight) return;
    this.#paused = true;
    this.#parser.hold();
    try {
      this.#stream.pause();
    } catch {
      // Its readable end is closing: nothing more will come.
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#inFlight.size >= this.#opts.maxInFlight) return;
    this.#paused = false;
    // What is buffered first: it may fill the server again (and pause it again).
    this.#parser.release();
    if (this.#paused) return;
    try {
      this.#stream.resume();
    } catch {
      // Its readable end is closing: nothing more will come.
    }
  }
}
