// The desktop shell's life cycle: single instance, deep links, window, tray, notifications, and the
// custodian node running in this process. Takes the `electron` module as a parameter so tests can
// drive it with a fake; main.ts passes the real one.
import { ApiError, type Api, type ApiEvent, type RequestView } from '../../shared/api/index.js';
import type { ShellEvent } from '../../shared/api/ipc-client.js';
import { API_METHODS } from '../../shared/api/schema.js';
import type { RunningNode } from '../node/index.js';
import { wrongPassphraseDelayMs } from '../vault/index.js';
import { findDeepLink, parseDeepLink, DEEP_LINK_SCHEME } from './deeplink.js';
import { registerApiRouter, type ApiRouter } from './ipc.js';
import { APP_SCHEME_PRIVILEGES, appProtocolHandler } from './protocol.js';
import type { BrowserWindowLike, ElectronLike, NotificationLike, TrayLike } from './types.js';
import {
  APP_ORIGIN,
  APP_SCHEME,
  APP_URL,
  createMainWindow,
  lockDownWebContents,
} from './window.js';

/** How long quitting waits for the node to close its connections and database. */
export const STOP_DEADLINE_MS = 5_000;

export interface ShellOptions {
  electron: ElectronLike;
  /** Starts the custodian node (main.ts: `startCustodian` on userData/node). */
  startNode(passphrase?: string): Promise<RunningNode>;
  /**
   * First run: creates the identity (main.ts: `initIdentity` on userData/node). The renderer's
   * first-run screen calls `identity.init`; the node starts right after.
   */
  initIdentity?(input: {
    name: string;
    vault: 'keychain' | 'file';
    passphrase?: string;
  }): Promise<void>;
  paths: {
    /** dist/electron/preload.cjs */
    preload: string;
    /** dist/renderer: index.html and its assets. */
    renderer: string;
    /** A small PNG for the tray. */
    trayIcon: string;
  };
  /** This process's command line; a `conclave://` link in it is handled once the UI is up. */
  argv: readonly string[];
  /**
   * How the OS should start the app for `conclave://` links: nothing when packaged; when run as
   * `electron .` the Electron binary plus the app's path (Electron's `process.defaultApp` case).
   */
  protocolClient?: { path: string; args: string[] };
  log(line: string): void;
}

export interface Shell {
  /** False when another instance holds the lock: this one only forwarded its arguments. */
  readonly primary: boolean;
  /** Resolves once the window exists and the node has started (or failed to). */
  readonly ready: Promise<void>;
  /** The node, once started. */
  node(): RunningNode | undefined;
  window(): BrowserWindowLike | undefined;
  tray(): TrayLike | undefined;
  router(): ApiRouter | undefined;
  /** Requests waiting for this custodian's decision, as last counted. */
  pendingCount(): number;
  /** Recounts pending requests now (normally driven by request events). */
  refreshPending(): Promise<void>;
}

// Names and group names come from other custodians: no control characters, bounded length.
function plain(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const t = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Requests waiting for this custodian: pending, and neither approved nor denied by them. */
export function waitingForMe(requests: readonly RequestView[], me: string): RequestView[] {
  return requests.filter(
    (r) =>
      r.status === 'pending' &&
      !r.approvals.some((d) => d.peerId === me) &&
      !r.denials.some((d) => d.peerId === me),
  );
}

export function trayToolTip(count: number): string {
  if (count === 0) return 'Conclave: nothing waiting for you';
  return `Conclave: ${count} request${count === 1 ? '' : 's'} waiting for your decision`;
}

export function notificationFor(r: RequestView): { title: string; body: string } {
  const who = plain(r.createdBy.name || 'A member');
  const group = plain(r.groupName);
  // The message itself stays out of the notification: it may show on a locked screen.
  const what =
    r.kind === 'sign' ? `asks the group ${group} to sign` : `proposes a ${r.kind} for ${group}`;
  return { title: 'Conclave: your decision is needed', body: `${who} ${what}.` };
}

export function summaryNotification(count: number): { title: string; body: string } {
  return {
    title: 'Conclave: your decision is needed',
    body: `${count} requests from other members are waiting for your decision.`,
  };
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Starts the shell. Call once, at the top of the Electron main module, before `ready`. */
export function runShell(opts: ShellOptions): Shell {
  const { electron, log } = opts;
  const { app } = electron;

  if (!app.requestSingleInstanceLock()) {
    // The first instance receives our argv in its `second-instance` event (and the deep link in it).
    app.quit();
    return {
      primary: false,
      ready: Promise.resolve(),
      node: () => undefined,
      window: () => undefined,
      tray: () => undefined,
      router: () => undefined,
      pendingCount: () => 0,
      refreshPending: async () => undefined,
    };
  }

  electron.protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
  app.enableSandbox();
  if (opts.protocolClient) {
    app.setAsDefaultProtocolClient(
      DEEP_LINK_SCHEME,
      opts.protocolClient.path,
      opts.protocolClient.args,
    );
  } else {
    app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME);
  }

  let win: BrowserWindowLike | undefined;
  let loaded = false;
  let tray: TrayLike | undefined;
  let router: ApiRouter | undefined;
  let node: RunningNode | undefined;
  let startError: ApiError | undefined;
  let firstRun: string | undefined;
  let quitting = false;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let pending = 0;
  /** Whether pending requests were counted once: the first count only summarises. */
  let counted = false;
  const queued: ShellEvent[] = [];
  const notified = new Set<string>();
  // Notifications are garbage-collected with their click handler unless something holds them.
  const shown = new Set<NotificationLike>();
  const listeners = new Set<(e: ApiEvent) => void>();

  /** Sends a shell event now if the UI is loaded, otherwise once it is. */
  const deliver = (e: ShellEvent) => {
    if (loaded && router?.sendShellEvent(e)) return;
    queued.push(e);
  };

  const showWindow = () => {
    if (!win || win.isDestroyed()) {
      openWindow();
      return;
    }
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };

  function openWindow(): void {
    loaded = false;
    const w = createMainWindow(electron, { preload: opts.paths.preload });
    win = w;
    w.webContents.on('did-finish-load', () => {
      loaded = true;
      if (firstRun !== undefined) router?.sendShellEvent({ type: 'first-run', message: firstRun });
      for (const e of queued.splice(0)) deliver(e);
    });
    w.on('close', (event) => {
      // With a tray the node keeps running and keeps notifying; without one, closing quits.
      if (!quitting && tray) {
        event.preventDefault();
        w.hide();
      }
    });
    w.loadURL(APP_URL).catch((e: unknown) => log(`window: cannot load the UI: ${String(e)}`));
  }

  // Calls made before the node is up get `not_ready`, or the reason it did not start.
  const api = Object.fromEntries(
    API_METHODS.map((method) => [
      method,
      async (input: unknown) => {
        if (!node && method === 'identity.init' && firstRun !== undefined && opts.initIdentity) {
          const i = input as { name: string; vault: 'keychain' | 'file'; passphrase?: string };
          await opts.initIdentity(i);
          await boot(i.passphrase);
          if (!node)
            throw startError ?? new ApiError('internal', 'the custodian node did not start');
          firstRun = undefined;
          return (node as RunningNode).api['node.status']({});
        }
        if (!node && method === 'vault.unlock' && startError?.code === 'locked')
          return unlock((input as { passphrase: string }).passphrase);
        if (!node) {
          throw startError ?? new ApiError('not_ready', 'the custodian node is still starting');
        }
        return (node.api[method] as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as Api;

  // A file vault without its passphrase: the renderer's unlock screen sends it (never argv or logs).
  let unlocking = false;
  let failures = 0;
  async function unlock(passphrase: string): Promise<unknown> {
    // One attempt at a time, each wrong one answered later than the last: guessing stays slow.
    if (unlocking)
      throw new ApiError('conflict', 'an unlock attempt is already running; wait for it');
    unlocking = true;
    const locked = startError;
    try {
      await boot(passphrase);
      if (!node) {
        const failure = startError ?? new ApiError('internal', 'the custodian node did not start');
        // Still locked: the next node.status shows the unlock screen again.
        startError = locked;
        failures += 1;
        await new Promise((r) => setTimeout(r, wrongPassphraseDelayMs(failures)));
        throw failure;
      }
      failures = 0;
      return (node as RunningNode).api['node.status']({});
    } finally {
      unlocking = false;
    }
  }

  let refreshing: Promise<void> | undefined;
  let again = false;
  async function countPending(): Promise<void> {
    const n = node;
    if (!n) return;
    const waiting = waitingForMe(await n.api['request.list']({ pending: true }), n.peerId);
    pending = waiting.length;
    tray?.setToolTip(trayToolTip(pending));
    tray?.setTitle(pending > 0 ? String(pending) : '');
    const fresh = waiting.filter((r) => !notified.has(r.id) && r.createdBy.peerId !== n.peerId);
    for (const r of waiting) notified.add(r.id);
    const first = !counted;
    counted = true;
    if (fresh.length === 0 || !electron.Notification.isSupported()) return;
    if (!(await notificationsWanted(n))) return;
    if (fresh.length === 1) {
      notify(notificationFor(fresh[0]!), fresh[0]!.id);
    } else if (first || fresh.length > 3) {
      // At start-up, or after a burst: one summary rather than a stack of notifications.
      notify(summaryNotification(fresh.length), undefined);
    } else {
      for (const r of fresh) notify(notificationFor(r), r.id);
    }
  }
  /** The custodian's notifications setting; when it cannot be read, notifying is the safe side. */
  async function notificationsWanted(n: RunningNode): Promise<boolean> {
    try {
      return (await n.api['settings.get']({})).notifications !== false;
    } catch (e) {
      log(`notifications: cannot read settings: ${e instanceof Error ? e.message : String(e)}`);
      return true;
    }
  }
  function notify(text: { title: string; body: string }, requestId: string | undefined): void {
    const note = new electron.Notification(text);
    shown.add(note);
    note.on('click', () => {
      shown.delete(note);
      showWindow();
      if (requestId) deliver({ type: 'open-request', id: requestId });
    });
    note.show();
    while (shown.size > 20) shown.delete(shown.values().next().value as NotificationLike);
  }
  /** Coalesces bursts of request events into at most one recount in flight and one queued. */
  function refreshPending(): Promise<void> {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        try {
          await countPending();
        } catch (e) {
          log(`tray: cannot count pending requests: ${e instanceof Error ? e.message : String(e)}`);
        }
      } while (again);
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  // Registered before `ready`: a macOS link that launches the app arrives early.
  app.on('open-url', (event, url) => {
    event.preventDefault();
    const link = parseDeepLink(url);
    if (link) {
      deliver({ type: 'deeplink', invite: link.invite });
      if (win) showWindow();
    } else log(`deep link ignored: not a conclave://join?invite=… link`);
  });
  app.on('second-instance', (_event, argv) => {
    showWindow();
    const link = findDeepLink(argv);
    if (link) deliver({ type: 'deeplink', invite: link.invite });
  });
  app.on('web-contents-created', (_event, contents) =>
    lockDownWebContents(contents, electron.shell),
  );
  app.on('activate', () => showWindow());
  app.on('window-all-closed', () => {
    if (!tray) app.quit();
  });
  app.on('before-quit', (event) => {
    quitting = true;
    if (stopped) return;
    event.preventDefault();
    if (stopping) return;
    stopping = (async () => {
      await ready.catch(() => undefined);
      const n = node;
      node = undefined;
      if (n) {
        const done = await withDeadline(
          n.stop().then(() => true),
          STOP_DEADLINE_MS,
        ).catch((e: unknown) => {
          log(`stopping the node failed: ${String(e)}`);
          return true;
        });
        if (!done) log(`the node did not stop within ${STOP_DEADLINE_MS} ms; quitting anyway`);
      }
      router?.dispose();
      tray?.destroy();
      stopped = true;
      app.quit();
    })();
  });

  const initial = findDeepLink(opts.argv);
  if (initial) queued.push({ type: 'deeplink', invite: initial.invite });

  const ready = (async () => {
    await app.whenReady();
    electron.protocol.handle(APP_SCHEME, appProtocolHandler(opts.paths.renderer));
    router = registerApiRouter(electron.ipcMain, {
      api,
      appOrigin: APP_ORIGIN,
      mainWindow: () => (win && !win.isDestroyed() ? win.webContents : undefined),
      onEvent: (cb) => {
        listeners.add(cb);
        return () => listeners.delete(cb);
      },
      log,
    });
    try {
      tray = new electron.Tray(opts.paths.trayIcon);
      tray.setToolTip('Conclave');
      tray.setContextMenu(
        electron.Menu.buildFromTemplate([
          { label: 'Show Conclave', click: () => showWindow() },
          { type: 'separator' },
          { label: 'Quit Conclave', click: () => app.quit() },
        ]),
      );
      tray.on('click', () => showWindow());
    } catch (e) {
      // Some Linux desktops have no status area; the app then quits when its window closes.
      log(`tray: not available: ${e instanceof Error ? e.message : String(e)}`);
      tray = undefined;
    }
    openWindow();

    await boot();
  })();

  /** Starts the node (again after first run); a failure is kept and shown to the renderer. */
  async function boot(passphrase?: string): Promise<void> {
    startError = undefined;
    try {
      const started = await opts.startNode(passphrase);
      if (quitting) {
        await started.stop().catch(() => undefined);
        return;
      }
      node = started;
      started.onEvent((e) => {
        for (const cb of [...listeners]) cb(e);
        if (e.type === 'request') void refreshPending();
      });
      await refreshPending();
    } catch (e) {
      if (e instanceof ApiError) {
        startError = e;
        if (e.code === 'not_ready') {
          firstRun = e.message;
          if (loaded) router?.sendShellEvent({ type: 'first-run', message: e.message });
        }
      } else {
        const message = e instanceof Error ? e.message : String(e);
        startError = new ApiError('internal', `the custodian node did not start: ${message}`);
      }
      log(`node: ${startError.message}`);
    }
  }

  return {
    primary: true,
    ready,
    node: () => node,
    window: () => win,
    tray: () => tray,
    router: () => router,
    pendingCount: () => pending,
    refreshPending,
  };
}
