// Reconstruction: refused under the default policy; allowed after a policy change approved by the
// group; the export round-trips to the same key, an ECDSA signature verifies, and every member
// records the key as exposed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { importExportedKey } from '../../shared/crypto/exported-key.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot();
const [uma, vic, wes] = ['uma', 'vic', 'wes'].map((n) => new TestNode(n, tmp.root));
const all = [uma, vic, wes];
const pass = { CONCLAVE_EXPORT_PASSPHRASE: 'migrate this key now please' };

afterAll(async () => {
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

async function approveBy(id: string, approvers: TestNode[]): Promise<void> {
  for (const n of approvers) {
    await seen(n, id);
    await n.cliJson(['approve', id]);
  }
}

it('refuses reconstruction by default, allows it by policy, exports the same key and signs ECDSA', async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
  const created = await uma.cliJson<{ id: string; invite: string }>([
    'group',
    'create',
    '--name',
    'legacy',
    '--threshold',
    '2',
    '--size',
    '3',
    '--scheme',
    'secp256k1',
  ]);
  for (const n of [vic, wes]) await n.cliJson(['group', 'join', created.invite]);
  await waitFor('the roster', async () =>
    (await Promise.all(all.map((n) => n.api('group.show', { group: created.id })))).every(
      (g) => g.status === 'confirming',
    ),
  );
  for (const n of all) await n.cliJson(['group', 'confirm', created.id]);
  const [group] = await Promise.all(
    all.map((n) =>
      waitFor(
        `${n.name} ready`,
        async () => {
          const g = await n.api('group.show', { group: created.id });
          return g.status === 'ready' ? (g as GroupView) : undefined;
        },
        60_000,
      ),
    ),
  );

  const out = join(tmp.root, 'exported.key');
  const refused = await uma.cli(
    [
      'request',
      'reconstruct',
      '--group',
      'legacy',
      '--purpose',
      'migration',
      '--operation',
      'export',
      '--out',
      out,
    ],
    pass,
  );
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/does not allow reconstructing the key/);

  const policy = await uma.cliJson<{
    policy: { allowedKinds: string[] } & Record<string, unknown>;
  }>(['group', 'policy', 'legacy']);
  const file = join(tmp.root, 'allow.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...policy.policy,
      allowReconstruct: true,
      allowedKinds: [...policy.policy.allowedKinds, 'reconstruct'],
    }),
  );
  const change = await uma.cliJson<RequestView>([
    'request',
    'policy',
    '--group',
    'legacy',
    '--file',
    file,
  ]);
  await approveBy(change.id, [uma, vic]);
  for (const n of all) await requestStatus(n, change.id, 'done');

  const req = await uma.cliJson<RequestView>(
    [
      'request',
      'reconstruct',
      '--group',
      'legacy',
      '--purpose',
      'migration to the new wallet',
      '--operation',
      'export',
      '--out',
      out,
    ],
    pass,
  );
  expect(req.description).toMatch(/RECONSTRUCT the whole key/);
  await approveBy(req.id, [uma, wes]);
  await requestStatus(uma, req.id, 'done');
  const key = importExportedKey(readFileSync(out, 'utf8'), pass.CONCLAVE_EXPORT_PASSPHRASE);
  const suite = getSuite('secp256k1');
  expect(bytesToHex(suite.encodePoint(suite.G.multiply(suite.decodeScalar(key.secret))))).toBe(
    group.publicKey,
  );
  for (const n of all) {
    const g = await waitFor(`${n.name} marks it exposed`, async () => {
      const v = await n.api('group.show', { group: created.id });
      return v.exposed ? v : undefined;
    });
    expect(g.exposed).toMatch(/key exposed on uma at .* \(migration to the new wallet\)/);
  }

  const digest = randomBytes(32);
  const sreq = await vic.cliJson<RequestView>([
    'request',
    'reconstruct',
    '--group',
    'legacy',
    '--purpose',
    'legacy ECDSA system',
    '--operation',
    'ecdsa-sign',
    '--digest',
    bytesToHex(digest),
  ]);
  await approveBy(sreq.id, [vic, uma]);
  const done = await requestStatus(vic, sreq.id, 'done');
  expect(
    secp256k1.verify(hexToBytes(done.signature!), digest, hexToBytes(group.publicKey!), {
      prehash: false,
    }),
  ).toBe(true);
  const audit = await waitFor('every member’s record at wes', async () => {
    const list = await wes.api('audit.list', {});
    return all.every(
      (n) =>
        list.filter((e) => e.type === 'group.key_exposed' && e.author.startsWith(n.peerId))
          .length === 2,
    )
      ? list
      : undefined;
  });
  // Every member recorded both reconstructions, and each holds the others' records too.
  const exposedBy = (peer: string) =>
    audit.filter((e) => e.type === 'group.key_exposed' && e.author.startsWith(peer)).length;
  for (const n of all) expect(exposedBy(n.peerId)).toBe(2);
}, 240_000);
