// The IPC router: who may call, what may be called with what, what comes back (never a secret),
// and the renderer-side client built on the same channel map.
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError, type ApiEvent } from '../../shared/api/index.js';
import {
  IPC_CHANNELS,
  ipcClient,
  unwrapIpcResult,
  type ConclaveIpcBridge,
} from '../../shared/api/ipc-client.js';
import { findSecretKey, registerApiRouter, type ApiRouter } from '../../main/electron/ipc.js';
import { APP_ORIGIN, APP_URL } from '../../main/electron/window.js';
import { FakeIpcMain, FakeSession, FakeWebContents } from './fake-electron.js';
import { fakeNode, request, type FakeNode } from './fake-node.js';

let ipcMain: FakeIpcMain;
let node: FakeNode;
let window: FakeWebContents;
let router: ApiRouter;
const logged: string[] = [];

function call(method: unknown, input: unknown, sender = window, frameUrl: string | null = APP_URL) {
  return ipcMain.invoke(sender, frameUrl, IPC_CHANNELS.call, method, input);
}

beforeEach(() => {
  ipcMain = new FakeIpcMain();
  node = fakeNode({ 'request.show': (i) => request({ id: (i as { id: string }).id }) });
  window = new FakeWebContents(new FakeSession());
  logged.length = 0;
  router = registerApiRouter(ipcMain, {
    api: node.api,
    appOrigin: APP_ORIGIN,
    mainWindow: () => window,
    onEvent: (cb) => node.onEvent(cb),
    log: (line) => logged.push(line),
  });
});

describe('registerApiRouter', () => {
  it('registers exactly one channel', () => {
    expect([...ipcMain.handlers.keys()]).toEqual(['conclave:api']);
  });

  it('answers a valid call from the window with the result', async () => {
    const answer = await call('request.show', { id: 'r1' });
    expect(answer).toEqual({ ok: true, result: request({ id: 'r1' }) });
    expect(node.calls).toEqual([{ method: 'request.show', input: { id: 'r1' } }]);
  });

  it('refuses a call from other web contents', async () => {
    const other = new FakeWebContents(new FakeSession());
    const answer = await call('request.show', { id: 'r1' }, other);
    expect(answer).toEqual({
      ok: false,
      error: { code: 'bad_input', message: 'sender: not the Conclave window' },
    });
    expect(node.calls).toEqual([]);
    expect(logged.join('\n')).toContain('refused');
  });

  it('refuses a call from a frame of another origin, even inside the window', async () => {
    for (const frame of [
      'https://evil.example/',
      'file:///tmp/evil.html',
      'app://evil/index.html',
      'app://conclave.evil/index.html',
      'http://127.0.0.1/',
      'about:blank',
      'not a url',
      null,
    ]) {
      const answer = (await call('request.show', { id: 'r1' }, window, frame)) as {
        ok: boolean;
        error?: { code: string };
      };
      expect(answer.ok, String(frame)).toBe(false);
      expect(answer.error?.code).toBe('bad_input');
    }
    expect(node.calls).toEqual([]);
  });

  it('refuses every call while there is no window, or once it is destroyed', async () => {
    window.destroyed = true;
    expect(await call('request.show', { id: 'r1' })).toMatchObject({ ok: false });
    expect(node.calls).toEqual([]);
  });

  it('refuses unknown methods, including prototype names', async () => {
    for (const method of [
      'node.shutdown',
      'constructor',
      '__proto__',
      'toString',
      '',
      42,
      null,
      {},
    ]) {
      const answer = await call(method, {});
      expect(answer, String(method)).toMatchObject({ ok: false, error: { code: 'bad_input' } });
    }
    expect(node.calls).toEqual([]);
  });

  it("refuses invalid input with 'bad_input' before the node sees it", async () => {
    for (const input of [
      undefined,
      null,
      'r1',
      {},
      { id: 7 },
      { id: 'r1', extra: true },
      { id: 'x'.repeat(1000) },
    ]) {
      const answer = await call('request.show', input);
      expect(answer, JSON.stringify(input)).toMatchObject({
        ok: false,
        error: { code: 'bad_input' },
      });
    }
    expect(node.calls).toEqual([]);
  });

  it('passes ApiError codes and messages through', async () => {
    node.answers['group.show'] = () => {
      throw new ApiError('ambiguous', 'two groups are called Treasury; use the id');
    };
    expect(await call('group.show', { group: 'Treasury' })).toEqual({
      ok: false,
      error: { code: 'ambiguous', message: 'two groups are called Treasury; use the id' },
    });
    // Not found is the stub's default.
    expect(await call('request.approve', { id: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
  });

  it("turns other errors into 'internal' without a stack", async () => {
    node.answers['node.status'] = () => {
      throw new TypeError('cannot read properties of undefined');
    };
    const answer = (await call('node.status', {})) as { ok: false; error: Record<string, unknown> };
    expect(answer.error).toEqual({
      code: 'internal',
      message: 'node.status failed: cannot read properties of undefined',
    });
    expect(JSON.stringify(answer)).not.toMatch(/at .*\.ts:\d+|\n/);
  });

  it('never returns an answer with a secret-looking field', async () => {
    const leaks: Record<string, unknown>[] = [
      { share: 'ab' },
      { secretShare: 'ab' },
      { members: [{ name: 'Bob', privateKey: 'ab' }] },
      { nested: { deeper: { seed: 'ab' } } },
      { PASSPHRASE: 'hunter2' },
      { signing_share: 'ab' },
      { private_key: 'ab' },
      { mnemonic: 'abandon abandon' },
    ];
    for (const leak of leaks) {
      node.answers['node.status'] = () => ({ peerId: 'p', ...leak });
      const answer = await call('node.status', {});
      expect(answer, JSON.stringify(leak)).toMatchObject({
        ok: false,
        error: { code: 'internal' },
      });
      expect(JSON.stringify(answer)).not.toContain('ab"');
      expect(JSON.stringify(answer)).not.toContain('hunter2');
    }
  });

  it('never lets a secret-looking key out, whatever the answer (property)', async () => {
    const key = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('share', 'secretKey', 'privateKey', 'seed', 'passphrase', 'xShare'),
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string({ maxLength: 8 }),
        fc.integer(),
        fc.boolean(),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(key, tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    await fc.assert(
      fc.asyncProperty(value, async (result) => {
        node.answers['node.status'] = () => result;
        const answer = (await call('node.status', {})) as { ok: boolean; result?: unknown };
        if (answer.ok) expect(findSecretKey(answer.result)).toBeUndefined();
        const keys: string[] = [];
        JSON.stringify(answer, (k, v: unknown) => {
          keys.push(k);
          return v;
        });
        expect(keys.filter((k) => /share|secret|privatekey|seed|passphrase/i.test(k))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('forwards node events to the window, with only their own fields', () => {
    node.fire({ type: 'request', id: 'r1' });
    node.fire({ type: 'peer', peerId: 'p', online: true });
    node.fire({ type: 'group', id: 'g1', secret: 'x' } as unknown as ApiEvent);
    node.fire({ type: 'unknown' } as unknown as ApiEvent);
    expect(window.sentOn('conclave:event')).toEqual([
      { type: 'request', id: 'r1' },
      { type: 'peer', peerId: 'p', online: true },
      { type: 'group', id: 'g1' },
    ]);
  });

  it('drops events while the window is gone', () => {
    window.destroyed = true;
    node.fire({ type: 'request', id: 'r1' });
    expect(window.sent).toEqual([]);
  });

  it('sends shell events on their channels', () => {
    router.sendShellEvent({ type: 'deeplink', invite: 'conclave-invite:abc' });
    router.sendShellEvent({ type: 'first-run', message: 'no identity' });
    router.sendShellEvent({ type: 'open-request', id: 'r9' });
    expect(window.sent).toEqual([
      { channel: 'conclave:deeplink', args: ['conclave-invite:abc'] },
      { channel: 'conclave:first-run', args: ['no identity'] },
      { channel: 'conclave:open-request', args: ['r9'] },
    ]);
  });

  it('unregisters on dispose and stops forwarding events', () => {
    router.dispose();
    expect(ipcMain.handlers.size).toBe(0);
    node.fire({ type: 'request', id: 'r1' });
    expect(window.sent).toEqual([]);
  });
});

describe('ipcClient (renderer side)', () => {
  function bridgeTo(sender: FakeWebContents, frameUrl: string): ConclaveIpcBridge {
    return {
      call: (method, input) =>
        ipcMain.invoke(sender, frameUrl, IPC_CHANNELS.call, method, input) as never,
      onEvent: () => () => undefined,
      onShellEvent: () => () => undefined,
    };
  }

  it('gives the renderer an Api whose errors keep their codes', async () => {
    const { api } = ipcClient(bridgeTo(window, APP_URL));
    expect(await api['request.show']({ id: 'r1' })).toEqual(request({ id: 'r1' }));
    await expect(api['group.show']({ group: 'nope' })).rejects.toMatchObject({
      name: 'ApiError',
      code: 'not_found',
    });
    await expect(api['request.show']({ id: 3 } as never)).rejects.toMatchObject({
      code: 'bad_input',
    });
  });

  it('reports a refused sender as an ApiError', async () => {
    const { api } = ipcClient(bridgeTo(window, 'https://evil.example/'));
    await expect(api['node.status']({})).rejects.toBeInstanceOf(ApiError);
  });

  it('reads unreadable answers as internal errors', () => {
    expect(() => unwrapIpcResult('node.status', undefined)).toThrow(/unreadable/);
    expect(() => unwrapIpcResult('node.status', { ok: false, error: { code: 'nope' } })).toThrow(
      expect.objectContaining({ code: 'internal' }),
    );
  });

  it('turns a rejected invoke into an internal ApiError', async () => {
    const client = ipcClient({
      call: () => Promise.reject(new Error("No handler registered for 'conclave:api'")),
      onEvent: () => () => undefined,
      onShellEvent: () => () => undefined,
    });
    await expect(client.api['node.status']({})).rejects.toMatchObject({ code: 'internal' });
  });
});
