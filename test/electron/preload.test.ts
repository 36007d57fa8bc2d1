// The preload exposes exactly the bridge (call, onEvent, onShellEvent) on the IPC channel map, and
// hands the page payloads only, never Electron's event objects.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConclaveIpcBridge, ShellEvent } from '../../shared/api/ipc-client.js';

type Listener = (event: unknown, ...args: unknown[]) => void;

const fake = vi.hoisted(() => {
  const listeners = new Map<string, Set<Listener>>();
  return {
    exposed: [] as { key: string; api: unknown }[],
    invoked: [] as unknown[][],
    listeners,
    emit(channel: string, payload: unknown) {
      const senderEvent = { sender: 'ipcRenderer itself', ports: [] };
      for (const l of listeners.get(channel) ?? []) l(senderEvent, payload);
    },
  };
});

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => fake.exposed.push({ key, api }),
  },
  ipcRenderer: {
    invoke: async (...args: unknown[]) => {
      fake.invoked.push(args);
      return { ok: true, result: 'answer' };
    },
    on: (channel: string, l: Listener) => {
      if (!fake.listeners.has(channel)) fake.listeners.set(channel, new Set());
      fake.listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: Listener) => fake.listeners.get(channel)?.delete(l),
  },
}));

await import('../../main/electron/preload.js');
const bridge = fake.exposed[0]?.api as ConclaveIpcBridge;

beforeEach(() => {
  fake.invoked.length = 0;
});

describe('preload', () => {
  it('exposes one object, window.conclave, with exactly the contract', () => {
    expect(fake.exposed.map((e) => e.key)).toEqual(['conclave']);
    expect(Object.keys(bridge).sort()).toEqual(['call', 'onEvent', 'onShellEvent']);
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  it('invokes the one API channel with method and input', async () => {
    expect(await bridge.call('request.show', { id: 'r1' })).toEqual({ ok: true, result: 'answer' });
    expect(fake.invoked).toEqual([['conclave:api', 'request.show', { id: 'r1' }]]);
  });

  it('passes events to the page without the IPC event object, and unsubscribes', () => {
    const seen: unknown[] = [];
    const off = bridge.onEvent((e) => seen.push(e));
    fake.emit('conclave:event', { type: 'request', id: 'r1' });
    fake.emit('conclave:event', 'not an event');
    off();
    fake.emit('conclave:event', { type: 'request', id: 'r2' });
    expect(seen).toEqual([{ type: 'request', id: 'r1' }]);
    expect(fake.listeners.get('conclave:event')?.size).toBe(0);
  });

  it('maps the shell channels to shell events', () => {
    const seen: ShellEvent[] = [];
    const off = bridge.onShellEvent((e) => seen.push(e));
    fake.emit('conclave:deeplink', 'conclave-invite:abc');
    fake.emit('conclave:first-run', 'no identity yet');
    fake.emit('conclave:open-request', 'r7');
    fake.emit('conclave:open-request', { id: 'not a string' });
    off();
    fake.emit('conclave:deeplink', 'conclave-invite:late');
    expect(seen).toEqual([
      { type: 'deeplink', invite: 'conclave-invite:abc' },
      { type: 'first-run', message: 'no identity yet' },
      { type: 'open-request', id: 'r7' },
    ]);
  });

  it('listens on no channel but the declared ones', () => {
    bridge.onEvent(() => undefined);
    bridge.onShellEvent(() => undefined);
    expect([...fake.listeners.keys()].sort()).toEqual([
      'conclave:deeplink',
      'conclave:event',
      'conclave:first-run',
      'conclave:open-request',
    ]);
  });
});
