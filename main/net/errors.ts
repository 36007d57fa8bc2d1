// Typed errors of the network layer: a stable code the node can map to an API error or a sentence.

/**
 * Why a request failed.
 * - `unreachable`: no connection could be made (no known address, dial refused or failed, the
 *   Noise handshake found another peer at the address, or the deadline passed while dialling).
 * - `timeout`: the peer was reached but the exchange did not finish before the deadline (or the
 *   caller's signal aborted it).
 * - `refused`: the peer dropped the request (not allowed, oversized, malformed, its handler failed,
 *   its response would be too large, or it does not serve the protocol); `remoteCode` says which
 *   when the peer said so.
 * - `bad_response`: the response was not a JSON object in the expected envelope.
 * - `too_large`: our request exceeds our own limit, or the response exceeds `maxResponseBytes`.
 * - `bad_request`: the caller passed something unusable (not a JSON object, a bad peer id or
 *   address, ourselves as the target).
 * - `stopped`: the host is not running (or stopped during the request).
 * - `listen_failed`: start() could not listen on any of the configured direct addresses.
 */
export type NetErrorCode =
  | 'unreachable'
  | 'timeout'
  | 'refused'
  | 'bad_response'
  | 'too_large'
  | 'bad_request'
  | 'stopped'
  | 'listen_failed';

export class NetError extends Error {
  readonly code: NetErrorCode;
  /** The refusal code the remote sent (`not_allowed`, `oversized`, …), when it sent one. */
  readonly remoteCode: string | undefined;
  constructor(
    code: NetErrorCode,
    message: string,
    opts: { remoteCode?: string; cause?: unknown } = {},
  ) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NetError';
    this.code = code;
    this.remoteCode = opts.remoteCode;
  }
}

/** Identity key and peer id problems (bad bytes, a key type the custodian identity cannot be). */
export type IdentityErrorCode = 'bad_key' | 'unsupported_key_type' | 'bad_peer_id';

export class IdentityError extends Error {
  readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'IdentityError';
    this.code = code;
  }
}
