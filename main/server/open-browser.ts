// Opens browser mode in the desktop's browser without putting a secret on any command line: the
// opener (and anyone reading /proc) sees only the path of a private file holding a one-time link.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The command that opens `target` with the desktop's default handler, if there is a desktop. */
export function openerCommand(
  target: string,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string[] | undefined {
  if (platform === 'darwin') return ['open', target];
  if (platform === 'win32') return ['cmd', '/c', 'start', '', target];
  return env.DISPLAY || env.WAYLAND_DISPLAY ? ['xdg-open', target] : undefined;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Writes a page that sends the browser to `url` into a new private directory (0700, file 0600).
 * `remove` deletes it; call it once the link is used or expires, and on exit.
 */
export async function writeOpenFile(url: string): Promise<{ path: string; remove(): void }> {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-open-'));
  const path = join(dir, 'open.html');
  const href = escapeHtml(url);
  await writeFile(
    path,
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
      `<meta http-equiv="refresh" content="0;url=${href}"><title>Conclave</title></head>` +
      `<body><p><a href="${href}">Open Conclave</a></p></body></html>\n`,
    { mode: 0o600, flag: 'wx' },
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Best effort: opens a one-time link through a private file in the default browser. `oneTimeUrl`
 * issues the link and calls its callback once the link is used, expired or the server closed,
 * which deletes the file. Returns false when there is no desktop to open it on.
 */
export async function openInBrowser(
  oneTimeUrl: (onDone: () => void) => string,
  run: (cmd: string[]) => void = spawnDetached,
): Promise<boolean> {
  const probe = openerCommand('');
  if (!probe) return false;
  // The callback may run before the file exists (or after): it removes whatever is held then.
  const held: { file?: { path: string; remove(): void } } = {};
  let done = false;
  const url = oneTimeUrl(() => {
    done = true;
    held.file?.remove();
  });
  const file = (held.file = await writeOpenFile(url));
  // The link may have ended while the file was being written (the server closed).
  if (done) {
    file.remove();
    return false;
  }
  process.once('exit', () => file.remove());
  run(openerCommand(pathToFileURL(file.path).href)!);
  return true;
}

function spawnDetached(cmd: string[]): void {
  try {
    spawn(cmd[0]!, cmd.slice(1), { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
  } catch {
    // No browser to open: the URL is printed anyway.
  }
}
