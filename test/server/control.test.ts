// The control socket: the API contract over newline-delimited JSON, with an in-memory fake node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api/index.js';
import {
  callControl,
  controlPath,
  isControlLive,
  MAX_LINE_BYTES,
  serveControl,
  type ControlServer,
} from '../../main/server/control.js';
import { fakeApi, type FakeApi } from './fake-api.js';

const posix = process.platform !== 'win32';

let root: string;
let home: string;
let api: FakeApi;
const servers: ControlServer[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'conclave-ctl-'));
  home = join(root, 'home');
  api = fakeApi();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(root, { recursive: true, force: true });
});

async function serve(h = home, a = api): Promise<ControlServer> {
  const server = await serveControl(h, a);
  servers.push(server);
  return server;
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

/** A raw client: writes `payload`, collects answer lines until the server closes or `count` arrive. */
function raw(
  path: string,
  payload: string | Buffer,
  count: number,
): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((done, fail) => {
    const socket = connect(path);
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`only ${lines.length} answers`)), 5000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
      if (lines.length >= count) {
        clearTimeout(timer);
        socket.destroy();
        done({ lines, closed: false });
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      done({ lines, closed: true });
    });
  });
}

describe('serveControl and callControl', () => {
  it('round-trip a call: the node gets the validated input and the client its result', async () => {
    await serve();
    const view = await callControl(home, 'group.show', { group: '  treasury ' });
    expect(view.name).toBe('treasury');
    expect(api.calls).toEqual([{ method: 'group.show', input: { group: 'treasury' } }]);
    const status = await callControl(home, 'node.status', {});
    expect(status.peerId).toMatch(/^12D3KooW/);
  });

  it('answer an input the schema rejects with bad_input, before the node sees it', async () => {
    await serve();
    const err = await rejection(
      callControl(home, 'group.create', { name: 'x', threshold: 5, size: 3, scheme: 'ed25519' }),
    );
    expect(err.code).toBe('bad_input');
    expect(err.message).toBe('threshold: must be from 2 to size (3), got 5');
    expect(api.calls).toEqual([]);
  });

  it('pass the code and message of an ApiError from the node through', async () => {
    await serve();
    const err = await rejection(callControl(home, 'group.show', { group: 'missing' }));
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('no group "missing"');
  });

  it('turn any other error into internal, with its message and never its stack', async () => {
    const server = await serve();
    const { lines } = await raw(
      server.path,
      `${JSON.stringify({ id: 'x', method: 'group.show', params: { group: 'boom' } })}\n`,
      1,
    );
    expect(lines[0]).toEqual({
      id: 'x',
      error: { code: 'internal', message: 'cannot read properties of undefined' },
    });
  });

  it('answer an unknown method with bad_input', async () => {
    const server = await serve();
    const { lines } = await raw(
      server.path,
      `${JSON.stringify({ id: 7, method: 'group.delete', params: {} })}\n` +
        `${JSON.stringify({ id: 8, method: 'constructor' })}\n`,
      2,
    );
    expect(lines).toEqual([
      { id: 7, error: { code: 'bad_input', message: 'method: unknown method "group.delete"' } },
      { id: 8, error: { code: 'bad_input', message: 'method: unknown method "constructor"' } },
    ]);
  });

  it('answer a line that is not JSON with bad_input and keep the connection', async () => {
    const server = await serve();
    const { lines, closed } = await raw(
      server.path,
      `{not json\n[1]\n{"method":"node.status"}\n${JSON.stringify({ id: 2, method: 'node.status' })}\n`,
      4,
    );
    expect(closed).toBe(false);
    expect(lines.slice(0, 3)).toEqual([
      { id: null, error: { code: 'bad_input', message: 'request: not valid JSON' } },
      { id: null, error: { code: 'bad_input', message: 'request: must be a JSON object' } },
      {
        id: null,
        error: {
          code: 'bad_input',
          message: 'id: must be a string (up to 128 characters) or an integer',
        },
      },
    ]);
    expect(lines[3]).toMatchObject({ id: 2, result: { name: 'alice' } });
  });

  it('answer a line over 1 MiB with an error and close the connection', async () => {
    const server = await serve();
    const big = `{"id":1,"method":"group.join","params":{"invite":"${'a'.repeat(MAX_LINE_BYTES)}"}}\n`;
    const { lines, closed } = await raw(server.path, big, 2);
    expect(closed).toBe(true);
    expect(lines).toEqual([
      {
        id: null,
        error: { code: 'bad_input', message: 'request: line longer than 1048576 bytes' },
      },
    ]);
    expect(api.calls).toEqual([]);
  });

  it('accept a request split across many writes', async () => {
    const server = await serve();
    const line = `${JSON.stringify({ id: 1, method: 'group.list', params: {} })}\n`;
    const result = await new Promise<string>((done) => {
      const socket = connect(server.path);
      socket.setEncoding('utf8');
      socket.on('connect', async () => {
        for (const ch of line) {
          socket.write(ch);
          await new Promise((r) => setImmediate(r));
        }
      });
      socket.on('data', (chunk: string) => {
        socket.destroy();
        done(chunk);
      });
    });
    expect(JSON.parse(result)).toMatchObject({ id: 1, result: [{ name: 'treasury' }] });
  });

  it('answer concurrent requests on one connection as each finishes', async () => {
    const server = await serve();
    const payload =
      `${JSON.stringify({ id: 'wait', method: 'request.wait', params: { id: 'slow', timeoutSec: 5 } })}\n` +
      `${JSON.stringify({ id: 'status', method: 'node.status', params: {} })}\n`;
    const { lines } = await raw(server.path, payload, 2);
    expect(lines.map((l) => l.id)).toEqual(['status', 'wait']);
  });

  it.runIf(posix)('make the home dir 0700 and the socket 0600', async () => {
    const server = await serve();
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(server.path).mode & 0o777).toBe(0o600);
    expect(statSync(server.path).isSocket()).toBe(true);
  });

  it.runIf(posix)('tighten an existing home dir that others could read to 0700', async () => {
    mkdirSync(home, { mode: 0o755 });
    chmodSync(home, 0o755);
    await serve();
    expect(statSync(home).mode & 0o777).toBe(0o700);
  });

  it.runIf(posix)('remove a stale socket left by a node that died', async () => {
    mkdirSync(home, { mode: 0o700 });
    const path = controlPath(home);
    // A process that listens on the socket and is killed before it can clean up.
    const child = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(child.signal).toBe('SIGKILL');
    expect(statSync(path).isSocket()).toBe(true);
    expect(await isControlLive(home)).toBe(false);
    const err = await rejection(callControl(home, 'node.status', {}));
    expect(err.code).toBe('unreachable');

    await serve();
    expect((await callControl(home, 'node.status', {})).name).toBe('alice');
  });

  it('refuse a second server while the first one is live', async () => {
    await serve();
    const err = await rejection(serveControl(home, fakeApi()));
    expect(err.code).toBe('conflict');
    expect(err.message).toBe(`another node is already running in ${home}`);
    // The first one still serves.
    expect(await isControlLive(home)).toBe(true);
    expect((await callControl(home, 'group.list', {})).length).toBe(1);
  });

  it.runIf(posix)('refuse to replace a file at the socket path that is not a socket', async () => {
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(controlPath(home), 'data');
    const err = await rejection(serveControl(home, api));
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/exists and is not a socket/);
  });

  it.runIf(posix)('refuse a home whose socket path is too long for a Unix socket', async () => {
    const err = await rejection(serveControl(join(root, 'x'.repeat(120)), api));
    expect(err.code).toBe('bad_input');
    expect(err.message).toMatch(/use a shorter --home/);
  });

  it('tell the client that no node is running and how to start one', async () => {
    const err = await rejection(callControl(home, 'node.status', {}));
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(
      `no Conclave node is running in ${home}; start one with: conclave --home ${home} start`,
    );
  });

  it('give up at the deadline when the node does not answer', async () => {
    const hanging = fakeApi();
    hanging['node.status'] = () => new Promise(() => {});
    await serve(home, hanging);
    const started = Date.now();
    const err = await rejection(callControl(home, 'node.status', {}, { timeoutMs: 200 }));
    expect(err.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('end a pending call when the server closes', async () => {
    const hanging = fakeApi();
    hanging['request.wait'] = () => new Promise(() => {});
    const server = await serveControl(home, hanging);
    const call = rejection(callControl(home, 'request.wait', { id: 'r', timeoutSec: 60 }));
    await new Promise((r) => setTimeout(r, 100));
    await server.close();
    expect((await call).code).toBe('internal');
    expect(await isControlLive(home)).toBe(false);
  });
});
