// Electron's entry point (built to dist/electron/main.js): wires the real `electron` module, the
// custodian node and the built files into the shell. Everything it calls is tested with a fake.
import '../polyfill.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import electron from 'electron';
import { initIdentity, startCustodian } from '../node/index.js';
import { runShell } from './shell.js';

const here = dirname(fileURLToPath(import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

const home = () => join(electron.app.getPath('userData'), 'node');

/** Multiaddrs to listen on besides loopback, from CONCLAVE_LISTEN (separated by spaces or commas). */
function extraListen(): string[] {
  return (process.env.CONCLAVE_LISTEN ?? '').split(/[\s,]+/).filter((a) => a.length > 0);
}

runShell({
  electron,
  initIdentity: async (i) => {
    await initIdentity({ home: home(), name: i.name, vault: i.vault, passphrase: i.passphrase });
  },
  startNode: (passphrase) =>
    startCustodian({
      home: home(),
      // As `conclave start`: loopback only, plus what the user asks for; other machines reach the
      // app through its relays (settings) unless CONCLAVE_LISTEN opens a port to them.
      listen: ['/ip4/127.0.0.1/tcp/0', ...extraListen()],
      relays: [],
      // As `conclave start`: no LAN announcements unless asked for.
      mdns: false,
      // Only the file vault needs it: from the first-run screen, else the environment.
      passphrase: passphrase ?? process.env.CONCLAVE_PASSPHRASE,
      log,
    }),
  paths: {
    preload: join(here, 'preload.cjs'),
    renderer: join(here, '..', 'renderer'),
    trayIcon: join(here, 'tray.png'),
  },
  argv: process.argv,
  // `electron .` in development: the OS must start Electron with this app's path for links.
  protocolClient:
    process.defaultApp && process.argv[1]
      ? { path: process.execPath, args: [resolve(process.argv[1])] }
      : undefined,
  log,
});
