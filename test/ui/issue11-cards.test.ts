// Issue 11, items 6, 8 and 9 under jsdom: the creator sees the invite again after a reload; request
// cards name the key and the request, say the threshold of the time and how to verify a signature;
// the activity log shows one row per event with who recorded it, in words, with filters.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../renderer/components/App.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { ALICE, BOB, CAROL, createFakeNode, peerTail, type FakeNode } from './fake-api.js';

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

/** The finished card whose preview quotes `text`. */
function finishedCard(text: RegExp): HTMLElement {
  const finished = screen.getByRole('region', { name: /Finished/ });
  const c = within(finished)
    .getAllByRole('article')
    .find((a) => text.test(a.textContent ?? ''));
  if (!c) throw new Error(`no finished card with ${text}`);
  return c;
}

describe('request cards (item 9)', () => {
  it('a card names the key by group and fingerprint, and shows the request id', async () => {
    const app = await mount();
    const treasury = app.groups.group('g-treasury')!;
    const waiting = screen.getByRole('region', { name: /Waiting for your decision/ });
    const c = within(waiting).getByRole('article', { name: /treasury/ });
    const fp = `${treasury.publicKey!.slice(0, 4)} ${treasury.publicKey!.slice(4, 8)}`;
    expect(c.textContent).toMatch(new RegExp(`Key\\s*“treasury”\\s*· key ${fp}`));
    expect(c.textContent).toMatch(/\(2 of 3 must approve\)/);
    const id = app.requests.waiting.find((r) => r.group === 'g-treasury')!.id;
    expect(within(c).getByText(id, { selector: 'code' })).toBeTruthy();
  });

  it('a finished card says what was needed then, not what the group needs now', async () => {
    await mount();
    const c = finishedCard(/Release v2\.3\.1/);
    expect(c.textContent).toMatch(/Needed then\s*2 of 3 members’ approvals/);
    expect(c.textContent).not.toMatch(/must approve/);
  });

  it('a signed card says its format and offers commands that check it', async () => {
    const app = await mount();
    const c = finishedCard(/Release v2\.3\.1/);
    expect(c.textContent).toMatch(/Format: Ed25519 \(RFC 8032\), 64 bytes/);
    await fireEvent.click(within(c).getByText('Check the signature yourself'));
    const cmd = within(c).getByLabelText('Commands that verify the signature').textContent!;
    expect(cmd).toMatch(/^cd "\$\(mktemp -d\)"/);
    expect(cmd).toContain('-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA');
    expect(cmd).toContain('openssl pkeyutl -verify -pubin -inkey group-key.pem -rawin');
    const r = app.requests.finished.find((x) => x.status === 'done')!;
    const sig = btoa(
      String.fromCharCode(...r.signature!.match(/../g)!.map((h) => parseInt(h, 16))),
    );
    expect(cmd).toContain(`echo '${sig}' | openssl base64 -d -A > signature.bin`);
    expect(within(c).getByRole('button', { name: 'Copy the commands' })).toBeTruthy();
  });

  it('after a change of members or policy, the threshold of the time is not guessed', async () => {
    const app = await mount();
    const done = app.requests.finished.find((x) => x.status === 'done')!;
    expect(app.requests.thresholdThen(done)).toEqual({ needed: 2, of: 3 });
    // A reshare that was done and could still run after the request was made.
    app.requests.track({
      ...done,
      id: 'r-reshare',
      kind: 'reshare',
      createdAt: new Date(Date.parse(done.createdAt) - 3600_000).toISOString(),
      expiresAt: new Date(Date.parse(done.createdAt) + 3600_000).toISOString(),
    });
    expect(app.requests.thresholdThen(done)).toBeUndefined();
    await vi.waitFor(() =>
      expect(finishedCard(/Release v2\.3\.1/).textContent).toMatch(
        /Needed then\s*Not known: the group’s members or policy changed/,
      ),
    );
  });

  it('the only ready group is preselected for a new request', async () => {
    node = createFakeNode({ seed: false, delayMs: 5, now: clock });
    const app = await mount();
    const g = await node['group.create']({ name: 'ops', threshold: 2, size: 3, scheme: 'ed25519' });
    await vi.waitFor(async () =>
      expect((await node!['group.show']({ group: g.id })).status).toBe('confirming'),
    );
    await node['group.confirm']({ group: g.id });
    await vi.waitFor(async () =>
      expect((await node!['group.show']({ group: g.id })).status).toBe('ready'),
    );
    await app.groups.refresh(g.id);
    await fireEvent.click(screen.getByRole('button', { name: 'New sign request' }));
    const select = screen.getByLabelText('Group whose key signs') as HTMLSelectElement;
    expect(select.value).toBe(g.id);
  });

  it('with two ready groups nothing is chosen for the custodian', async () => {
    await mount();
    await fireEvent.click(screen.getByRole('button', { name: 'New sign request' }));
    const select = screen.getByLabelText('Group whose key signs') as HTMLSelectElement;
    expect(select.value).toBe('');
  });
});

describe('activity log (item 8)', () => {
  /** Bob asks treasury to sign and approves: each member records the request, Bob his approval. */
  function seenByAll(): string {
    const r = node!.ask(BOB, 'treasury', 'Pay invoice #2024-118 to Northwind Ltd');
    const t = T0 - 60_000;
    for (const [i, who] of [ALICE, BOB, CAROL].entries()) {
      node!.record(
        who,
        'request.created',
        `request ${r.id} created by ${peerTail(BOB)}`,
        'treasury',
        t + i,
      );
      node!.record(who, 'audit.checkpoint', 'audit.checkpoint', 'treasury', t + 20 + i);
    }
    // Bob's approval is in Bob's own chain only (the outcome entries list the approvals held).
    node!.record(
      BOB,
      'request.approved',
      `request ${r.id} approved by ${peerTail(BOB)}`,
      'treasury',
      t + 10,
    );
    return r.id;
  }

  function rows(): HTMLElement[] {
    const table = screen.getByRole('region', { name: 'Activity log entries' });
    return within(table).getAllByRole('row').slice(1);
  }

  it('one row per event, listing who recorded it by name and fingerprint, in plain words', async () => {
    node = createFakeNode({ seed: true, delayMs: 5, now: clock });
    seenByAll();
    await mount();
    await openTab(/Activity/);
    await screen.findByText('The log checks out.');
    const approved = rows().filter((r) => /approved “Pay invoice #2024-118/.test(r.textContent!));
    expect(approved).toHaveLength(1);
    const row = approved[0]!;
    // The approver by name and fingerprint, not by the tail of a peer id.
    expect(row.textContent).toContain(`Bob (${BOB.fingerprint.slice(0, 9)}) approved`);
    expect(row.textContent).not.toContain(peerTail(BOB));
    const recorders = (r: HTMLElement) =>
      within(within(r).getByRole('list', { name: 'Recorded by' }))
        .getAllByRole('listitem')
        .map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
    // An approval is recorded in its approver's chain only; the request by every member.
    expect(recorders(row)).toEqual([`Bob ${BOB.fingerprint.slice(0, 9)}`]);
    const asked = rows().filter((r) =>
      /Bob \(.{9}\) asked for “Pay invoice #2024-118/.test(r.textContent!),
    );
    expect(asked).toHaveLength(1);
    expect(recorders(asked[0]!)).toEqual([
      `Alice ${ALICE.fingerprint.slice(0, 9)}`,
      `Bob ${BOB.fingerprint.slice(0, 9)}`,
      `Carol ${CAROL.fingerprint.slice(0, 9)}`,
    ]);
    // No raw codes: a checkpoint reads as words.
    const table = screen.getByRole('region', { name: 'Activity log entries' });
    expect(table.textContent).not.toMatch(/audit\.checkpoint|request\.approved/);
    expect(table.textContent).toContain('Log checkpoint');
  });

  it('filters by group, by what happened and by person', async () => {
    node = createFakeNode({ seed: true, delayMs: 5, now: clock });
    seenByAll();
    const app = await mount();
    await openTab(/Activity/);
    await screen.findByText('The log checks out.');
    const all = rows().length;
    await fireEvent.change(screen.getByLabelText('Group'), { target: { value: 'g-cold' } });
    expect(rows().every((r) => /cold wallet/.test(r.textContent!))).toBe(true);
    expect(rows().length).toBeLessThan(all);
    await fireEvent.change(screen.getByLabelText('Group'), { target: { value: '' } });
    await fireEvent.change(screen.getByLabelText('What happened'), {
      target: { value: 'request.approved' },
    });
    expect(rows().length).toBeGreaterThan(0);
    expect(rows().every((r) => /approved/.test(r.textContent!))).toBe(true);
    await fireEvent.change(screen.getByLabelText('What happened'), { target: { value: '' } });
    const person = screen.getByLabelText('Person') as HTMLSelectElement;
    expect([...person.options].map((o) => o.textContent)).toContain(
      `Carol (${CAROL.fingerprint.slice(0, 9)})`,
    );
    await fireEvent.change(person, { target: { value: CAROL.peerId } });
    expect(
      app.audit.shown.every(
        (ev) =>
          ev.actorPeerId === CAROL.peerId || ev.recordedBy.some((r) => r.peerId === CAROL.peerId),
      ),
    ).toBe(true);
    expect(screen.getByText(/\d+ of \d+ events match/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(rows()).toHaveLength(all);
  });
});
