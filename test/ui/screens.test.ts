// The screens, rendered under jsdom and driven as a custodian would, against the fake node.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../shared/api/index.js';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { createFakeNode, type FakeNode } from './fake-api.js';

let node: FakeNode;

afterEach(() => node.dispose());

// A stopped clock, so "12 min ago" and "time left" are the same on every run.
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

/** The card waiting for a decision whose title names `group`. */
function card(group: RegExp): HTMLElement {
  const waiting = screen.getByRole('region', { name: /Waiting for your decision/ });
  return within(waiting).getByRole('article', { name: group });
}

describe('the frame', () => {
  it('shows who this node is and a badge with the requests waiting for a decision', async () => {
    await mountApp();
    expect(screen.getByRole('banner').textContent).toMatch(/You are\s*Alice/);
    const requests = screen.getByRole('button', { name: /Requests/ });
    expect(requests.textContent).toMatch(/2\s*waiting for your decision/);
    expect(requests.getAttribute('aria-current')).toBe('page');
    expect(document.title).toBe('(2) Conclave');
  });
});

describe('Requests', () => {
  it('a card shows who asked, the group, the exact text, its size and hash, and the time left', async () => {
    await mountApp();
    const c = card(/treasury/);
    expect(within(c).getByText('Bob', { selector: 'strong' })).toBeTruthy();
    expect(within(c).getByLabelText('The message to sign').textContent).toBe(
      'Pay invoice #2024-117 to Northwind Ltd\nAmount: 12 400.00 EUR\nIBAN: DE89 3704 0044 0532 0130 00',
    );
    expect(c.textContent).toMatch(/Text message\s*· 94 bytes/);
    expect(c.textContent).toContain('SHA-256');
    expect(c.textContent).toMatch(/23 h 48 min left/);
    expect(c.textContent).toMatch(/1 of 2 needed/);
  });

  it('binary content is shown as hex with its length', async () => {
    await mountApp();
    const c = card(/cold wallet/);
    expect(c.textContent).toMatch(/Binary data\s*· 97 bytes/);
    expect(within(c).getByLabelText('The bytes to sign, in hex').textContent).toMatch(
      /^000000 {2}7073 6274 ff01 00/,
    );
  });

  it('approving takes a confirmation step, then the signature appears', async () => {
    await mountApp();
    const c = card(/treasury/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    expect(node.calls.some((x) => x.method === 'request.approve')).toBe(false);
    const confirm = within(c).getByRole('group', { name: /Approve signing the message above/ });
    expect(document.activeElement).toBe(confirm);
    expect(confirm.textContent).toContain('Yours is the last approval needed');
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Yes, approve' }));
    await vi.waitFor(() => expect(screen.getByText('Signed.')).toBeTruthy());
    const done = screen.getByText('Signed.').closest('article')!;
    expect(within(done).getByRole('button', { name: 'Copy signature' })).toBeTruthy();
    expect(done.querySelector('code.sig')?.textContent).toMatch(/^[0-9a-f]{128}$/);
  });

  it('cancel leaves the request untouched', async () => {
    await mountApp();
    const c = card(/treasury/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    await fireEvent.click(within(c).getByRole('button', { name: 'Cancel' }));
    expect(within(c).getByRole('button', { name: 'Approve…' })).toBeTruthy();
    expect(node.calls.some((x) => x.method === 'request.approve')).toBe(false);
  });

  it('denying takes an optional reason', async () => {
    await mountApp();
    const c = card(/cold wallet/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Deny…' }));
    const reason = within(c).getByLabelText(/Reason \(optional/);
    await fireEvent.input(reason, { target: { value: 'Unknown destination' } });
    await fireEvent.click(within(c).getByRole('button', { name: 'Deny request' }));
    await vi.waitFor(() =>
      expect(node.calls.find((x) => x.method === 'request.deny')?.input).toMatchObject({
        reason: 'Unknown destination',
      }),
    );
  });

  it('after denying, the card says the request may still be signed and marks you', async () => {
    await mountApp();
    const c = card(/cold wallet/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Deny…' }));
    await fireEvent.click(within(c).getByRole('button', { name: 'Deny request' }));
    const progress = await screen.findByRole('region', { name: /In progress/ });
    const denied = within(progress).getByRole('article', { name: /cold wallet/ });
    expect(denied.textContent).toMatch(
      /You denied this just now\.\s*It is still signed if 1 more member approves/,
    );
    expect(within(denied).getByText('you')).toBeTruthy();
  });

  it('a ceremony shows what it does in words, and whom it waits for', async () => {
    const app = await mountApp();
    const r = await node['request.refresh']({ group: 'treasury' });
    await app.requests.refresh(r.id);
    const c = card(/Refresh the key shares of “treasury”/);
    expect(c.textContent).toContain('The public key stays the same');
    expect(c.textContent).toMatch(/Epoch\s*0 → 1/);
    app.requests.list.find((x) => x.id === r.id)!.waitingFor = ['Carol'];
    await vi.waitFor(() => expect(c.textContent).toMatch(/It starts once Carol\s*is online/));
  });

  it('a failed request names who caused it', async () => {
    await mountApp();
    const failed = screen.getByText('Signing failed.').closest('article')!;
    expect(failed.textContent).toMatch(/Caused by:\s*Carol/);
  });

  it('an error from the node is shown on the card as a sentence', async () => {
    await mountApp();
    node.failNext('request.approve', new ApiError('timeout', 'no answer within 30 s'));
    const c = card(/treasury/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    await fireEvent.click(within(c).getByRole('button', { name: 'Yes, approve' }));
    const alert = await within(c).findByRole('alert');
    expect(alert.textContent).toMatch(
      /^Could not approve this request\. Your node did not answer in time/,
    );
  });

  it('a new request is sent to the group with the chosen expiry', async () => {
    await mountApp();
    await fireEvent.click(screen.getByRole('button', { name: 'New sign request' }));
    await fireEvent.change(screen.getByLabelText('Group whose key signs'), {
      target: { value: 'g-treasury' },
    });
    await fireEvent.input(screen.getByLabelText('Message'), { target: { value: 'hello' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Send request to the group' }));
    await vi.waitFor(() =>
      expect(node.calls.find((x) => x.method === 'request.sign')?.input).toEqual({
        group: 'g-treasury',
        message: 'hello',
        encoding: 'utf8',
        expiresInSec: 86_400,
      }),
    );
  });
});

describe('Groups', () => {
  it('create → invite with QR and copy → safety code → ready with the OpenSSH key', async () => {
    await mountApp(false);
    await openTab(/Groups/);
    expect(screen.getByText(/not in any group yet/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Create a group' }));
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'ops' } });
    expect(screen.getByText(/Any 2 of the 3 members together can sign/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Create group' }));

    const invite = (await screen.findByLabelText('Invite code')) as HTMLTextAreaElement;
    expect(invite.value).toMatch(/^conclave-invite:/);
    expect(screen.getByRole('img', { name: 'QR code of the invite for ops' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Copy invite' })).toBeTruthy();

    await screen.findByRole('heading', { name: 'Compare the safety code' });
    const words = screen.getByRole('list', { name: 'Safety code' });
    expect(within(words).getAllByRole('listitem')).toHaveLength(6);
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, the codes match' }));
    await screen.findByRole('heading', { name: 'Group public key' }, { timeout: 3000 });
    expect(
      screen.getByText(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+ conclave-ops$/),
    ).toBeTruthy();
  });

  it('a reconstructed key is shown as exposed, with the advice to move to a new key', async () => {
    await mountApp();
    node.markExposed('treasury', 'key exposed on Bob at 2026-03-01T11:00:00.000Z (migration)');
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /treasury/ }));
    const alert = await screen.findByText(/This key was reconstructed:/);
    expect(alert.closest('[role="alert"]')?.textContent).toMatch(
      /key exposed on Bob .*move any funds/s,
    );
  });

  it('“do not match” says not to confirm and to contact the others, and confirms nothing', async () => {
    await mountApp(false);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: 'Create a group' }));
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'ops' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create group' }));
    await screen.findByRole('heading', { name: 'Compare the safety code' });
    await fireEvent.click(screen.getByRole('button', { name: 'No, they do not match' }));
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toMatch(/Do not confirm\./);
    expect(alert.textContent).toMatch(/Call the other members/);
    expect(screen.queryByRole('button', { name: 'Yes, the codes match' })).toBeNull();
    expect(node.calls.some((x) => x.method === 'group.confirm')).toBe(false);
  });

  it('the roster shows names, fingerprints and who is online, in words', async () => {
    await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /treasury/ }));
    const table = screen.getByRole('table');
    const rows = within(table).getAllByRole('row').slice(1);
    const text = (r: HTMLElement) =>
      within(r)
        .getAllByRole('cell')
        .map((c) => c.textContent?.replace(/\s+/g, ' ').trim())
        .join(' | ');
    expect(rows.map(text)).toEqual([
      expect.stringMatching(/^1 \| Alice you \| \w{4}-\w{4}-\w{4}-\w{4}-\w{4} \| ● Online$/),
      expect.stringMatching(/^2 \| Bob \| .* \| ● Online$/),
      expect.stringMatching(/^3 \| Carol \| .* \| ○ Offline$/),
    ]);
  });

  it('a ready group offers to ask it for a signature', async () => {
    const app = await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /treasury/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Ask this group to sign something' }));
    expect(app.screen).toBe('requests');
    expect((screen.getByLabelText('Group whose key signs') as HTMLSelectElement).value).toBe(
      'g-treasury',
    );
  });

  it('a taproot group shows its bc1p address', async () => {
    await mountApp();
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /cold wallet/ }));
    expect(
      screen.getByText('bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr'),
    ).toBeTruthy();
  });

  it('a bad invite is explained', async () => {
    await mountApp(false);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: 'Join with an invite' }));
    await fireEvent.input(screen.getByLabelText('Invite code'), { target: { value: 'nonsense' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join group' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(
      /Could not join with this invite.*starts with "conclave-invite:"/,
    );
  });
});

describe('Activity', () => {
  it('shows the check, filters, and counts what matches', async () => {
    await mountApp();
    await openTab(/Activity/);
    await screen.findByText('The log checks out.');
    const filter = screen.getByLabelText('Filter');
    await fireEvent.input(filter, { target: { value: 'denied' } });
    expect(screen.getByText(/^\s*2 of \d+ entries match/)).toBeTruthy();
  });

  it('says when the log has problems', async () => {
    const app = await mountApp();
    node.auditProblems = [{ author: node.me.peerId, seq: 3, problem: 'hash chain broken' }];
    app.go('activity');
    await screen.findByText(/The log has 1 problem\./);
    expect(screen.getByText(/Entry 3 by Alice: hash chain broken/)).toBeTruthy();
  });
});

describe('Settings', () => {
  const RELAY =
    '/dns4/relay.example.org/tcp/4001/p2p/12D3KooWRe1ayRe1ayRe1ayRe1ayRe1ayRe1ayRe1ayRe1ay';

  const hint = (id: string) => document.getElementById(id)!.textContent!.replace(/\s+/g, ' ');

  async function openSettings(): Promise<AppState> {
    const app = await mountApp();
    await openTab(/Settings/);
    await screen.findByRole('textbox', { name: 'Name' });
    return app;
  }

  it('keeps the theme choice', async () => {
    await openSettings();
    await fireEvent.click(screen.getByLabelText('Dark'));
    expect(document.documentElement.dataset.theme).toBeUndefined(); // no root given to AppState
    expect(screen.queryByText('Coming soon')).toBeNull();
  });

  it('saves a new name for groups formed from now on, and says existing groups keep theirs', async () => {
    const app = await openSettings();
    const name = screen.getByRole('textbox', { name: 'Name' }) as HTMLInputElement;
    expect(name.value).toBe('Alice');
    expect(name.getAttribute('aria-describedby')).toBe('set-name-hint');
    expect(hint('set-name-hint')).toMatch(
      /Groups you are already in keep the name their members confirmed/,
    );
    const save = screen.getByRole('button', { name: 'Save name' }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    await fireEvent.input(name, { target: { value: '  Alice Liddell ' } });
    expect(save.disabled).toBe(false);
    await fireEvent.click(save);
    await screen.findByText(/Groups you form or join from now on show you as Alice Liddell\./);
    expect(node.calls.filter((c) => c.method === 'settings.update').map((c) => c.input)).toEqual([
      { name: 'Alice Liddell' },
    ]);
    await vi.waitFor(() => expect(app.status?.name).toBe('Alice Liddell'));
    expect(screen.getByRole('banner').textContent).toMatch(/You are\s*Alice Liddell/);
  });

  it('explains an empty name and a name the node refuses in sentences', async () => {
    await openSettings();
    const name = screen.getByRole('textbox', { name: 'Name' });
    await fireEvent.input(name, { target: { value: '   ' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save name' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Enter a name/);
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(node.calls.some((c) => c.method === 'settings.update')).toBe(false);

    node.failNext('settings.update', new ApiError('vault', 'locked'));
    await fireEvent.input(name, { target: { value: 'Al' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save name' }));
    await vi.waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(
        /^Could not change your name\. .*\(Details: locked\)$/,
      ),
    );
  });

  it('adds a relay after checking its address, shows the restart notice, and removes it', async () => {
    await openSettings();
    expect(screen.getByText('No relays saved.')).toBeTruthy();
    expect(screen.queryByText(/Restart Conclave/)).toBeNull();
    const field = screen.getByRole('textbox', { name: 'Add a relay' });
    const add = screen.getByRole('button', { name: 'Add relay' });

    await fireEvent.input(field, { target: { value: '/dns4/relay.example.org/tcp/4001' } });
    await fireEvent.click(add);
    expect((await screen.findByRole('alert')).textContent).toMatch(/must end in \/p2p\//);
    await fireEvent.input(field, { target: { value: 'relay.example.org:4001' } });
    await fireEvent.click(add);
    expect(screen.getByRole('alert').textContent).toMatch(/starts with “\/”/);
    expect(node.calls.some((c) => c.method === 'settings.update')).toBe(false);

    await fireEvent.input(field, { target: { value: ` ${RELAY} ` } });
    await fireEvent.click(add);
    const list = await screen.findByRole('list', { name: 'Saved relays' });
    expect(within(list).getByText(RELAY)).toBeTruthy();
    expect((field as HTMLInputElement).value).toBe('');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByRole('status').textContent).toMatch(/Restart Conclave/);

    // The same one twice is refused.
    await fireEvent.input(field, { target: { value: RELAY } });
    await fireEvent.click(add);
    expect((await screen.findByRole('alert')).textContent).toBe(
      'That relay is already in the list.',
    );

    await fireEvent.click(screen.getByRole('button', { name: `Remove relay ${RELAY}` }));
    await screen.findByText('No relays saved.');
    expect(screen.queryByText(/Restart Conclave/)).toBeNull();
    expect(node.calls.filter((c) => c.method === 'settings.update').map((c) => c.input)).toEqual([
      { relays: [RELAY] },
      { relays: [] },
    ]);
  });

  it('turns desktop notifications off and on with a labelled switch', async () => {
    await openSettings();
    const toggle = screen.getByRole('switch', {
      name: 'Notify me about new requests',
    }) as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    expect(hint('set-notify-hint')).toMatch(/desktop app.*In the browser, the page title shows/);
    await fireEvent.click(toggle);
    await vi.waitFor(async () =>
      expect((await node['settings.get']({})).notifications).toBe(false),
    );
    expect(toggle.checked).toBe(false);

    node.failNext('settings.update', new ApiError('internal', 'disk full'));
    await fireEvent.click(toggle);
    await vi.waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(/^Could not turn notifications on\./),
    );
    expect(toggle.checked).toBe(false);
  });

  it('says so when the settings cannot be read', async () => {
    node = createFakeNode({ seed: true, delayMs: 5, now: clock });
    node.failNext('settings.get', new ApiError('unreachable', 'connection refused'));
    const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock });
    app.screen = 'settings';
    render(App, { props: { app } });
    expect((await screen.findByRole('alert')).textContent).toMatch(
      /^Could not read your settings from your node\./,
    );
  });
});

describe('First run', () => {
  async function mountFirstRun(): Promise<AppState> {
    node = createFakeNode({ firstRun: true, delayMs: 5, now: clock });
    const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock });
    render(App, { props: { app } });
    await screen.findByRole('heading', { name: 'Welcome to Conclave' });
    return app;
  }

  it('asks for a name and the keychain by default, and hides the rest of the app until then', async () => {
    const app = await mountFirstRun();
    expect(screen.queryByRole('navigation', { name: 'Main' })).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect((screen.getByLabelText(/This computer’s keychain/) as HTMLInputElement).checked).toBe(
      true,
    );
    await fireEvent.input(screen.getByLabelText('Your name'), { target: { value: 'Dana' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create my identity' }));
    await screen.findByRole('navigation', { name: 'Main' });
    expect(node.calls.find((c) => c.method === 'identity.init')?.input).toEqual({
      name: 'Dana',
      vault: 'keychain',
    });
    expect(app.status?.name).toBe('Dana');
  });

  it('the file vault warns, and needs the same passphrase twice', async () => {
    await mountFirstRun();
    await fireEvent.input(screen.getByLabelText('Your name'), { target: { value: 'Dana' } });
    await fireEvent.click(screen.getByLabelText(/A file protected by a passphrase/));
    expect(screen.getByRole('note').textContent).toMatch(/If you forget this passphrase/);
    await fireEvent.input(screen.getByLabelText('Passphrase'), {
      target: { value: 'long enough passphrase' },
    });
    await fireEvent.input(screen.getByLabelText('The same passphrase again'), {
      target: { value: 'long enough passphrase!' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Create my identity' }));
    expect((await screen.findByRole('alert')).textContent).toBe('The two passphrases differ.');
    expect(node.calls.some((c) => c.method === 'identity.init')).toBe(false);
  });

  it('“try it alone” creates the identity, starts the sandbox and lets you decide for the simulated members', async () => {
    const app = await mountFirstRun();
    await fireEvent.input(screen.getByLabelText('Your name'), { target: { value: 'Dana' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create it and try it alone' }));
    await screen.findByRole('heading', { name: 'Compare the safety code' }, { timeout: 3000 });
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, the codes match' }));
    await screen.findByRole('heading', { name: 'Group public key' }, { timeout: 3000 });
    await fireEvent.click(screen.getByRole('button', { name: 'Ask this group to sign something' }));
    await fireEvent.input(screen.getByLabelText('Message', { selector: 'textarea' }), {
      target: { value: 'practice' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Send request to the group' }));
    const c = await waitFor(() => card(/Sandbox/));
    const sims = within(c).getByRole('group', { name: 'Simulated co-custodians' });
    await fireEvent.click(within(sims).getByRole('button', { name: 'Approve as Bob' }));
    await vi.waitFor(() =>
      expect(app.requests.list[0]!.approvals.map((a) => a.name)).toEqual(['Bob (simulated)']),
    );
    expect(within(c).queryByRole('button', { name: 'Approve as Bob' })).toBeNull();
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    await fireEvent.click(within(c).getByRole('button', { name: 'Yes, approve' }));
    await screen.findByText('Signed.', {}, { timeout: 3000 });
  });
});
