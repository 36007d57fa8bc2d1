// Browser mode: serves the renderer and the API contract over HTTP + WebSocket on 127.0.0.1, behind
// a random token (as Jupyter does), with Host and Origin checks against DNS rebinding and CSRF.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { basename, dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ApiError,
  type Api,
  type ApiErrorCode,
  type ApiEvent,
  type ApiInput,
  type ApiMethod,
  type ApiOutput,
} from '../../shared/api/index.js';
import { isApiMethod, validateInput } from '../../shared/api/schema.js';

/** Largest API request body the server reads. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How often idle WebSocket clients are pinged, so dead ones are dropped. */
const PING_MS = 30_000;
/** How long a one-time link (`/open/<code>`) stays valid. */
export const OPEN_CODE_TTL_MS = 60_000;
/** One-time links outstanding at once; issuing more drops the oldest. */
const MAX_OPEN_CODES = 16;

export type EventSource = (cb: (e: ApiEvent) => void) => () => void;

export interface BrowserServerOptions {
  api: Api;
  onEvent: EventSource;
  /** 0 or absent: a free port. */
  port?: number;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  /** For tests: a fixed token instead of a random one. */
  token?: string;
}

export interface BrowserServer {
  /** Open this in a browser: it carries the token, which the server swaps for a cookie. */
  url: string;
  port: number;
  token: string;
  /**
   * A link that signs a browser in once, within OPEN_CODE_TTL_MS, without carrying the token: what
   * a browser opener may see on its command line. `onDone` runs once the link is used, expires or
   * the server closes.
   */
  oneTimeUrl(onDone?: () => void): string;
  close(): Promise<void>;
}

const HTTP_STATUS: Record<ApiErrorCode, number> = {
  bad_input: 400,
  not_found: 404,
  ambiguous: 409,
  conflict: 409,
  not_member: 403,
  not_ready: 409,
  unreachable: 503,
  timeout: 504,
  vault: 500,
  internal: 500,
  confirmation_required: 428,
  keychain_unavailable: 503,
  locked: 423,
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const BASE_HEADERS: OutgoingHttpHeaders = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

// The page shown without a valid token: no script, one hashed inline style, a form that can only
// submit to this server.
const TOKEN_PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;' +
  'color:#1b1f24;background:#fff}@media (prefers-color-scheme:dark){body{color:#e6e8eb;' +
  'background:#15181c}input{color:inherit;background:#22262b}}label{display:block;' +
  'font-weight:600;margin-top:1rem}input{font:inherit;width:100%;box-sizing:border-box;' +
  'padding:.5rem;border:1px solid #767676;border-radius:4px}button{font:inherit;margin-top:1rem;' +
  'padding:.5rem 1rem;border-radius:4px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff}' +
  'code{font-family:ui-monospace,monospace}.error{color:#b42318;font-weight:600}';
const TOKEN_PAGE_STYLE_HASH = createHash('sha256').update(TOKEN_PAGE_STYLE).digest('base64');
const TOKEN_PAGE_CSP =
  `default-src 'none'; style-src 'sha256-${TOKEN_PAGE_STYLE_HASH}'; form-action 'self'; ` +
  `frame-ancestors 'none'; base-uri 'none'`;

const TOKEN_PAGE_ERRORS = {
  none: '',
  wrongToken: 'That token is not the one this node printed. Copy the whole link again.',
  usedLink:
    'That one-time link was already used or has expired (it works once, for a minute). ' +
    'Use the link the node printed instead.',
};

function tokenPage(problem: keyof typeof TOKEN_PAGE_ERRORS): string {
  const error =
    problem === 'none' ? '' : `<p class="error" role="alert">${TOKEN_PAGE_ERRORS[problem]}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Conclave: sign in</title><style>${TOKEN_PAGE_STYLE}</style></head>
<body><main><h1>Conclave</h1>
<p>This page needs the link that <code>conclave start --ui</code> printed when your node started
(it ends in <code>?token=…</code>). Open that link, or paste its token here.</p>${error}
<form method="get" action="/"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
<button type="submit">Open Conclave</button></form></main></body></html>
`;
}

// What `/open/<code>` answers: it sets the cookie, then goes to the app from this origin.
const OPENED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">
<title>Conclave: opening</title><style>${TOKEN_PAGE_STYLE}</style></head>
<body><main><h1>Conclave</h1><p>Opening… <a href="/">Continue</a> if nothing happens.</p></main>
</body></html>
`;

function staticCsp(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

function sameSecret(given: string, expected: string): boolean {
  // Hashing first makes the comparison constant-time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function errorBody(code: ApiErrorCode | 'unauthorized' | 'forbidden', message: string): string {
  return JSON.stringify({ error: { code, message } });
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Serves the renderer in `staticDir` and `api` on 127.0.0.1 (`port`, or a free one). Everything but
 * a small page asking for the token is refused until the browser shows the token.
 */
export async function serveBrowser(opts: BrowserServerOptions): Promise<BrowserServer> {
  const { api } = opts;
  const root = resolve(opts.staticDir);
  const token = opts.token ?? randomBytes(32).toString('base64url');
  let port = 0;
  // Browsers send a 127.0.0.1 cookie to every port, so to any other local server too. The name
  // carries the port, so each node reads only its own; the value is derived from the token and the
  // port, so a cookie leaked to another server is neither the token (no Bearer access, no use on
  // another port) nor accepted by another node, even one started with the same token.
  const cookieName = () => `conclave_session_${port}`;
  const sessionValue = () =>
    createHmac('sha256', token).update(`conclave browser session:${port}`).digest('base64url');
  const sessionCookie = () =>
    `${cookieName()}=${sessionValue()}; HttpOnly; SameSite=Strict; Path=/`;
  // One-time codes for `/open/<code>`: what a browser opener gets instead of the token.
  const openCodes = new Map<string, { timer: NodeJS.Timeout; onDone?: () => void }>();
  const endCode = (code: string): boolean => {
    const entry = openCodes.get(code);
    if (!entry) return false;
    openCodes.delete(code);
    clearTimeout(entry.timer);
    entry.onDone?.();
    return true;
  };
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const hostOk = (req: IncomingMessage) => allowedHosts().has(req.headers.host ?? '');
  const originOk = (req: IncomingMessage) =>
    req.headers.origin === undefined || allowedOrigins().has(req.headers.origin);
  const authorized = (req: IncomingMessage) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return sameSecret(auth.slice(7).trim(), token);
    const cookie = parseCookies(req.headers.cookie).get(cookieName());
    return cookie !== undefined && sameSecret(cookie, sessionValue());
  };

  function send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    headers: OutgoingHttpHeaders,
  ): void {
    res.writeHead(status, {
      ...BASE_HEADERS,
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  function sendJson(res: ServerResponse, status: number, body: string): void {
    send(res, status, body, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    });
  }

  function sendText(res: ServerResponse, status: number, text: string): void {
    send(res, status, `${text}\n`, { 'Content-Type': 'text/plain; charset=utf-8' });
  }

  function sendTokenPage(res: ServerResponse, problem: keyof typeof TOKEN_PAGE_ERRORS): void {
    send(res, 401, tokenPage(problem), {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': TOKEN_PAGE_CSP,
      'Cache-Control': 'no-store',
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostOk(req)) {
      return sendText(res, 421, 'This server answers only to 127.0.0.1 and localhost.');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    } catch (_) {
      return sendText(res, 400, 'Bad request URL.');
    }
    if (url.pathname.startsWith('/api/')) return handleApi(req, res, url);

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'Method not allowed.\n', {
        Allow: 'GET, HEAD',
        'Content-Type': 'text/plain; charset=utf-8',
      });
    }
    if (url.pathname.startsWith('/open/')) {
      // Only a GET spends the code: a HEAD (a link checker, a preview) must not.
      const code = url.pathname.slice('/open/'.length);
      if (req.method !== 'GET' || !endCode(code)) return sendTokenPage(res, 'usedLink');
      // A page rather than a redirect: when the opener was a local file, a redirect would still
      // count as cross-site and the SameSite=Strict cookie would not be sent with it.
      return send(res, 200, OPENED_PAGE, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': TOKEN_PAGE_CSP,
        'Set-Cookie': sessionCookie(),
        'Cache-Control': 'no-store',
      });
    }
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (!sameSecret(given, token)) return sendTokenPage(res, 'wrongToken');
      // Swap the token in the URL for a cookie, and drop it from the address bar and history.
      url.searchParams.delete('token');
      return send(res, 303, '', {
        Location: `${url.pathname}${url.search}`,
        'Set-Cookie': sessionCookie(),
        'Cache-Control': 'no-store',
      });
    }
    if (!authorized(req)) return sendTokenPage(res, 'none');
    return serveStatic(res, url.pathname);
  }

  async function serveStatic(res: ServerResponse, pathname: string): Promise<void> {
    let path: string;
    try {
      path = decodeURIComponent(pathname);
    } catch (_) {
      return sendText(res, 400, 'Bad request path.');
    }
    if (path.includes('\0') || path.includes('\\') || path.split('/').includes('..')) {
      return sendText(res, 400, 'Bad request path.');
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(root, `.${path}`);
    if (file !== root && !file.startsWith(root + sep)) {
      return sendText(res, 400, 'Bad request path.');
    }
    const type = CONTENT_TYPES[extname(file).toLowerCase()];
    if (type === undefined || basename(file).startsWith('.'))
      return sendText(res, 404, 'Not found.');
    let body: Buffer;
    try {
      const info = await stat(file);
      if (!info.isFile()) return sendText(res, 404, 'Not found.');
      body = await readFile(file);
    } catch (_) {
      return sendText(res, 404, 'Not found.');
    }
    send(res, 200, body, {
      'Content-Type': type,
      'Content-Security-Policy': staticCsp(port),
      // Vite names assets by content hash, but index.html must always be fresh.
      'Cache-Control': path.startsWith('/assets/') ? 'max-age=31536000, immutable' : 'no-cache',
    });
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!originOk(req)) {
      return sendJson(res, 403, errorBody('forbidden', 'requests from other sites are refused'));
    }
    if (!authorized(req)) {
      return sendJson(
        res,
        401,
        errorBody('unauthorized', 'open the link that `conclave start --ui` printed'),
      );
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendJson(res, 405, errorBody('bad_input', 'API calls use POST'));
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json') {
      return sendJson(res, 415, errorBody('bad_input', 'the body must be application/json'));
    }
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof HttpRefusal) {
        res.setHeader('Connection', 'close');
        sendJson(res, err.status, errorBody('bad_input', err.message));
        // Stop reading what is left of an oversized body.
        res.once('finish', () => req.destroy());
        return;
      }
      throw err;
    }
    const method = url.pathname.slice('/api/'.length);
    try {
      if (!isApiMethod(method)) {
        throw new ApiError('bad_input', `method: unknown method "${method.slice(0, 64)}"`);
      }
      let params: unknown;
      try {
        params = body.trim() === '' ? {} : JSON.parse(body);
      } catch (_) {
        throw new ApiError('bad_input', 'request: not valid JSON');
      }
      const input = validateInput(method, params);
      const call = api[method] as (input: ApiInput<ApiMethod>) => Promise<ApiOutput<ApiMethod>>;
      const result = await call.call(api, input);
      sendJson(res, 200, JSON.stringify(result));
    } catch (err) {
      if (err instanceof ApiError) {
        return sendJson(res, HTTP_STATUS[err.code], errorBody(err.code, err.message));
      }
      // Only the message leaves the node: a stack would show its internals.
      const message = err instanceof Error && err.message ? err.message : 'internal error';
      sendJson(res, 500, errorBody('internal', message));
    }
  }

  function readBody(req: IncomingMessage): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY_BYTES) {
      return Promise.reject(
        new HttpRefusal(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`),
      );
    }
    return new Promise((done, fail) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.off('data', onData);
          req.pause();
          fail(new HttpRefusal(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => done(Buffer.concat(chunks).toString('utf8')));
      req.once('error', fail);
    });
  }

  // WebSocket /events: one subscription to the node, fanned out to every authorised client.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const clients = new Set<WebSocket>();
  const unsubscribe = opts.onEvent((event) => {
    const data = JSON.stringify(event);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(data);
  });
  const alive = new WeakMap<WebSocket, boolean>();
  const pinger = setInterval(() => {
    for (const ws of clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, PING_MS);
  pinger.unref();

  function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, 'Internal error.');
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostOk(req)) return refuseUpgrade(socket, 421, 'Misdirected Request');
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/events') return refuseUpgrade(socket, 404, 'Not Found');
    if (!originOk(req)) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!authorized(req)) return refuseUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      // Clients only listen; anything they send is ignored.
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => ws.terminate());
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('the browser-mode server has no TCP address');
  }
  port = address.port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    oneTimeUrl(onDone) {
      if (closing) throw new Error('the browser-mode server is closed');
      while (openCodes.size >= MAX_OPEN_CODES) endCode(openCodes.keys().next().value!);
      const code = randomBytes(32).toString('base64url');
      const timer = setTimeout(() => endCode(code), OPEN_CODE_TTL_MS);
      timer.unref();
      openCodes.set(code, { timer, onDone });
      return `http://127.0.0.1:${port}/open/${code}`;
    },
    close() {
      closing ??= new Promise<void>((done) => {
        for (const code of [...openCodes.keys()]) endCode(code);
        unsubscribe();
        clearInterval(pinger);
        for (const ws of clients) ws.terminate();
        wss.close();
        server.close(() => done());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The built renderer next to this module: dist/renderer, from the sources or from dist/main. */
export function defaultStaticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const top = resolve(here, '..', '..');
  return basename(top) === 'dist' ? resolve(top, 'renderer') : resolve(top, 'dist', 'renderer');
}

/** What browser mode needs of a running node. */
export interface BrowserNode {
  api: Api;
  onEvent: EventSource;
}

/**
 * Serves the built renderer and `node`'s API for browser mode (`conclave start --ui`). Print `url`:
 * it carries the token. Throws ApiError('not_ready') when the renderer has not been built.
 */
export async function startBrowserMode(
  node: BrowserNode,
  opts: { port?: number; staticDir?: string } = {},
): Promise<BrowserServer> {
  const staticDir = opts.staticDir ?? defaultStaticDir();
  if (!existsSync(resolve(staticDir, 'index.html'))) {
    throw new ApiError(
      'not_ready',
      `the browser UI is not built (no ${staticDir}/index.html): run npm run build:ui`,
    );
  }
  return serveBrowser({
    api: node.api,
    onEvent: (cb) => node.onEvent(cb),
    port: opts.port,
    staticDir,
  });
}
