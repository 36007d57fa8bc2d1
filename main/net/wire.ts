// Wire format of the request/response protocols and the small helpers every exchange uses:
// length-prefixed JSON frames with size limits, deadlines, and error classification.
//
// Between two hosts of this version, exchanges go over one long-lived stream per connection
// (channel.ts), each framed with an id; the envelopes are the same. With a peer that serves no
// channel, one stream carries one exchange:
//   requester → { …request object… }            (one frame, then the requester closes its write side)
//   responder → { "ok": <handler result> }      (one frame, then close)
//            or { "error": "<refusal code>" }   (not_allowed, oversized, malformed, handler_error,
//                                                timeout, response_oversized)
// A frame is an unsigned-varint length followed by that many bytes of UTF-8 JSON.
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';

export const DEFAULT_MAX_BYTES = 1 << 20;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** A varint length prefix takes at most 10 bytes. */
const PREFIX_SLACK = 10;
/**
 * Bytes that may arrive beyond one frame before the stream is reset: enough that a request a
 * little over the limit is still answered with `{ error: 'oversized' }` (the length prefix is
 * checked first), small enough to bound what a peer can make us hold.
 */
const BUFFER_SLACK = 64 * 1024;

/** Refusal codes a responder sends in `{ error }`, also the drop reasons it counts. */
export type RefusalCode =
  'not_allowed' | 'oversized' | 'malformed' | 'handler_error' | 'timeout' | 'response_oversized';

const REMOTE_CODE = /^[a-z_]{1,32}$/;

/**
 * Frames on a stream with a hard cap: a length prefix above `maxBytes` fails before the payload is
 * read, and the read buffer is bounded, so a peer cannot make us hold much more than one frame.
 */
export function frames(stream: Stream, maxBytes: number): LengthPrefixedStream<Stream> {
  return lpStream(stream, {
    maxDataLength: maxBytes,
    maxBufferSize: maxBytes + PREFIX_SLACK + BUFFER_SLACK,
  });
}

/** A responder's refusal envelope, `{ "error": code }` (a refusal code, or a channel's own). */
export function refusalEnvelope(code: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ error: code }));
}

/** JSON-encodes a value; undefined when it has no JSON form (BigInt, cycles, functions). */
export function encodeJson(value: unknown): Uint8Array | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return undefined;
  }
  return text === undefined ? undefined : new TextEncoder().encode(text);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A frame as @libp2p/utils returns it (a Uint8ArrayList; typed by shape, as several copies exist). */
export interface FrameBytes {
  subarray(): Uint8Array;
}

/** Decodes a frame that must hold a JSON object; undefined when it does not. */
export function decodeObject(frame: FrameBytes): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(frame.subarray()));
  } catch {
    return undefined;
  }
  return isPlainObject(value) ? value : undefined;
}

export type Response =
  { kind: 'ok'; value: unknown } | { kind: 'error'; code: string } | { kind: 'bad' };

/** Reads a responder's envelope. */
export function parseResponse(frame: FrameBytes): Response {
  const obj = decodeObject(frame);
  if (obj === undefined) return { kind: 'bad' };
  if (Object.hasOwn(obj, 'error')) {
    const code = obj.error;
    return typeof code === 'string' && REMOTE_CODE.test(code)
      ? { kind: 'error', code }
      : { kind: 'bad' };
  }
  if (Object.hasOwn(obj, 'ok')) return { kind: 'ok', value: obj.ok };
  return { kind: 'bad' };
}

/** What went wrong while reading a frame, from the errors @libp2p/utils and the muxer throw. */
export function readFailure(err: unknown): 'oversized' | 'malformed' | 'reset' | 'closed' {
  const name = err instanceof Error ? err.name : '';
  switch (name) {
    case 'InvalidDataLengthError': // length prefix above maxDataLength
    case 'InvalidDataLengthLengthError': // length prefix itself too long
    case 'StreamBufferError': // more bytes arrived than one frame may have
    case 'ChannelResponseTooLargeError': // a channel's answer above the request's limit (channel.ts)
      return 'oversized';
    case 'InvalidMessageLengthError':
    case 'UnexpectedEOFError': // the peer closed mid-frame, or before sending one
      return 'malformed';
    case 'StreamResetError':
    case 'StreamAbortedError':
      return 'reset';
    default:
      return 'closed';
  }
}

/**
 * An AbortSignal that fires after `ms` or when any parent fires, remembering which; `clear()`
 * releases the timer and the parent listeners (call it in `finally`).
 */
export class Deadline {
  readonly signal: AbortSignal;
  #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unlisten: Array<() => void> = [];
  #firedBy: AbortSignal | 'timer' | undefined;

  constructor(ms: number, parents: ReadonlyArray<AbortSignal | undefined> = []) {
    this.signal = this.#controller.signal;
    for (const parent of parents) {
      if (parent === undefined) continue;
      if (parent.aborted) {
        this.#fire(parent);
        return;
      }
      const onAbort = (): void => this.#fire(parent);
      parent.addEventListener('abort', onAbort, { once: true });
      this.#unlisten.push(() => parent.removeEventListener('abort', onAbort));
    }
    this.#timer = setTimeout(() => this.#fire('timer'), ms);
    // A forgotten deadline must not keep the process alive.
    this.#timer.unref?.();
  }

  /** What aborted the signal: 'timer', one of the parents, or undefined while still running. */
  get firedBy(): AbortSignal | 'timer' | undefined {
    return this.#firedBy;
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const unlisten of this.#unlisten.splice(0)) unlisten();
  }

  #fire(by: AbortSignal | 'timer'): void {
    if (this.#firedBy !== undefined) return;
    this.#firedBy = by;
    this.clear();
    const reason =
      by === 'timer'
        ? new DOMException('deadline passed', 'TimeoutError')
        : (by.reason ?? new DOMException('aborted', 'AbortError'));
    this.#controller.abort(reason);
  }
}

/** Settles with the promise, or rejects with the signal's reason when it aborts first. */
export function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
