// The shell's life cycle against the fake electron module: single instance, deep links, first
// run, tray count, notifications, window close and quitting.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, type RequestView } from '../../shared/api/index.js';
import { IPC_CHANNELS } from '../../shared/api/ipc-client.js';
import { runShell, trayToolTip, type Shell, type ShellOptions } from '../../main/electron/shell.js';
import { APP_URL } from '../../main/electron/window.js';
import {
  FakeNotification,
  fakeElectron,
  type FakeBrowserWindow,
  type FakeElectron,
} from './fake-electron.js';
import { BOB, ME, fakeNode, request, type FakeNode } from './fake-node.js';

const INVITE = 'conclave-invite:eyJ2IjoxfQ';
const LINK = `conclave://join?invite=${INVITE}`;

let electron: FakeElectron;
let node: FakeNode;
let pending: RequestView[];
let logged: string[];

function start(
  over: {
    argv?: string[];
    startNode?: () => Promise<FakeNode>;
    initIdentity?: ShellOptions['initIdentity'];
    protocolClient?: boolean;
  } = {},
): Shell {
  return runShell({
    electron,
    startNode: over.startNode ?? (async () => node),
    initIdentity: over.initIdentity,
    paths: { preload: '/app/preload.cjs', renderer: '/app/renderer', trayIcon: '/app/tray.png' },
    argv: over.argv ?? ['/opt/Conclave/conclave'],
    protocolClient: over.protocolClient
      ? { path: '/usr/bin/electron', args: ['/src/conclave'] }
      : undefined,
    log: (line) => logged.push(line),
  });
}

async function startReady(over: Parameters<typeof start>[0] = {}): Promise<Shell> {
  const shell = start(over);
  electron.app.becomeReady();
  await shell.ready;
  return shell;
}

function mainWindow(): FakeBrowserWindow {
  const w = electron.windows.at(-1);
  if (!w) throw new Error('no window');
  return w;
}

beforeEach(() => {
  electron = fakeElectron();
  pending = [];
  logged = [];
  node = fakeNode({ 'request.list': () => pending });
});

afterEach(() => {
  electron.app.listeners.clear();
});

describe('single instance', () => {
  it('quits at once when another instance holds the lock, without opening anything', async () => {
    electron.app.gotLock = false;
    const shell = start({ argv: ['conclave', LINK] });
    electron.app.becomeReady();
    await shell.ready;
    expect(shell.primary).toBe(false);
    expect(electron.app.quitCalls).toBe(1);
    expect(electron.windows).toEqual([]);
    expect(electron.ipcMain.handlers.size).toBe(0);
    expect(electron.app.count('second-instance')).toBe(0);
  });

  it('focuses the window and forwards the deep link when a second instance starts', async () => {
    const shell = await startReady();
    const win = mainWindow();
    win.finishLoad();
    win.minimized = true;
    win.visible = false;
    electron.app.emit('second-instance', { preventDefault() {} }, ['conclave', '--x', LINK], '/');
    expect(win.minimized).toBe(false);
    expect(win.visible).toBe(true);
    expect(win.focused).toBe(true);
    expect(win.webContents.sentOn(IPC_CHANNELS.deeplink)).toEqual([INVITE]);
    expect(shell.primary).toBe(true);
  });

  it('ignores a second instance whose argument is not a join link', async () => {
    await startReady();
    const win = mainWindow();
    win.finishLoad();
    electron.app.emit(
      'second-instance',
      { preventDefault() {} },
      ['conclave', 'conclave://evil'],
      '/',
    );
    expect(win.webContents.sentOn(IPC_CHANNELS.deeplink)).toEqual([]);
    expect(win.focused).toBe(true);
  });
});

describe('start-up', () => {
  it('registers the app scheme, the sandbox and the conclave:// protocol before ready', () => {
    start();
    expect(electron.protocol.privileged).toEqual([
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
    expect(electron.app.sandboxed).toBe(true);
    expect(electron.app.protocolClients).toEqual([
      { protocol: 'conclave', path: undefined, args: undefined },
    ]);
    expect(electron.windows).toEqual([]);
  });

  it('registers the protocol with the app path when run as `electron .`', () => {
    start({ protocolClient: true });
    expect(electron.app.protocolClients).toEqual([
      { protocol: 'conclave', path: '/usr/bin/electron', args: ['/src/conclave'] },
    ]);
  });

  it('loads the UI from app://, not file://, and serves the renderer there', async () => {
    await startReady();
    expect(mainWindow().loadedUrl).toBe(APP_URL);
    expect([...electron.protocol.handlers.keys()]).toEqual(['app']);
  });

  it('delivers a deep link from the first command line once the UI has loaded', async () => {
    await startReady({ argv: ['conclave', LINK] });
    const win = mainWindow();
    expect(win.webContents.sentOn(IPC_CHANNELS.deeplink)).toEqual([]);
    win.finishLoad();
    expect(win.webContents.sentOn(IPC_CHANNELS.deeplink)).toEqual([INVITE]);
  });

  it('handles macOS open-url links, and ignores other links', async () => {
    start();
    const e = { defaultPrevented: false, preventDefault: () => (e.defaultPrevented = true) };
    electron.app.emit('open-url', e, LINK);
    electron.app.emit('open-url', e, 'conclave://join?invite=https://evil.example');
    expect(e.defaultPrevented).toBe(true);
    electron.app.becomeReady();
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    mainWindow().finishLoad();
    expect(mainWindow().webContents.sentOn(IPC_CHANNELS.deeplink)).toEqual([INVITE]);
  });

  it('tells the renderer to show first run when this home has no identity', async () => {
    await startReady({
      startNode: () =>
        Promise.reject(new ApiError('not_ready', 'no identity in /fake/userData/node')),
    });
    const win = mainWindow();
    win.finishLoad();
    expect(win.webContents.sentOn(IPC_CHANNELS.firstRun)).toEqual([
      'no identity in /fake/userData/node',
    ]);
    // A reload sees it again.
    win.finishLoad();
    expect(win.webContents.sentOn(IPC_CHANNELS.firstRun)).toHaveLength(2);
    // API calls say why there is no node.
    const answer = await electron.ipcMain.invoke(
      win.webContents,
      APP_URL,
      IPC_CHANNELS.call,
      'node.status',
      {},
    );
    expect(answer).toMatchObject({ ok: false, error: { code: 'not_ready' } });
  });

  it('creates the identity from the first-run screen, then starts the node and serves it', async () => {
    const created: unknown[] = [];
    let hasIdentity = false;
    const fresh = fakeNode({
      'request.list': () => [],
      'node.status': () => ({ peerId: ME, name: 'alice' }),
    } as never);
    await startReady({
      startNode: () =>
        hasIdentity
          ? Promise.resolve(fresh)
          : Promise.reject(new ApiError('not_ready', 'no identity in /fake/userData/node')),
      initIdentity: async (i) => {
        created.push(i);
        hasIdentity = true;
      },
    });
    const win = mainWindow();
    win.finishLoad();
    const call = (method: string, input: unknown) =>
      electron.ipcMain.invoke(win.webContents, APP_URL, IPC_CHANNELS.call, method, input);
    expect(await call('request.list', {})).toMatchObject({
      ok: false,
      error: { code: 'not_ready' },
    });
    const answer = await call('identity.init', { name: 'alice', vault: 'keychain' });
    expect(answer, JSON.stringify(answer)).toMatchObject({ ok: true, result: { name: 'alice' } });
    expect(created).toEqual([{ name: 'alice', vault: 'keychain' }]);
    expect(await call('request.list', {})).toEqual({ ok: true, result: [] });
  });

  it('answers not_ready while the node is starting, then serves it', async () => {
    let started!: (n: FakeNode) => void;
    const shell = start({ startNode: () => new Promise((resolve) => (started = resolve)) });
    electron.app.becomeReady();
    await new Promise((r) => setTimeout(r, 0));
    const win = mainWindow();
    const invoke = () =>
      electron.ipcMain.invoke(win.webContents, APP_URL, IPC_CHANNELS.call, 'request.list', {});
    expect(await invoke()).toMatchObject({ ok: false, error: { code: 'not_ready' } });
    started(node);
    await shell.ready;
    expect(await invoke()).toEqual({ ok: true, result: [] });
  });

  it('reports a node that fails to start for another reason as internal, with the reason', async () => {
    await startReady({ startNode: () => Promise.reject(new Error('EADDRINUSE')) });
    const win = mainWindow();
    const answer = await electron.ipcMain.invoke(
      win.webContents,
      APP_URL,
      IPC_CHANNELS.call,
      'node.status',
      {},
    );
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'internal', message: 'the custodian node did not start: EADDRINUSE' },
    });
    win.finishLoad();
    expect(win.webContents.sentOn(IPC_CHANNELS.firstRun)).toEqual([]);
  });

  it('forwards node events to the window', async () => {
    await startReady();
    node.fire({ type: 'group', id: 'g1' });
    expect(mainWindow().webContents.sentOn(IPC_CHANNELS.event)).toEqual([
      { type: 'group', id: 'g1' },
    ]);
  });
});

describe('tray and notifications', () => {
  it('shows the number of requests waiting for this custodian', async () => {
    pending = [
      request({ id: 'r1' }),
      request({ id: 'r2' }),
      // Already approved by me: not waiting for me.
      request({ id: 'r3', approvals: [{ peerId: ME, name: 'Me', at: '' }] }),
      // Signing: past the decision.
      request({ id: 'r4', status: 'signing' }),
    ];
    const shell = await startReady();
    const tray = electron.trays[0]!;
    expect(shell.pendingCount()).toBe(2);
    expect(tray.toolTip).toBe(trayToolTip(2));
    expect(tray.toolTip).toBe('Conclave: 2 requests waiting for your decision');
    expect(tray.title).toBe('2');

    pending = [];
    node.fire({ type: 'request', id: 'r1' });
    await shell.refreshPending();
    expect(tray.toolTip).toBe('Conclave: nothing waiting for you');
    expect(tray.title).toBe('');
  });

  it('notifies once per new request from someone else; a click opens it', async () => {
    const shell = await startReady();
    const win = mainWindow();
    win.finishLoad();
    win.visible = false;
    pending = [
      request({
        id: 'r1',
        groupName: 'Treasury\u001b[2J',
        createdBy: { peerId: BOB, name: 'Bob', at: '' },
      }),
      request({ id: 'mine', createdBy: { peerId: ME, name: 'Me', at: '' }, approvals: [] }),
    ];
    node.fire({ type: 'request', id: 'r1' });
    await shell.refreshPending();
    node.fire({ type: 'request', id: 'r1' });
    await shell.refreshPending();
    expect(electron.notifications).toHaveLength(1);
    const note = electron.notifications[0]!;
    expect(note.shown).toBe(true);
    expect(note.options.title).toBe('Conclave: your decision is needed');
    expect(note.options.body).toBe('Bob asks the group Treasury [2J to sign.');
    // The message itself never appears in a notification.
    expect(note.options.body).not.toContain('hi');
    note.click();
    expect(win.visible).toBe(true);
    expect(win.webContents.sentOn(IPC_CHANNELS.openRequest)).toEqual(['r1']);
  });

  it('summarises what was already waiting at start-up in one notification', async () => {
    pending = [request({ id: 'r1' }), request({ id: 'r2' }), request({ id: 'r3' })];
    const shell = await startReady();
    expect(electron.notifications.map((n) => n.options.body)).toEqual([
      '3 requests from other members are waiting for your decision.',
    ]);
    const win = mainWindow();
    win.visible = false;
    electron.notifications[0]!.click();
    expect(win.visible).toBe(true);
    expect(win.webContents.sentOn(IPC_CHANNELS.openRequest)).toEqual([]);
    // Later arrivals are notified one by one.
    pending = [...pending, request({ id: 'r4' }), request({ id: 'r5' })];
    await shell.refreshPending();
    expect(electron.notifications).toHaveLength(3);
  });

  it('does not notify when the custodian turned notifications off in settings', async () => {
    node.answers['settings.get'] = () => ({
      name: 'Me',
      relays: [],
      notifications: false,
      restartNeeded: false,
    });
    pending = [request({ id: 'r1' })];
    const shell = await startReady();
    pending = [...pending, request({ id: 'r2' })];
    await shell.refreshPending();
    expect(electron.notifications).toHaveLength(0);
    expect(electron.trays[0]!.title).toBe('2');
    expect(node.calls.some((c) => c.method === 'settings.get')).toBe(true);
  });

  it('notifies when the settings cannot be read', async () => {
    node.answers['settings.get'] = () => {
      throw new ApiError('internal', 'settings file unreadable');
    };
    pending = [request({ id: 'r1' })];
    await startReady();
    expect(electron.notifications).toHaveLength(1);
    expect(logged.some((l) => l.includes('settings file unreadable'))).toBe(true);
  });

  it('does not notify where notifications are not supported', async () => {
    FakeNotification.supported = false;
    pending = [request({ id: 'r1' })];
    await startReady();
    expect(electron.notifications).toHaveLength(0);
    expect(electron.trays[0]!.title).toBe('1');
  });
});

describe('closing and quitting', () => {
  it('hides the window on close while the tray keeps the node running', async () => {
    await startReady();
    const win = mainWindow();
    win.visible = true;
    expect(win.close()).toBe(true);
    expect(win.visible).toBe(false);
    expect(node.stopped).toBe(false);
    electron.trays[0]!.emit('click');
    expect(win.visible).toBe(true);
  });

  it('stops the node before quitting, then quits', async () => {
    const shell = await startReady();
    electron.app.quit();
    expect(node.stopped).toBe(false);
    await new Promise((r) => setTimeout(r, 10));
    expect(node.stopped).toBe(true);
    expect(electron.app.quitCalls).toBe(2);
    expect(electron.trays[0]!.destroyed).toBe(true);
    expect(electron.ipcMain.handlers.size).toBe(0);
    expect(shell.node()).toBeUndefined();
    // Closing the window while quitting really closes it.
    expect(mainWindow().close()).toBe(false);
  });
});
