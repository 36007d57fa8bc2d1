// The slice of Electron's main-process API the shell uses. The real `electron` module satisfies it
// (main.ts passes it in, so the type check proves that); test/electron/fake-electron.ts fakes it.
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

export interface Preventable {
  preventDefault(): void;
}

export interface SessionLike {
  setPermissionRequestHandler(
    handler: (
      webContents: unknown,
      permission: string,
      callback: (granted: boolean) => void,
      details: { requestingUrl: string; isMainFrame: boolean },
    ) => void,
  ): void;
  setPermissionCheckHandler(
    handler: (webContents: unknown, permission: string, requestingOrigin: string) => boolean,
  ): void;
  webRequest: {
    onHeadersReceived(
      listener: (
        details: OnHeadersReceivedListenerDetails,
        callback: (response: HeadersReceivedResponse) => void,
      ) => void,
    ): void;
  };
}

export interface WebContentsLike {
  readonly id: number;
  readonly session: SessionLike;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  isLoading(): boolean;
  on(event: 'will-navigate', listener: (event: Preventable, url: string) => void): unknown;
  on(event: 'will-redirect', listener: (event: Preventable, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: Preventable) => void): unknown;
  on(event: 'did-finish-load', listener: () => void): unknown;
  setWindowOpenHandler(handler: (details: HandlerDetails) => WindowOpenHandlerResponse): void;
}

export interface BrowserWindowLike {
  readonly webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  show(): void;
  hide(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  isDestroyed(): boolean;
  on(event: 'close', listener: (event: Preventable) => void): unknown;
  once(event: 'ready-to-show', listener: () => void): unknown;
}

export interface ShellLike {
  openExternal(url: string): Promise<void>;
}

export interface MenuLike {
  readonly items: unknown[];
}

export interface TrayLike {
  setToolTip(toolTip: string): void;
  setTitle(title: string): void;
  setContextMenu(menu: MenuLike | null): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface NotificationLike {
  on(event: 'click', listener: () => void): unknown;
  show(): void;
}

export interface AppLike {
  readonly isPackaged: boolean;
  requestSingleInstanceLock(): boolean;
  setAsDefaultProtocolClient(protocol: string, path?: string, args?: string[]): boolean;
  enableSandbox(): void;
  whenReady(): Promise<void>;
  getPath(name: 'userData'): string;
  getAppPath(): string;
  quit(): void;
  exit(code?: number): void;
  focus(options?: { steal: boolean }): void;
  on(
    event: 'second-instance',
    listener: (event: Preventable, argv: string[], workingDirectory: string) => void,
  ): unknown;
  on(event: 'open-url', listener: (event: Preventable, url: string) => void): unknown;
  on(event: 'activate', listener: () => void): unknown;
  on(event: 'before-quit', listener: (event: Preventable) => void): unknown;
  on(event: 'window-all-closed', listener: () => void): unknown;
  on(
    event: 'web-contents-created',
    listener: (event: Preventable, contents: WebContentsLike) => void,
  ): unknown;
}

export interface IpcMainInvokeEventLike {
  readonly sender: { readonly id: number };
  readonly senderFrame: { readonly url: string } | null;
}

export interface IpcMainLike {
  handle(
    channel: string,
    listener: (event: IpcMainInvokeEventLike, ...args: unknown[]) => Promise<unknown>,
  ): void;
  removeHandler(channel: string): void;
}

export interface ProtocolLike {
  registerSchemesAsPrivileged(schemes: CustomScheme[]): void;
  handle(scheme: string, handler: (request: Request) => Promise<Response>): void;
}

/** The `electron` module as the shell sees it. */
export interface ElectronLike {
  app: AppLike;
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindowLike;
  ipcMain: IpcMainLike;
  shell: ShellLike;
  protocol: ProtocolLike;
  /** Takes an image path: a small PNG made for the tray (build/tray.png). */
  Tray: new (image: string) => TrayLike;
  Menu: { buildFromTemplate(template: MenuItemConstructorOptions[]): MenuLike };
  Notification: {
    new (options: NotificationConstructorOptions): NotificationLike;
    isSupported(): boolean;
  };
}
