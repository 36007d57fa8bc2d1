// A small fake of the `electron` main-process module (the slice in main/electron/types.ts), so the
// shell's glue runs in plain Node: it records what the shell asked for and lets tests fire events.
import type {
  BrowserWindowConstructorOptions,
  CustomScheme,
  HandlerDetails,
  HeadersReceivedResponse,
  MenuItemConstructorOptions,
  NotificationConstructorOptions,
  OnHeadersReceivedListenerDetails,
  WindowOpenHandlerResponse,
} from 'electron';
import type {
  ElectronLike,
  IpcMainInvokeEventLike,
  Preventable,
  SessionLike,
} from '../../main/electron/types.js';

type Listener = (...args: never[]) => unknown;

/** on/once/emit, enough of Node's EventEmitter for the shell. */
class Emitter {
  readonly listeners = new Map<string, Listener[]>();
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: string, listener: Listener): this {
    const wrapped = ((...args: never[]) => {
      this.off(event, wrapped);
      return listener(...args);
    }) as Listener;
    return this.on(event, wrapped);
  }
  off(event: string, listener: Listener): this {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l !== listener),
    );
    return this;
  }
  emit(event: string, ...args: unknown[]): boolean {
    const ls = this.listeners.get(event) ?? [];
    for (const l of ls) (l as (...a: unknown[]) => unknown)(...args);
    return ls.length > 0;
  }
  count(event: string): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}

/** An event whose default the handler may prevent. */
export function preventable(): Preventable & { defaultPrevented: boolean } {
  const e = {
    defaultPrevented: false,
    preventDefault() {
      e.defaultPrevented = true;
    },
  };
  return e;
}

export class FakeSession implements SessionLike {
  permissionRequestHandler?: (
    webContents: unknown,
    permission: string,
    callback: (granted: boolean) => void,
    details: { requestingUrl: string; isMainFrame: boolean },
  ) => void;
  permissionCheckHandler?: (
    webContents: unknown,
    permission: string,
    requestingOrigin: string,
  ) => boolean;
  headersListener?: (
    details: OnHeadersReceivedListenerDetails,
    callback: (response: HeadersReceivedResponse) => void,
  ) => void;
  setPermissionRequestHandler(handler: NonNullable<FakeSession['permissionRequestHandler']>): void {
    this.permissionRequestHandler = handler;
  }
  setPermissionCheckHandler(handler: NonNullable<FakeSession['permissionCheckHandler']>): void {
    this.permissionCheckHandler = handler;
  }
  /** What the request handler answers for `permission` asked by a frame at `url`. */
  requestPermission(permission: string, url: string, isMainFrame = true): boolean {
    let granted: boolean | undefined;
    this.permissionRequestHandler?.(
      undefined,
      permission,
      (g) => {
        granted = g;
      },
      { requestingUrl: url, isMainFrame },
    );
    if (granted === undefined) throw new Error('the permission request was not answered');
    return granted;
  }
  webRequest = {
    onHeadersReceived: (listener: NonNullable<FakeSession['headersListener']>) => {
      this.headersListener = listener;
    },
  };
  /** Runs the onHeadersReceived listener as Chromium would and returns what it answered. */
  headersFor(url: string, responseHeaders: Record<string, string[]> = {}): HeadersReceivedResponse {
    let answer: HeadersReceivedResponse | undefined;
    this.headersListener?.(
      {
        id: 1,
        url,
        method: 'GET',
        resourceType: 'mainFrame',
        referrer: '',
        timestamp: 0,
        statusLine: 'HTTP/1.1 200 OK',
        statusCode: 200,
        responseHeaders,
      },
      (r) => {
        answer = r;
      },
    );
    if (!answer) throw new Error('onHeadersReceived did not answer');
    return answer;
  }
}

let nextId = 1;

export class FakeWebContents extends Emitter {
  readonly id = nextId++;
  readonly sent: { channel: string; args: unknown[] }[] = [];
  destroyed = false;
  openHandler?: (details: HandlerDetails) => WindowOpenHandlerResponse;
  constructor(readonly session: FakeSession) {
    super();
  }
  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isLoading(): boolean {
    return false;
  }
  setWindowOpenHandler(handler: (details: HandlerDetails) => WindowOpenHandlerResponse): void {
    this.openHandler = handler;
  }
  /** What the page's `window.open(url)` would get. */
  windowOpen(url: string): WindowOpenHandlerResponse {
    if (!this.openHandler) throw new Error('no window open handler');
    return this.openHandler({
      url,
      frameName: '',
      features: '',
      disposition: 'new-window',
      referrer: { url: '', policy: 'default' },
    });
  }
  /** Fires a navigation event; returns whether a handler prevented it. */
  navigate(event: 'will-navigate' | 'will-redirect', url: string): boolean {
    const e = preventable();
    this.emit(event, e, url);
    return e.defaultPrevented;
  }
  sentOn(channel: string): unknown[] {
    return this.sent.filter((s) => s.channel === channel).map((s) => s.args[0]);
  }
}

export class FakeBrowserWindow extends Emitter {
  static readonly all: FakeBrowserWindow[] = [];
  readonly webContents: FakeWebContents;
  loadedUrl?: string;
  visible = false;
  focused = false;
  minimized = false;
  destroyed = false;
  constructor(readonly options: BrowserWindowConstructorOptions) {
    super();
    this.webContents = new FakeWebContents(fake.defaultSession);
    FakeBrowserWindow.all.push(this);
  }
  async loadURL(url: string): Promise<void> {
    this.loadedUrl = url;
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {
    this.focused = true;
  }
  restore(): void {
    this.minimized = false;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  /** The page finished loading: the shell then sends what it queued. */
  finishLoad(): void {
    this.webContents.emit('did-finish-load');
  }
  /** The user closed the window; returns whether the shell kept it (hid it instead). */
  close(): boolean {
    const e = preventable();
    this.emit('close', e);
    if (!e.defaultPrevented) this.destroyed = this.webContents.destroyed = true;
    return e.defaultPrevented;
  }
}

export class FakeApp extends Emitter {
  isPackaged = false;
  gotLock = true;
  quitCalls = 0;
  sandboxed = false;
  protocolClients: { protocol: string; path?: string; args?: string[] }[] = [];
  private readyResolve!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => {
    this.readyResolve = resolve;
  });
  requestSingleInstanceLock(): boolean {
    return this.gotLock;
  }
  setAsDefaultProtocolClient(protocol: string, path?: string, args?: string[]): boolean {
    this.protocolClients.push({ protocol, path, args });
    return true;
  }
  enableSandbox(): void {
    this.sandboxed = true;
  }
  whenReady(): Promise<void> {
    return this.readyPromise;
  }
  /** Makes `whenReady()` resolve, as Electron does once it has initialised. */
  becomeReady(): void {
    this.readyResolve();
  }
  getPath(name: 'userData'): string {
    return `/fake/${name}`;
  }
  getAppPath(): string {
    return '/fake/app';
  }
  quit(): void {
    this.quitCalls++;
    const e = preventable();
    this.emit('before-quit', e);
    if (!e.defaultPrevented) this.emit('will-quit');
  }
  exit(): void {
    this.quitCalls++;
  }
  focus(): void {}
}

export class FakeIpcMain {
  readonly handlers = new Map<
    string,
    (event: IpcMainInvokeEventLike, ...args: unknown[]) => Promise<unknown>
  >();
  handle(
    channel: string,
    listener: (event: IpcMainInvokeEventLike, ...args: unknown[]) => Promise<unknown>,
  ): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  /** What `ipcRenderer.invoke(channel, ...args)` from `sender` would resolve to. */
  invoke(
    sender: { id: number },
    frameUrl: string | null,
    channel: string,
    ...args: unknown[]
  ): Promise<unknown> {
    const h = this.handlers.get(channel);
    if (!h) return Promise.reject(new Error(`No handler registered for '${channel}'`));
    return h({ sender, senderFrame: frameUrl === null ? null : { url: frameUrl } }, ...args);
  }
}

export class FakeTray extends Emitter {
  static readonly all: FakeTray[] = [];
  toolTip = '';
  title = '';
  menu: unknown;
  destroyed = false;
  constructor(readonly image: string) {
    super();
    FakeTray.all.push(this);
  }
  setToolTip(t: string): void {
    this.toolTip = t;
  }
  setTitle(t: string): void {
    this.title = t;
  }
  setContextMenu(menu: unknown): void {
    this.menu = menu;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

export class FakeNotification extends Emitter {
  static readonly all: FakeNotification[] = [];
  static supported = true;
  shown = false;
  constructor(readonly options: NotificationConstructorOptions) {
    super();
    FakeNotification.all.push(this);
  }
  static isSupported(): boolean {
    return FakeNotification.supported;
  }
  show(): void {
    this.shown = true;
  }
  click(): void {
    this.emit('click');
  }
}

export interface FakeElectron extends ElectronLike {
  app: FakeApp;
  ipcMain: FakeIpcMain;
  defaultSession: FakeSession;
  shell: { openExternal(url: string): Promise<void>; opened: string[] };
  protocol: {
    registerSchemesAsPrivileged(schemes: CustomScheme[]): void;
    handle(scheme: string, handler: (request: Request) => Promise<Response>): void;
    privileged: CustomScheme[];
    handlers: Map<string, (request: Request) => Promise<Response>>;
  };
  windows: FakeBrowserWindow[];
  trays: FakeTray[];
  notifications: FakeNotification[];
}

// The session windows are created with; reset() replaces it.
let fake: { defaultSession: FakeSession } = { defaultSession: new FakeSession() };

/** A fresh fake `electron` module. */
export function fakeElectron(): FakeElectron {
  FakeBrowserWindow.all.length = 0;
  FakeTray.all.length = 0;
  FakeNotification.all.length = 0;
  FakeNotification.supported = true;
  const defaultSession = new FakeSession();
  fake = { defaultSession };
  const opened: string[] = [];
  const privileged: CustomScheme[] = [];
  const handlers = new Map<string, (request: Request) => Promise<Response>>();
  return {
    app: new FakeApp(),
    ipcMain: new FakeIpcMain(),
    defaultSession,
    BrowserWindow: FakeBrowserWindow,
    shell: {
      opened,
      async openExternal(url: string) {
        opened.push(url);
      },
    },
    protocol: {
      privileged,
      handlers,
      registerSchemesAsPrivileged(schemes) {
        privileged.push(...schemes);
      },
      handle(scheme, handler) {
        handlers.set(scheme, handler);
      },
    },
    Tray: FakeTray,
    Menu: {
      buildFromTemplate: (template: MenuItemConstructorOptions[]) => ({ items: template }),
    },
    Notification: FakeNotification,
    windows: FakeBrowserWindow.all,
    trays: FakeTray.all,
    notifications: FakeNotification.all,
  };
}
