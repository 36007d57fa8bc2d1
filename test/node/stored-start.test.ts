// Starting a node over damaged rows of its own store (real node: file vault, libp2p on 127.0.0.1):
// relays the settings hold that the host cannot take are left out (the key logged once), and a
// damaged identity row is a typed error naming it, not a raw error from deep in the start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api/index.js';
import { generateIdentity } from '../../main/net/index.js';
import { initIdentity, startCustodian, type RunningNode } from '../../main/node/index.js';
import { openStore } from '../../main/store/index.js';

const root = mkdtempSync(join(tmpdir(), 'conclave-stored-start-'));
const home = join(root, 'alice');
const passphrase = 'a passphrase for the test vault';
let node: RunningNode | undefined;
beforeAll(async () => {
  await initIdentity({ home, name: 'Alice', vault: 'file', passphrase });
});
afterAll(async () => {
  await node?.stop();
  rmSync(root, { recursive: true, force: true });
});

function setMeta(key: string, value: string): void {
  const store = openStore(join(home, 'conclave.db'));
  try {
    store.meta.set(key, value);
  } finally {
    store.close();
  }
}

const start = (log: (line: string) => void = () => undefined) =>
  startCustodian({
    home,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    relays: [],
    mdns: false,
    passphrase,
    log,
  });

async function startError(): Promise<unknown> {
  try {
    node = await start();
  } catch (e) {
    return e;
  }
  throw new Error('expected the start to fail');
}

describe('starting over damaged stored rows', () => {
  it('leaves out stored relays the host cannot take, and says so once', async () => {
    const relay = (await generateIdentity()).peerId;
    setMeta(
      'relays',
      JSON.stringify([
        'not a multiaddr',
        '/ip4/127.0.0.1/tcp/1',
        `/ip4/127.0.0.1/tcp/1/p2p/${relay}/p2p-circuit`,
        `/ip4/127.0.0.1/tcp/1/p2p/${relay}` + '/tcp/2'.repeat(200),
        5,
      ]),
    );
    const logs: string[] = [];
    node = await start((l) => logs.push(l));
    expect(node.addrs().length).toBeGreaterThan(0);
    expect(node.addrs().some((a) => a.includes('p2p-circuit'))).toBe(false);
    expect(logs.filter((l) => l.includes('"relays"'))).toEqual([
      'stored "relays" has 5 unreadable item(s); read as absent',
    ]);
    await node.stop();
    node = undefined;
    setMeta('relays', '');
  });

  it('refuses a damaged peer id or vault kind with a typed error naming the row', async () => {
    const store = openStore(join(home, 'conclave.db'));
    const peerId = store.meta.get('peerId')!;
    store.close();
    for (const [key, bad] of [
      ['peerId', 'not-a-peer-id'],
      ['vault', 'floppy'],
    ] as const) {
      setMeta(key, bad);
      const err = await startError();
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ code: 'internal' });
      expect((err as Error).message).toContain(`stored "${key}" is unreadable`);
      setMeta(key, key === 'peerId' ? peerId : 'file');
    }
    node = await start();
    expect(node.peerId).toBe(peerId);
  });
});
