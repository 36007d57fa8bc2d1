// Runs the real OpenSSH tools for the ssh tests: ssh-keygen, ssh, and an sshd on 127.0.0.1 as the
// current user in a temp dir (its own host key, never ~/.ssh).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
export const hasOpenSsh = existsSync(SSHD) && existsSync('/usr/bin/ssh-keygen');

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion (stdin from `input`), with a deadline. */
export function run(
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    input?: string | Uint8Array;
    cwd?: string;
    timeoutMs?: number;
  } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface Sshd {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/**
 * An sshd on 127.0.0.1 in `dir`, as the current user: `authorizedKeys` lines, or a user CA
 * (`trustedCa`, an OpenSSH public key line) with the user's name as the principal.
 */
export async function startSshd(
  dir: string,
  opts: { authorizedKeys?: string; trustedCa?: string },
): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  // sshd started as root insists on its privilege separation directory (Debian makes it at boot).
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  if (!existsSync(hostKey)) {
    const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    if (r.code !== 0) throw new Error(`ssh-keygen host key: ${r.stderr}`);
  }
  const lines = [
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    'PidFile none',
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'LogLevel VERBOSE',
    // sshd must not read the user's own keys: only the files of this test.
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
  ];
  writeFileSync(join(dir, 'authorized_keys'), opts.authorizedKeys ?? '');
  if (opts.trustedCa) {
    writeFileSync(join(dir, 'ca.pub'), `${opts.trustedCa}\n`);
    lines.push(`TrustedUserCAKeys ${join(dir, 'ca.pub')}`);
  }
  writeFileSync(join(dir, 'sshd_config'), `${lines.join('\n')}\n`);
  const port = await freePort();
  const p: ChildProcess = spawn(
    SSHD,
    ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  p.stderr?.on('data', (d) => (log += d));
  // Listening once a connection is accepted.
  const until = Date.now() + 10_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`sshd exited ${p.exitCode}: ${log}`);
    if (/Server listening on 127\.0\.0\.1/.test(log)) break;
    if (Date.now() > until) throw new Error(`sshd did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    log: () => log,
    stop: () =>
      new Promise<void>((done) => {
        if (p.exitCode !== null) return done();
        p.once('exit', () => done());
        p.kill('SIGTERM');
      }),
  };
}

/** Runs `true` over ssh on the sshd (no user config, no known_hosts written). */
export function sshTrue(
  port: number,
  user: string,
  extra: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ToolResult> {
  return run(
    'ssh',
    [
      '-F',
      'none',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'ConnectTimeout=20',
      '-p',
      String(port),
      ...extra,
      `${user}@127.0.0.1`,
      'true',
    ],
    { env, timeoutMs: 150_000 },
  );
}
