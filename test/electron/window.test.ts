// The main window's hardening: web preferences, navigation and window.open, external links,
// permissions and the CSP header.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  APP_URL,
  CSP,
  createMainWindow,
  isAllowedExternalUrl,
  openExternalIfAllowed,
} from '../../main/electron/window.js';
import {
  fakeElectron,
  preventable,
  type FakeBrowserWindow,
  type FakeElectron,
} from './fake-electron.js';

let electron: FakeElectron;
let win: FakeBrowserWindow;

beforeEach(() => {
  electron = fakeElectron();
  win = createMainWindow(electron, {
    preload: '/app/dist/electron/preload.cjs',
  }) as FakeBrowserWindow;
});

describe('createMainWindow', () => {
  it('creates the window with hardened web preferences', () => {
    const prefs = win.options.webPreferences!;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: '/app/dist/electron/preload.cjs',
    });
    expect(win.options.show).toBe(false);
  });

  it('shows the window once it is ready, unless told not to', () => {
    win.emit('ready-to-show');
    expect(win.visible).toBe(true);
    const hidden = createMainWindow(electron, { preload: '/p', show: false }) as FakeBrowserWindow;
    hidden.emit('ready-to-show');
    expect(hidden.visible).toBe(false);
  });

  it('blocks every navigation and redirect, even to the app itself', () => {
    for (const url of [
      'https://evil.example/',
      'http://127.0.0.1:8080/',
      'file:///etc/passwd',
      APP_URL,
      'https://github.com/',
    ]) {
      expect(win.webContents.navigate('will-navigate', url), url).toBe(true);
      expect(win.webContents.navigate('will-redirect', url), url).toBe(true);
    }
  });

  it('denies window.open and <webview>', () => {
    expect(win.webContents.windowOpen('https://evil.example/')).toEqual({ action: 'deny' });
    expect(win.webContents.windowOpen(APP_URL)).toEqual({ action: 'deny' });
    const e = preventable();
    win.webContents.emit('will-attach-webview', e);
    expect(e.defaultPrevented).toBe(true);
  });

  it('opens allow-listed https links in the default browser and nothing else', () => {
    win.webContents.windowOpen('https://github.com/conclave');
    win.webContents.navigate('will-navigate', 'https://github.com/other');
    win.webContents.windowOpen('http://github.com/plain-http');
    win.webContents.windowOpen('https://evil.example/');
    win.webContents.windowOpen('file:///bin/sh');
    win.webContents.navigate('will-navigate', 'smb://share/x');
    expect(electron.shell.opened).toEqual([
      'https://github.com/conclave',
      'https://github.com/other',
    ]);
  });

  it('denies every permission request and check but clipboard writing by the app', () => {
    const session = electron.defaultSession;
    for (const permission of [
      'media',
      'notifications',
      'geolocation',
      'openExternal',
      'clipboard-read',
      'fullscreen',
      'unknown',
    ]) {
      expect(session.requestPermission(permission, APP_URL), permission).toBe(false);
      expect(session.permissionCheckHandler!(undefined, permission, 'app://conclave')).toBe(false);
    }
    expect(session.requestPermission('clipboard-sanitized-write', APP_URL)).toBe(true);
    expect(
      session.permissionCheckHandler!(undefined, 'clipboard-sanitized-write', 'app://conclave'),
    ).toBe(true);
    for (const url of ['https://evil.example/', 'file:///tmp/x.html', 'app://evil/', 'not a url']) {
      expect(session.requestPermission('clipboard-sanitized-write', url), url).toBe(false);
      expect(session.permissionCheckHandler!(undefined, 'clipboard-sanitized-write', url)).toBe(
        false,
      );
    }
    // Not from a subframe, even of the app.
    expect(session.requestPermission('clipboard-sanitized-write', APP_URL, false)).toBe(false);
  });

  it("puts the strict CSP on the app's own content, replacing any other", () => {
    const session = electron.defaultSession;
    for (const url of [
      APP_URL,
      'app://conclave/assets/index.js',
      'file:///opt/Conclave/index.html',
    ]) {
      const answer = session.headersFor(url, {
        'content-security-policy': ['default-src *'],
        'Content-Type': ['text/html'],
      });
      expect(answer.responseHeaders).toEqual({
        'Content-Type': ['text/html'],
        'Content-Security-Policy': [CSP],
      });
    }
    expect(session.headersFor('https://github.com/')).toEqual({});
  });

  it('has a CSP without inline or remote code', () => {
    expect(CSP).toContain("default-src 'self'");
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).toContain("object-src 'none'");
    expect(CSP).toContain("frame-ancestors 'none'");
    expect(CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });
});

describe('external links', () => {
  it('allows https links to allow-listed hosts only', () => {
    expect(isAllowedExternalUrl('https://github.com/')).toBe(true);
    expect(isAllowedExternalUrl('https://github.com/a/b?c=d#e')).toBe(true);
    for (const url of [
      'http://github.com/',
      'https://github.com.evil.example/',
      'https://evil.example/?https://github.com/',
      'https://user:pw@github.com/',
      'https://github.com:8443/',
      'https://gist.github.com/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'conclave://join?invite=x',
      'not a url',
      '',
    ]) {
      expect(isAllowedExternalUrl(url), url).toBe(false);
    }
  });

  it('does not call openExternal for a refused link', () => {
    expect(openExternalIfAllowed(electron.shell, 'https://evil.example/')).toBe(false);
    expect(openExternalIfAllowed(electron.shell, 'https://github.com/x')).toBe(true);
    expect(electron.shell.opened).toEqual(['https://github.com/x']);
  });
});
