// With real nodes (file vaults, libp2p on 127.0.0.1): after the person's node restarts, starting
// the sandbox again gives the same practice group, and its simulated members are online again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import { initIdentity, startCustodian, type RunningNode } from '../../main/node/index.js';

const root = mkdtempSync(join(tmpdir(), 'conclave-sandbox-restart-'));
const home = join(root, 'alice');
const passphrase = 'a passphrase for the test vault';
let node: RunningNode | undefined;
afterAll(async () => {
  await node?.stop();
  rmSync(root, { recursive: true, force: true });
});

const start = () =>
  startCustodian({
    home,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    relays: [],
    mdns: false,
    passphrase,
    log: () => undefined,
  });

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('the same practice group comes back after a restart, with its members online', async () => {
  await initIdentity({ home, name: 'Alice', vault: 'file', passphrase });
  node = await start();
  const first = await node.api['sandbox.start']({});
  await until('confirming', async () =>
    (await node!.api['group.show']({ group: first.id })).status === 'confirming' ? true : undefined,
  );
  await node.api['group.confirm']({ group: first.id });
  await until('ready', async () =>
    (await node!.api['group.show']({ group: first.id })).status === 'ready' ? true : undefined,
  );
  await node.stop();
  node = await start();
  const again = await node.api['sandbox.start']({});
  expect(again.id).toBe(first.id);
  expect((await node.api['group.list']({})).map((g) => g.id)).toEqual([first.id]);
  const online = await until('members online', async () => {
    const g: GroupView = await node!.api['group.show']({ group: first.id });
    return g.members.every((m) => m.online) ? g : undefined;
  });
  expect(online.members.filter((m) => !m.me).map((m) => m.name)).toEqual([
    'Bob (simulated)',
    'Carol (simulated)',
  ]);
}, 180_000);
