// A request card shows what its node decoded through the request-kind registry: the card's title,
// summary, people with fingerprints and warnings, and a card for a request that cannot be read.
import { render, screen, within } from '@testing-library/svelte';
import { afterEach, expect, it, vi } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { REFRESH_AFTER_REPAIR, decodeRequest, fingerprintOf } from '../../shared/requests/index.js';
import RequestCard from '../../renderer/components/RequestCard.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode, type FakeNode } from './fake-api.js';
import {
  ALICE,
  DAVE,
  ctx,
  json,
  raw,
  reconstructParams,
  repairParams,
  reshareParams,
} from '../requests/fixtures.js';

let node: FakeNode;
afterEach(() => node.dispose());

async function show(kind: RequestView['kind'], message: Uint8Array, status = 'pending') {
  node = createFakeNode({ seed: true, delayMs: 1 });
  const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) });
  await app.load();
  await vi.waitFor(() => expect(app.requests.loaded).toBe(true));
  const base = app.requests.list[0]!;
  const request: RequestView = {
    ...base,
    id: 'card-1',
    kind,
    status: status as RequestView['status'],
    message: Buffer.from(message).toString('hex'),
    description: 'the words of an older node',
    card: decodeRequest(kind, message, ctx()),
  };
  render(RequestCard, { props: { app, request } });
  return screen.getByRole('article');
}

it('a reshare card shows the node’s card: title, summary, the newcomer and their fingerprint', async () => {
  const c = await show('reshare', json(reshareParams()));
  expect(within(c).getByRole('heading', { level: 3 }).textContent).toBe(
    'Change the members of “Treasury” (reshare)',
  );
  expect(c.textContent).toContain('Reshare Treasury: add Dave');
  expect(c.textContent).not.toContain('the words of an older node');
  const changes = within(c).getByLabelText('What this changes');
  expect(changes.textContent).toMatch(/\+ Dave/);
  expect(changes.textContent).toContain(fingerprintOf(DAVE));
});

it('a repair card recommends a refresh, before and after', async () => {
  const c = await show('repair', json(repairParams()));
  expect(within(c).getByLabelText('Before you decide').textContent).toContain(REFRESH_AFTER_REPAIR);
  node.dispose();
  document.body.innerHTML = '';
  const done = await show('repair', json(repairParams()), 'done');
  expect(within(done).getByRole('status').textContent).toContain(REFRESH_AFTER_REPAIR);
});

it('a reconstruction card names the requester with their fingerprint', async () => {
  const c = await show('reconstruct', json(reconstructParams()));
  expect(c.textContent).toContain('Exposes the key');
  const changes = within(c).getByLabelText('What this changes');
  expect(changes.textContent).toMatch(/Requester/);
  expect(changes.textContent).toContain(fingerprintOf(ALICE));
});

it('a request its node cannot read says so and is marked', async () => {
  const c = await show('reshare', raw('not json'));
  expect(within(c).getByRole('heading', { level: 3 }).textContent).toMatch(/cannot be shown/);
  expect(c.textContent).toContain('Cannot be read');
  expect(c.textContent).toMatch(/This request cannot be shown: message: is not JSON/);
  expect(c.textContent).toContain('Do not approve a request you cannot read.');
});
