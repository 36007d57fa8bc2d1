// The bundle's entry (main/cli-entry.ts) begins a plain `conclave start`'s file-vault scrypt before
// the command loads: it must read the home and passphrase exactly as the command does, leave every
// other command line alone, and the command's own request for the same derivation must not run a
// second scrypt.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as NodeCrypto from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof NodeCrypto>();
  return {
    ...real,
    scrypt: (...a: Parameters<typeof real.scrypt>) => {
      calls.n++;
      return real.scrypt(...a);
    },
  };
});

const { earlyUnlock } = await import('../../main/cli-entry.js');
const { nodeScrypt, startEarlyScrypt } = await import('../../main/vault/scrypt.js');

const dir = mkdtempSync(join(tmpdir(), 'conclave-start-early-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ENV = { CONCLAVE_PASSPHRASE: 'from env' };

describe('earlyUnlock', () => {
  it('reads a plain start as the command does: home from --home, $CONCLAVE_HOME or ~/.conclave', () => {
    expect(earlyUnlock(['--home', 'h', 'start'], ENV)).toEqual({
      dir: join(resolve('h'), 'vault'),
      passphrase: 'from env',
    });
    expect(
      earlyUnlock(['--home=/x', '--json', 'start', '--listen', '/ip4/0.0.0.0/tcp/1'], ENV),
    ).toEqual({ dir: '/x/vault', passphrase: 'from env' });
    // --home after the command, as parseOptions takes it too.
    expect(earlyUnlock(['start', '--mdns', '--home', '/y', '--relay', 'r'], ENV)?.dir).toBe(
      '/y/vault',
    );
    expect(earlyUnlock(['start'], { ...ENV, CONCLAVE_HOME: '/z' })?.dir).toBe('/z/vault');
    expect(earlyUnlock(['start'], ENV)?.dir).toBe(join(homedir(), '.conclave', 'vault'));
  });

  it('takes a passphrase file without its last newline, as the command does', () => {
    const f = join(dir, 'pass');
    writeFileSync(f, 'from file\r\n');
    expect(earlyUnlock(['start', '--passphrase-file', f], ENV)?.passphrase).toBe('from file');
    writeFileSync(f, 'two\nlines\n\n');
    expect(earlyUnlock(['start', '--passphrase-file', f], {})?.passphrase).toBe('two\nlines\n');
  });

  it('leaves everything else to the command', () => {
    for (const argv of [
      ['status'],
      ['--home', 'start'], // "start" is --home's value: no command
      ['--mdns', 'start'], // not a global option: the command refuses it
      ['start', '--ui'],
      ['start', '--help'],
      ['start', '-h'],
      ['start', 'extra'],
      ['start', '--unknown'],
      ['start', '--home='],
      ['start', '--passphrase-file', join(dir, 'missing')],
      ['help', 'start'],
    ])
      expect(earlyUnlock(argv, ENV), argv.join(' ')).toBeUndefined();
    expect(earlyUnlock(['start'], {}), 'no passphrase').toBeUndefined();
    expect(earlyUnlock(['start'], { CONCLAVE_PASSPHRASE: '' }), 'empty passphrase').toBeUndefined();
  });
});

describe('startEarlyScrypt asked twice for the same derivation', () => {
  const k = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 };
  const pw = new TextEncoder().encode('pw');
  const salt = new Uint8Array(32).fill(7);

  it('runs one scrypt, and the vault still gets it', async () => {
    calls.n = 0;
    startEarlyScrypt(pw, salt, k);
    startEarlyScrypt(pw, salt, k); // main/cli.ts `start` after the entry
    const key = await nodeScrypt(pw, salt, k);
    expect(calls.n).toBe(1);
    const { scryptSync } = await import('node:crypto');
    expect(key).toEqual(new Uint8Array(scryptSync(pw, salt, 32, { N: k.N, r: k.r, p: k.p })));
  });

  it('runs a new one for another passphrase, which replaces the first', async () => {
    calls.n = 0;
    startEarlyScrypt(pw, salt, k);
    const other = new TextEncoder().encode('other');
    startEarlyScrypt(other, salt, k);
    expect(calls.n).toBe(2);
    await nodeScrypt(other, salt, k);
    expect(calls.n).toBe(2); // taken
    await nodeScrypt(pw, salt, k);
    expect(calls.n).toBe(3); // the first was dropped: derived again
  });
});
