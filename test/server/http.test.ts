// Browser mode's HTTP + WebSocket server: token, Host and Origin checks, static files, the API.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiEvent } from '../../shared/api/index.js';
import {
  MAX_BODY_BYTES,
  OPEN_CODE_TTL_MS,
  serveBrowser,
  startBrowserMode,
  type BrowserServer,
} from '../../main/server/http.js';
import { createFakeNode, type FakeNode } from '../ui/fake-api.js';

let root: string;
let api: FakeNode;
let server: BrowserServer;
let listeners: Set<(e: ApiEvent) => void>;

function push(e: ApiEvent): void {
  for (const cb of listeners) cb(e);
}

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'conclave-http-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>ui</title>');
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, '..', `secret-${root.split('/').pop()}.txt`), 'top secret');
  api = createFakeNode();
  listeners = new Set();
  server = await serveBrowser({
    api,
    onEvent: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    staticDir: root,
  });
});

afterEach(async () => {
  await server.close();
  api.dispose();
  rmSync(join(root, '..', `secret-${root.split('/').pop()}.txt`), { force: true });
  rmSync(root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, so Host, Origin and paths go out exactly as written. */
function http(
  path: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    port?: number;
  } = {},
): Promise<Answer> {
  const port = opts.port ?? server.port;
  return new Promise((done, fail) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { Host: `127.0.0.1:${port}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** The `name=value` part of a Set-Cookie header. */
function cookieOf(res: Answer): string {
  const header = res.headers['set-cookie'];
  const first = Array.isArray(header) ? header[0] : header;
  if (!first) throw new Error(`no Set-Cookie in a ${res.status} answer`);
  return first.split(';')[0]!;
}

/** Signs in with the token in the URL, as a browser does, and returns the cookie it gets. */
async function signIn(port = server.port, token = server.token): Promise<string> {
  return cookieOf(await http(`/?token=${token}`, { port }));
}

let session = '';
beforeEach(async () => {
  session = await signIn();
});
const cookie = () => session;
const bearer = () => ({ Authorization: `Bearer ${server.token}` });

function apiCall(method: string, body: unknown, headers: Record<string, string> = {}) {
  return http(`/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('the token', () => {
  it('url points at 127.0.0.1 with a 32-byte base64url token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(Buffer.from(server.token, 'base64url')).toHaveLength(32);
  });

  it('without it only the token page is served, with a 401', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js']) {
      const res = await http(path);
      expect(res.status).toBe(401);
      expect(res.body).toContain('conclave start --ui');
      expect(res.body).not.toContain('console.log');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    }
  });

  it('without it every API call is refused with a 401', async () => {
    const res = await apiCall('node.status', {});
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('unauthorized');
    expect(api.calls).toHaveLength(0);
  });

  it('a wrong token is refused in the URL, the cookie and the Authorization header', async () => {
    const page = await http('/?token=nope');
    expect(page.status).toBe(401);
    expect(page.body).toContain('not the one');
    expect(page.headers['set-cookie']).toBeUndefined();
    const viaCookie = await apiCall(
      'node.status',
      {},
      { Cookie: `conclave_session_${server.port}=nope` },
    );
    expect(viaCookie.status).toBe(401);
    const viaHeader = await apiCall('node.status', {}, { Authorization: 'Bearer nope' });
    expect(viaHeader.status).toBe(401);
    const fileWithWrongCookie = await http('/index.html', {
      headers: { Cookie: `${cookie()}x` },
    });
    expect(fileWithWrongCookie.status).toBe(401);
    expect(api.calls).toHaveLength(0);
  });

  it('the right token in the URL becomes an HttpOnly SameSite=Strict cookie and leaves the URL', async () => {
    const res = await http(`/?token=${server.token}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(new RegExp(`^conclave_session_${server.port}=[\\w-]{43};`));
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
  });

  it('the cookie is not the token: it is no Bearer credential and says nothing of the token', async () => {
    // Browsers send 127.0.0.1 cookies to every port, so any local server may see this value.
    const value = cookie().split('=')[1]!;
    expect(value).not.toContain(server.token);
    expect((await apiCall('node.status', {}, { Authorization: `Bearer ${value}` })).status).toBe(
      401,
    );
  });

  it("another server does not accept this one's cookie, even started with the same token", async () => {
    const other = await serveBrowser({
      api,
      onEvent: () => () => {},
      staticDir: root,
      token: server.token,
    });
    try {
      const value = cookie().split('=')[1]!;
      const otherSession = await signIn(other.port, other.token);
      const otherName = otherSession.split('=')[0]!;
      // Under its own name, and renamed to the other server's cookie name.
      for (const sent of [cookie(), `${otherName}=${value}`]) {
        const res = await http('/api/node.status', {
          method: 'POST',
          port: other.port,
          headers: { 'Content-Type': 'application/json', Cookie: sent },
          body: '{}',
        });
        expect(res.status).toBe(401);
      }
      // Both cookies in one jar (as one browser holds them): each server picks its own.
      const both = `${cookie()}; ${otherSession}`;
      for (const port of [server.port, other.port]) {
        const page = await http('/', { port, headers: { Cookie: both } });
        expect(page.status).toBe(200);
      }
    } finally {
      await other.close();
    }
  });

  it('with the cookie the UI and the API work', async () => {
    const page = await http('/', { headers: { Cookie: cookie() } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>ui</title>');
    const res = await apiCall('node.status', {}, { Cookie: cookie() });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).name).toBeTypeOf('string');
  });

  it('with the Authorization header the API works', async () => {
    const res = await apiCall('group.list', {}, bearer());
    expect(res.status).toBe(200);
    expect(Array.isArray(JSON.parse(res.body))).toBe(true);
    expect(api.calls.map((c) => c.method)).toEqual(['group.list']);
  });
});

describe('one-time links', () => {
  it('sign a browser in once, without the token, and then refuse', async () => {
    let ended = 0;
    const link = server.oneTimeUrl(() => ended++);
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/open/[\\w-]{43}$`));
    expect(link).not.toContain(server.token);
    const path = new URL(link).pathname;
    // A HEAD (a link checker) does not spend it.
    expect((await http(path, { method: 'HEAD' })).status).toBe(401);
    const first = await http(path);
    expect(first.status).toBe(200);
    expect(first.body).toContain('content="0;url=/"');
    expect(cookieOf(first)).toBe(cookie());
    expect(ended).toBe(1);
    const again = await http(path);
    expect(again.status).toBe(401);
    expect(again.body).toContain('already used or has expired');
    expect(again.headers['set-cookie']).toBeUndefined();
    expect((await http('/open/made-up')).status).toBe(401);
  });

  it('expire after a minute, and end when the server closes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let ended = 0;
      const path = new URL(server.oneTimeUrl(() => ended++)).pathname;
      vi.advanceTimersByTime(OPEN_CODE_TTL_MS + 1);
      expect(ended).toBe(1);
      expect((await http(path)).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
    let ended = 0;
    server.oneTimeUrl(() => ended++);
    await server.close();
    expect(ended).toBe(1);
  });
});

describe('Host and Origin', () => {
  it('refuses a foreign Host (DNS rebinding), even with the token', async () => {
    for (const host of [
      `evil.example:${server.port}`,
      '127.0.0.1',
      `127.0.0.1:${server.port + 1}`,
    ]) {
      const page = await http(`/?token=${server.token}`, { headers: { Host: host } });
      expect(page.status).toBe(421);
      const res = await apiCall('node.status', {}, { ...bearer(), Host: host });
      expect(res.status).toBe(421);
    }
    expect(api.calls).toHaveLength(0);
  });

  it('accepts localhost:<port> as the Host', async () => {
    const res = await apiCall('node.status', {}, { ...bearer(), Host: `localhost:${server.port}` });
    expect(res.status).toBe(200);
  });

  it('refuses API calls from a foreign Origin (CSRF), even with the cookie', async () => {
    for (const origin of ['https://evil.example', `http://127.0.0.1:${server.port + 1}`, 'null']) {
      const res = await apiCall(
        'group.create',
        { name: 'x', threshold: 2, size: 2, scheme: 'ed25519' },
        {
          Cookie: cookie(),
          Origin: origin,
        },
      );
      expect(res.status).toBe(403);
    }
    expect(api.calls).toHaveLength(0);
    const same = await apiCall(
      'node.status',
      {},
      {
        Cookie: cookie(),
        Origin: `http://127.0.0.1:${server.port}`,
      },
    );
    expect(same.status).toBe(200);
  });

  it('refuses API bodies that are not JSON (form posts)', async () => {
    const res = await http('/api/node.status', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(res.status).toBe(415);
  });
});

describe('the API', () => {
  it('validates input and answers bad input with a 400 and the field', async () => {
    const res = await apiCall(
      'group.create',
      { name: '', threshold: 2, size: 3, scheme: 'ed25519' },
      bearer(),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toEqual({
      code: 'bad_input',
      message: 'name: must not be empty',
    });
    expect(api.calls).toHaveLength(0);
  });

  it('refuses an unknown method, a GET and malformed JSON', async () => {
    expect((await apiCall('node.shutdown', {}, bearer())).status).toBe(400);
    expect((await http('/api/node.status', { headers: bearer() })).status).toBe(405);
    const bad = await http('/api/node.status', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toContain('not valid JSON');
  });

  it('maps ApiError codes to HTTP statuses', async () => {
    const res = await apiCall('group.show', { group: 'missing' }, bearer());
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe('not_found');
  });

  it('refuses a backup export the custodian has not confirmed, saying what is at stake', async () => {
    const input = { group: 'treasury', passphrase: 'a long backup passphrase' };
    const res = await apiCall('backup.export', input, { Cookie: cookie() });
    expect(res.status).toBe(428);
    const { error } = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(error.code).toBe('confirmation_required');
    expect(error.message).toMatch(/sign in your place in that group/);
    expect(api.calls.filter((c) => c.method === 'backup.export')).toEqual([]);
    // Confirmed, it reaches the node (which has no such group here).
    const ok = await apiCall('backup.export', { ...input, confirm: true }, { Cookie: cookie() });
    expect(ok.status).not.toBe(428);
    expect(api.calls.filter((c) => c.method === 'backup.export')).toHaveLength(1);
  });

  it(`refuses a body over ${MAX_BODY_BYTES} bytes with a 413`, async () => {
    const big = JSON.stringify({ invite: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await http('/api/group.join', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/json' },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(api.calls).toHaveLength(0);
  });
  it('refuses a streamed (chunked) body that grows past the limit', async () => {
    const res = await http('/api/group.join', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: Buffer.alloc(MAX_BODY_BYTES + 1, 0x20),
    });
    expect(res.status).toBe(413);
    expect(api.calls).toHaveLength(0);
  });
});

describe('static files', () => {
  it('are served with a strict CSP, nosniff and no referrer', async () => {
    const res = await http('/assets/app.js', { headers: { Cookie: cookie() } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/javascript');
    const csp = String(res.headers['content-security-policy']);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self' ws://127.0.0.1:${server.port}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('refuses directory traversal in every spelling', async () => {
    const secret = `secret-${root.split('/').pop()}.txt`;
    for (const path of [
      `/../${secret}`,
      `/assets/../../${secret}`,
      `/%2e%2e/${secret}`,
      `/assets/%2e%2e%2f%2e%2e%2f${secret}`,
      `/..%5c${secret}`,
      `/%00`,
    ]) {
      const res = await http(path, { headers: { Cookie: cookie() } });
      expect([400, 404]).toContain(res.status);
      expect(res.body).not.toContain('top secret');
    }
  });

  it('answers 404 for a missing file and 405 for a POST', async () => {
    expect((await http('/nope.js', { headers: { Cookie: cookie() } })).status).toBe(404);
    expect((await http('/', { method: 'POST', headers: { Cookie: cookie() } })).status).toBe(405);
  });
});

describe('the events WebSocket', () => {
  function connect(
    headers: Record<string, string>,
  ): Promise<{ ws: WebSocket; events: ApiEvent[] }> {
    return new Promise((done, fail) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/events`, { headers });
      const events: ApiEvent[] = [];
      ws.on('message', (data) => events.push(JSON.parse(String(data)) as ApiEvent));
      ws.once('open', () => done({ ws, events }));
      ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', fail);
    });
  }

  it('pushes events to a client with a valid token', async () => {
    const { ws, events } = await connect({
      Cookie: cookie(),
      Origin: `http://127.0.0.1:${server.port}`,
    });
    push({ type: 'group', id: 'g1' });
    push({ type: 'peer', peerId: 'p', online: false });
    await expect.poll(() => events.length).toBe(2);
    expect(events[0]).toEqual({ type: 'group', id: 'g1' });
    ws.close();
  });

  it('refuses an upgrade without a token, with a wrong one, from a foreign Origin or Host', async () => {
    await expect(connect({})).rejects.toThrow('HTTP 401');
    await expect(connect({ Cookie: `conclave_${server.port}=nope` })).rejects.toThrow('HTTP 401');
    await expect(connect({ Cookie: cookie(), Origin: 'https://evil.example' })).rejects.toThrow(
      'HTTP 403',
    );
    await expect(connect({ ...bearer(), Host: `evil.example:${server.port}` })).rejects.toThrow(
      'HTTP 421',
    );
  });

  it('stops pushing once the server closes', async () => {
    const { ws } = await connect(bearer());
    const closed = new Promise((done) => ws.once('close', done));
    await server.close();
    await closed;
    expect(listeners.size).toBe(0);
  });
});

describe('startBrowserMode', () => {
  it('says to build the UI when the renderer is missing', async () => {
    const node = { api, onEvent: () => () => {} };
    await expect(startBrowserMode(node, { staticDir: join(root, 'nothing') })).rejects.toThrow(
      'run npm run build:ui',
    );
  });

  it('serves a built renderer', async () => {
    const node = { api, onEvent: () => () => {} };
    const started = await startBrowserMode(node, { staticDir: root });
    try {
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    } finally {
      await started.close();
    }
  });
});
