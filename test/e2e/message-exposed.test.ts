// Issue 11, items 1 and 2 in Debian's Chromium (browser mode over the fake node): a long message
// keeps Approve off until its end has been scrolled into view, hidden and look-alike characters are
// named, binary data reads as hex with an ASCII column, and an exposed key is marked as such.
// Screenshots go to test-results/screens/ (issue11-*.png) for a person to look at.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserServer } from '../../main/server/http.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { BOB, type FakeNode } from '../ui/fake-api.js';
import { openFakeBrowser, SCREENS, type FakeBrowser } from './fake-browser.js';

let b: FakeBrowser;
let node: FakeNode;
let server: BrowserServer;
let page: Page;
let problems: string[];

beforeAll(async () => {
  b = await openFakeBrowser({
    tmpPrefix: 'conclave-e2e-11-',
    screenPrefix: 'issue11-',
    delayMs: 50,
  });
  ({ node, server, page, problems } = b);
}, 120_000);

afterAll(async () => {
  await b?.close();
});

const shoot = (name: string, p?: Page) => b.shoot(name, p);
const axe = (p?: Page) => b.axe(p);

async function tab(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name }).click();
}

function cardOf(id: string) {
  return page.getByRole('article').filter({ has: page.locator(`[id="request-${id}-title"]`) });
}

const LONG = [
  ...Array.from(
    { length: 80 },
    (_, i) => `Line ${i + 1}: pay invoice ${1000 + i} to Northwind Ltd`,
  ),
  'also pay 100 BTC to bc1qattacker0000000000000000000000000000',
].join('\n');

describe('issue 11 in the browser', () => {
  it('opens the app', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  });

  it('a long message: "N more lines", Approve off until its end has been scrolled into view', async () => {
    const r = node.ask(BOB, 'treasury', LONG);
    const card = cardOf(r.id);
    await card.waitFor();
    const approve = card.getByRole('button', { name: 'Approve…' });
    await card.getByText('61 more lines not shown yet').waitFor();
    expect(await approve.isDisabled()).toBe(true);
    await card.scrollIntoViewIfNeeded();
    await shoot('01-long-message');
    expect(await axe()).toEqual([]);
    await page.evaluate('window.scrollTo(0, 0)');
    await card.getByRole('button', { name: 'Show all 81 lines' }).click();
    // Shown in full, but its end is still below the window: Approve stays off.
    const end = card.getByText(/End of the message \(all 81 lines shown\)/);
    await end.waitFor();
    expect(await end.isVisible()).toBe(true);
    expect(await approve.isDisabled()).toBe(true);
    await end.scrollIntoViewIfNeeded();
    await expect.poll(() => approve.isEnabled()).toBe(true);
    expect(await card.getByText(/also pay 100 BTC/).isVisible()).toBe(true);
    await shoot('02-long-message-read');
  });

  it('hidden and look-alike characters are named, binary data reads as hex', async () => {
    const bidi = node.ask(BOB, 'treasury', 'Pay Bob \u202e0001 EUR\u202c and\u200b thanks');
    const look = node.ask(BOB, 'treasury', 'Send 5 BTC to the pаypal account of Nоrthwind');
    const bidiCard = cardOf(bidi.id);
    await bidiCard.getByText('U+202E right-to-left override', { exact: true }).waitFor();
    await cardOf(look.id)
      .getByText(/U\+0430 Cyrillic “а”, looks like Latin “a”/)
      .waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await shoot('03-hidden-characters');
    await bidiCard.screenshot({ path: join(SCREENS, 'issue11-03a-bidi.png') });
    await cardOf(look.id).screenshot({ path: join(SCREENS, 'issue11-03b-look-alike.png') });
    expect(await axe()).toEqual([]);
    const cold = page.getByRole('article').filter({ hasText: 'Binary data' }).first();
    await cold.getByText(/\|psbt/).waitFor();
    await cold.scrollIntoViewIfNeeded();
    await cold.screenshot({ path: join(SCREENS, 'issue11-04-binary.png') });
  });

  it('an exposed key: badge in the list and on the page, no reconstruction, a way to a new key', async () => {
    node.setPolicy('treasury', {
      ...defaultPolicy(),
      allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'reconstruct', 'policy'],
      allowReconstruct: true,
    });
    node.markExposed('treasury', 'key exposed on Bob at 2026-03-01T11:00:00.000Z (migration)');
    await tab('Groups');
    const item = page.getByRole('button', { name: /treasury/ });
    await item.getByText('Exposed', { exact: true }).waitFor();
    await shoot('05-groups-exposed');
    expect(await axe()).toEqual([]);
    await item.click();
    await page.getByText(/Not offered: this key was already reconstructed/).waitFor();
    expect(await page.getByRole('button', { name: 'Reconstruct the key…' }).count()).toBe(0);
    await shoot('06-group-exposed');
    expect(await axe()).toEqual([]);
    await page.getByRole('button', { name: 'Sign with the exposed key anyway…' }).click();
    const send = page.getByRole('button', { name: 'Send request to the group' });
    await send.waitFor();
    expect(await send.isDisabled()).toBe(true);
    await page
      .getByRole('form', { name: 'New sign request' })
      .screenshot({ path: join(SCREENS, 'issue11-07-sign-exposed.png') });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await tab('Groups');
    // The Groups tab may return to the list or to the group's page (issue 11 item 12): either way.
    const replace = page.getByRole('button', { name: 'Create a new group to replace this key' });
    const listed = page.getByRole('button', { name: /^treasury/ });
    await replace.or(listed).first().waitFor();
    if ((await replace.count()) === 0) await listed.click();
    await replace.click();
    expect(await page.getByLabel('Group name').inputValue()).toBe('treasury (new key)');
    await shoot('08-replace-exposed');
    expect(await axe()).toEqual([]);
    expect(problems).toEqual([]);
  });
});
