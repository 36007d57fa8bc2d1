// The `conclave` command's entry point in the bundle (npm run build:node): for a plain `conclave
// start` it begins the file vault's scrypt before the command's modules load, then runs main/cli.ts.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isEntryPoint } from './entry-point.js';
import { deriveEarly } from './vault/file.js';

/**
 * The file vault `argv` (without node and script) would unlock, and with what, when it is a plain
 * `conclave start` whose options this reads exactly as main/cli.ts does; otherwise undefined, and
 * the command begins the derivation itself once it has parsed its arguments (main/cli.ts `start`).
 * Anything unusual (--ui, --help, an option not listed here, an unreadable passphrase file) is
 * left to the command: a guess here would only cost a second scrypt, never a wrong key, since the
 * vault takes an early result only for exactly its own passphrase, salt and parameters.
 */
export function earlyUnlock(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { dir: string; passphrase: string } | undefined {
  // Only global options come before the command (main/cli.ts parse): --home DIR, --home=DIR, --json.
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!;
    if (a === '--home') i++;
    else if (a !== '--json' && !a.startsWith('--home=')) return undefined;
  }
  if (argv[i] !== 'start') return undefined;
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv.slice(0, i), ...argv.slice(i + 1)],
      options: {
        home: { type: 'string' },
        json: { type: 'boolean' },
        listen: { type: 'string', multiple: true },
        relay: { type: 'string', multiple: true },
        mdns: { type: 'boolean' },
        'passphrase-file': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch {
    return undefined;
  }
  if (values.home === '') return undefined;
  const home = resolve(values.home ?? (env.CONCLAVE_HOME || join(homedir(), '.conclave')));
  let passphrase: string | undefined;
  const file = values['passphrase-file'];
  if (file === undefined) passphrase = env.CONCLAVE_PASSPHRASE || undefined;
  else {
    try {
      // As main/cli.ts `passphrase` reads it: a file's last newline is not part of the passphrase.
      passphrase = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined; // the command says why
    }
  }
  return passphrase ? { dir: join(home, 'vault'), passphrase } : undefined;
}

/** Runs the command with this process's arguments (bin/conclave.mjs, or this file run directly). */
export async function runAsProcess(): Promise<void> {
  const unlock = earlyUnlock(process.argv.slice(2), process.env);
  // In the thread pool while main/cli.ts and its imports load: most of a start's wait is scrypt.
  if (unlock) deriveEarly(unlock.dir, unlock.passphrase);
  const cli = await import('./cli.js');
  await cli.runAsProcess();
}

if (isEntryPoint(import.meta.url)) await runAsProcess();
