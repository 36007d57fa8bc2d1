// The local control socket: serves the API contract to the `conclave` CLI over a Unix domain socket
// in the home dir (a named pipe on Windows), as newline-delimited JSON.
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import {
  ApiError,
  type Api,
  apiErrorFrom,
  type ApiErrorCode,
  type ApiInput,
  type ApiMethod,
  type ApiOutput,
} from '../../shared/api/index.js';
import { isApiMethod, validateInput } from '../../shared/api/schema.js';

/** Longest request line the server reads; a longer one gets an error and the connection closes. */
export const MAX_LINE_BYTES = 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How long `request.wait` may take beyond its own timeout before the client gives up. */
const WAIT_GRACE_MS = 10_000;
/** How long probing an existing socket for a live node may take. */
const PROBE_MS = 2_000;

const isWindows = process.platform === 'win32';

export interface ControlRequest {
  id: string | number;
  method: string;
  params?: unknown;
}

export type ControlResponse =
  | { id: string | number | null; result: unknown }
  | { id: string | number | null; error: { code: ApiErrorCode; message: string } };

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** Where the control socket of the node in `home` lives. */
export function controlPath(home: string): string {
  const abs = resolve(home);
  if (isWindows) {
    const digest = createHash('sha256').update(abs).digest('hex').slice(0, 16);
    return `\\\\.\\pipe\\conclave-${digest}`;
  }
  return join(abs, 'control.sock');
}

function unreachable(home: string): ApiError {
  return new ApiError(
    'unreachable',
    `no Conclave node is running in ${home}; start one with: conclave --home ${home} start`,
  );
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** True when something accepts connections on `path` (a live node), false when nothing does. */
function probe(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(path);
    const finish = (live: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      done(live);
    };
    // A listener that accepts but hangs is still a live process holding the socket.
    const timer = setTimeout(() => finish(true), PROBE_MS);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** True when a node answers on the control socket of `home`. */
export function isControlLive(home: string): Promise<boolean> {
  return probe(controlPath(home));
}

// sun_path holds 108 bytes on Linux and 104 on macOS and the BSDs, each with a final NUL.
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

async function prepareHome(home: string, path: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  if (isWindows) return;
  const info = await stat(home);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new ApiError('conflict', `${home} belongs to another user; use a home dir of your own`);
  }
  // The dir is what keeps other users away from the socket: owner-only, whatever it was before.
  if ((info.mode & 0o777) !== 0o700) await chmod(home, 0o700);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new ApiError(
      'bad_input',
      `the control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter --home`,
    );
  }
  let existing;
  try {
    existing = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!existing.isSocket()) {
    throw new ApiError('conflict', `${path} exists and is not a socket; move it away first`);
  }
  if (await probe(path))
    throw new ApiError('conflict', `another node is already running in ${home}`);
  // Nobody answers: the socket was left behind by a node that died.
  await unlink(path).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
  });
}

function listen(server: Server, path: string, home: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: unknown) => {
      server.off('listening', onListening);
      // Lost a race with another node starting in the same home at the same moment.
      if (errnoCode(err) === 'EADDRINUSE') {
        fail(new ApiError('conflict', `another node is already running in ${home}`));
      } else {
        fail(err);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      done();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

function errorResponse(id: string | number | null, err: unknown): ControlResponse {
  if (err instanceof ApiError) return { id, error: { code: err.code, message: err.message } };
  // Only the message crosses the socket: a stack would show the node's internals to any caller.
  const message = err instanceof Error ? err.message : String(err);
  return { id, error: { code: 'internal', message: message || 'internal error' } };
}

function isRequestId(value: unknown): value is string | number {
  return (
    (typeof value === 'string' && value.length <= 128) ||
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

async function dispatch(api: Api, line: string): Promise<ControlResponse> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (_) {
    return errorResponse(null, new ApiError('bad_input', 'request: not valid JSON'));
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return errorResponse(null, new ApiError('bad_input', 'request: must be a JSON object'));
  }
  const { id, method, params } = request as Record<string, unknown>;
  if (!isRequestId(id)) {
    return errorResponse(
      null,
      new ApiError('bad_input', 'id: must be a string (up to 128 characters) or an integer'),
    );
  }
  try {
    if (!isApiMethod(method)) {
      const name = typeof method === 'string' ? `"${method.slice(0, 64)}"` : String(method);
      throw new ApiError('bad_input', `method: unknown method ${name}`);
    }
    const input = validateInput(method, params ?? {});
    const call = api[method] as (input: ApiInput<ApiMethod>) => Promise<ApiOutput<ApiMethod>>;
    const result = await call.call(api, input);
    return { id, result };
  } catch (err) {
    return errorResponse(id, err);
  }
}

function send(socket: Socket, response: ControlResponse): void {
  if (socket.destroyed || !socket.writable) return;
  let line: string;
  try {
    line = JSON.stringify(response);
  } catch (err) {
    // A result JSON cannot carry (a BigInt, a cycle) is the node's bug; the caller still gets an answer.
    line = JSON.stringify(errorResponse(response.id, err));
  }
  socket.write(`${line}\n`);
}

/** Reads newline-delimited JSON requests from one client and answers each as soon as it is done. */
function serveConnection(socket: Socket, api: Api): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, nl);
      start = nl + 1;
      if (pendingBytes + part.length > MAX_LINE_BYTES) return tooLong();
      const line = Buffer.concat([...pending, part]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      if (line.trim() === '') continue;
      // Requests run concurrently: a long request.wait must not hold up the next request.
      void dispatch(api, line).then((response) => send(socket, response));
    }
    const rest = chunk.subarray(start);
    if (pendingBytes + rest.length > MAX_LINE_BYTES) return tooLong();
    if (rest.length > 0) {
      pending.push(rest);
      pendingBytes += rest.length;
    }
  });
  socket.on('error', () => socket.destroy());

  function tooLong(): void {
    pending = [];
    pendingBytes = 0;
    const err = new ApiError('bad_input', `request: line longer than ${MAX_LINE_BYTES} bytes`);
    send(socket, errorResponse(null, err));
    socket.removeAllListeners('data');
    socket.end();
    // A client that keeps writing instead of reading must not hold the connection open.
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/**
 * Serves `api` on the control socket of `home` (created owner-only). Removes a socket left by a
 * node that died; refuses with ApiError('conflict') while a live node answers on it.
 */
export async function serveControl(home: string, api: Api): Promise<ControlServer> {
  const abs = resolve(home);
  const path = controlPath(abs);
  await prepareHome(abs, path);
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    serveConnection(socket, api);
  });
  await listen(server, path, abs);
  if (!isWindows) {
    // The socket is born with the umask's mode; the 0700 home dir keeps others out until then.
    await chmod(path, 0o600);
  }
  let closing: Promise<void> | undefined;
  return {
    path,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        // Clients blocked in request.wait would otherwise keep the server open.
        for (const socket of connections) socket.destroy();
      });
      return closing;
    },
  };
}

export interface CallOptions {
  /** Deadline for the whole call; default 30 s, and for request.wait its timeout plus 10 s. */
  timeoutMs?: number;
}

function deadlineFor<M extends ApiMethod>(
  method: M,
  params: ApiInput<M>,
  opts: CallOptions,
): number {
  if (opts.timeoutMs !== undefined) return opts.timeoutMs;
  if (method === 'request.wait') {
    const { timeoutSec } = params as ApiInput<'request.wait'>;
    if (typeof timeoutSec === 'number' && Number.isFinite(timeoutSec)) {
      return Math.max(0, timeoutSec) * 1000 + WAIT_GRACE_MS;
    }
  }
  return DEFAULT_TIMEOUT_MS;
}

function toApiError(error: unknown): ApiError {
  return apiErrorFrom(error, 'the node sent no message');
}

/**
 * Calls one API operation on the node running in `home`. Throws ApiError('unreachable') when no
 * node is running there, ApiError('timeout') when it does not answer in time, and the node's own
 * ApiError when the operation fails.
 */
export function callControl<M extends ApiMethod>(
  home: string,
  method: M,
  params: ApiInput<M>,
  opts: CallOptions = {},
): Promise<ApiOutput<M>> {
  const abs = resolve(home);
  const timeoutMs = deadlineFor(method, params, opts);
  return new Promise<ApiOutput<M>>((done, fail) => {
    const socket = connect(controlPath(abs));
    let buffered = '';
    let settled = false;
    const settle = (err: ApiError | undefined, result?: ApiOutput<M>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) fail(err);
      else done(result as ApiOutput<M>);
    };
    const timer = setTimeout(() => {
      const seconds = Math.round(timeoutMs / 100) / 10;
      settle(
        new ApiError('timeout', `the node in ${abs} did not answer ${method} within ${seconds} s`),
      );
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      const request: ControlRequest = { id: 1, method, params };
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let response: Partial<Record<'id' | 'result' | 'error', unknown>>;
        try {
          response = JSON.parse(line) as typeof response;
        } catch (_) {
          return settle(new ApiError('internal', `the node in ${abs} sent a malformed answer`));
        }
        // An error about the line itself (id null) is an answer to our only request too.
        if (response.id !== 1 && response.id !== null) continue;
        if ('error' in response) return settle(toApiError(response.error));
        return settle(undefined, response.result as ApiOutput<M>);
      }
    });
    socket.on('error', (err) => {
      const code = errnoCode(err);
      // ENOENT: no socket; ECONNREFUSED: a socket left by a dead node; ENOTSOCK: not ours.
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') {
        settle(unreachable(abs));
      } else {
        settle(new ApiError('unreachable', `cannot reach the node in ${abs}: ${err.message}`));
      }
    });
    socket.on('close', () => {
      settle(
        new ApiError('internal', `the node in ${abs} closed the connection without answering`),
      );
    });
  });
}
