// A reconstruction where an approver goes away before its share leaves: the requester gives up at
// the deadline naming who is missing, nothing is written and nobody marks the key exposed; asked
// again with another approver, it exports the same key.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, bytesToNumberLE } from '@noble/curves/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { importExportedKey } from '../../shared/crypto/exported-key.js';
import {
  allowReconstruction,
  approveBy,
  formGroup,
  requestStatus,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const tmp = tempRoot();
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '6000' };
const [kai, lou, mo] = ['kai', 'lou', 'mo'].map((n) => new TestNode(n, tmp.root, env));
const all = [kai, lou, mo];
const pass = { CONCLAVE_EXPORT_PASSPHRASE: 'moving this key somewhere else' };

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('gives up cleanly when an approver goes away before sending its share, then succeeds', async () => {
  await Promise.all(all.map((n) => n.init()));
  await kai.start();
  await lou.start();
  await mo.start(undefined, { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'exit-mid-ceremony' });
  const { id, groups } = await formGroup(kai, [lou, mo], {
    name: 'old',
    threshold: 2,
    scheme: 'ed25519',
  });

  // The group allows reconstruction (a policy change approved by two), on mo too before the
  // request: one made under a policy a member does not hold yet is refused there for good.
  await allowReconstruction('old', kai, [kai, lou], all, tmp.root);

  const out = join(tmp.root, 'exported.key');
  const ask = () =>
    kai.cliJson<RequestView>(
      [
        'request',
        'reconstruct',
        '--group',
        'old',
        '--purpose',
        'migration',
        '--operation',
        'export',
        '--out',
        out,
      ],
      pass,
    );
  const first = await ask();
  // mo approves first; kai's approval completes the request, and mo goes away before its share
  // leaves.
  await approveBy(first.id, [mo, kai]);
  await waitFor('mo to go away', () => mo.proc?.exitCode === 3);
  mo.proc = undefined;
  const failed = await requestStatus(kai, first.id, 'failed');
  expect(failed.failure).toMatch(/mo did not send its share in time/);
  expect(failed.failure).toMatch(/the key is not exposed/);
  expect(existsSync(out)).toBe(false);
  for (const n of [kai, lou]) {
    const g = await n.api('group.show', { group: id });
    expect(g.exposed).toBeUndefined();
    const audit = await n.api('audit.list', { group: id });
    expect(audit.filter((e) => e.type === 'group.key_exposed')).toEqual([]);
  }

  // Asked again, with lou approving: the export holds the group's key.
  await mo.start();
  const second = await ask();
  await approveBy(second.id, [kai, lou]);
  await requestStatus(kai, second.id, 'done');
  const key = importExportedKey(readFileSync(out, 'utf8'), pass.CONCLAVE_EXPORT_PASSPHRASE);
  const point = ed25519.Point.BASE.multiply(bytesToNumberLE(key.secret));
  expect(bytesToHex(point.toBytes())).toBe(groups[0].publicKey);
  await waitFor('mo marks the key exposed', async () => {
    const g = await mo.api('group.show', { group: id });
    return g.exposed?.includes('migration');
  });
}, 240_000);
