// `npm run dist`: builds everything, then packages installers for the current OS into release/ with
// electron-builder (extra arguments go to it: `npm run dist -- --linux deb`). Packaging downloads
// the Electron binary; where that is impossible this says so in one line instead of a stack trace.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronVersion = await import('../node_modules/electron/package.json', {
  with: { type: 'json' },
}).then(
  (m) => m.default.version,
  () => 'unknown',
);

/** Runs a command; resolves with its exit code and, when `capture` is set, its output. */
function run(cmd, args, { capture = false, onLine } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      // npm is npm.cmd on Windows.
      shell: process.platform === 'win32' && cmd === 'npm',
    });
    let output = '';
    let partial = '';
    const take = (chunk) => {
      const text = partial + chunk.toString();
      const lines = text.split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output += `${line}\n`;
        onLine?.(line);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.on('error', (e) => {
      output += `${e.message}\n`;
      resolve({ code: 127, output });
    });
    child.on('close', (code) => {
      if (partial) take('\n');
      resolve({ code: code ?? 1, output });
    });
  });
}

// What a failed Electron download looks like in electron-builder's output.
const NO_DOWNLOAD =
  /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|CERT_\w+|UNABLE_TO_GET_ISSUER_CERT\w*)\b|socket hang up|cannot download|unable to download/i;

function networkReason(output) {
  const m = NO_DOWNLOAD.exec(output);
  if (!m) return undefined;
  const host = /getaddrinfo \w+ ([\w.-]+)/.exec(output)?.[1];
  return host ? `${m[0]} ${host}` : m[0];
}

const npm = process.env.npm_execpath
  ? { cmd: process.execPath, pre: [process.env.npm_execpath] }
  : { cmd: 'npm', pre: [] };
const built = await run(npm.cmd, [...npm.pre, 'run', '--silent', 'build']);
if (built.code !== 0) {
  console.error('npm run dist: the build failed (see above); nothing was packaged.');
  process.exit(built.code);
}
if (!existsSync(join(root, 'dist', 'renderer', 'index.html'))) {
  console.error(
    'npm run dist: dist/renderer/index.html is missing after the build; nothing was packaged.',
  );
  process.exit(1);
}

const cli = join(root, 'node_modules', 'electron-builder', 'cli.js');
// electron-builder's progress lines ("  • packaging …") pass through; errors are judged at the end.
const packaged = await run(
  process.execPath,
  [cli, '--publish', 'never', ...process.argv.slice(2)],
  {
    capture: true,
    onLine: (line) => {
      if (/^\s*•/.test(line)) console.log(line);
    },
  },
);
if (packaged.code === 0) {
  console.log('npm run dist: installers are in release/');
  process.exit(0);
}
const reason = networkReason(packaged.output);
if (reason) {
  console.error(
    `npm run dist: cannot package: electron-builder could not download Electron ${electronVersion} ` +
      `(${reason}); run it where github.com is reachable, e.g. CI (.github/workflows/ci.yml).`,
  );
} else {
  process.stderr.write(
    packaged.output
      .split('\n')
      .filter((l) => !/^\s*•/.test(l))
      .join('\n'),
  );
  console.error(`npm run dist: electron-builder failed (exit ${packaged.code}); see above.`);
}
process.exit(packaged.code || 1);
