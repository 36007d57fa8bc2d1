// The desktop app with a file vault and no passphrase: the node answers `locked` until the
// renderer's unlock screen sends `vault.unlock`; a wrong passphrase keeps it locked, and slower.
import { expect, it } from 'vitest';
import { ApiError } from '../../shared/api/index.js';
import { IPC_CHANNELS } from '../../shared/api/ipc-client.js';
import { runShell } from '../../main/electron/shell.js';
import { APP_URL } from '../../main/electron/window.js';
import { fakeElectron } from './fake-electron.js';
import { ME, fakeNode } from './fake-node.js';

it('a locked file vault answers locked, stays locked on a wrong passphrase, and starts on the right one', async () => {
  const electron = fakeElectron();
  const node = fakeNode({
    'request.list': () => [],
    'node.status': () => ({ peerId: ME, name: 'alice' }),
  } as never);
  const tried: (string | undefined)[] = [];
  const logged: string[] = [];
  const shell = runShell({
    electron,
    startNode: async (passphrase) => {
      tried.push(passphrase);
      if (passphrase === undefined)
        throw new ApiError('locked', 'the file vault is locked: it needs its passphrase');
      if (passphrase !== 'right passphrase')
        throw new ApiError('vault', 'The passphrase does not open this vault.');
      return node;
    },
    paths: { preload: '/app/preload.cjs', renderer: '/app/renderer', trayIcon: '/app/tray.png' },
    argv: ['/opt/Conclave/conclave'],
    log: (line) => logged.push(line),
  });
  electron.app.becomeReady();
  await shell.ready;
  const win = electron.windows.at(-1)!;
  win.finishLoad();
  const call = (method: string, input: unknown) =>
    electron.ipcMain.invoke(win.webContents, APP_URL, IPC_CHANNELS.call, method, input);

  expect(await call('node.status', {})).toMatchObject({ ok: false, error: { code: 'locked' } });
  const t0 = Date.now();
  expect(await call('vault.unlock', { passphrase: 'wrong passphrase' })).toMatchObject({
    ok: false,
    error: { code: 'vault' },
  });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  // Still locked: the renderer shows the unlock screen again.
  expect(await call('node.status', {})).toMatchObject({ ok: false, error: { code: 'locked' } });
  expect(await call('vault.unlock', { passphrase: 'right passphrase' })).toMatchObject({
    ok: true,
    result: { name: 'alice' },
  });
  expect(await call('request.list', {})).toEqual({ ok: true, result: [] });
  expect(tried).toEqual([undefined, 'wrong passphrase', 'right passphrase']);
  expect(logged.join('\n')).not.toMatch(/wrong passphrase|right passphrase/);
});
