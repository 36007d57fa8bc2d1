// Issue 9 finding 1 (crash loop): a member signs a reshare request whose parameters are not JSON;
// the victim's node must refuse it when it arrives, stay up (also after a restart) and still sign.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { requestId } from '../../shared/protocol/wire.js';
import {
  policyHashOn,
  requestBody,
  startOrExit,
  staysUp,
  turnRogue,
  type Rogue,
} from './attack-helpers.js';
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

// The node's reconnect timer (every 3 s) reads the parameters of pending reshares: 8 s covers two
// of its runs after the request arrived.
const TIMER_WINDOW_MS = 8_000;

it('a member’s reshare request whose parameters are not JSON is refused, and the victim stays up, also after a restart, and still signs', async () => {
  const body = requestBody(
    mallory.peerId,
    group,
    'reshare',
    'this is not JSON',
    await policyHashOn(alice, group),
  );
  await mallory.offer(alice, [mallory.statement(body)]);

  await staysUp(alice, TIMER_WINDOW_MS);
  const ids = async () => (await alice.api('request.list', {})).map((r) => r.id);
  expect(await ids()).not.toContain(requestId(body));

  // The request must not be waiting in the store to take the node down again.
  await alice.kill();
  await startOrExit(alice);
  await staysUp(alice, TIMER_WINDOW_MS);
  expect(await ids()).not.toContain(requestId(body));

  // The honest members still sign together.
  const req = await alice.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    'still standing',
  ]);
  await approveBy(req.id, [alice, bob]);
  const done = await requestStatus(alice, req.id, 'done');
  expect(done.signature).toMatch(/^[0-9a-f]{128}$/);
}, 120_000);
