// The app's one window, hardened as Electron's security checklist says: sandboxed renderer with
// context isolation, no navigation, no new windows, no permissions, a strict CSP.
import type { WebPreferences } from 'electron';
import type {
  BrowserWindowLike,
  ElectronLike,
  Preventable,
  SessionLike,
  ShellLike,
  WebContentsLike,
} from './types.js';

/** The renderer's origin: a custom standard scheme, so it is neither file:// nor a web origin. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'conclave';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/**
 * Hosts a link in the UI may open in the default browser (https only, exact host). Anything else
 * is dropped: a compromised or confused renderer must not launch arbitrary URLs or programs.
 */
export const EXTERNAL_HOSTS: readonly string[] = ['github.com'];

/** The same policy as browser mode's static pages; no inline script or style, nothing remote. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function hardenedWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

/** True for an https link to an allow-listed host, with no credentials and the default port. */
export function isAllowedExternalUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch (_) {
    return false;
  }
  return (
    u.protocol === 'https:' &&
    u.username === '' &&
    u.password === '' &&
    u.port === '' &&
    EXTERNAL_HOSTS.includes(u.hostname)
  );
}

/** Opens an allow-listed link in the default browser; returns whether it did. */
export function openExternalIfAllowed(shell: ShellLike, url: string): boolean {
  if (!isAllowedExternalUrl(url)) return false;
  shell.openExternal(url).catch(() => undefined);
  return true;
}

/** Pages the CSP header is added to: the app's own content (and file://, should it ever load). */
export function isAppContentUrl(url: string): boolean {
  return url.startsWith(`${APP_ORIGIN}/`) || url.startsWith('file://');
}

/**
 * The one permission the UI gets: writing to the clipboard (its Copy buttons for invites, keys and
 * signatures), and only for the app's own main frame. Reading it, camera, notifications from the
 * page (main shows them), and everything else are denied.
 */
export function isPermissionAllowed(permission: string, origin: string | undefined): boolean {
  return permission === 'clipboard-sanitized-write' && origin === APP_ORIGIN;
}

function originOfUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch (_) {
    return undefined;
  }
}

/** Denies every permission but clipboard writing by the app, adds the CSP to the app's content. */
export function hardenSession(session: SessionLike): void {
  session.setPermissionRequestHandler((_webContents, permission, callback, details) =>
    callback(
      details?.isMainFrame === true &&
        isPermissionAllowed(permission, originOfUrl(details.requestingUrl)),
    ),
  );
  session.setPermissionCheckHandler((_webContents, permission, requestingOrigin) =>
    isPermissionAllowed(permission, originOfUrl(requestingOrigin)),
  );
  session.webRequest.onHeadersReceived((details, callback) => {
    if (!isAppContentUrl(details.url)) {
      callback({});
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    headers['Content-Security-Policy'] = [CSP];
    callback({ responseHeaders: headers });
  });
}

/**
 * Blocks navigation, redirects, new windows and <webview> in any web contents; a link to an
 * allow-listed https page goes to the default browser instead. Applied to every web contents the
 * app creates, not only the main window.
 */
export function lockDownWebContents(contents: WebContentsLike, shell: ShellLike): void {
  const refuse = (event: Preventable, url: string) => {
    event.preventDefault();
    openExternalIfAllowed(shell, url);
  };
  contents.on('will-navigate', refuse);
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternalIfAllowed(shell, url);
    return { action: 'deny' };
  });
}

export interface MainWindowOptions {
  /** Absolute path of the built preload (dist/electron/preload.cjs). */
  preload: string;
  /** Shown once the first paint is ready, unless the app starts hidden in the tray. */
  show?: boolean;
}

/** Creates the hardened main window; the caller loads APP_URL into it. */
export function createMainWindow(
  electron: Pick<ElectronLike, 'BrowserWindow' | 'shell'>,
  opts: MainWindowOptions,
): BrowserWindowLike {
  const win = new electron.BrowserWindow({
    title: 'Conclave',
    width: 1100,
    height: 760,
    minWidth: 640,
    minHeight: 480,
    show: false,
    autoHideMenuBar: true,
    webPreferences: hardenedWebPreferences(opts.preload),
  });
  hardenSession(win.webContents.session);
  lockDownWebContents(win.webContents, electron.shell);
  if (opts.show !== false) win.once('ready-to-show', () => win.show());
  return win;
}
