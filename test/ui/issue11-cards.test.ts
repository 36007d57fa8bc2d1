// Issue 11, items 6, 8 and 9 under jsdom: the creator sees the invite again after a reload; request
// cards name the key and the request, say the threshold of the time and how to verify a signature;
// the activity log shows one row per event with who recorded it, in words, with filters.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode, type FakeNode } from './fake-api.js';

let node: FakeNode | undefined;
afterEach(() => {
  node?.dispose();
  node = undefined;
});

const T0 = Date.parse('2026-03-01T12:00:00Z');
const clock = () => T0;

async function mount(seed = true, delayMs = 5): Promise<AppState> {
  const n = (node ??= createFakeNode({ seed, delayMs, now: clock }));
  const app = new AppState({ api: n, onEvent: (cb) => n.onEvent(cb) }, { clock });
  render(App, { props: { app } });
  await vi.waitFor(() => expect(app.requests.loaded && app.groups.loaded).toBe(true));
  return app;
}

async function openTab(name: RegExp): Promise<void> {
  const nav = screen.getByRole('navigation', { name: 'Main' });
  await fireEvent.click(within(nav).getByRole('button', { name }));
}

describe('the invite after a reload (item 6)', () => {
  it('the group page shows the invite and its QR until everyone has joined', async () => {
    // Nobody joins during the test: the group stays forming with one member of three.
    node = createFakeNode({ seed: false, delayMs: 600_000, now: clock });
    const created = await node['group.create']({
      name: 'ops',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
    });
    // A fresh page (as after a reload) knows nothing of the create answer.
    const app = await mount();
    expect(app.groups.invites[created.id]).toBeUndefined();
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /ops/ }));
    const invite = (await screen.findByLabelText('Invite code')) as HTMLTextAreaElement;
    expect(invite.value).toBe(created.invite);
    expect(screen.getByRole('img', { name: 'QR code of the invite for ops' })).toBeTruthy();
    expect(screen.getByText(/2 more members need to join/)).toBeTruthy();
  });

  it('a member who did not create the group is told the creator sends the invite', async () => {
    node = createFakeNode({ seed: false, delayMs: 600_000, now: clock });
    await node['group.join']({ invite: 'conclave-invite:abc' });
    await mount();
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /shared signing key/ }));
    await screen.findByText(/Whoever created the group sends them the invite/);
    expect(screen.queryByLabelText('Invite code')).toBeNull();
  });
});
