// Issue 11, items 6, 8 and 9 in Debian's Chromium (browser mode over the fake node): the creator
// sees the invite again after a reload; request cards name the key and the request, say what was
// needed then and how to check a signature; the activity log reads as one row per event.
// Screenshots go to test-results/screens/ (issue11-cards-*.png) for a person to look at.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveBrowser, type BrowserServer } from '../../main/server/http.js';
import { ALICE, BOB, CAROL, createFakeNode, peerTail, type FakeNode } from '../ui/fake-api.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SCREENS = join(ROOT, 'test-results', 'screens');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let tmp: string;
let node: FakeNode;
let server: BrowserServer;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conclave-e2e-11c-'));
  mkdirSync(SCREENS, { recursive: true });
  const staticDir = join(tmp, 'renderer');
  await build({
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: staticDir, emptyOutDir: true },
  });
  node = createFakeNode({ seed: true, delayMs: 50 });
  server = await serveBrowser({ api: node, onEvent: (cb) => node.onEvent(cb), staticDir });
  context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1100, height: 900 },
    colorScheme: 'light',
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}, 120_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  node?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function shoot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENS, `issue11-cards-${name}.png`), fullPage: true });
}

async function axe(): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = (await page.evaluate(`axe.run(document).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)),
  })))`)) as { id: string; impact: string | null; help: string; targets: string[] }[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
}

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
    // As real nodes write them: each member records the request, Bob's approval and a checkpoint.
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
      node.record(
        who,
        'request.approved',
        `request ${r.id} approved by ${peerTail(BOB)}`,
        'treasury',
        t + 10 + i,
      );
      node.record(who, 'audit.checkpoint', 'audit.checkpoint', 'treasury', t + 20 + i);
    }
    await tab('Activity');
    await page.getByText('The log checks out.').waitFor();
    const log = page.getByRole('region', { name: 'Activity log entries' });
    const approved = log.getByRole('row').filter({ hasText: /approved “Pay invoice #2024-118/ });
    await approved.waitFor();
    expect(await approved.count()).toBe(1);
    expect(await approved.getByRole('listitem').count()).toBe(3);
    expect(await log.textContent()).not.toMatch(/audit\.checkpoint|…[0-9A-F]{8}/);
    await shoot('05-activity');
    expect(await axe()).toEqual([]);
    await page
      .getByLabel('Person')
      .selectOption({ label: `Carol (${CAROL.fingerprint.slice(0, 9)})` });
    await page.getByLabel('What happened').selectOption({ label: 'Request approved' });
    await page.getByText(/\d+ of \d+ events match/).waitFor();
    await shoot('06-activity-filtered');
    expect(await axe()).toEqual([]);
    expect(problems).toEqual([]);
  });
});
