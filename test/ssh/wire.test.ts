// The pure SSH wire format against OpenSSH's own output: fingerprints as ssh-keygen -l prints them,
// certificates ssh-keygen -s made (every subject key type) read back field by field, agent framing.
import { base64 } from '@scure/base';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_FRAME,
  agentRequest,
  frame,
  parseAgentRequest,
  takeFrames,
} from '../../shared/ssh/agent.js';
import { certLine, parseCertTbs } from '../../shared/ssh/signed.js';
import { SshFormatError, SshReader, fingerprint, parsePublicKey } from '../../shared/ssh/wire.js';
import { hasOpenSsh, run } from './tools.js';

const dir = mkdtempSync(join(tmpdir(), 'conclave-ssh-wire-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blobOf = (file: string) => base64.decode(readFileSync(file, 'utf8').split(' ')[1]!);

describe('SSH wire format', () => {
  it('bounds every read and says what was being read', () => {
    const r = new SshReader(Uint8Array.of(0, 0, 0, 9, 1, 2), 'thing');
    expect(() => r.string('name')).toThrow(/thing: name must be at most 6 bytes, got 9/);
    expect(() => new SshReader(Uint8Array.of(0, 0, 1, 0), 'x').string('f', 16)).toThrow(
      SshFormatError,
    );
    expect(() => new SshReader(Uint8Array.of(2), 'x').bool('flag')).toThrow(/boolean/);
  });

  it('splits agent frames, keeps a partial one, and refuses an empty or oversized one', () => {
    const a = frame(agentRequest.identities());
    const b = frame(agentRequest.sign(new Uint8Array(3), new Uint8Array(5)));
    const { frames, rest } = takeFrames(Uint8Array.from([...a, ...b.subarray(0, 6)]));
    expect(frames.map((f) => parseAgentRequest(f).type)).toEqual(['identities']);
    expect(rest).toEqual(b.subarray(0, 6));
    expect(() => takeFrames(Uint8Array.of(0, 0, 0, 0))).toThrow(SshFormatError);
    const big = MAX_FRAME + 1;
    expect(() =>
      takeFrames(Uint8Array.of(big >>> 24, (big >> 16) & 255, (big >> 8) & 255, big & 255)),
    ).toThrow(/agent frame/);
    expect(() => parseAgentRequest(Uint8Array.from([...agentRequest.identities(), 0]))).toThrow(
      /unexpected bytes/,
    );
  });

  it.runIf(hasOpenSsh)(
    'computes the fingerprints ssh-keygen -l prints, for every key type',
    async () => {
      for (const t of ['ed25519', 'ecdsa', 'rsa']) {
        const f = join(dir, `fp_${t}`);
        expect((await run('ssh-keygen', ['-q', '-t', t, '-N', '', '-f', f])).code).toBe(0);
        const want = (await run('ssh-keygen', ['-l', '-f', `${f}.pub`])).stdout.split(' ')[1];
        const key = parsePublicKey(blobOf(`${f}.pub`));
        expect(fingerprint(key.blob)).toBe(want);
      }
    },
  );

  it.runIf(hasOpenSsh)(
    'reads the certificates ssh-keygen -s makes, and a re-signed one is accepted',
    async () => {
      const ca = join(dir, 'ca');
      expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ca])).code).toBe(0);
      for (const t of ['ed25519', 'ecdsa', 'rsa']) {
        const f = join(dir, `sub_${t}`);
        expect((await run('ssh-keygen', ['-q', '-t', t, '-N', '', '-f', f])).code).toBe(0);
        const made = await run('ssh-keygen', [
          '-s',
          ca,
          '-I',
          `id-${t}`,
          '-n',
          'alice,bob',
          '-V',
          '20300101:20300102',
          '-z',
          '42',
          '-O',
          'clear',
          '-O',
          'permit-pty',
          '-O',
          'force-command=/usr/bin/true',
          `${f}.pub`,
        ]);
        expect(made.code, made.stderr).toBe(0);
        const cert = blobOf(`${f}-cert.pub`);
        // An Ed25519 CA's signature is the last 87 bytes: length, "ssh-ed25519", length, 64 bytes.
        const tbs = cert.subarray(0, cert.length - 87);
        expect(new SshReader(cert.subarray(cert.length - 87), 'sig').string('sig').length).toBe(83);
        const c = parseCertTbs(tbs);
        expect(c.keyId).toBe(`id-${t}`);
        expect(c.principals).toEqual(['alice', 'bob']);
        expect(c.serial).toBe(42n);
        expect(c.role).toBe('user');
        expect(c.criticalOptions).toEqual([{ name: 'force-command', value: '/usr/bin/true' }]);
        expect(c.extensions).toEqual([{ name: 'permit-pty', value: '' }]);
        expect(fingerprint(c.subjectKey)).toBe(fingerprint(blobOf(`${f}.pub`)));
        expect(c.signatureKey).toEqual(blobOf(`${ca}.pub`));
        // The certificate line the 'ssh' kind returns is the same bytes again.
        const sig = cert.subarray(cert.length - 64);
        expect(certLine(tbs, c.certType, sig).split(' ')[1]).toBe(base64.encode(cert));
      }
    },
  );
});
