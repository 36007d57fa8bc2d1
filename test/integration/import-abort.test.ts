// An import where a member goes away as its share arrives: nobody starts using the group, the
// members who already received a share drop it, and the import done again (with a new invite)
// works and signs under the imported key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  approveBy,
  formGroup,
  groupStatus,
  requestStatus,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const tmp = tempRoot();
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '6000' };
const [uli, val, wim] = ['uli', 'val', 'wim'].map((n) => new TestNode(n, tmp.root, env));
const all = [uli, val, wim];
const seed = randomBytes(32);
const keyFile = join(tmp.root, 'old.key');

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

const importGroup = async (name: string, ready: boolean) =>
  (
    await formGroup(uli, [val, wim], {
      name,
      threshold: 2,
      scheme: 'ed25519',
      keyFile,
      ready,
    })
  ).id;

it('ends an import for everyone when a member goes away mid-way, and the import can be redone', async () => {
  writeFileSync(keyFile, bytesToHex(seed) + '\n', { mode: 0o600 });
  await Promise.all(all.map((n) => n.init()));
  await uli.start();
  await val.start();
  await wim.start(undefined, { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'exit-mid-ceremony' });

  const first = await importGroup('cold', false);
  await waitFor('wim to go away', () => wim.proc?.exitCode === 3);
  wim.proc = undefined;
  const failed = await groupStatus(uli, first, 'failed');
  expect(failed.error).toMatch(/wim \(offline\) did not take its share in time/);
  expect(failed.error).toMatch(/import the key again with a new invite/);
  // val held its share for the importer's word; the word was "no": val drops it.
  const onVal = await groupStatus(val, first, 'failed');
  expect(onVal.error).toMatch(/import failed/);
  expect(onVal.publicKey).toBeUndefined();
  // wim comes back (without the fault) and learns the import is over too.
  await wim.start();
  await groupStatus(wim, first, 'failed');
  for (const n of all) {
    const v = await n.api('group.show', { group: first });
    expect(v.epoch).toBe(0);
    expect(v.publicKey).toBeUndefined();
  }

  // Done again, with everyone online: it works and signs under the imported key.
  const second = await importGroup('cold-again', true);
  const groups = await Promise.all(all.map((n) => groupStatus(n, second, 'ready')));
  expect(new Set(groups.map((g) => g.publicKey))).toEqual(
    new Set([bytesToHex(ed25519.getPublicKey(seed))]),
  );
  const msg = 'moved to the group';
  const req = await val.cliJson<{ id: string }>([
    'request',
    'sign',
    '--group',
    'cold-again',
    '--message',
    msg,
  ]);
  await approveBy(req.id, [val, wim]);
  const done = await requestStatus(val, req.id, 'done');
  expect(
    ed25519.verify(hexToBytes(done.signature!), utf8ToBytes(msg), ed25519.getPublicKey(seed)),
  ).toBe(true);
}, 240_000);
