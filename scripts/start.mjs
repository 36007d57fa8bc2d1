// `npm start`: the desktop app when the Electron binary is installed, browser mode otherwise.
// Arguments after `--` go to `conclave start --ui` in browser mode (e.g. `npm start -- --sandbox`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Electron executable, if one is installed. Read from the electron package's path.txt rather
 * than `require('electron')`: in electron 45 that require itself starts a download when the binary
 * is missing.
 */
function electronBinary() {
  const pkg = join(root, 'node_modules', 'electron');
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const exe = join(process.env.ELECTRON_OVERRIDE_DIST_PATH, 'electron');
    return existsSync(exe) ? exe : undefined;
  }
  let rel;
  try {
    rel = readFileSync(join(pkg, 'path.txt'), 'utf8').trim();
  } catch (_) {
    return undefined;
  }
  const exe = join(pkg, 'dist', rel);
  return rel && existsSync(exe) ? exe : undefined;
}

function run(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; forward termination from elsewhere too.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('error', (e) => {
    console.error(`npm start: cannot run ${cmd}: ${e.message}`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const args = process.argv.slice(2);
const electron = electronBinary();
if (electron) {
  if (!existsSync(join(root, 'dist', 'electron', 'main.js'))) {
    console.error('npm start: the desktop app is not built yet; run `npm run build` first.');
    process.exit(1);
  }
  run(electron, ['.', ...args]);
} else {
  console.log('The Electron desktop shell is not installed here; starting browser mode instead.');
  if (!existsSync(join(root, 'dist', 'renderer', 'index.html'))) {
    // First start after `npm ci`: build the UI once (about two seconds).
    const built = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'error'],
      { cwd: root, stdio: 'inherit' },
    );
    if (built.status !== 0) {
      console.error('npm start: building the UI failed; run `npm run build:ui` to see why.');
      process.exit(1);
    }
  }
  // The command starts from one bundle (about two seconds to make); bin/conclave.mjs uses it
  // only when it is newer than the sources, so after an edit this makes it again.
  const { buildNode, BUNDLE, newestSource } = await import('./build-node.mjs');
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < newestSource())
    await buildNode({ quiet: true }).catch((e) =>
      console.error(`npm start: bundling failed (${e.message}); starting from the sources`),
    );
  run(process.execPath, [join(root, 'bin', 'conclave.mjs'), 'start', '--ui', '--open', ...args]);
}
