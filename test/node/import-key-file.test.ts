// Importing a key file ssh-keygen or openssl wrote: the group's public key is the one the tool prints,
// and a file of any other kind is refused with what was found.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { decodeBase64 } from '../../shared/crypto/key-files.js';
import { ImportService } from '../../main/node/ceremonies/import.js';
import type { NodeServices } from '../../main/node/context.js';
import { harness, peer, type Peer } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'conclave-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let alice: Peer;
beforeAll(async () => {
  alice = await peer('alice');
});

function tool(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${cmd} is not installed (apt-get install openssh-client)`, { cause: e });
    throw e;
  }
}

/** Import through the service with a fake groups service that records the public key it is given. */
async function importFile(keyFile: string, scheme: 'ed25519' | 'secp256k1' = 'ed25519') {
  const h = harness(alice);
  let publicKey = '';
  const groups = {
    createGroup: (_input: unknown, imp: { publicKey: string }) => {
      publicKey = imp.publicKey;
      return { id: 'g', invite: '' };
    },
  };
  const svc = new ImportService(h.ctx, { groups } as unknown as NodeServices);
  await svc.importGroup({ name: 'legacy', threshold: 2, size: 3, scheme, keyFile });
  return publicKey;
}

describe('import from a key file', () => {
  it('an ssh-keygen ed25519 private key: the group key is the one ssh-keygen -y prints', async () => {
    const f = join(dir, 'id_ed25519');
    tool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
    const blob = decodeBase64(tool('ssh-keygen', ['-y', '-f', f]).trim().split(/\s+/)[1]!);
    expect(await importFile(f)).toBe(bytesToHex(blob.subarray(blob.length - 32)));
  });

  it('refuses an OpenSSH key for a secp256k1 group, and says which scheme fits', async () => {
    const f = join(dir, 'id2');
    tool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
    await expect(importFile(f, 'secp256k1')).rejects.toThrow(/choose the ed25519 scheme/);
  });

  it('refuses a file of another kind and names it', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'my seed phrase is somewhere else\n');
    await expect(importFile(f)).rejects.toThrow(/not a key this import reads \(33 bytes\)/);
    const enc = join(dir, 'enc');
    tool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw', '-f', enc]);
    await expect(importFile(enc)).rejects.toThrow(/protected by a passphrase/);
  });
});
