// The built renderer served by browser mode over the in-memory fake node, in Debian's Chromium:
// what every fake-node walk starts from, with a screenshot helper (test-results/screens/, for a
// person to look at) and an axe-core check.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { serveBrowser, type BrowserServer } from '../../main/server/http.js';
import { createFakeNode, type FakeNode } from '../ui/fake-api.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SCREENS = join(ROOT, 'test-results', 'screens');
export const CHROMIUM = '/usr/bin/chromium';
/** The flags this machine's Chromium runs headless with (no network of its own, no updates). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface FakeBrowser {
  tmp: string;
  node: FakeNode;
  server: BrowserServer;
  context: BrowserContext;
  page: Page;
  /** Errors the pages logged (a CSP violation, an exception): a walk expects none. */
  problems: string[];
  /** A full-page screenshot as test-results/screens/<screenPrefix><name>.png. */
  shoot(name: string, p?: Page): Promise<void>;
  /** axe-core on the page as it is: the serious and critical violations, described. */
  axe(p?: Page): Promise<string[]>;
  close(): Promise<void>;
}

export async function openFakeBrowser(opts: {
  /** Prefix of the temporary folder (profile and built UI). */
  tmpPrefix: string;
  screenPrefix?: string;
  /** The fake node's answer delay, so that busy states show. */
  delayMs: number;
  /** Console errors that are expected (say, Chromium logging an API call the node refused). */
  ignoreConsole?: RegExp;
}): Promise<FakeBrowser> {
  const tmp = mkdtempSync(join(tmpdir(), opts.tmpPrefix));
  mkdirSync(SCREENS, { recursive: true });
  // Build from the sources under test, not whatever dist/ holds.
  const staticDir = join(tmp, 'renderer');
  await build({
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: staticDir, emptyOutDir: true },
  });
  const node = createFakeNode({ seed: true, delayMs: opts.delayMs });
  const server = await serveBrowser({ api: node, onEvent: (cb) => node.onEvent(cb), staticDir });
  const context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
    colorScheme: 'light',
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !opts.ignoreConsole?.test(m.text()))
      problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return {
    tmp,
    node,
    server,
    context,
    page,
    problems,
    async shoot(name, p = page) {
      await p.screenshot({
        path: join(SCREENS, `${opts.screenPrefix ?? ''}${name}.png`),
        fullPage: true,
      });
    },
    async axe(p = page) {
      // Evaluated through DevTools, which the page's CSP does not govern (an injected tag would be).
      await p.evaluate(AXE);
      // A string, since the tests are type-checked without the DOM's types.
      const violations = (await p.evaluate(`axe.run(document).then((r) => r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)),
      })))`)) as { id: string; impact: string | null; help: string; targets: string[] }[];
      return violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
    },
    async close() {
      await context.close();
      await server.close();
      node.dispose();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
