// The SSH agent on a Unix socket (0600): answers OpenSSH's agent protocol with the group's Ed25519
// key. Every signature is a request the group approves; this file only speaks the protocol, bounds
// what a client may send, and remembers each connection's session-bind.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import {
  encodeSshMessage,
  readSshMessage,
  type SshBind,
  type SshMessageInput,
} from '../shared/requests/ssh.js';
import { RequestParamError } from '../shared/requests/types.js';
import {
  MAX_FRAME,
  agentAnswer,
  frame,
  parseAgentRequest,
  takeFrames,
} from '../shared/ssh/agent.js';
import { verifyHostSignature } from '../shared/ssh/signed.js';
import {
  SshFormatError,
  ed25519Blob,
  ed25519SignatureBlob,
  equalBytes,
  parsePublicKey,
  parseSignature,
} from '../shared/ssh/wire.js';

/** What the agent asks of the node: the key to offer, and a signature the group approved. */
export interface AgentBackend {
  /** The group's Ed25519 public key (32 bytes) and the comment to list it with (its name). */
  key: Uint8Array;
  comment: string;
  /**
   * Makes a request for these exact bytes and waits for it: the 64-byte signature once approved,
   * undefined when it is denied, expires or fails. Throwing also answers the client with failure.
   */
  sign(message: SshMessageInput, what: string): Promise<Uint8Array | undefined>;
  /** One line about what the agent did (no secrets ever pass through here). */
  log?(line: string): void;
}

export interface AgentOptions {
  socket: string;
  backend: AgentBackend;
  /** Clients connected at once (default 16); more are closed at once. */
  maxConnections?: number;
  /** Session-binds one connection may make (OpenSSH allows 16). */
  maxBinds?: number;
}

export interface RunningAgent {
  path: string;
  close(): Promise<void>;
}

/** Verifies an RSA host key's signature with the platform's crypto (the pure code cannot). */
function verifyRsa(hostKey: Uint8Array, sessionId: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = parsePublicKey(hostKey, 'host key');
    if (key.type !== 'ssh-rsa') return false;
    const sig = parseSignature(signature, 'host key signature');
    const hash = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512' }[sig.alg];
    if (!hash) return false;
    const unsigned = (b: Uint8Array) => {
      let v = b;
      while (v.length > 1 && v[0] === 0) v = v.subarray(1);
      return Buffer.from(v).toString('base64url');
    };
    const pub = createPublicKey({
      key: { kty: 'RSA', e: unsigned(key.fields[0]!), n: unsigned(key.fields[1]!) },
      format: 'jwk',
    });
    return nodeVerify(hash, sessionId, pub, sig.sig);
  } catch {
    return false;
  }
}

/** Whether a session-bind's signature verifies, as OpenSSH's agent checks it. */
export function bindVerifies(b: SshBind): boolean {
  const v = verifyHostSignature(b.hostKey, b.sessionId, b.signature);
  return v === 'valid' || (v === 'unchecked' && verifyRsa(b.hostKey, b.sessionId, b.signature));
}

/** The socket path is free, or holds a dead agent's socket (removed); anything else is refused. */
async function claimPath(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new Error(`${path} exists and is not a socket: choose another --socket`);
  const live = await new Promise<boolean>((done) => {
    const c = createConnection(path);
    c.once('connect', () => (c.destroy(), done(true)));
    c.once('error', () => done(false));
  });
  if (live) throw new Error(`an agent is already listening on ${path}`);
  unlinkSync(path);
}

const WHAT = { login: 'a login', sshsig: 'an SSH signature', cert: 'a certificate' } as const;

export async function startSshAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { backend } = opts;
  const maxConnections = opts.maxConnections ?? 16;
  const maxBinds = opts.maxBinds ?? 16;
  const log = (line: string) => backend.log?.(line);
  const keyBlob = ed25519Blob(backend.key);
  const sockets = new Set<Socket>();

  const server: Server = createServer((sock) => {
    if (sockets.size >= maxConnections) {
      log(`refused a connection: ${maxConnections} clients are connected already`);
      sock.destroy();
      return;
    }
    sockets.add(sock);
    let buf: Uint8Array = new Uint8Array(0);
    const binds: SshBind[] = [];
    // Messages are answered one at a time, in order, as the protocol requires.
    let queue = Promise.resolve();
    let closed = false;
    sock.on('close', () => {
      closed = true;
      sockets.delete(sock);
    });
    sock.on('error', () => sock.destroy());

    const send = (body: Uint8Array) => {
      if (!closed) sock.write(frame(body));
    };

    const handle = async (body: Uint8Array): Promise<void> => {
      let req;
      try {
        req = parseAgentRequest(body);
      } catch (e) {
        log(`malformed message: ${(e as Error).message}`);
        send(agentAnswer.failure());
        return;
      }
      switch (req.type) {
        case 'identities':
          send(agentAnswer.identities([{ blob: keyBlob, comment: backend.comment }]));
          return;
        case 'session-bind': {
          const b: SshBind = {
            hostKey: req.hostKey,
            sessionId: req.sessionId,
            signature: req.signature,
            forwarding: req.forwarding,
          };
          if (binds.length >= maxBinds || !bindVerifies(b)) {
            log(
              binds.length >= maxBinds
                ? 'refused a session-bind: too many on this connection'
                : "refused a session-bind: the host key's signature does not verify",
            );
            send(agentAnswer.failure());
            return;
          }
          binds.push(b);
          send(agentAnswer.success());
          return;
        }
        case 'extension':
          send(agentAnswer.failure());
          return;
        case 'unsupported':
          send(agentAnswer.failure());
          return;
        case 'sign': {
          if (!equalBytes(req.key, keyBlob)) {
            send(agentAnswer.failure());
            return;
          }
          const message: SshMessageInput = { key: backend.key, data: req.data };
          let what: string;
          try {
            // Read here first with the same code every approver runs: unknown bytes never become
            // a request. The last session-bind says which server a login is for.
            const type = readSshMessage(encodeSshMessage(message)).signed.type;
            const bind = binds.at(-1);
            if (type === 'login' && bind) {
              message.bind = bind;
              readSshMessage(encodeSshMessage(message));
            }
            what = WHAT[type];
          } catch (e) {
            if (e instanceof RequestParamError || e instanceof SshFormatError) {
              log(`refused to sign: ${e.message}`);
              send(agentAnswer.failure());
              return;
            }
            throw e;
          }
          let sig: Uint8Array | undefined;
          try {
            sig = await backend.sign(message, what);
          } catch (e) {
            log(`signing ${what} failed: ${(e as Error).message}`);
          }
          if (!sig) {
            send(agentAnswer.failure());
            return;
          }
          send(agentAnswer.signature(ed25519SignatureBlob(sig)));
          return;
        }
      }
    };

    sock.on('data', (chunk: Buffer) => {
      if (closed) return;
      if (buf.length + chunk.length > MAX_FRAME + 4 + 4096) {
        log('closed a connection that sent more than a frame at once');
        sock.destroy();
        return;
      }
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      let taken: { frames: Uint8Array[]; rest: Uint8Array };
      try {
        taken = takeFrames(joined);
      } catch (e) {
        log(`closed a connection: ${(e as Error).message}`);
        sock.destroy();
        return;
      }
      buf = taken.rest.slice();
      for (const f of taken.frames) {
        const body = f.slice();
        queue = queue
          .then(() => (closed ? undefined : handle(body)))
          .catch((e: unknown) => {
            log(`agent error: ${(e as Error).message}`);
            send(agentAnswer.failure());
          });
      }
    });
  });

  await claimPath(opts.socket);
  // The socket is created under a umask that leaves it to its owner alone, then chmod 0600 for sure.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(opts.socket, () => {
        server.off('error', fail);
        done();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(opts.socket, 0o600);
  server.on('error', (e) => log(`agent socket error: ${e.message}`));

  return {
    path: opts.socket,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}
