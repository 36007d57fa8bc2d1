// Issue 11 item 12, the small things: a form error goes once the value changes, the policy form's
// choices are not cut off, and the Groups tab leads back to the list from a group page.
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

describe('issue 11 item 12', () => {
  it('a form error goes away once the custodian changes the value', async () => {
    await mountApp(false);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: 'Create a group' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Create group' }));
    const alerts = () => screen.queryAllByRole('alert').map((a) => a.textContent ?? '');
    expect(alerts().join()).toMatch(/Give the group a name\./);
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'ops' } });
    expect(alerts().join()).not.toMatch(/Give the group a name\./);
  });

  it('an import error goes away once the path is changed', async () => {
    await mountApp(false);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: 'Import an existing key' }));
    await fireEvent.click(screen.getByRole('button', { name: /^Import/ }));
    const alerts = () => screen.queryAllByRole('alert').map((a) => a.textContent ?? '');
    expect(alerts().join().trim()).not.toBe('');
    const path = screen.getByLabelText(/^Key file/);
    await fireEvent.input(path, { target: { value: '/home/me/.ssh/id_ed25519' } });
    expect(alerts().join().trim()).toBe('');
  });

  it('the policy form’s choice of who approves a policy change reads in full', async () => {
    await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /treasury/ }));
    await fireEvent.click(await screen.findByRole('button', { name: 'View the policy' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Propose a change…' }));
    const select = screen.getByLabelText('Policy changes need') as HTMLSelectElement;
    // Short enough for the narrowest column (13rem); the column wraps rather than cut it.
    expect([...select.options].map((o) => o.textContent?.trim())).toEqual([
      '2 of 3 (the threshold)',
      'All 3 members',
    ]);
  });

  it('the Groups tab on a group page leads back to the list; from another tab, back to the group', async () => {
    const app = await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /treasury/ }));
    await screen.findByRole('heading', { name: 'treasury' });
    await openTab(/Requests/);
    await openTab(/Groups/);
    expect(screen.getByRole('heading', { name: 'treasury' })).toBeTruthy();
    await openTab(/Groups/);
    expect(app.groups.view.kind).toBe('list');
    expect(screen.getByRole('heading', { name: 'Groups' })).toBeTruthy();
  });
});
