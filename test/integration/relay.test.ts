// Two custodians with no direct listener, reachable only through a relay anyone can host.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { tempRoot, TestNode, waitFor } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempRoot();
const relay = spawn(
  process.execPath,
  [join(ROOT, 'bin', 'conclave.mjs'), 'relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'],
  {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let relayOut = '';
let relayLog = '';
relay.stdout.on('data', (d) => (relayOut += d));
relay.stderr.on('data', (d) => (relayLog += d));
const nodes = ['gina', 'hugo'].map((n) => new TestNode(n, tmp.root));

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  relay.kill('SIGTERM');
  tmp.cleanup();
});

it('forms a group, runs the DKG and signs with every message going through the relay', async () => {
  const relayAddr = await waitFor('the relay address', () => {
    try {
      const addrs = (JSON.parse(relayOut) as { addrs: string[] }).addrs;
      return addrs.find((a) => a.includes('/tcp/') && a.includes('/p2p/'));
    } catch {
      if (relay.exitCode !== null) throw new Error(`relay exited: ${relayLog}`);
      return undefined;
    }
  });
  await Promise.all(nodes.map((n) => n.init()));
  for (const n of nodes) await n.start(['--listen', 'none', '--relay', relayAddr]);
  const status = await nodes[0].api('node.status', {});
  expect(status.addrs.length).toBeGreaterThan(0);
  for (const a of status.addrs) expect(a).toContain('/p2p-circuit');

  const created = await nodes[0].cliJson<{ id: string; invite: string }>([
    'group',
    'create',
    '--name',
    'relayed',
    '--threshold',
    '2',
    '--size',
    '2',
    '--scheme',
    'ed25519',
  ]);
  await nodes[1].cliJson(['group', 'join', created.invite]);
  await waitFor('both to see the full roster', async () =>
    (await Promise.all(nodes.map((n) => n.api('group.show', { group: created.id })))).every(
      (g) => g.status === 'confirming',
    ),
  );
  for (const n of nodes) await n.cliJson(['group', 'confirm', created.id]);
  const group = await waitFor(
    'the group key',
    async () => {
      const g = await nodes[1].api('group.show', { group: created.id });
      if (g.status === 'failed') throw new Error(g.error);
      return g.status === 'ready' ? (g as GroupView) : undefined;
    },
    60_000,
  );

  const req = await nodes[1].cliJson<{ id: string }>([
    'request',
    'sign',
    '--group',
    'relayed',
    '--message',
    'through the relay',
  ]);
  await waitFor('gina to receive it', async () =>
    (await nodes[0].api('request.list', {})).some((r) => r.id === req.id),
  );
  await nodes[0].cliJson(['approve', req.id]);
  await nodes[1].cliJson(['approve', req.id]);
  const done = await waitFor(
    'the signature',
    async () => {
      const r = await nodes[0].api('request.show', { id: req.id });
      return r.status === 'done' ? (r as RequestView) : undefined;
    },
    60_000,
  );
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(hexToBytes(group.publicKey!)).toString('base64url'),
    },
    format: 'jwk',
  });
  expect(
    nodeVerify(
      null,
      utf8ToBytes('through the relay'),
      key,
      Buffer.from(hexToBytes(done.signature!)),
    ),
  ).toBe(true);
}, 180_000);
