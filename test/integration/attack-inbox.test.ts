// Issue 9 finding 1 (dead inbox): a member signs policy requests whose parameters are malformed;
// every node must refuse them on receipt, so that `request list` keeps working and the group signs.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { requestId } from '../../shared/protocol/wire.js';
import { policyHashOn, requestBody, turnRogue, type Rogue } from './attack-helpers.js';
import { approveBy, formGroup, requestStatus, tempRoot, TestNode } from './harness.js';

const tmp = tempRoot('conclave-attack-');
const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));
const all = [alice, bob, carol];
let group = '';
let mallory: Rogue;

beforeAll(async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
  group = (await formGroup(alice, [bob, carol], { name: 'vault', threshold: 2, scheme: 'ed25519' }))
    .id;
  // carol took part in the DKG; from now on her identity is in the attacker's hands.
  mallory = await turnRogue(carol, [alice, bob]);
}, 120_000);

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await mallory?.stop();
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('malformed policy requests signed by a member are refused on receipt, and every inbox still lists and the group still signs', async () => {
  const policy = await policyHashOn(alice, group);
  // A policy change whose policy is not an object, and one whose parameters are not JSON.
  const bad = [
    requestBody(mallory.peerId, group, 'policy', '{"policy":5}', policy),
    requestBody(mallory.peerId, group, 'policy', 'this is not JSON', policy),
  ];
  for (const n of [alice, bob])
    await mallory.offer(
      n,
      bad.map((b) => mallory.statement(b)),
    );

  for (const n of [alice, bob]) {
    const inbox = await n.cli(['request', 'list']);
    expect(inbox.code, `request list on ${n.name}: ${inbox.stderr}`).toBe(0);
    const ids = (await n.api('request.list', {})).map((r) => r.id);
    for (const b of bad) expect(ids, `requests stored on ${n.name}`).not.toContain(requestId(b));
  }

  const req = await alice.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    'inbox still works',
  ]);
  await approveBy(req.id, [alice, bob]);
  const done = await requestStatus(alice, req.id, 'done');
  expect(done.signature).toMatch(/^[0-9a-f]{128}$/);
}, 120_000);
