// Issue 11 items 3 and 4 on screen: first run on a computer without a keychain service offers the
// file vault right there, and a locked file vault asks for its passphrase in the UI.
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type Api, type ApiMethod } from '../../shared/api/index.js';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode, type FakeNode } from './fake-api.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const clock = () => T0;
const NO_KEYCHAIN =
  'This computer has no keychain service (Secret Service) running, so your shares cannot be ' +
  'kept in it. Keep them in a file protected by a passphrase instead, or start a keyring ' +
  '(such as gnome-keyring) and try again. (Platform failure: DBus error: Failed to connect to socket)';

let node: FakeNode;
afterEach(() => node.dispose());

describe('first run without a keychain service', () => {
  it('says so plainly and offers the file vault, passphrase twice, on the same screen', async () => {
    node = createFakeNode({ firstRun: true, delayMs: 5, now: clock });
    node.failNext('identity.init', new ApiError('keychain_unavailable', NO_KEYCHAIN));
    const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock });
    render(App, { props: { app } });
    await screen.findByRole('heading', { name: 'Welcome to Conclave' });
    await fireEvent.input(screen.getByLabelText('Your name'), { target: { value: 'Dana' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create my identity' }));

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/This computer has no keychain service\./);
    // Not the old dead end: nothing to unlock, no command line to go to.
    expect(alert.textContent).not.toMatch(/Unlock|conclave init/);
    const keychain = screen.getByLabelText(/This computer’s keychain/) as HTMLInputElement;
    expect(keychain.disabled).toBe(true);
    expect(keychain.parentElement!.textContent).toMatch(/not available on this computer/);
    expect(
      (screen.getByLabelText(/A file protected by a passphrase/) as HTMLInputElement).checked,
    ).toBe(true);

    await fireEvent.input(screen.getByLabelText('Passphrase'), {
      target: { value: 'long enough passphrase' },
    });
    await fireEvent.input(screen.getByLabelText('The same passphrase again'), {
      target: { value: 'long enough passphrase' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Create my identity' }));
    await screen.findByRole('navigation', { name: 'Main' });
    expect(node.calls.filter((c) => c.method === 'identity.init').map((c) => c.input)).toEqual([
      { name: 'Dana', vault: 'keychain' },
      { name: 'Dana', vault: 'file', passphrase: 'long enough passphrase' },
    ]);
  });
});

describe('a locked file vault', () => {
  const RIGHT = 'the right passphrase';

  /** A node as browser mode serves it before the unlock: `locked` to all but vault.unlock. */
  function lockedNode(): { api: Api; unlocks: string[] } {
    node = createFakeNode({ seed: true, delayMs: 5, now: clock });
    let locked = true;
    const unlocks: string[] = [];
    const api = new Proxy(node, {
      get(target, prop: string) {
        if (prop === 'vault.unlock')
          return async ({ passphrase }: { passphrase: string }) => {
            unlocks.push(passphrase);
            if (passphrase !== RIGHT)
              throw new ApiError('vault', 'The passphrase does not open this vault.');
            locked = false;
            return target['node.status']({});
          };
        const value = target[prop as ApiMethod];
        if (typeof value !== 'function') return value;
        return async (input: never) => {
          if (locked)
            throw new ApiError('locked', 'locked: enter the passphrase of your file vault');
          return (value as (i: never) => Promise<unknown>)(input);
        };
      },
    }) as Api;
    return { api, unlocks };
  }

  it('asks for the passphrase, says plainly when it is wrong, and opens the app when right', async () => {
    const { api, unlocks } = lockedNode();
    const app = new AppState({ api, onEvent: (cb) => node.onEvent(cb) }, { clock });
    render(App, { props: { app } });
    await screen.findByRole('heading', { name: 'Unlock your vault' });
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
    const field = screen.getByLabelText('Vault passphrase') as HTMLInputElement;
    expect(field.type).toBe('password');

    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Enter the passphrase of your vault.',
    );
    expect(unlocks).toEqual([]);

    await fireEvent.input(field, { target: { value: 'a wrong one' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    await vi.waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(
        /^That passphrase did not open your vault\. Check it/,
      ),
    );
    expect(screen.getByRole('heading', { name: 'Unlock your vault' })).toBeTruthy();

    await fireEvent.input(field, { target: { value: RIGHT } });
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    await screen.findByRole('navigation', { name: 'Main' });
    expect(screen.queryByRole('heading', { name: 'Unlock your vault' })).toBeNull();
    expect(unlocks).toEqual(['a wrong one', RIGHT]);
    // The passphrase is not kept in the app once used.
    expect(app.unlockForm.passphrase).toBe('');
    await vi.waitFor(() => expect(app.groups.loaded).toBe(true));
  });
});
