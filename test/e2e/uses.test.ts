// The uses of a key (issue 10) in Debian's Chromium over the fake node: another member asks for an
// SSH certificate and login, an age decryption, an X.509 certificate and CA, a bitcoin spend and a
// Nostr note, each made for the group's real key and decoded by the real registry; the custodian
// sees what a careful approver needs, approves, and gets the result; "Use this key" and "Spend".
// Screenshots go to test-results/screens/uses-*.png for a person to look at as a custodian.
import { join } from 'node:path';
import { base64 } from '@scure/base';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { fingerprint } from '../../shared/ssh/wire.js';
import { spend } from '../bitcoin/fixtures.js';
import {
  ED_SK,
  HOST_BLOB,
  TR,
  TR_SK,
  useExamples,
  type UseExample,
} from '../requests/use-fixtures.js';
import { peerPerson, type FakeNode } from '../ui/fake-api.js';
import { openFakeBrowser, SCREENS, type FakeBrowser } from './fake-browser.js';

let b: FakeBrowser;
let node: FakeNode;
let page: Page;
let examples: UseExample[];
const bob = peerPerson('Bob');
const carol = peerPerson('Carol');

beforeAll(async () => {
  [b, examples] = await Promise.all([
    openFakeBrowser({ tmpPrefix: 'conclave-e2e-uses-', screenPrefix: 'uses-', delayMs: 30 }),
    useExamples(new Date()),
  ]);
  ({ node, page } = b);
  node.addKeyGroup({
    name: 'ops',
    scheme: 'ed25519',
    secretKey: ED_SK,
    members: [node.me, bob, carol],
  });
  node.addKeyGroup({
    name: 'vault',
    scheme: 'taproot',
    secretKey: TR_SK,
    members: [bob, node.me, carol],
  });
}, 120_000);

afterAll(async () => {
  await b?.close();
});

/** What a custodian must be able to read on each card, besides every field the node decoded. */
const KEY_FACTS: Record<string, (string | RegExp)[]> = {
  'ssh-cert': [
    /Key id\s*“?alice@laptop \(ticket OPS-2231\)/,
    /Principals\s*“?alice, deploy/,
    /Validity\s*“?from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ until .*\(8 hours 5 minutes\)/,
    'force-command=/bin/true',
  ],
  'ssh-login': [/User\s*“?deploy/, `${fingerprint(HOST_BLOB)} (ssh-ed25519)`],
  age: [
    'payroll-2026-11.xlsx.age',
    /48,?511 bytes encrypted, 48,?213 bytes once decrypted/,
    /Recipients in the header\s*“?2/,
    /Approving lets Bob read this file/,
  ],
  x509: [
    'CN=www.example.test, O=Acme',
    'DNS:api.example.test',
    'DNS:a-rather-long-internal-name.eu-west-1.compute.example.test',
    /Valid until\s*\d{4}-\d\d-\d\d/,
    /Lifetime\s*90 days/,
    'CA: no',
  ],
  'x509-ca': ['CN=Ops Root CA, O=Acme', 'CA: yes', /whoever installs this CA certificate/],
  psbt: [
    /Input #0 \(this group’s\)/,
    /Input #1\s/,
    /not this group’s: its owner signs it separately/,
    /Input #2 \(this group’s\)/,
    /Output #0\s*“?bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 — 0\.00070000 BTC/,
    /Output #1 \(change back to this group\)/,
    /Fee\s*0\.00055000 BTC \(55,000 sat\)/,
    /1 input \(#1\) is not this group’s/,
  ],
  nostr: [
    /Event kind\s*1 \(short text note\)/,
    'Our treasury now signs with a 2-of-3 threshold key.',
    'every note is approved by two of us.',
    '["t","conclave"]',
    'wss://relay.example.com',
  ],
};

/** The visible text of an element, with runs of white space as one space. */
async function textOf(l: Locator): Promise<string> {
  return (await l.innerText()).replace(/\s+/g, ' ');
}

async function tab(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name }).click();
}

describe('the uses of a key in the browser', () => {
  it('opens the app', async () => {
    await page.goto(b.server.url);
    await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  });

  const asked = new Map<string, RequestView>();
  it('each use asked by another member shows its card in the inbox, with what matters', async () => {
    for (const ex of examples) {
      const r = node.askUse(
        bob,
        ex.kind === 'psbt' || ex.kind === 'nostr' ? 'vault' : 'ops',
        ex.kind,
        ex.message,
      );
      asked.set(ex.name, r);
      expect(r.card?.invalid).toBeUndefined();
    }
    const waiting = page.getByRole('region', { name: /Waiting for your decision/ });
    for (const ex of examples) {
      const r = asked.get(ex.name)!;
      const card = waiting.getByRole('article', { name: r.card!.title, exact: true });
      await card.waitFor();
      const text = await textOf(card);
      // Everything the node decoded from the bytes is on the card, label and value.
      for (const f of r.card!.fields) {
        if (f.label) expect(text, `${ex.name}: ${f.label}`).toContain(f.label);
        if (f.kind === 'members')
          for (const p of f.people ?? []) expect(text).toContain(`${p.name} ${p.fingerprint}`);
        else expect(text, `${ex.name}: ${f.label}`).toContain(f.value.replace(/\s+/g, ' '));
      }
      for (const w of r.card!.warnings ?? []) expect(text).toContain(w);
      for (const fact of KEY_FACTS[ex.name]!)
        if (typeof fact === 'string') expect(text, ex.name).toContain(fact);
        else expect(text, ex.name).toMatch(fact);
      expect(text).toContain('Asked by Bob');
      await card.screenshot({ path: join(SCREENS, `uses-${ex.name}.png`) });
    }
    expect(await b.axe()).toEqual([]);
  });

  it('approving each one ends it signed (or decrypted), with what it produced', async () => {
    for (const ex of examples) {
      const r = asked.get(ex.name)!;
      const card = page.getByRole('article', { name: r.card!.title, exact: true });
      await card.getByRole('button', { name: 'Approve…' }).click();
      await card.getByRole('button', { name: 'Yes, approve' }).click();
      const done = page
        .getByRole('region', { name: /Finished/ })
        .getByRole('article', { name: r.card!.title, exact: true });
      if (ex.kind === 'age') {
        await done.getByText('The file was opened on Bob’s computer only').waitFor();
      } else {
        await done.getByText(/The group signed it/).waitFor();
        await done.getByRole('button', { name: /^Save as / }).waitFor();
      }
      const result = await node['request.result']({ id: r.id }).catch(() => undefined);
      if (ex.kind !== 'age') {
        expect(result?.status).toBe('done');
        const artifact = result!.artifact!;
        const text = await textOf(done);
        expect(text).toContain(artifact.name);
        if (artifact.text) expect(text).toContain(artifact.text.split('\n')[0]!);
      }
      await done.screenshot({ path: join(SCREENS, `uses-${ex.name}-done.png`) });
    }
    expect(await b.axe()).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it('an ed25519 group offers SSH, age and X.509 under “Use this key”', async () => {
    await tab('Groups');
    await page.getByRole('button', { name: /^ops/ }).click();
    const panel = page.getByRole('region', { name: 'Use this key' });
    await panel.waitFor();
    for (const s of await panel.locator('summary').all()) await s.click();
    const text = await textOf(panel);
    expect(text).toContain('SSH logins, certificates and signatures');
    // The OpenSSH line once on the page, under the group's public key; the SSH use points there.
    expect(text).toContain('under “Group public key” above');
    expect(text).not.toContain('ssh-ed25519 AAAA');
    const keys = page.getByRole('region', { name: 'Group public key' });
    expect(await textOf(keys)).toMatch(/ssh-ed25519 AAAA\S+ conclave-ops/);
    expect(text).toMatch(/age1[0-9a-z]{58}/);
    expect(text).toContain('X.509 certificate authority');
    expect(text).not.toContain('Nostr');
    await panel.screenshot({ path: join(SCREENS, 'uses-usekey-ed25519.png') });
    expect(await b.axe()).toEqual([]);
  });

  it('a taproot group offers Nostr, and Spend reads a pasted PSBT before it is sent', async () => {
    await tab('Groups');
    await page.getByRole('button', { name: /^vault/ }).click();
    const panel = page.getByRole('region', { name: 'Use this key' });
    await panel.getByText('Nostr events').waitFor();
    for (const s of await panel.locator('summary').all()) await s.click();
    const text = await textOf(panel);
    expect(text).toMatch(/npub1[0-9a-z]{58}/);
    expect(text).not.toContain('SSH');
    await panel.screenshot({ path: join(SCREENS, 'uses-usekey-taproot.png') });

    const section = page.getByRole('region', { name: 'Spend' });
    await section.getByRole('button', { name: 'Spend from this address…' }).click();
    const psbt = base64.encode(spend(TR).toPSBT());
    await section.getByLabel('PSBT (base64 or hex)').fill(psbt);
    const preview = section.getByLabel('What this PSBT does');
    await preview.waitFor();
    const seen = await textOf(preview);
    expect(seen).toMatch(/Sends 0\.00070000 BTC .* fee 0\.00005000 BTC/);
    expect(seen).toContain('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
    expect(seen).toContain('(change back to this group)');
    expect(seen).toMatch(/Signs 2 of its 2 input/);
    await section.screenshot({ path: join(SCREENS, 'uses-spend.png') });
    expect(await b.axe()).toEqual([]);

    // Sent with the custodian's own approval; Carol's completes it and the signed PSBT comes back.
    await section.getByRole('button', { name: 'Ask the group to sign' }).click();
    await section.getByText(/Sent to the group as request/).waitFor();
    const created = node.calls.filter((c) => c.method === 'request.create').at(-1)!;
    expect(created.input).toMatchObject({ kind: 'psbt', approve: true });
    const mine = (await node['request.list']({})).filter(
      (r) => r.kind === 'psbt' && r.id !== asked.get('psbt')!.id,
    );
    expect(mine).toHaveLength(1);
    const id = mine[0]!.id;
    node.decide(id, carol, 'approve');
    await expect
      .poll(async () => (await node['request.show']({ id })).status, { timeout: 10_000 })
      .toBe('done');
    await section.getByRole('button', { name: 'Get the signed PSBT' }).click();
    await section.getByText('The group signed its inputs.').waitFor();
    expect(await textOf(section)).toMatch(/Raw transaction \(hex\) 02000000/);
    await section.screenshot({ path: join(SCREENS, 'uses-spend-signed.png') });
    expect(await b.axe()).toEqual([]);
    expect(b.problems).toEqual([]);
  });
});
