// Electron's sandboxed preload: exposes the API contract as `window.conclave` and nothing else.
// Bundled on its own as CommonJS (dist/electron/preload.cjs); only `electron` stays external.
import { contextBridge, ipcRenderer } from 'electron';
import type { ApiEvent } from '../../shared/api/index.js';
import {
  IPC_CHANNELS,
  type ConclaveIpcBridge,
  type ShellEvent,
} from '../../shared/api/ipc-client.js';

/** The part of ipcRenderer the bridge uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** Subscribes to one channel; the callback gets the payload only, never Electron's event object. */
function listen<T>(
  ipc: IpcRendererLike,
  channel: string,
  cb: (payload: T) => void,
  accept: (payload: unknown) => payload is T,
): () => void {
  const listener = (_event: unknown, payload: unknown) => {
    if (accept(payload)) cb(payload);
  };
  ipc.on(channel, listener);
  return () => {
    ipc.removeListener(channel, listener);
  };
}

const isApiEvent = (p: unknown): p is ApiEvent =>
  typeof p === 'object' && p !== null && typeof (p as { type?: unknown }).type === 'string';
const isString = (p: unknown): p is string => typeof p === 'string';

export function createBridge(ipc: IpcRendererLike): ConclaveIpcBridge {
  return Object.freeze({
    call: (method, input) =>
      ipc.invoke(IPC_CHANNELS.call, method, input) as ReturnType<ConclaveIpcBridge['call']>,
    onEvent: (cb: (e: ApiEvent) => void) => listen(ipc, IPC_CHANNELS.event, cb, isApiEvent),
    onShellEvent(cb: (e: ShellEvent) => void) {
      const offs = [
        listen(ipc, IPC_CHANNELS.deeplink, (invite) => cb({ type: 'deeplink', invite }), isString),
        listen(
          ipc,
          IPC_CHANNELS.firstRun,
          (message) => cb({ type: 'first-run', message }),
          isString,
        ),
        listen(ipc, IPC_CHANNELS.openRequest, (id) => cb({ type: 'open-request', id }), isString),
      ];
      return () => offs.forEach((off) => off());
    },
  } satisfies ConclaveIpcBridge);
}

contextBridge.exposeInMainWorld('conclave', createBridge(ipcRenderer));
