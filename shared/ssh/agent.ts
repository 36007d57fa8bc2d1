// The OpenSSH agent protocol (draft-miller-ssh-agent, PROTOCOL.agent): the messages a client sends
// and the answers the Conclave agent gives. Framing and message bodies only; the socket is main's.
import { SshFormatError, SshReader, SshWriter, malformed } from './wire.js';

export const AGENT = {
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  EXTENSION: 27,
} as const;

/** Sign request flags (PROTOCOL.agent): RSA hash choices; meaningless for Ed25519 keys. */
export const SIGN_FLAGS = { RSA_SHA2_256: 2, RSA_SHA2_512: 4 } as const;

/** The largest frame the agent accepts (a certificate with many principals still fits). */
export const MAX_FRAME = 256 * 1024;

export type AgentRequest =
  | { type: 'identities' }
  | { type: 'sign'; key: Uint8Array; data: Uint8Array; flags: number }
  | {
      type: 'session-bind';
      hostKey: Uint8Array;
      sessionId: Uint8Array;
      signature: Uint8Array;
      forwarding: boolean;
    }
  | { type: 'extension'; name: string }
  | { type: 'unsupported'; code: number };

/**
 * Splits complete frames off the front of a buffer: `frames` are their bodies, `rest` what is left
 * for the next read. A frame longer than MAX_FRAME (or empty) throws before it is buffered.
 */
export function takeFrames(buf: Uint8Array): { frames: Uint8Array[]; rest: Uint8Array } {
  const frames: Uint8Array[] = [];
  let p = 0;
  while (buf.length - p >= 4) {
    const n = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
    if (n === 0 || n > MAX_FRAME) malformed(`agent frame of ${n} bytes (1..${MAX_FRAME} allowed)`);
    if (buf.length - p - 4 < n) break;
    frames.push(buf.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  return { frames, rest: buf.subarray(p) };
}

/** Prefixes a message body with its length. */
export function frame(body: Uint8Array): Uint8Array {
  return new SshWriter().string(body).bytes();
}

/** Reads one client message (a frame's body). */
export function parseAgentRequest(body: Uint8Array): AgentRequest {
  const r = new SshReader(body, 'agent message');
  const code = r.byte('message type');
  switch (code) {
    case AGENT.REQUEST_IDENTITIES:
      r.end();
      return { type: 'identities' };
    case AGENT.SIGN_REQUEST: {
      const key = r.string('key blob', 16 * 1024);
      const data = r.string('data to sign', MAX_FRAME);
      const flags = r.u32('flags');
      r.end();
      return { type: 'sign', key, data, flags };
    }
    case AGENT.EXTENSION: {
      const name = r.text('extension name', 256);
      if (name !== 'session-bind@openssh.com') return { type: 'extension', name };
      const hostKey = r.string('host key', 16 * 1024);
      const sessionId = r.string('session id', 128);
      const signature = r.string('signature', 16 * 1024);
      const forwarding = r.bool('is_forwarding');
      r.end();
      return { type: 'session-bind', hostKey, sessionId, signature, forwarding };
    }
    default:
      return { type: 'unsupported', code };
  }
}

/** The client side of the same messages (tests, and a client of another agent). */
export const agentRequest = {
  identities: (): Uint8Array => Uint8Array.of(AGENT.REQUEST_IDENTITIES),
  sign: (key: Uint8Array, data: Uint8Array, flags = 0): Uint8Array =>
    new SshWriter().byte(AGENT.SIGN_REQUEST).string(key).string(data).u32(flags).bytes(),
  sessionBind: (
    hostKey: Uint8Array,
    sessionId: Uint8Array,
    signature: Uint8Array,
    forwarding = false,
  ): Uint8Array =>
    new SshWriter()
      .byte(AGENT.EXTENSION)
      .string('session-bind@openssh.com')
      .string(hostKey)
      .string(sessionId)
      .string(signature)
      .bool(forwarding)
      .bytes(),
};

export const agentAnswer = {
  failure: (): Uint8Array => Uint8Array.of(AGENT.FAILURE),
  success: (): Uint8Array => Uint8Array.of(AGENT.SUCCESS),
  identities(keys: { blob: Uint8Array; comment: string }[]): Uint8Array {
    const w = new SshWriter().byte(AGENT.IDENTITIES_ANSWER).u32(keys.length);
    for (const k of keys) w.string(k.blob).string(k.comment);
    return w.bytes();
  },
  signature: (sigBlob: Uint8Array): Uint8Array =>
    new SshWriter().byte(AGENT.SIGN_RESPONSE).string(sigBlob).bytes(),
};

/** Reads an agent's answer (tests). */
export function parseAgentAnswer(
  body: Uint8Array,
):
  | { type: 'failure' | 'success' }
  | { type: 'identities'; keys: { blob: Uint8Array; comment: string }[] }
  | { type: 'signature'; signature: Uint8Array } {
  const r = new SshReader(body, 'agent answer');
  const code = r.byte('message type');
  if (code === AGENT.FAILURE || code === AGENT.SUCCESS) {
    r.end();
    return { type: code === AGENT.FAILURE ? 'failure' : 'success' };
  }
  if (code === AGENT.IDENTITIES_ANSWER) {
    const n = r.u32('key count');
    if (n > 100) malformed(`agent answer: ${n} keys`);
    const keys = [];
    for (let i = 0; i < n; i++)
      keys.push({ blob: r.string('key blob'), comment: r.text('comment') });
    r.end();
    return { type: 'identities', keys };
  }
  if (code === AGENT.SIGN_RESPONSE) {
    const signature = r.string('signature');
    r.end();
    return { type: 'signature', signature };
  }
  throw new SshFormatError('unsupported', `agent answer type ${code}`);
}
