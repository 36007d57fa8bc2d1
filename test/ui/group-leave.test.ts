// Leaving a group in the UI: "do not match" leads out of a group that can never be trusted, and a
// ready group's page spells out what leaving costs and asks for a confirmation before it is sent.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode, type FakeNode } from './fake-api.js';

let node: FakeNode;
afterEach(() => node.dispose());

const T0 = Date.parse('2026-03-01T12:00:00Z');
const clock = () => T0;

async function mountApp(seed = true): Promise<AppState> {
  node = createFakeNode({ seed, delayMs: 5, now: clock });
  const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock });
  render(App, { props: { app } });
  await vi.waitFor(() => expect(app.requests.loaded && app.groups.loaded).toBe(true));
  return app;
}

async function openTab(name: RegExp): Promise<void> {
  const nav = screen.getByRole('navigation', { name: 'Main' });
  await fireEvent.click(within(nav).getByRole('button', { name }));
}

const leaves = () => node.calls.filter((c) => c.method === 'group.leave');

describe('leaving a group', () => {
  it('“No, they do not match” offers to leave; the group is gone and the list says so', async () => {
    const app = await mountApp(false);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: 'Create a group' }));
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'ops' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create group' }));
    await screen.findByRole('heading', { name: 'Compare the safety code' });
    await fireEvent.click(screen.getByRole('button', { name: 'No, they do not match' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Leave “ops”…' }));
    const confirm = screen.getByRole('group', { name: 'Leave “ops”?' });
    expect(confirm.textContent).toMatch(/no key yet, so nothing is lost/);
    expect(leaves()).toEqual([]);
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Yes, leave “ops”' }));
    await screen.findByRole('heading', { name: 'Groups' });
    expect(leaves()).toEqual([
      { method: 'group.leave', input: { group: expect.any(String), confirm: true } },
    ]);
    expect(app.groups.list.some((g) => g.name === 'ops')).toBe(false);
    expect(screen.getByRole('status').textContent).toMatch(/You left “ops”\./);
  });

  it('a ready group spells out the cost and needs a tick before leaving', async () => {
    const app = await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /treasury/ }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Leave “treasury”…' }));
    const confirm = screen.getByRole('group', { name: 'Leave “treasury”?' });
    expect(confirm.textContent).toMatch(/deleted from this computer, for good/);
    expect(confirm.textContent).toMatch(/needs 2 of 3 shares to sign; 2 would be left/);
    expect(confirm.textContent).toMatch(/If 1 more of them lose or delete their share/);
    const yes = within(confirm).getByRole('button', {
      name: 'Yes, leave “treasury”',
    }) as HTMLButtonElement;
    expect(yes.disabled).toBe(true);
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('group', { name: 'Leave “treasury”?' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Leave “treasury”…' }));
    const again = screen.getByRole('group', { name: 'Leave “treasury”?' });
    await fireEvent.click(within(again).getByLabelText(/my share is deleted/));
    await fireEvent.click(within(again).getByRole('button', { name: 'Yes, leave “treasury”' }));
    await screen.findByRole('heading', { name: 'Groups' });
    expect(app.groups.list.some((g) => g.name === 'treasury')).toBe(false);
    expect(screen.getByRole('status').textContent).toMatch(
      /You left “treasury” and your share of its key is deleted/,
    );
  });
});
