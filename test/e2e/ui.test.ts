// End to end through the UI: three real custodian nodes (in this process, on loopback), each in
// browser mode with its own Chromium page. A group is formed, a request is signed by two of them and
// the signature verifies in all three; another request is denied; a refresh proposed in one page
// and approved in another moves every page to the next epoch; the policy screen shows the policy.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initIdentity, startCustodian, type RunningNode } from '../../main/node/index.js';
import { startBrowserMode, type BrowserServer } from '../../main/server/http.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SCREENS = join(ROOT, 'test-results', 'screens');
const PASSPHRASE = 'e2e passphrase, not a secret';
const NAMES = ['Alice', 'Bob', 'Carol'] as const;

interface Custodian {
  name: string;
  node: RunningNode;
  ui: BrowserServer;
  page: Page;
}

let tmp: string;
let context: BrowserContext;
const custodians: Custodian[] = [];
const problems: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conclave-e2e-real-'));
  mkdirSync(SCREENS, { recursive: true });
  const staticDir = join(tmp, 'renderer');
  await build({
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: staticDir, emptyOutDir: true },
  });
  context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
  });
  for (const name of NAMES) {
    const home = join(tmp, name);
    // The file vault: no Secret Service needed in this project.
    await initIdentity({ home, name, vault: 'file', passphrase: PASSPHRASE });
    const node = await startCustodian({
      home,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      relays: [],
      mdns: false,
      passphrase: PASSPHRASE,
      log: () => undefined,
    });
    const ui = await startBrowserMode(node, { staticDir });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) {
        problems.push(`${name}: ${m.text()}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    // Each node has its own port, so its own cookie in the shared profile.
    await page.goto(ui.url);
    custodians.push({ name, node, ui, page });
  }
}, 120_000);

afterAll(async () => {
  await context?.close();
  for (const c of custodians) {
    await c.ui.close();
    await c.node.stop();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

const [alice, bob, carol] = [0, 1, 2].map((i) => () => custodians[i]!);

async function tab(p: Page, name: RegExp | string): Promise<void> {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('button', { name }).click();
}

function waitingCard(p: Page, text: string) {
  return p
    .getByRole('region', { name: /Waiting for your decision/ })
    .getByRole('article')
    .filter({ hasText: text });
}

async function decide(p: Page, text: string, decision: 'approve' | 'deny'): Promise<void> {
  const card = waitingCard(p, text);
  await card.waitFor({ timeout: 20_000 });
  if (decision === 'approve') {
    await card.getByRole('button', { name: 'Approve…' }).click();
    await card.getByRole('button', { name: 'Yes, approve' }).click();
  } else {
    await card.getByRole('button', { name: 'Deny…' }).click();
    await card.getByRole('button', { name: 'Deny request' }).click();
  }
  await card.waitFor({ state: 'detached', timeout: 20_000 });
}

let publicKey = '';

/** The group "ops" on the Groups screen, whichever view of it the page was left on. */
async function openOps(p: Page): Promise<void> {
  await tab(p, 'Groups');
  const manage = p.getByRole('heading', { name: 'Manage the key' });
  await manage.or(p.getByRole('heading', { name: 'Groups', level: 1 })).waitFor();
  if (!(await manage.isVisible())) await p.getByRole('button', { name: /^ops\b/ }).click();
  await manage.waitFor();
}

describe('three custodians in browser mode', () => {
  it('form a 2-of-3 group through the UI: invite, join, safety codes, key', async () => {
    const a = alice().page;
    await tab(a, 'Groups');
    await a.getByRole('button', { name: 'Create a group' }).click();
    await a.getByLabel('Group name').fill('ops');
    await a.getByRole('button', { name: 'Create group' }).click();
    const invite = await a.getByLabel('Invite code').inputValue();
    expect(invite).toMatch(/^conclave-invite:/);
    await a.screenshot({ path: join(SCREENS, 'real-01-invite.png'), fullPage: true });

    for (const c of [bob(), carol()]) {
      await tab(c.page, 'Groups');
      await c.page.getByRole('button', { name: 'Join with an invite' }).click();
      await c.page.getByLabel('Invite code').fill(invite);
      await c.page.getByRole('button', { name: 'Join group' }).click();
    }
    const codes: string[] = [];
    for (const c of custodians) {
      const list = c.page.getByRole('list', { name: 'Safety code' });
      await list.waitFor({ timeout: 30_000 });
      codes.push((await list.innerText()).replace(/\s+/g, ' '));
    }
    expect(new Set(codes).size).toBe(1);
    await a.screenshot({ path: join(SCREENS, 'real-02-safety-code.png'), fullPage: true });
    for (const c of custodians) {
      await c.page.getByRole('button', { name: 'Yes, the codes match' }).click();
    }
    for (const c of custodians) {
      await c.page.getByRole('heading', { name: 'Group public key' }).waitFor({ timeout: 30_000 });
    }
    await a.screenshot({ path: join(SCREENS, 'real-03-ready.png'), fullPage: true });
    const keys = await Promise.all(
      custodians.map((c) => c.page.locator('[aria-labelledby="key-hex"]').innerText()),
    );
    expect(new Set(keys).size).toBe(1);
    publicKey = keys[0]!.trim();
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a request made in one page appears in the others; two approvals sign it for all three', async () => {
    const message = 'Deploy release 3.1.4 to production';
    const a = alice().page;
    await a.getByRole('button', { name: 'Ask this group to sign something' }).click();
    await a.getByLabel('Message', { exact: true }).fill(message);
    await a.getByRole('button', { name: 'Send request to the group' }).click();
    for (const c of [bob(), carol()]) {
      await tab(c.page, /Requests/);
      await waitingCard(c.page, message).waitFor({ timeout: 20_000 });
    }
    await bob().page.screenshot({ path: join(SCREENS, 'real-04-request.png'), fullPage: true });
    await decide(a, message, 'approve');
    await decide(bob().page, message, 'approve');
    const signatures: string[] = [];
    for (const c of custodians) {
      const card = c.page
        .getByRole('article')
        .filter({ hasText: message })
        .filter({ hasText: 'Signed.' });
      await card.waitFor({ timeout: 30_000 });
      signatures.push((await card.locator('code.sig').innerText()).trim());
    }
    await carol().page.screenshot({ path: join(SCREENS, 'real-05-signed.png'), fullPage: true });
    expect(new Set(signatures).size).toBe(1);
    expect(
      ed25519.verify(
        hexToBytes(signatures[0]!),
        new TextEncoder().encode(message),
        hexToBytes(publicKey),
      ),
    ).toBe(true);
  });

  it('a request two members deny is denied for everyone, and nothing is signed', async () => {
    const message = 'Wire 1 000 000 EUR to an account nobody knows';
    const a = alice().page;
    await a.getByRole('button', { name: 'New sign request' }).click();
    await a.getByLabel('Group whose key signs').selectOption({ index: 1 });
    await a.getByLabel('Message', { exact: true }).fill(message);
    await a.getByRole('button', { name: 'Send request to the group' }).click();
    await decide(bob().page, message, 'deny');
    await decide(carol().page, message, 'deny');
    for (const c of custodians) {
      await c.page
        .getByRole('article')
        .filter({ hasText: message })
        .getByText('Too many members said no')
        .waitFor({ timeout: 20_000 });
    }
    await a.screenshot({ path: join(SCREENS, 'real-06-denied.png'), fullPage: true });
  });

  it('the activity log checks out in every page', async () => {
    for (const c of custodians) {
      await tab(c.page, 'Activity');
      await c.page.getByText('The log checks out.').waitFor({ timeout: 20_000 });
    }
    await alice().page.screenshot({ path: join(SCREENS, 'real-07-activity.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('a refresh proposed in one page and approved in another moves every page to epoch 1', async () => {
    const a = alice().page;
    await openOps(a);
    await a.getByRole('button', { name: 'Propose a refresh…' }).click();
    await a.getByRole('button', { name: 'Propose the refresh to the group' }).click();
    await a.getByText('Sent to the group.').waitFor();
    await a.getByRole('button', { name: 'Open Requests' }).click();
    await decide(a, 'Refresh the key shares', 'approve');
    await tab(bob().page, /Requests/);
    await bob().page.screenshot({ path: join(SCREENS, 'real-08-refresh.png'), fullPage: true });
    await decide(bob().page, 'Refresh the key shares', 'approve');
    for (const c of custodians) {
      await openOps(c.page);
      await c.page
        .getByRole('region', { name: 'Manage the key' })
        .getByText('Epoch 1', { exact: true })
        .waitFor({ timeout: 60_000 });
    }
  });

  it('the policy screen shows the group’s policy', async () => {
    const c = carol().page;
    await c.getByRole('button', { name: 'View the policy' }).click();
    const rules = c.getByRole('table', { name: 'The rules in force' });
    await rules.waitFor();
    expect(await rules.getByRole('row', { name: /Signing messages/ }).innerText()).toMatch(
      /Allowed; needs 2 of 3 members/,
    );
    expect(
      await rules.getByRole('row', { name: /Reconstructing the whole key/ }).innerText(),
    ).toMatch(/Not allowed/);
    await c.screenshot({ path: join(SCREENS, 'real-09-policy.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
