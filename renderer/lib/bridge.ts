// How the renderer reaches its node: an `Api` plus a stream of events. Electron's preload provides
// one as `window.conclave`; in browser mode it is HTTP POST /api/<method> and a WebSocket /events.
import {
  ApiError,
  apiErrorFrom,
  type Api,
  type ApiEvent,
  type ApiMethod,
} from '../../shared/api/index.js';
import type { ConclaveIpcBridge, ShellEvent } from '../../shared/api/ipc-client.js';
import { API_METHODS } from '../../shared/api/schema.js';

/** The link to the node: `signed-out` means the browser must be given the token again. */
export type LinkStatus = 'connecting' | 'online' | 'offline' | 'signed-out';

export interface NodeBridge {
  api: Api;
  /** Node events; returns the unsubscribe. */
  onEvent(cb: (e: ApiEvent) => void): () => void;
  /** Changes of the link; a bridge that cannot lose its node (Electron IPC) may leave it out. */
  onStatus?(cb: (s: LinkStatus) => void): () => void;
  /** What the desktop shell tells the UI (deep links, notification clicks); absent in a browser. */
  onShellEvent?(cb: (e: ShellEvent) => void): () => void;
}

export const SIGNED_OUT_MESSAGE =
  'this browser is not signed in to your node: open the link that `conclave start --ui` printed';

export interface BrowserBridgeDeps {
  fetch: typeof fetch;
  WebSocket: typeof WebSocket;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (t: never) => void;
}

/** The bridge of browser mode, talking to the server that served this page. */
export function browserBridge(
  location: { protocol: string; host: string },
  deps: BrowserBridgeDeps = {
    fetch: (...args) => fetch(...args),
    WebSocket,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t),
  },
): NodeBridge {
  const events = new Set<(e: ApiEvent) => void>();
  const statuses = new Set<(s: LinkStatus) => void>();
  let status: LinkStatus = 'connecting';
  let socket: WebSocket | undefined;
  let retry: unknown;
  let backoff = 500;

  const setStatus = (s: LinkStatus) => {
    if (s === status) return;
    status = s;
    for (const cb of [...statuses]) cb(s);
  };

  async function call(method: ApiMethod, input: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await deps.fetch(`/api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(input ?? {}),
        credentials: 'same-origin',
      });
    } catch (_) {
      throw new ApiError('unreachable', `no answer from your node at ${location.host}`);
    }
    if (res.status === 401) {
      setStatus('signed-out');
      throw new ApiError('unreachable', SIGNED_OUT_MESSAGE);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (_) {
      throw new ApiError('internal', `your node sent an unreadable answer (HTTP ${res.status})`);
    }
    if (!res.ok) {
      throw apiErrorFrom((body as { error?: unknown }).error, `HTTP ${res.status}`);
    }
    return body;
  }

  const api = Object.fromEntries(
    API_METHODS.map((method) => [method, (input: unknown) => call(method, input)]),
  ) as Api;

  function open(): void {
    if (socket || status === 'signed-out') return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new deps.WebSocket(`${scheme}//${location.host}/events`);
    socket = ws;
    ws.onopen = () => {
      backoff = 500;
      setStatus('online');
    };
    ws.onmessage = (m: MessageEvent) => {
      let e: ApiEvent;
      try {
        e = JSON.parse(String(m.data)) as ApiEvent;
      } catch (_) {
        return;
      }
      for (const cb of [...events]) cb(e);
    };
    ws.onclose = () => {
      socket = undefined;
      if (events.size === 0 && statuses.size === 0) return;
      setStatus(status === 'signed-out' ? 'signed-out' : 'offline');
      // A refused upgrade looks like any close: ask the API whether the token is the reason.
      void call('node.status', {}).then(
        () => undefined,
        () => undefined,
      );
      retry = deps.setTimeout(() => {
        retry = undefined;
        if (events.size > 0 || statuses.size > 0) open();
      }, backoff);
      backoff = Math.min(backoff * 2, 10_000);
    };
  }

  function closeIfIdle(): void {
    if (events.size > 0 || statuses.size > 0) return;
    if (retry !== undefined) deps.clearTimeout(retry as never);
    retry = undefined;
    const ws = socket;
    socket = undefined;
    ws?.close();
  }

  return {
    api,
    onEvent(cb) {
      events.add(cb);
      open();
      return () => {
        events.delete(cb);
        closeIfIdle();
      };
    },
    onStatus(cb) {
      statuses.add(cb);
      cb(status);
      open();
      return () => {
        statuses.delete(cb);
        closeIfIdle();
      };
    },
  };
}

/** True for what Electron's preload exposes as `window.conclave` (shared/api/ipc-client.ts). */
export function isPreloadBridge(value: unknown): value is ConclaveIpcBridge {
  const v = value as Partial<ConclaveIpcBridge> | null | undefined;
  return (
    typeof v?.call === 'function' &&
    typeof v.onEvent === 'function' &&
    typeof v.onShellEvent === 'function'
  );
}
