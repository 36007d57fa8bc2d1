// Issue 11 item 9: the command a signed card offers really verifies. The ed25519 lines run in bash
// with openssl on a signature made by @noble/curves with a fresh key (and refuse a changed one);
// the taproot line runs in Node with @noble/curves.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519Pem, keyFingerprint, verifyCommand } from '../../renderer/lib/verify.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs pasted lines as a custodian's shell would, in a scratch folder (TMPDIR for mktemp). */
function paste(lines: string, cwd = process.cwd()) {
  const tmp = mkdtempSync(join(tmpdir(), 'conclave-verify-'));
  dirs.push(tmp);
  return spawnSync('bash', ['-e', '-c', lines], {
    cwd,
    env: { ...process.env, TMPDIR: tmp },
    encoding: 'utf8',
  });
}

describe('the verify command', () => {
  const secret = ed25519.utils.randomSecretKey();
  const pk = bytesToHex(ed25519.getPublicKey(secret));
  const msg = utf8ToBytes('Pay invoice #2024-117 to Northwind Ltd\nAmount: 12 400.00 EUR\n');
  const sig = bytesToHex(ed25519.sign(msg, secret));

  it('ed25519: openssl says the signature verifies under the group key', () => {
    const out = paste(verifyCommand('ed25519', pk, bytesToHex(msg), sig)!);
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/Signature Verified Successfully/);
    expect(out.status).toBe(0);
  });

  it('ed25519: a changed message or signature is refused', () => {
    const other = bytesToHex(
      utf8ToBytes('Pay invoice #2024-117 to Northwind Ltd\nAmount: 99 400.00 EUR\n'),
    );
    expect(paste(verifyCommand('ed25519', pk, other, sig)!).status).not.toBe(0);
    const bad = (parseInt(sig[0]!, 16) ^ 1).toString(16) + sig.slice(1);
    expect(paste(verifyCommand('ed25519', pk, bytesToHex(msg), bad)!).status).not.toBe(0);
  });

  it('ed25519: the PEM is the key openssl reads back', () => {
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], {
      input: ed25519Pem(pk),
    });
    expect(der.subarray(-32).toString('hex')).toBe(pk);
  });

  it('taproot: Node with @noble/curves prints valid, and NOT VALID for another message', () => {
    const sk = schnorr.utils.randomSecretKey();
    const xonly = bytesToHex(schnorr.getPublicKey(sk));
    const s = bytesToHex(schnorr.sign(msg, sk));
    // The repository has @noble/curves installed, as the command's comment asks.
    const ok = paste(verifyCommand('taproot', xonly, bytesToHex(msg), s)!);
    expect(ok.stdout.trim()).toBe('valid');
    const no = paste(verifyCommand('taproot', xonly, bytesToHex(utf8ToBytes('x')), s)!);
    expect(no.stdout.trim()).toBe('NOT VALID');
  });

  it('secp256k1 (RFC 9591) has no common tool: no command, only the format', () => {
    expect(verifyCommand('secp256k1', '02'.padEnd(66, '1'), '00', '00')).toBeUndefined();
  });

  it('a key fingerprint is the first 16 hex digits in fours', () => {
    expect(keyFingerprint('D75A980182B10AB7D54BFED3C964073A')).toBe('d75a 9801 82b1 0ab7…');
  });
});
