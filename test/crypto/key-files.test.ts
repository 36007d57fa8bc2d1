// Key files made by the real tools (ssh-keygen, openssl) at test time parse to the seed whose public
// key the tools print; encrypted, other-algorithm and damaged files are refused with a named reason.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { decodeBase64, parsePrivateKeyFile } from '../../shared/crypto/key-files.js';

const dir = mkdtempSync(join(tmpdir(), 'conclave-keyfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a tool; a missing tool fails the test by name rather than skipping it. */
function run(tool: string, args: string[]): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${tool} is not installed (apt-get install openssh-client openssl)`, {
        cause: e,
      });
    throw e;
  }
}

function sshKey(name: string, type: string, passphrase = ''): string {
  const f = join(dir, name);
  run('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', `${name}@test`, '-f', f]);
  return f;
}

/** The 32-byte key `ssh-keygen -y` prints for a private key file. */
function sshPublic(file: string): string {
  const [, b64] = run('ssh-keygen', ['-y', '-f', file]).trim().split(/\s+/);
  const blob = decodeBase64(b64!);
  return bytesToHex(blob.subarray(blob.length - 32));
}

describe('parsePrivateKeyFile', () => {
  it('reads an ssh-keygen ed25519 key: the seed yields the key ssh-keygen -y prints', () => {
    const f = sshKey('id_ed25519', 'ed25519');
    const k = parsePrivateKeyFile(readFileSync(f, 'utf8'));
    expect(k.format).toBe('openssh');
    expect(k.comment).toBe('id_ed25519@test');
    expect(bytesToHex(ed25519.getPublicKey(k.seed))).toBe(sshPublic(f));
    expect(bytesToHex(k.publicKey)).toBe(sshPublic(f));
  });

  it('reads an openssl genpkey ed25519 PKCS#8 key: the seed yields the key openssl prints', () => {
    const f = join(dir, 'p8.pem');
    run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', f]);
    const k = parsePrivateKeyFile(readFileSync(f, 'utf8'));
    expect(k.format).toBe('pkcs8');
    const der = run('openssl', ['pkey', '-in', f, '-pubout', '-outform', 'PEM']);
    const spki = decodeBase64(der.replace(/-----[A-Z ]+-----/g, ''));
    expect(bytesToHex(k.publicKey)).toBe(bytesToHex(spki.subarray(spki.length - 32)));
  });

  it('refuses a passphrase-protected OpenSSH key and says how to remove the passphrase', () => {
    const f = sshKey('enc', 'ed25519', 'secret words');
    expect(() => parsePrivateKeyFile(readFileSync(f, 'utf8'))).toThrow(
      /protected by a passphrase.*ssh-keygen -p -N ''/,
    );
  });

  it('names the other kinds it finds: RSA, Ed448, public keys, encrypted PKCS#8', () => {
    const rsa = sshKey('rsa', 'rsa');
    expect(() => parsePrivateKeyFile(readFileSync(rsa, 'utf8'))).toThrow(/OpenSSH ssh-rsa key/);
    expect(() => parsePrivateKeyFile(readFileSync(`${rsa}.pub`, 'utf8'))).toThrow(/public key/);
    const e448 = join(dir, 'e448.pem');
    run('openssl', ['genpkey', '-algorithm', 'ed448', '-out', e448]);
    expect(() => parsePrivateKeyFile(readFileSync(e448, 'utf8'))).toThrow(/Ed448/);
    const enc = join(dir, 'enc.pem');
    run('openssl', [
      'genpkey',
      '-algorithm',
      'ed25519',
      '-aes-256-cbc',
      '-pass',
      'pass:x',
      '-out',
      enc,
    ]);
    expect(() => parsePrivateKeyFile(readFileSync(enc, 'utf8'))).toThrow(/passphrase/);
    expect(() => parsePrivateKeyFile('hello')).toThrow(/no complete/);
  });

  it('refuses a tampered OpenSSH key whose public key is not its seed', () => {
    const f = sshKey('tamper', 'ed25519');
    const text = readFileSync(f, 'utf8');
    const k = parsePrivateKeyFile(text);
    const body = text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const bin = decodeBase64(body);
    // Flip one bit of the seed inside the private section: the derived key no longer matches.
    const at = bin.findIndex((_, i) => bytesToHex(bin.subarray(i, i + 32)) === bytesToHex(k.seed));
    expect(at).toBeGreaterThan(0);
    bin[at] ^= 1;
    const b64 = Buffer.from(bin).toString('base64');
    const bad = `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expect(() => parsePrivateKeyFile(bad)).toThrow(/inconsistent/);
  });

  it('decodes base64 as Buffer does and refuses bad characters', () => {
    for (const n of [0, 1, 2, 3, 31, 32, 33]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
      expect(bytesToHex(decodeBase64(Buffer.from(b).toString('base64')))).toBe(bytesToHex(b));
    }
    expect(() => decodeBase64('ab!d')).toThrow(/base64/);
  });
});
