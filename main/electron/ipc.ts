// The one IPC router: the API contract served to the app's own window and nobody else. Every call
// is checked for its sender, its method and its input; every answer for secret-looking fields.
import { ApiError, type Api, type ApiEvent, type ApiMethod } from '../../shared/api/index.js';
import {
  API_ERROR_CODES,
  IPC_CHANNELS,
  type IpcResult,
  type ShellEvent,
} from '../../shared/api/ipc-client.js';
import { isApiMethod, validateInput } from '../../shared/api/schema.js';
import type { IpcMainInvokeEventLike, IpcMainLike } from './types.js';

/**
 * Field names that must never leave the node. The contract has none of them; this is the second
 * line, so a future field or a bug that would put key material in an answer fails closed.
 */
const SECRET_KEY = /share|secret|private_?key|seed|passphrase|mnemonic/i;
const MAX_MESSAGE_CHARS = 500;

/** The path of the first secret-looking key in `value` (e.g. `members[2].secretShare`), if any. */
export function findSecretKey(value: unknown, path = 'result'): string | undefined {
  const seen = new Set<object>();
  const walk = (v: unknown, at: string): string | undefined => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return undefined;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], `${at}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    if (v instanceof Map) return walk(Object.fromEntries(v), at);
    for (const [key, child] of Object.entries(v)) {
      if (SECRET_KEY.test(key)) return `${at}.${key}`;
      const found = walk(child, `${at}.${key}`);
      if (found) return found;
    }
    return undefined;
  };
  return walk(value, path);
}

function isApiError(e: unknown): e is ApiError {
  if (e instanceof ApiError) return true;
  // An ApiError from another copy of shared/api (e.g. a second bundle) still carries its code.
  const code = (e as { code?: unknown } | null)?.code;
  return (
    e instanceof Error && e.name === 'ApiError' && API_ERROR_CODES.some((known) => known === code)
  );
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS - 1)}…` : s;
}

function failure(code: ApiError['code'], message: string): IpcResult {
  return { ok: false, error: { code, message: clip(message) } };
}

/** The origin of a URL as `scheme://host[:port]`; `new URL().origin` is "null" for app://. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch (_) {
    return undefined;
  }
}

/** Copies only the fields an event of its type has, so nothing else can ride along. */
export function toApiEvent(e: ApiEvent): ApiEvent | undefined {
  switch (e?.type) {
    case 'group':
      return typeof e.id === 'string' ? { type: 'group', id: e.id } : undefined;
    case 'request':
      return typeof e.id === 'string' ? { type: 'request', id: e.id } : undefined;
    case 'peer':
      return typeof e.peerId === 'string'
        ? { type: 'peer', peerId: e.peerId, online: e.online === true }
        : undefined;
    default:
      return undefined;
  }
}

/** Where main sends things to: the main window's web contents, while it exists. */
export interface WindowTarget {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

export interface ApiRouterOptions {
  api: Api;
  /** The web contents of the app's window; calls from any other are refused. */
  mainWindow(): WindowTarget | undefined;
  /** The renderer's origin (`app://conclave`); calls from frames of other origins are refused. */
  appOrigin: string;
  /** Node events, forwarded to the window; returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void;
  /** One line per refused or failed call (no inputs, no results). */
  log?(line: string): void;
}

export interface ApiRouter {
  /** Handles one invoke as `ipcMain.handle` would; exported for tests. */
  handle(event: IpcMainInvokeEventLike, method: unknown, input: unknown): Promise<IpcResult>;
  /** Sends a shell event (deep link, first run, notification click) to the window. */
  sendShellEvent(e: ShellEvent): boolean;
  dispose(): void;
}

/** Registers `conclave:api` on ipcMain and forwards node events as `conclave:event`. */
export function registerApiRouter(ipcMain: IpcMainLike, opts: ApiRouterOptions): ApiRouter {
  const log = opts.log ?? (() => undefined);

  const senderOk = (event: IpcMainInvokeEventLike): boolean => {
    const win = opts.mainWindow();
    if (!win || win.isDestroyed() || event?.sender?.id !== win.id) return false;
    const frameUrl = event.senderFrame?.url;
    return typeof frameUrl === 'string' && originOf(frameUrl) === opts.appOrigin;
  };

  async function handle(
    event: IpcMainInvokeEventLike,
    method: unknown,
    input: unknown,
  ): Promise<IpcResult> {
    if (!senderOk(event)) {
      log(`ipc: refused a call from a sender that is not the Conclave window`);
      return failure('bad_input', 'sender: not the Conclave window');
    }
    if (!isApiMethod(method)) {
      return failure(
        'bad_input',
        `method: ${JSON.stringify(String(method)).slice(0, 80)} is not an API method`,
      );
    }
    let result: unknown;
    try {
      const valid = validateInput(method, input);
      const fn = opts.api[method] as (i: unknown) => Promise<unknown>;
      result = await fn.call(opts.api, valid);
    } catch (e) {
      if (isApiError(e)) return failure(e.code, e.message);
      const message = e instanceof Error ? e.message : String(e);
      log(`ipc: ${method} failed: ${message}`);
      return failure('internal', `${method} failed: ${message}`);
    }
    const secret = findSecretKey(result);
    if (secret) {
      log(`ipc: refused to return ${method}: ${secret} looks like a secret`);
      return failure(
        'internal',
        `${method}: the answer was withheld because it looked like it held a secret`,
      );
    }
    return { ok: true, result } as IpcResult<ApiMethod>;
  }

  const send = (channel: string, payload: unknown): boolean => {
    const win = opts.mainWindow();
    if (!win || win.isDestroyed()) return false;
    win.send(channel, payload);
    return true;
  };

  ipcMain.handle(IPC_CHANNELS.call, (event, method, input) => handle(event, method, input));
  const unsubscribe = opts.onEvent((e) => {
    const clean = toApiEvent(e);
    if (clean) send(IPC_CHANNELS.event, clean);
  });

  return {
    handle,
    sendShellEvent(e) {
      switch (e.type) {
        case 'deeplink':
          return send(IPC_CHANNELS.deeplink, e.invite);
        case 'first-run':
          return send(IPC_CHANNELS.firstRun, e.message);
        case 'open-request':
          return send(IPC_CHANNELS.openRequest, e.id);
      }
    },
    dispose() {
      unsubscribe();
      ipcMain.removeHandler(IPC_CHANNELS.call);
    },
  };
}
