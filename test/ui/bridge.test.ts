// Browser mode's bridge: API calls over fetch, events over a WebSocket that comes back by itself,
// and a lost token recognised as such.
import { describe, expect, it, vi } from 'vitest';
import { ApiError, type ApiEvent } from '../../shared/api/index.js';
import {
  browserBridge,
  isPreloadBridge,
  SIGNED_OUT_MESSAGE,
  type BrowserBridgeDeps,
  type LinkStatus,
} from '../../renderer/lib/bridge.js';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode } from './fake-api.js';

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close(): void {
    this.closed = true;
  }
}

function setup(answer: (method: string, body: unknown) => { status: number; body: unknown }) {
  FakeSocket.all = [];
  const timers: (() => void)[] = [];
  const calls: { url: string; init: RequestInit }[] = [];
  const deps: BrowserBridgeDeps = {
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      const { status, body } = answer(url.replace('/api/', ''), JSON.parse(String(init.body)));
      return new Response(JSON.stringify(body), { status });
    }) as typeof fetch,
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => undefined,
  };
  const bridge = browserBridge({ protocol: 'http:', host: '127.0.0.1:4000' }, deps);
  return { bridge, calls, timers };
}

describe('browserBridge', () => {
  it('POSTs JSON to /api/<method> and returns the result', async () => {
    const { bridge, calls } = setup(() => ({ status: 200, body: [] }));
    expect(await bridge.api['group.list']({})).toEqual([]);
    expect(calls[0]!.url).toBe('/api/group.list');
    expect(calls[0]!.init.method).toBe('POST');
    expect(calls[0]!.init.credentials).toBe('same-origin');
  });

  it('turns an error answer into an ApiError with its code', async () => {
    const { bridge } = setup(() => ({
      status: 409,
      body: { error: { code: 'not_ready', message: 'group x is forming' } },
    }));
    const err = await bridge.api['request.sign']({
      group: 'x',
      message: 'm',
      encoding: 'utf8',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('not_ready');
    expect((err as ApiError).message).toBe('group x is forming');
  });

  it('a 401 means signed out, and says how to sign in again', async () => {
    const { bridge } = setup(() => ({ status: 401, body: { error: { code: 'unauthorized' } } }));
    const statuses: LinkStatus[] = [];
    bridge.onStatus!((s) => statuses.push(s));
    await expect(bridge.api['node.status']({})).rejects.toThrow(SIGNED_OUT_MESSAGE);
    expect(statuses.at(-1)).toBe('signed-out');
  });

  it('events arrive over ws://<host>/events, and a dropped socket is opened again', async () => {
    const { bridge, timers } = setup(() => ({ status: 200, body: {} }));
    const events: ApiEvent[] = [];
    const statuses: LinkStatus[] = [];
    bridge.onStatus!((s) => statuses.push(s));
    const off = bridge.onEvent((e) => events.push(e));
    const first = FakeSocket.all[0]!;
    expect(first.url).toBe('ws://127.0.0.1:4000/events');
    first.onopen!();
    first.onmessage!({ data: JSON.stringify({ type: 'request', id: 'r1' }) });
    first.onmessage!({ data: 'not json' });
    expect(events).toEqual([{ type: 'request', id: 'r1' }]);
    first.onclose!();
    expect(statuses.at(-1)).toBe('offline');
    timers.shift()!();
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.onopen!();
    expect(statuses).toEqual(['connecting', 'online', 'offline', 'online']);
    off();
  });

  it('closes the socket when nobody listens any more', () => {
    const { bridge } = setup(() => ({ status: 200, body: {} }));
    const off = bridge.onEvent(() => undefined);
    off();
    expect(FakeSocket.all[0]!.closed).toBe(true);
  });
});

describe('the desktop bridge', () => {
  it('is recognised by its shape', () => {
    expect(isPreloadBridge(undefined)).toBe(false);
    expect(isPreloadBridge({ call: () => 0 })).toBe(false);
    expect(isPreloadBridge({ call: () => 0, onEvent: () => 0, onShellEvent: () => 0 })).toBe(true);
  });

  it('a clicked invite link opens the join form with the invite filled in', async () => {
    const node = createFakeNode();
    let shell: ((e: { type: 'deeplink'; invite: string }) => void) | undefined;
    const app = new AppState({
      api: node,
      onEvent: (cb) => node.onEvent(cb),
      onShellEvent: (cb) => {
        shell = cb;
        return () => (shell = undefined);
      },
    });
    const stop = app.start();
    shell!({ type: 'deeplink', invite: 'conclave-invite:xyz' });
    expect(app.screen).toBe('groups');
    expect(app.groups.view).toEqual({ kind: 'join' });
    expect(app.groups.joinText).toBe('conclave-invite:xyz');
    stop();
    expect(shell).toBeUndefined();
    await vi.waitFor(() => expect(app.groups.loaded).toBe(true));
    node.dispose();
  });
});
