// Importing an existing key: the importer splits it, every member receives its share over the
// authenticated channel, and threshold signatures verify under the key the user already had.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { tapTweak } from '../../shared/crypto/suite.js';
import { formGroup, tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot();
const nodes = ['lea', 'max', 'ned'].map((n) => new TestNode(n, tmp.root));

beforeAll(async () => {
  await Promise.all(nodes.map((n) => n.init()));
  await Promise.all(nodes.map((n) => n.start()));
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  tmp.cleanup();
});

async function importAndSign(
  scheme: 'ed25519' | 'taproot',
  name: string,
  key: Uint8Array,
  message: Uint8Array,
) {
  const [lea, max, ned] = nodes;
  const keyFile = join(tmp.root, `${name}.key`);
  writeFileSync(keyFile, bytesToHex(key) + '\n', { mode: 0o600 });
  const created = await formGroup(lea, [max, ned], { name, threshold: 2, scheme, keyFile });
  expect(created.warning).toMatch(/destroy/);
  const groups = created.groups;
  expect(new Set(groups.map((g) => g.publicKey)).size).toBe(1);
  const req = await max.cliJson<{ id: string }>([
    'request',
    'sign',
    '--group',
    name,
    '--hex',
    bytesToHex(message),
  ]);
  await waitFor('ned sees it', async () =>
    (await ned.api('request.list', {})).some((r) => r.id === req.id),
  );
  await ned.cliJson(['approve', req.id]);
  await max.cliJson(['approve', req.id]);
  const done = await waitFor(
    'the signature',
    async () => {
      const r = await lea.api('request.show', { id: req.id });
      return r.status === 'done' ? (r as RequestView) : undefined;
    },
    60_000,
  );
  const audit = await lea.cliJson<{ type: string }[]>(['audit', 'list']);
  expect(audit.map((e) => e.type)).toContain('group.imported');
  return { group: groups[0], signature: hexToBytes(done.signature!) };
}

describe('group import', () => {
  it('shares an existing Ed25519 seed: same public key, and signatures verify under it', async () => {
    const seed = randomBytes(32);
    const msg = utf8ToBytes('signed by the imported key');
    const { group, signature } = await importAndSign('ed25519', 'legacy-ed', seed, msg);
    expect(group.publicKey).toBe(bytesToHex(ed25519.getPublicKey(seed)));
    expect(ed25519.verify(signature, msg, ed25519.getPublicKey(seed))).toBe(true);
  }, 180_000);

  it('shares an existing secp256k1 key as a taproot internal key', async () => {
    const sk = secp256k1.utils.randomSecretKey();
    const msg = randomBytes(32);
    const { group, signature } = await importAndSign('taproot', 'legacy-tr', sk, msg);
    const P = secp256k1.Point.BASE.multiply(BigInt('0x' + bytesToHex(sk)));
    const Peven = P.y % 2n === 0n ? P : P.negate();
    const Q = Peven.add(secp256k1.Point.BASE.multiply(tapTweak(Peven as never)));
    expect(group.internalKey).toBe(bytesToHex(P.toBytes().subarray(1)));
    expect(group.publicKey).toBe(bytesToHex(Q.toBytes().subarray(1)));
    expect(schnorr.verify(signature, msg, hexToBytes(group.publicKey!))).toBe(true);
  }, 180_000);
});
