// Issue 11, items 1 and 2: the approver sees all of what they approve (a long message, binary data,
// hidden and look-alike characters), and a key that was reconstructed never looks healthy.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { decodeRequest } from '../../shared/requests/index.js';
import App from '../../renderer/components/App.svelte';
import RequestCard from '../../renderer/components/RequestCard.svelte';
import { AppState } from '../../renderer/state/app.svelte.js';
import { groupHex } from '../../renderer/lib/format.js';
import { BOB, createFakeNode, type FakeNode } from './fake-api.js';
import { ctx } from '../requests/fixtures.js';

let node: FakeNode;

afterEach(() => {
  node.dispose();
  vi.unstubAllGlobals();
});

const T0 = Date.parse('2026-03-01T12:00:00Z');
const clock = () => T0;

async function mountApp(): Promise<AppState> {
  node = createFakeNode({ seed: true, delayMs: 5, now: clock });
  const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) }, { clock });
  render(App, { props: { app } });
  await vi.waitFor(() => expect(app.requests.loaded && app.groups.loaded).toBe(true));
  return app;
}

async function openTab(name: RegExp): Promise<void> {
  const nav = screen.getByRole('navigation', { name: 'Main' });
  await fireEvent.click(within(nav).getByRole('button', { name }));
}

/** Bob asks the treasury group to sign `text`; returns its card among those waiting. */
async function asked(text: string): Promise<HTMLElement> {
  const r = node.ask(BOB, 'treasury', text);
  const waiting = screen.getByRole('region', { name: /Waiting for your decision/ });
  return vi.waitFor(() => {
    const c = within(waiting)
      .getAllByRole('article')
      .find((a) => a.querySelector(`[id="request-${r.id}-title"]`));
    if (!c) throw new Error('not shown yet');
    return c;
  });
}

/** A card for a sign request as the real node sends it (messageText only for plain text). */
async function signCard(bytes: Uint8Array, messageText?: string): Promise<HTMLElement> {
  node = createFakeNode({ seed: true, delayMs: 1 });
  const app = new AppState({ api: node, onEvent: (cb) => node.onEvent(cb) });
  await app.load();
  await vi.waitFor(() => expect(app.requests.loaded).toBe(true));
  const base = app.requests.list.find((r) => r.status === 'pending' && r.group === 'g-treasury')!;
  const request: RequestView = {
    ...base,
    id: 'sign-1',
    kind: 'sign',
    approvals: [],
    denials: [],
    message: bytesToHex(bytes),
    messageSha256: bytesToHex(sha256(bytes)),
    card: decodeRequest('sign', bytes, ctx()),
  };
  delete request.messageText;
  if (messageText !== undefined) request.messageText = messageText;
  render(RequestCard, { props: { app, request } });
  return screen.getByRole('article');
}

const LONG = [
  ...Array.from({ length: 80 }, (_, i) => `Line ${i + 1}: pay invoice ${1000 + i}`),
  'also pay 100 BTC to bc1qattacker',
].join('\n');

describe('a long message', () => {
  it('shows how many lines are not shown, and Approve waits until all are shown', async () => {
    await mountApp();
    const c = await asked(LONG);
    const approve = within(c).getByRole('button', { name: 'Approve…' }) as HTMLButtonElement;
    expect(approve.disabled).toBe(true);
    expect(c.textContent).toMatch(/61 more lines not shown yet/);
    expect(c.textContent).not.toContain('also pay 100 BTC');
    expect(c.textContent).toMatch(/Approve is available once you have seen the whole message/);
    await fireEvent.click(within(c).getByRole('button', { name: 'Show all 81 lines' }));
    expect(within(c).getByLabelText('The message to sign').textContent).toBe(LONG);
    expect(c.textContent).toMatch(/End of the message \(all 81 lines shown\)/);
    expect(approve.disabled).toBe(false);
  });

  it('with an observer, Approve waits until the end of the message has been on screen', async () => {
    let report: ((visible: boolean) => void) | undefined;
    vi.stubGlobal(
      'IntersectionObserver',
      class {
        constructor(private cb: (e: { isIntersecting: boolean }[]) => void) {}
        observe(): void {
          report = (v) => this.cb([{ isIntersecting: v }]);
        }
        disconnect(): void {
          report = undefined;
        }
      },
    );
    await mountApp();
    const c = await asked(LONG);
    await fireEvent.click(within(c).getByRole('button', { name: 'Show all 81 lines' }));
    const approve = within(c).getByRole('button', { name: 'Approve…' }) as HTMLButtonElement;
    expect(approve.disabled).toBe(true);
    report!(false);
    await vi.waitFor(() => expect(approve.disabled).toBe(true));
    report!(true);
    await vi.waitFor(() => expect(approve.disabled).toBe(false));
  });

  it('a short message can be approved at once', async () => {
    await mountApp();
    const c = await asked('Pay invoice 7 to Northwind');
    expect(
      (within(c).getByRole('button', { name: 'Approve…' }) as HTMLButtonElement).disabled,
    ).toBe(false);
    expect(c.textContent).toMatch(/Text message\s*· 26 bytes · 1 line\b/);
  });
});

describe('what a message hides', () => {
  it('binary data: hex with an ASCII column, the size, its own SHA-256 and why it is not text', async () => {
    const bytes = new Uint8Array([0x70, 0x61, 0x79, 0xff, 0x00, 0x41]);
    const c = await signCard(bytes);
    expect(within(c).getByLabelText('The bytes to sign, in hex').textContent).toBe(
      '000000  7061 79ff 0041                           |pay..A|',
    );
    expect(c.textContent).toMatch(/Binary data\s*· 6 bytes/);
    expect(c.textContent).toContain(groupHex(bytesToHex(sha256(bytes))));
    expect(within(c).getByLabelText('Why this is shown as bytes').textContent).toMatch(
      /not valid UTF-8 text: byte 3 is 0xff/,
    );
    // The node's own warning is shown, once.
    expect(c.textContent!.split('This message is binary data').length).toBe(2);
  });

  it('text the node shows as bytes for a direction override says so and names U+202E', async () => {
    const text = 'Pay Bob \u202e0001 EUR';
    const c = await signCard(utf8ToBytes(text));
    expect(within(c).getByLabelText('Why this is shown as bytes').textContent).toMatch(
      /U\+202E right-to-left override/,
    );
    expect(within(c).getByLabelText('Hidden characters').textContent).toMatch(
      /U\+202E right-to-left override\s*once, on line\s*1/,
    );
    // As text, the override is a visible mark, never applied or left out.
    await fireEvent.click(within(c).getByRole('button', { name: /Show as text/ }));
    const view = within(c).getByLabelText('The message to sign');
    expect(view.textContent).toBe('Pay Bob U+202E0001 EUR');
    expect(view.querySelector('mark')?.getAttribute('title')).toBe('U+202E right-to-left override');
  });

  it('a zero-width character in text is flagged and marked', async () => {
    await mountApp();
    const c = await asked('Pay Bob\u200b 10 EUR');
    expect(within(c).getByLabelText('Hidden characters').textContent).toMatch(
      /U\+200B zero width space/,
    );
    expect(within(c).getByLabelText('The message to sign').querySelector('mark')).toBeTruthy();
  });

  it('look-alike letters from another alphabet are flagged, naming the character', async () => {
    await mountApp();
    const c = await asked('Send 5 BTC to the pаypal account');
    const alert = within(c).getByLabelText('Look-alike letters');
    expect(alert.textContent).toContain('pаypal');
    expect(alert.textContent).toMatch(/U\+0430 Cyrillic “а”, looks like Latin “a”/);
    const mark = within(c).getByLabelText('The message to sign').querySelector('mark.look-alike');
    expect(mark?.textContent).toBe('а');
    expect(mark?.getAttribute('title')).toMatch(/^U\+0430 Cyrillic/);
  });

  it('plain text raises no flag', async () => {
    await mountApp();
    const c = await asked('Pay invoice 7 to Northwind Ltd, 12 400.00 EUR');
    expect(within(c).queryByLabelText('Look-alike letters')).toBeNull();
    expect(within(c).queryByLabelText('Hidden characters')).toBeNull();
  });
});

describe('an exposed key', () => {
  const EXPOSED = 'key exposed on Bob at 2026-03-01T11:00:00.000Z (migration)';
  const allowReconstruct = () =>
    node.setPolicy('treasury', {
      ...defaultPolicy(),
      allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'reconstruct', 'policy'],
      allowReconstruct: true,
    });

  it('is marked Exposed in the list and on its page, and no reconstruction is offered', async () => {
    await mountApp();
    allowReconstruct();
    node.markExposed('treasury', EXPOSED);
    await openTab(/Groups/);
    const item = await screen.findByRole('button', { name: /treasury/ });
    await vi.waitFor(() => expect(item.querySelector('.tag')?.textContent).toBe('Exposed'));
    expect(item.querySelector('.tag')?.classList.contains('danger')).toBe(true);
    expect(item.textContent).not.toContain('Ready');
    await fireEvent.click(item);
    const h1 = await screen.findByRole('heading', { level: 1, name: 'treasury' });
    expect(h1.parentElement!.querySelector('.tag')?.textContent).toBe('Exposed');
    await screen.findByText(/Not offered: this key was already reconstructed/);
    expect(screen.queryByRole('button', { name: 'Reconstruct the key…' })).toBeNull();
    // The banner gives the time for people, not the node's ISO timestamp.
    const banner = screen.getByText(/This key was reconstructed:/).closest('[role="alert"]')!;
    expect(banner.textContent).toMatch(/key exposed on Bob at .*2026/);
    expect(banner.textContent).not.toContain('T11:00:00');
  });

  it('leads to a new group with the same shape, naming whom to invite', async () => {
    await mountApp();
    node.markExposed('treasury', EXPOSED);
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /treasury/ }));
    await fireEvent.click(
      await screen.findByRole('button', { name: 'Create a new group to replace this key' }),
    );
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Create a group');
    expect((screen.getByLabelText('Group name') as HTMLInputElement).value).toBe(
      'treasury (new key)',
    );
    expect((screen.getByLabelText('Members in all') as HTMLInputElement).value).toBe('3');
    expect((screen.getByLabelText('Approvals needed to sign') as HTMLInputElement).value).toBe('2');
    expect(screen.getByRole('note').textContent).toMatch(/replace “treasury”.*Bob, Carol/s);
  });

  it('signing with it needs an explicit acknowledgement', async () => {
    await mountApp();
    node.markExposed('treasury', EXPOSED);
    await openTab(/Groups/);
    await fireEvent.click(await screen.findByRole('button', { name: /treasury/ }));
    await fireEvent.click(
      await screen.findByRole('button', { name: 'Sign with the exposed key anyway…' }),
    );
    await fireEvent.input(screen.getByLabelText('Message'), { target: { value: 'hello' } });
    const send = screen.getByRole('button', {
      name: 'Send request to the group',
    }) as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    const ack = screen.getByLabelText(
      /I understand this key has been exposed to Bob’s computer; anyone holding the exported key can sign without the group/,
    );
    await fireEvent.click(ack);
    expect(send.disabled).toBe(false);
    await fireEvent.click(send);
    await vi.waitFor(() => expect(node.calls.some((x) => x.method === 'request.sign')).toBe(true));
  });

  it('approving a signature with it needs the same acknowledgement', async () => {
    await mountApp();
    node.markExposed('treasury', EXPOSED);
    const c = await asked('Pay invoice 7');
    await vi.waitFor(() => expect(c.textContent).toMatch(/This group’s key is exposed/));
    await fireEvent.click(within(c).getByRole('button', { name: 'Approve…' }));
    const yes = within(c).getByRole('button', { name: 'Yes, approve' }) as HTMLButtonElement;
    expect(yes.disabled).toBe(true);
    await fireEvent.click(within(c).getByLabelText(/I understand this key has been exposed/));
    expect(yes.disabled).toBe(false);
  });
});
