// The CLI prints a ceremony as the card its node decoded through the registry: the summary, each
// field, every warning, with names from the network escaped; an unreadable request says so.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { main } from '../../main/cli.js';
import { serveControl, type ControlServer } from '../../main/server/control.js';
import type { RequestView } from '../../shared/api/index.js';
import { REFRESH_AFTER_REPAIR, decodeRequest } from '../../shared/requests/index.js';
import { fakeApi, requestView, type FakeApi } from '../server/fake-api.js';
import { ctx, json, newcomer, raw, repairParams, reshareParams, DAVE } from './fixtures.js';

let root: string;
let api: FakeApi;
let server: ControlServer | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'conclave-card-'));
  api = fakeApi();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function show(view: RequestView): Promise<string> {
  api['request.show'] = async () => view;
  server ??= await serveControl(root, api);
  let out = '';
  const code = await main(['--home', root, 'request', 'show', view.id], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: () => undefined },
    env: {},
  });
  expect(code).toBe(0);
  return out;
}

const view = (kind: RequestView['kind'], message: Uint8Array): RequestView => ({
  ...requestView('r-9', 'pending'),
  kind,
  message: Buffer.from(message).toString('hex'),
  description: 'the old description',
  card: decodeRequest(kind, message, ctx()),
});

it('prints a repair’s card: summary, fields and the refresh it recommends', async () => {
  const out = await show(view('repair', json(repairParams())));
  expect(out).toMatch(/ceremony: +Repair: rebuild Carol's share/);
  expect(out).toMatch(/new device: +Dave \([0-9A-Z]{4}-/);
  expect(out).toContain(`warning:     ${REFRESH_AFTER_REPAIR}`);
  expect(out).not.toContain('the old description');
});

it('escapes a newcomer name from the network in the card', async () => {
  // A name with an escape sequence cannot pass the schema; a card built from a lax node still must not drive the terminal.
  const card = decodeRequest('reshare', json(reshareParams()), ctx());
  card.fields[0]!.value = 'Dave\u001b[2J';
  const out = await show({ ...view('reshare', json(reshareParams())), card });
  expect(out).toContain('Dave\\u001b[2J');
  expect(out).not.toContain('\u001b');
});

it('says a request it cannot read is unreadable', async () => {
  const out = await show(view('reshare', raw('not json')));
  expect(out).toMatch(/unreadable: +This request cannot be shown: message: is not JSON/);
  expect(out).toContain('do not approve a request you cannot read');
});

it('lists a ceremony by its card’s title, not its JSON', async () => {
  const v = view('reshare', json(reshareParams({ add: [newcomer(DAVE, 'Dave')] })));
  api['request.list'] = async () => [v];
  server ??= await serveControl(root, api);
  let out = '';
  await main(['--home', root, 'request', 'list'], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: () => undefined },
    env: {},
  });
  expect(out).toContain('Change the members of “Treasury” (reshare)');
  expect(out).not.toContain('"ceremony"');
});

it('prints a use as what it asks, with a value of several lines on lines of its own', async () => {
  const out = await show({
    ...requestView('r-ssh', 'pending'),
    kind: 'ssh',
    card: {
      kind: 'ssh',
      title: 'Sign a git commit',
      summary: 'Sign commit 1a2b with the key of ops.',
      fields: [
        { label: 'Commit', value: 'tree 4b82\nauthor Ann <ann@example.org>\n\nFix the \u202eflag' },
        { label: 'Server host key fingerprint', value: 'SHA256:abc' },
      ],
    },
  });
  const lines = out.split('\n');
  expect(lines).toContain('asks:        Sign commit 1a2b with the key of ops.');
  const i = lines.indexOf('commit:      tree 4b82');
  expect(i).toBeGreaterThan(0);
  expect(lines.slice(i + 1, i + 4)).toEqual([
    ':              author Ann <ann@example.org>',
    ':              ',
    ':              Fix the \\u202eflag',
  ]);
  // A long label keeps a space before its value.
  expect(lines).toContain('server host key fingerprint: SHA256:abc');
  expect(out).not.toContain('ceremony:');
});
