// The Electron IPC channel map and the renderer-side adapter that turns the preload's bridge into an
// `Api`. Declared once here; main/electron/ipc.ts serves it and main/electron/preload.ts exposes it.
import {
  API_ERROR_CODES,
  ApiError,
  apiErrorFrom,
  type Api,
  type ApiErrorCode,
  type ApiEvent,
  type ApiInput,
  type ApiMethod,
  type ApiOutput,
} from './index.js';
import { API_METHODS } from './schema.js';

/** Every IPC channel between Electron main and the renderer. Nothing else is listened to. */
export const IPC_CHANNELS = {
  /** renderer → main, invoke: `(method, input)` → `IpcResult`. */
  call: 'conclave:api',
  /** main → renderer: an `ApiEvent`. */
  event: 'conclave:event',
  /** main → renderer: a `conclave://join?invite=…` link was opened; the payload is the invite. */
  deeplink: 'conclave:deeplink',
  /** main → renderer: this home has no identity yet; show the first-run screen. */
  firstRun: 'conclave:first-run',
  /** main → renderer: the custodian clicked a notification; show this request. */
  openRequest: 'conclave:open-request',
} as const;

export { API_ERROR_CODES };

/**
 * What main answers to a call. An envelope rather than a thrown error because errors crossing IPC
 * and the context bridge keep only their message, and the UI needs the code.
 */
export type IpcResult<M extends ApiMethod = ApiMethod> =
  | { ok: true; result: ApiOutput<M> }
  | { ok: false; error: { code: ApiErrorCode; message: string } };

/** Things the desktop shell (not the node) tells the UI. */
export type ShellEvent =
  | { type: 'deeplink'; invite: string }
  | { type: 'first-run'; message: string }
  | { type: 'open-request'; id: string };

/** What the preload exposes as `window.conclave`: the API contract and its events, nothing else. */
export interface ConclaveIpcBridge {
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<IpcResult<M>>;
  /** Node events; returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void;
  /** Desktop shell events (deep links, first run, notification clicks); returns the unsubscribe. */
  onShellEvent(cb: (e: ShellEvent) => void): () => void;
}

/** The renderer's view of the node over IPC: the same shape as browser mode's bridge. */
export interface IpcClient {
  api: Api;
  onEvent(cb: (e: ApiEvent) => void): () => void;
  onShellEvent(cb: (e: ShellEvent) => void): () => void;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Turns an answer from main back into a result or a thrown `ApiError` with its code. */
export function unwrapIpcResult<M extends ApiMethod>(method: M, answer: unknown): ApiOutput<M> {
  if (!isRecord(answer) || typeof answer.ok !== 'boolean') {
    throw new ApiError('internal', `${method}: the desktop app sent an unreadable answer`);
  }
  if (answer.ok) return answer.result as ApiOutput<M>;
  throw apiErrorFrom(answer.error, `${method} failed`);
}

/** Builds an `Api` from the preload's bridge (pass `window.conclave`). */
export function ipcClient(bridge: ConclaveIpcBridge): IpcClient {
  const call = async (method: ApiMethod, input: unknown): Promise<unknown> => {
    let answer: unknown;
    try {
      answer = await bridge.call(method, input as ApiInput<typeof method>);
    } catch (e) {
      // Only a broken main process gets here: the router answers every call with an envelope.
      throw new ApiError(
        'internal',
        `the desktop app did not answer ${method}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    return unwrapIpcResult(method, answer);
  };
  const api = Object.fromEntries(
    API_METHODS.map((method) => [method, (input: unknown) => call(method, input ?? {})]),
  ) as Api;
  return {
    api,
    onEvent: (cb) => bridge.onEvent(cb),
    onShellEvent: (cb) => bridge.onShellEvent(cb),
  };
}
