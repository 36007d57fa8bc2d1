// The screens, rendered under jsdom and driven as a custodian would, against the fake node.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type RequestView } from '../../shared/api/index.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { BOB, CAROL, createFakeNode, DAVE, GRACE, type FakeNode } from './fake-api.js';

let node: FakeNode;

afterEach(() => node.dispose());

// A stopped clock, so "12 min ago" and "time left" are the same on every run.
const T0 = Date.parse('2026-03-01T12:00:00Z');
const clock = () => T0;

async function mountApp(seed = true, download = vi.fn()): Promise<AppState> {
  node = createFakeNode({ seed, delayMs: 5, now: clock });
  const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock, download });
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
      /key exposed on Bob .*Move any funds/s,
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

describe('Managing the key', () => {
  async function openGroup(name: RegExp, download = vi.fn()): Promise<AppState> {
    const app = await mountApp(true, download);
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name }));
    await screen.findByRole('heading', { name: 'Manage the key' });
    return app;
  }

  const click = (name: string | RegExp) => fireEvent.click(screen.getByRole('button', { name }));
  const lastInput = (method: string) => node.calls.filter((c) => c.method === method).at(-1)?.input;

  it('a ready group offers the key actions and its epoch, and no reconstruction while the policy forbids it', async () => {
    await openGroup(/treasury/);
    const manage = screen.getByRole('region', { name: 'Manage the key' });
    expect(manage.textContent).toMatch(/Epoch 0/);
    for (const b of [
      'Propose a refresh…',
      'Change members…',
      'Replace a device…',
      'View the policy',
      'Back up or restore…',
    ])
      expect(within(manage).getByRole('button', { name: b })).toBeTruthy();
    await within(manage).findByText(/Switched off by the group’s policy/);
    expect(within(manage).queryByRole('button', { name: /Reconstruct/ })).toBeNull();
  });

  it('a refresh is proposed with the button disabled while it is sent; once approved the epoch goes up', async () => {
    const app = await openGroup(/treasury/);
    await click('Propose a refresh…');
    expect(screen.getByRole('heading', { name: 'Refresh the shares of “treasury”' })).toBe(
      document.activeElement,
    );
    expect(screen.getByText(/Offline now: Carol/)).toBeTruthy();
    const send = node['request.refresh'];
    let release!: () => void;
    node['request.refresh'] = (input) => new Promise((done) => (release = () => done(send(input))));
    await click('Propose the refresh to the group');
    const busy = screen.getByRole('button', { name: 'Sending…' }) as HTMLButtonElement;
    expect(busy.disabled).toBe(true);
    release();
    await screen.findByText('Sent to the group.');
    expect(screen.getByRole('status').textContent).toMatch(/once 2 of the 3 members approve/);
    const r = app.requests.list.find((x) => x.kind === 'refresh')!;
    node.decide(r.id, BOB, 'approve');
    await click('Open Requests');
    const c = card(/Refresh the key shares/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    expect(within(c).getByRole('group', { name: /^Approve this/ }).textContent).toMatch(
      /it starts as soon as you confirm/,
    );
    await fireEvent.click(within(c).getByRole('button', { name: 'Yes, approve' }));
    await vi.waitFor(() => expect(app.groups.group('g-treasury')?.epoch).toBe(1));
    const done = await screen.findByText(/The members now hold new shares \(epoch 1\)/);
    expect(done.closest('article')?.querySelector('.tag.ok')?.textContent).toBe('Done');
  });

  it('changing members with nobody joined yet offers the invite and says the list fills when they join', async () => {
    await openGroup(/treasury/);
    await click('Change members…');
    const adding = screen.getByRole('group', { name: 'Add new members' });
    expect(within(adding).getByRole('status').textContent).toMatch(
      /Nobody has joined with your invite yet; this list updates when they do\./,
    );
    expect(within(adding).queryByRole('checkbox')).toBeNull();
    await click('Propose this change to the group');
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Nothing changes yet/);
    expect(node.calls.some((c) => c.method === 'request.reshare')).toBe(false);

    await click('Create an invite for the new member’s computer');
    const invite = (await screen.findByLabelText(/Invite code for/)) as HTMLTextAreaElement;
    expect(invite.value).toMatch(/^conclave-invite:/);
    expect(screen.getByRole('img', { name: 'QR code of the invite to treasury' })).toBeTruthy();

    // Grace joins with it: the group event brings her into the list, with her fingerprint.
    node.newcomerJoins('treasury', GRACE);
    const grace = (await within(adding).findByRole('checkbox', {
      name: /^Grace/,
    })) as HTMLInputElement;
    expect(grace.labels?.[0]?.textContent).toContain(GRACE.fingerprint);
    expect(within(adding).queryByText(/Nobody has joined/)).toBeNull();
    // The invite stays at hand for someone else, folded away.
    const more = within(adding).getByText('Someone else to add? Send them an invite');
    expect(more.closest('details')?.querySelector('textarea')?.value).toBe(invite.value);
  });

  it('changing members lists each newcomer with the fingerprint to compare, and sends peer ids, removals and T', async () => {
    const app = await openGroup(/treasury/);
    node.newcomerJoins('treasury', GRACE);
    node.newcomerJoins('treasury', DAVE);
    await click('Change members…');
    const adding = screen.getByRole('group', { name: 'Add new members' });
    const picks = await within(adding).findAllByRole('checkbox');
    expect(
      picks.map((c) =>
        (c as HTMLInputElement).labels?.[0]?.textContent?.replace(/\s+/g, ' ').trim(),
      ),
    ).toEqual([`Grace Fingerprint ${GRACE.fingerprint}`, `Dave Fingerprint ${DAVE.fingerprint}`]);
    // The advice to compare comes with every choice.
    const advice = document.getElementById(picks[0]!.getAttribute('aria-describedby')!)!;
    expect(advice.textContent).toMatch(/Compare the fingerprint before you pick\..*Call.*meet/s);

    await fireEvent.click(within(adding).getByRole('checkbox', { name: /^Grace/ }));
    await fireEvent.click(screen.getByLabelText(/^Carol/));
    await fireEvent.input(screen.getByLabelText('Approvals needed afterwards'), {
      target: { value: '4' },
    });
    expect(screen.getByText(/must be from 2 to 3, the group’s new size/)).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Approvals needed afterwards'), {
      target: { value: '3' },
    });
    expect(screen.getByText(/If any one of them loses their share/)).toBeTruthy();
    await click('Propose this change to the group');
    await screen.findByText('Sent to the group.');
    expect(lastInput('request.reshare')).toEqual({
      group: 'g-treasury',
      threshold: 3,
      add: [GRACE.peerId],
      remove: [CAROL.peerId],
    });
    expect(app.requests.list.find((r) => r.kind === 'reshare')?.fingerprints).toEqual({
      [GRACE.peerId]: GRACE.fingerprint,
    });
  });

  it('a newcomer picked but added meanwhile by another reshare is not proposed again', async () => {
    const app = await openGroup(/treasury/);
    node.newcomerJoins('treasury', GRACE);
    await click('Change members…');
    await fireEvent.click(await screen.findByRole('checkbox', { name: /^Grace/ }));
    // Bob adds Grace first; the group event takes her off the list.
    const r = node.propose(BOB, 'treasury', 'reshare', {
      ceremony: 'reshare',
      group: 'g-treasury',
      fromEpoch: 0,
      threshold: 2,
      size: 4,
      add: [{ peerId: GRACE.peerId, name: 'Grace', addrs: [] }],
      remove: [],
    });
    node.decide(r.id, BOB, 'approve');
    node.decide(r.id, CAROL, 'approve');
    await vi.waitFor(() => expect(app.groups.group('g-treasury')?.members).toHaveLength(4));
    // Now a member: offered for removal, no longer for adding.
    const adding = screen.getByRole('group', { name: 'Add new members' });
    expect(within(adding).queryByRole('checkbox', { name: /^Grace/ })).toBeNull();
    expect(within(adding).getByRole('status').textContent).toMatch(/Nobody has joined/);
    await click('Propose this change to the group');
    expect((await screen.findByRole('alert')).textContent).toMatch(/no longer waiting to be added/);
    expect(node.calls.some((c) => c.method === 'request.reshare')).toBe(false);
  });

  it('removing yourself is pointed out before it is proposed', async () => {
    await openGroup(/treasury/);
    await click('Change members…');
    await fireEvent.click(screen.getByLabelText(/^Alice \(you\)/));
    expect(screen.getByRole('note').textContent).toMatch(/You are removing yourself/);
  });

  it('replacing a lost device asks whose, offers the invite, then the device to pick, and sends peer ids', async () => {
    await openGroup(/treasury/);
    await click('Replace a device…');
    const who = screen.getByLabelText('1. Whose device was lost?') as HTMLSelectElement;
    expect([...who.options].map((o) => o.textContent)).toEqual([
      'Choose a member',
      expect.stringMatching(/^Bob \(/),
      expect.stringMatching(/^Carol \(/),
    ]);
    await click('Propose the replacement to the group');
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Choose the member whose device was lost.',
    );
    await fireEvent.change(who, { target: { value: BOB.peerId } });
    const device = screen.getByRole('group', { name: '2. Bob’s new device' });
    expect(within(device).getByRole('status').textContent).toMatch(
      /Nobody has joined with your invite yet; this list updates when they do\./,
    );
    expect(
      within(device).getByRole('button', { name: 'Create an invite for Bob’s new device' }),
    ).toBeTruthy();
    await click('Propose the replacement to the group');
    expect(screen.getByRole('alert').textContent).toMatch(/The new device has not joined yet/);

    node.newcomerJoins('treasury', GRACE);
    node.newcomerJoins('treasury', DAVE);
    const grace = (await within(device).findByRole('radio', {
      name: /^Grace/,
    })) as HTMLInputElement;
    expect(grace.labels?.[0]?.textContent).toContain(GRACE.fingerprint);
    expect(within(device).getAllByRole('radio')).toHaveLength(2);
    await click('Propose the replacement to the group');
    expect(screen.getByRole('alert').textContent).toMatch(/^Choose the new device/);
    expect(node.calls.some((c) => c.method === 'request.repair')).toBe(false);

    await fireEvent.click(within(device).getByRole('radio', { name: /^Dave/ }));
    await fireEvent.click(grace);
    expect(within(device).getByRole('radio', { name: /^Dave/ })).toHaveProperty('checked', false);
    await click('Propose the replacement to the group');
    await screen.findByText('Sent to the group.');
    expect(lastInput('request.repair')).toEqual({
      group: 'g-treasury',
      member: BOB.peerId,
      newcomer: GRACE.peerId,
    });
  });

  it('the policy is shown as rules; a proposed change is shown as what changes, then sent whole', async () => {
    await openGroup(/treasury/);
    await click('View the policy');
    const rules = await screen.findByRole('table', { name: 'The rules in force' });
    expect(
      within(rules).getByRole('row', { name: /Reconstructing the whole key/ }).textContent,
    ).toMatch(/Not allowed/);
    await click('Propose a change…');
    await click('Propose this policy to the group');
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Nothing changes yet/);
    await fireEvent.change(screen.getByLabelText('Policy changes need'), {
      target: { value: 'all' },
    });
    await fireEvent.click(
      screen.getByLabelText('Allow putting the whole key together on one computer'),
    );
    expect(screen.getByRole('note').textContent).toMatch(/could sign anything without the group/);
    const diff = screen.getByRole('table', { name: 'What the new policy changes' });
    const row = within(diff).getByRole('row', { name: /Reconstructing the whole key/ });
    expect(row.classList.contains('danger')).toBe(true);
    expect(within(diff).getByRole('row', { name: /Changing this policy/ }).textContent).toMatch(
      /Needs 2 of 3 members\s*Needs all 3 members/,
    );
    await click('Propose this policy to the group');
    await screen.findByText('Sent to the group.');
    expect(lastInput('request.policy')).toEqual({
      group: 'g-treasury',
      policy: {
        ...defaultPolicy(),
        allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'reconstruct', 'policy'],
        allowReconstruct: true,
        policyChange: 'all',
      },
    });
  });

  it('a backup needs the same passphrase twice, then saves a file named after the group and epoch', async () => {
    const download = vi.fn();
    await openGroup(/treasury/, download);
    await click('Back up or restore…');
    await fireEvent.input(screen.getByLabelText('Passphrase for the backup'), {
      target: { value: 'short' },
    });
    await click('Save the backup file…');
    expect((await screen.findByRole('alert')).textContent).toMatch(/at least 10 characters/);
    await fireEvent.input(screen.getByLabelText('Passphrase for the backup'), {
      target: { value: 'a long enough passphrase' },
    });
    await fireEvent.input(screen.getByLabelText('The same passphrase again'), {
      target: { value: 'a long enough passphrase.' },
    });
    await click('Save the backup file…');
    expect(screen.getByRole('alert').textContent).toBe('The two passphrases differ.');
    await fireEvent.input(screen.getByLabelText('The same passphrase again'), {
      target: { value: 'a long enough passphrase' },
    });
    await click('Save the backup file…');
    await click('Yes, save the backup file');
    await screen.findByText(/^Saved conclave-share-treasury-epoch0\.json/);
    expect(download).toHaveBeenCalledWith(
      'conclave-share-treasury-epoch0.json',
      expect.stringContaining('"epoch":0'),
      'application/json',
    );
    expect(lastInput('backup.export')).toEqual({
      group: 'g-treasury',
      passphrase: 'a long enough passphrase',
      confirm: true,
    });
    expect((screen.getByLabelText('Passphrase for the backup') as HTMLInputElement).value).toBe('');
  });

  it('a backup is saved only after the custodian read what its holder can do and agreed', async () => {
    const download = vi.fn();
    await openGroup(/treasury/, download);
    await click('Back up or restore…');
    for (const label of ['Passphrase for the backup', 'The same passphrase again']) {
      await fireEvent.input(screen.getByLabelText(label), {
        target: { value: 'a long enough passphrase' },
      });
    }
    await click('Save the backup file…');
    const ask = screen.getByRole('group', { name: 'Save a backup of your share of “treasury”?' });
    expect(ask.textContent).toMatch(
      /Whoever has this file and its passphrase holds your share of the key of “treasury”/,
    );
    expect(document.activeElement).toBe(ask);
    expect(node.calls.filter((c) => c.method === 'backup.export')).toEqual([]);
    await click('Cancel');
    expect(screen.queryByRole('group', { name: /Save a backup/ })).toBeNull();
    expect(node.calls.filter((c) => c.method === 'backup.export')).toEqual([]);
    expect(download).not.toHaveBeenCalled();
    // Saving again asks again.
    await click('Save the backup file…');
    await click('Yes, save the backup file');
    await screen.findByText(/^Saved conclave-share-treasury-epoch0\.json/);
    expect(node.calls.filter((c) => c.method === 'backup.export')).toHaveLength(1);
  });

  it('restoring reads the chosen file, and a backup from before a refresh is refused in words', async () => {
    const app = await openGroup(/treasury/);
    const old = await node['backup.export']({
      group: 'treasury',
      passphrase: 'p'.repeat(12),
      confirm: true,
    });
    const r = await node['request.refresh']({ group: 'treasury' });
    node.decide(r.id, BOB, 'approve');
    node.decide(r.id, CAROL, 'approve');
    await vi.waitFor(() => expect(app.groups.group('g-treasury')?.epoch).toBe(1));
    await click('Back up or restore…');
    await click('Restore my share');
    expect((await screen.findByRole('alert')).textContent).toBe('Choose the backup file first.');
    const file = new File([old.file], 'conclave-share-treasury-epoch0.json', {
      type: 'application/json',
    });
    await fireEvent.change(screen.getByLabelText('Backup file'), { target: { files: [file] } });
    await vi.waitFor(() => expect(app.manage.restore.fileText).toBe(old.file));
    await fireEvent.input(screen.getByLabelText('Its passphrase'), {
      target: { value: 'p'.repeat(12) },
    });
    await click('Restore my share');
    await vi.waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(
        /^Could not restore the backup\..*this backup is out of date/,
      ),
    );
  });

  it('reconstruction is offered only when the policy allows it, behind a warning, a purpose and a tick', async () => {
    const app = await mountApp();
    node.setPolicy('cold wallet', {
      ...defaultPolicy(),
      allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'reconstruct', 'policy'],
      allowReconstruct: true,
    });
    await openTab(/Groups/);
    await fireEvent.click(screen.getByRole('button', { name: /cold wallet/ }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Reconstruct the key…' }));
    const form = screen.getByRole('form', { name: 'Reconstruct the whole key of “cold wallet”' });
    expect(within(form).getByRole('note').textContent).toMatch(/This ends the protection/);
    const send = within(form).getByRole('button', { name: 'Ask the group to reconstruct the key' });
    expect(send.classList.contains('danger')).toBe(true);
    await fireEvent.click(send);
    expect(within(form).getByRole('alert').textContent).toMatch(/^Say why/);
    await fireEvent.input(within(form).getByLabelText(/^Purpose/), {
      target: { value: 'Move to the new HSM' },
    });
    await fireEvent.input(within(form).getByLabelText(/^File to write/), {
      target: { value: '/tmp/key.json' },
    });
    await fireEvent.input(within(form).getByLabelText('Passphrase for the file'), {
      target: { value: 'x'.repeat(12) },
    });
    await fireEvent.input(within(form).getByLabelText('The same passphrase again'), {
      target: { value: 'x'.repeat(12) },
    });
    await fireEvent.click(send);
    expect(within(form).getByRole('alert').textContent).toMatch(/^Tick the box/);
    expect(node.calls.some((c) => c.method === 'request.reconstruct')).toBe(false);
    await fireEvent.click(within(form).getByLabelText(/I understand/));
    await fireEvent.click(send);
    await screen.findByText('Sent to the group.');
    expect(lastInput('request.reconstruct')).toEqual({
      group: 'g-cold',
      purpose: 'Move to the new HSM',
      operation: 'export',
      out: '/tmp/key.json',
      passphrase: 'x'.repeat(12),
    });
    expect(app.manage.reconstruct.passphrase).toBe('');
  });

  it('importing a key opens the new group with the warning to destroy the original', async () => {
    await mountApp();
    await openTab(/Groups/);
    await click('Import an existing key');
    await click('Import and invite the members');
    expect((await screen.findByRole('alert')).textContent).toBe('Give the group a name.');
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'legacy' } });
    await click('Import and invite the members');
    expect(screen.getByRole('alert').textContent).toMatch(/path of the file/);
    await fireEvent.input(screen.getByLabelText(/^Key file/), {
      target: { value: '/home/a/key.hex' },
    });
    await click('Import and invite the members');
    const warning = await screen.findByText(/^Destroy the original key/);
    expect(warning.closest('[role="alert"]')?.textContent).toMatch(
      /destroy \/home\/a\/key\.hex and every other copy/,
    );
    expect(screen.getByLabelText('Invite code')).toBeTruthy();
    expect(lastInput('group.import')).toEqual({
      name: 'legacy',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      keyFile: '/home/a/key.hex',
    });
  });

  it('an imported group’s steps hand out the existing key’s shares instead of generating a key', async () => {
    const app = await mountApp();
    await openTab(/Groups/);
    await click('Import an existing key');
    await fireEvent.input(screen.getByLabelText('Group name'), { target: { value: 'legacy' } });
    await fireEvent.input(screen.getByLabelText(/^Key file/), {
      target: { value: '/home/a/key.hex' },
    });
    await click('Import and invite the members');
    const steps = await screen.findByRole('list', { name: 'Forming the group' });
    expect(steps.textContent).toMatch(/Hand out the shares/);
    expect(steps.textContent).not.toMatch(/Generate/);
    expect(screen.getByText(/an existing key, imported by you/)).toBeTruthy();
    const id = app.groups.list.find((g) => g.name === 'legacy')!.id;
    expect(app.groups.group(id)?.importedKey).toMatch(/^[0-9a-f]{64}$/);

    // Once every member confirmed, the tag and the note say the importer hands out the shares.
    await fireEvent.click(await screen.findByRole('button', { name: 'Yes, the codes match' }));
    await vi.waitFor(() => expect(app.groups.group(id)?.status).toBe('ready'));
    expect(app.groups.group(id)?.publicKey).toBe(app.groups.group(id)?.importedKey);
    app.groups.upsert({ ...app.groups.group(id)!, status: 'dkg' });
    await screen.findByText('Handing out the shares of the existing key');
    expect(screen.getAllByText('Handing out the shares').length).toBeGreaterThan(0);
    expect(screen.queryByText(/Generating/)).toBeNull();
    expect(screen.getByRole('list', { name: 'Forming the group' }).textContent).toMatch(
      /you send each member theirs/,
    );
  });

  it('after a reload the importer is still told to destroy the original key', async () => {
    const before = await mountApp();
    const created = await node['group.import']({
      name: 'legacy',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      keyFile: '/home/a/key.hex',
    });
    // The page's copy of the node's warning (with the file's path) is gone after a reload.
    expect(before.manage.importWarnings[created.id]).toBeUndefined();
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /legacy/ }));
    const alert = (await screen.findByText(/^Destroy the original key/)).closest('[role="alert"]');
    expect(alert?.textContent).toMatch(/Whoever holds a copy of the key you imported can sign/);
  });

  it('a newcomer waiting to be added is shown the name and fingerprint the inviter compares', async () => {
    const app = await mountApp();
    const ready = app.groups.group('g-treasury')!;
    app.groups.upsert({
      ...ready,
      id: 'g-joined',
      name: 'joined late',
      status: 'forming',
      members: ready.members.filter((m) => !m.me).map((m) => ({ ...m, me: false })),
    });
    app.groups.open({ kind: 'detail', id: 'g-joined' });
    await openTab(/Groups/);
    const note = (await screen.findByText(/You asked to join “joined late”/)).closest('.note')!;
    expect(note.textContent?.replace(/\s+/g, ' ')).toMatch(
      new RegExp(`sees you as Alice with your fingerprint ${app.status!.fingerprint}`),
    );
    expect(note.textContent).toMatch(/may call you to compare the fingerprint/);
  });

  it('another member of an imported group is told who hands out the shares, and is not asked to destroy anything', async () => {
    const app = await mountApp();
    const ready = app.groups.group('g-treasury')!;
    // Bob imported the key: he is member 1 of the roster.
    app.groups.upsert({
      ...ready,
      id: 'g-imported',
      name: 'imported by Bob',
      status: 'dkg',
      importedKey: ready.publicKey,
      members: [BOB, app.status!, CAROL].map((p, i) => ({
        name: p.name,
        peerId: p.peerId,
        fingerprint: p.fingerprint,
        index: i + 1,
        online: true,
        confirmed: true,
        me: i === 1,
      })),
    });
    app.groups.open({ kind: 'detail', id: 'g-imported' });
    await openTab(/Groups/);
    await screen.findByText('Waiting for your share of the existing key');
    expect(screen.getByRole('list', { name: 'Forming the group' }).textContent).toMatch(
      /Bob sends each member theirs/,
    );
    expect(screen.getByText(/an existing key, imported by Bob/)).toBeTruthy();
    expect(screen.queryByText(/Destroy the original key/)).toBeNull();
    expect(screen.queryByText(/Generat/)).toBeNull();
  });
});

describe('Lifecycle requests in the inbox', () => {
  /** Another member proposes; returns the card waiting for this custodian's decision. */
  async function proposed(title: RegExp, make: () => RequestView): Promise<HTMLElement> {
    const app = await mountApp();
    await app.requests.refresh(make().id);
    return card(title);
  }

  it('a reshare shows who is added and removed, the threshold before and after, and the epoch', async () => {
    const c = await proposed(/Change the members of “treasury”/, () => {
      node.newcomerJoins('treasury', DAVE);
      return node.propose(BOB, 'treasury', 'reshare', {
        ceremony: 'reshare',
        group: 'g-treasury',
        fromEpoch: 0,
        threshold: 3,
        size: 3,
        add: [{ peerId: DAVE.peerId, name: 'Dave', addrs: [] }],
        remove: [CAROL.peerId],
      });
    });
    const changes = within(c).getByLabelText('What this changes');
    expect(changes.textContent?.replace(/\s+/g, ' ')).toMatch(
      /Added \+ Dave [0-9A-Z]{4}(-[0-9A-Z]{4}){4} Removed − Carol Approvals needed 2 of 3 → 3 of 3 Epoch 0 → 1/,
    );
    // The newcomer's fingerprint, to compare with Dave in person.
    expect(changes.textContent).toContain(DAVE.fingerprint);
  });

  it('a policy change shows its rules before and after', async () => {
    const c = await proposed(/Change the policy of “treasury”/, () =>
      node.propose(BOB, 'treasury', 'policy', {
        v: 1,
        from: 'unknown',
        policy: { ...defaultPolicy(), messagePrefixes: ['release:'] },
      }),
    );
    // Made against a policy this app has not seen: the whole proposed policy is shown.
    expect(within(c).getByRole('table', { name: 'The policy it proposes' }).textContent).toMatch(
      /Only text starting with “release:”/,
    );
  });

  it('a policy change against the policy in force shows only what changes', async () => {
    const app = await mountApp();
    const current = await node['group.policy']({ group: 'treasury' });
    await vi.waitFor(() => expect(app.manage.known[current.hash]).toBeDefined());
    const r = node.propose(BOB, 'treasury', 'policy', {
      v: 1,
      from: current.hash,
      policy: { ...defaultPolicy(), policyChange: 'all' },
    });
    await app.requests.refresh(r.id);
    const c = card(/Change the policy of “treasury”/);
    const diff = within(c).getByRole('table', { name: 'What the new policy changes' });
    expect(within(diff).getAllByRole('row')).toHaveLength(2);
    expect(diff.textContent).toMatch(/Needs 2 of 3 members\s*Needs all 3 members/);
  });

  it('a reconstruction is shown in the danger style and asks for a stronger confirmation', async () => {
    const app = await mountApp();
    node.setPolicy('cold wallet', {
      ...defaultPolicy(),
      allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'reconstruct', 'policy'],
      allowReconstruct: true,
    });
    const r = node.propose(BOB, 'cold wallet', 'reconstruct', {
      ceremony: 'reconstruct',
      group: 'g-cold',
      fromEpoch: 0,
      purpose: 'Migrate to the new HSM',
      operation: 'ecdsa-sign',
      requester: BOB.peerId,
      oneTimeKey: 'aa'.repeat(32),
      digest: 'ab'.repeat(32),
    });
    await app.requests.refresh(r.id);
    const c = card(/Reconstruct the whole key of “cold wallet”/);
    expect(c.classList.contains('danger-card')).toBe(true);
    expect(within(c).getByText('Exposes the key')).toBeTruthy();
    expect(c.textContent).toMatch(/This puts the whole key together on Bob’s computer/);
    expect(c.querySelector('q')?.textContent).toBe('Migrate to the new HSM');
    expect(c.textContent).toContain(`One ECDSA signature of the digest ${'ab'.repeat(32)}`);
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    const confirm = within(c).getByRole('group', { name: /Approve this: Reconstruct/ });
    expect(confirm.textContent).toMatch(/Approving sends your share to the requester’s computer/);
    const yes = within(confirm).getByRole('button', { name: 'Yes, approve the reconstruction' });
    expect(yes.classList.contains('danger')).toBe(true);
  });
});

describe('Activity', () => {
  it('shows the check, filters, and counts what matches', async () => {
    await mountApp();
    await openTab(/Activity/);
    await screen.findByText('The log checks out.');
    const filter = screen.getByLabelText('Filter');
    await fireEvent.input(filter, { target: { value: 'denied' } });
    expect(screen.getByText(/^\s*2 of \d+ events match/)).toBeTruthy();
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
