// Issue 11, items 6, 8 and 9 in Debian's Chromium (browser mode over the fake node): the creator
// sees the invite again after a reload; request cards name the key and the request, say what was
// needed then and how to check a signature; the activity log reads as one row per event.
// Screenshots go to test-results/screens/ (issue11-cards-*.png) for a person to look at.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserServer } from '../../main/server/http.js';
import { ALICE, BOB, CAROL, peerTail, type FakeNode } from '../ui/fake-api.js';
import { openFakeBrowser, SCREENS, type FakeBrowser } from './fake-browser.js';

let b: FakeBrowser;
let node: FakeNode;
let server: BrowserServer;
let page: Page;
let problems: string[];

beforeAll(async () => {
  b = await openFakeBrowser({
    tmpPrefix: 'conclave-e2e-11c-',
    screenPrefix: 'issue11-cards-',
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

describe('issue 11 items 6, 8, 9 in the browser', () => {
  it('opens the app', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  });

  it('request cards name the key and the request; a signed one says how to check it', async () => {
    const waiting = page.getByRole('region', { name: /Waiting for your decision/ });
    const pending = waiting.getByRole('article', { name: /treasury/ });
    await pending.getByText(/· key [0-9a-f]{4} /).waitFor();
    await pending.screenshot({ path: join(SCREENS, 'issue11-cards-01-pending-card.png') });
    const done = page
      .getByRole('region', { name: /Finished/ })
      .getByRole('article')
      .filter({ hasText: 'Release v2.3.1' });
    await done.getByText(/Needed then/).waitFor();
    await done.getByText('Check the signature yourself').click();
    await done.getByLabel('Commands that verify the signature').waitFor();
    await done.scrollIntoViewIfNeeded();
    await done.screenshot({ path: join(SCREENS, 'issue11-cards-02-signed-card.png') });
    await shoot('03-requests');
    expect(await axe()).toEqual([]);
  });

  it('after a reload the creator still sees the invite and its QR', async () => {
    const created = await node.createAlone({
      name: 'ops',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
    await tab('Groups');
    await page.getByRole('button', { name: /^ops/ }).click();
    const invite = page.getByLabel('Invite code');
    await invite.waitFor();
    expect(await invite.inputValue()).toBe(created.invite);
    await page.getByRole('img', { name: 'QR code of the invite for ops' }).waitFor();
    await shoot('04-invite-after-reload');
    expect(await axe()).toEqual([]);
  });

  it('the activity log: one row per event, who recorded it, plain words, filters', async () => {
    // As real nodes write them: each member records the request and a checkpoint, Bob his approval.
    const r = node.ask(BOB, 'treasury', 'Pay invoice #2024-118 to Northwind Ltd');
    const t = Date.now() - 60_000;
    for (const [i, who] of [ALICE, BOB, CAROL].entries()) {
      node.record(
        who,
        'request.created',
        `request ${r.id} created by ${peerTail(BOB)}`,
        'treasury',
        t + i,
      );
      node.record(who, 'audit.checkpoint', 'audit.checkpoint', 'treasury', t + 20 + i);
    }
    // Bob's approval is in Bob's own chain only (the outcome entries list the approvals held).
    node.record(
      BOB,
      'request.approved',
      `request ${r.id} approved by ${peerTail(BOB)}`,
      'treasury',
      t + 10,
    );
    await tab('Activity');
    await page.getByText('The log checks out.').waitFor();
    const log = page.getByRole('region', { name: 'Activity log entries' });
    const approved = log.getByRole('row').filter({ hasText: /approved “Pay invoice #2024-118/ });
    await approved.waitFor();
    expect(await approved.count()).toBe(1);
    expect(await approved.getByRole('listitem').count()).toBe(1);
    const asked = log.getByRole('row').filter({ hasText: /asked for “Pay invoice #2024-118/ });
    expect(await asked.count()).toBe(1);
    expect(await asked.getByRole('listitem').count()).toBe(3);
    expect(await log.textContent()).not.toMatch(/audit\.checkpoint|…[0-9A-F]{8}/);
    await shoot('05-activity');
    expect(await axe()).toEqual([]);
    await page.getByLabel('Person').selectOption({ label: `Bob (${BOB.fingerprint.slice(0, 9)})` });
    await page.getByLabel('What happened').selectOption({ label: 'Request approved' });
    await page.getByText(/\d+ of \d+ events match/).waitFor();
    await shoot('06-activity-filtered');
    expect(await axe()).toEqual([]);
    expect(problems).toEqual([]);
  });
});
