// Nostr on a real 2-of-2 taproot group (two node processes, one DKG): the npub, an event signed
// through `request sign --nostr-event` that nostr-tools verifyEvent accepts, an event for another
// key refused, and the NIP-46 bunker driven by nostr-tools' BunkerSigner over a relay on 127.0.0.1
// (get_public_key, sign_event after approvals, a denial, NIP-44 through threshold ECDH).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  decrypt as nip44Decrypt,
  encrypt as nip44Encrypt,
  getConversationKey,
} from 'nostr-tools/nip44';
import { BunkerSigner, parseBunkerInput } from 'nostr-tools/nip46';
import { npubEncode } from 'nostr-tools/nip19';
import { SimplePool, useWebSocketImplementation } from 'nostr-tools/pool';
import { generateSecretKey, getPublicKey, verifyEvent, type Event } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RequestView } from '../../shared/api/index.js';
import { nostrMessage } from '../../shared/requests/nostr.js';
import { startRelay, type TestRelay } from '../nostr/relay.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

useWebSocketImplementation(WebSocket);

const BIN = fileURLToPath(new URL('../../bin/conclave.mjs', import.meta.url));

describe('Nostr with a taproot group', () => {
  const tmp = tempRoot('conclave-nostr-');
  const [alice, bob] = ['alice', 'bob'].map((n) => new TestNode(n, tmp.root));
  let relay: TestRelay;
  let group: string;
  let pubkey: string;
  let bunker: ChildProcess | undefined;
  let bunkerLog = '';

  beforeAll(async () => {
    relay = await startRelay();
    await Promise.all([alice, bob].map((n) => n.init()));
    await Promise.all([alice, bob].map((n) => n.start()));
    const formed = await formGroup(alice, [bob], {
      name: 'nostr',
      threshold: 2,
      scheme: 'taproot',
    });
    group = formed.id;
    pubkey = formed.groups[0]!.internalKey!;
  }, 180_000);

  afterAll(async () => {
    if (bunker && bunker.exitCode === null) {
      const exited = new Promise((r) => bunker!.once('exit', r));
      bunker.kill('SIGTERM');
      await exited;
    }
    await Promise.all([alice, bob].map((n) => n.kill()));
    await relay?.close();
    tmp.cleanup();
  });

  it('prints the npub of the untweaked internal key', async () => {
    const r = await alice.cliJson<{ npub: string; pubkey: string }>([
      'nostr',
      'pubkey',
      '--group',
      'nostr',
    ]);
    expect(r.pubkey).toBe(pubkey);
    expect(r.npub).toBe(npubEncode(pubkey));
    const human = await alice.cli(['nostr', 'pubkey', '--group', 'nostr']);
    expect(human.stdout.split('\n')[0]).toBe(npubEncode(pubkey));
  });

  it('signs an event file after both approve; verifyEvent accepts it', async () => {
    const file = join(tmp.root, 'note.json');
    const template = {
      kind: 1,
      created_at: Math.floor(Date.now() / 1000),
      tags: [['t', 'conclave']],
      content: 'Signed by a 2-of-2 threshold key.\nSecond line.',
    };
    writeFileSync(file, JSON.stringify(template));
    const r = await alice.cliJson<RequestView>([
      'request',
      'sign',
      '--group',
      'nostr',
      '--nostr-event',
      file,
      '--approve',
    ]);
    expect(r.kind).toBe('nostr');
    // Bob's node decoded the request itself: the kind in words and the whole content.
    await seen(bob, r.id);
    const shown = await bob.api('request.show', { id: r.id });
    const field = (l: string) => shown.card?.fields.find((f) => f.label.startsWith(l))?.value;
    expect(field('Event kind')).toBe('1 (short text note)');
    expect(field('Content')).toBe(template.content);
    expect(field('Tags')).toBe('["t","conclave"]');
    await bob.cliJson(['approve', r.id]);
    await requestStatus(alice, r.id, 'done');
    const out = join(tmp.root, 'signed.json');
    const res = await alice.cli(['request', 'result', r.id, '--out', out]);
    expect(res.code, res.stderr).toBe(0);
    const signed = JSON.parse(readFileSync(out, 'utf8')) as Event;
    expect(signed).toMatchObject({ ...template, pubkey });
    expect(verifyEvent(signed)).toBe(true);
  });

  it("refuses an event whose pubkey is not the group's", async () => {
    const other = getPublicKey(generateSecretKey());
    const file = join(tmp.root, 'other.json');
    writeFileSync(
      file,
      JSON.stringify({ kind: 1, created_at: 1, tags: [], content: 'x', pubkey: other }),
    );
    const r = await alice.cli(['request', 'sign', '--group', 'nostr', '--nostr-event', file]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/is not the group's Nostr key/);
    // Straight through the API too: the node parses the message and refuses it.
    const message = bytesToHex(
      nostrMessage({ pubkey: other, kind: 1, created_at: 1, tags: [], content: 'x' }),
    );
    await expect(alice.api('request.create', { group, kind: 'nostr', message })).rejects.toThrow(
      /event\.pubkey: must be the key of nostr/,
    );
    expect((await bob.api('request.list', {})).filter((q) => q.kind === 'nostr')).toHaveLength(1);
  });

  it('answers a NIP-46 client: get_public_key, then sign_event once the members approve', async () => {
    bunker = spawn(
      process.execPath,
      [
        BIN,
        '--home',
        alice.home,
        'nostr',
        'bunker',
        '--group',
        'nostr',
        '--relay',
        relay.url,
        '--approve',
      ],
      { env: { ...process.env, ...alice.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    bunker.stdout!.on('data', (d) => (stdout += d));
    bunker.stderr!.on('data', (d) => (bunkerLog += d));
    const uri = await waitFor('the bunker URI', () => {
      if (bunker!.exitCode !== null) throw new Error(`the bunker exited: ${bunkerLog}`);
      return /^bunker:\/\/\S+/m.exec(stdout)?.[0];
    });
    const bp = await parseBunkerInput(uri);
    const signer = BunkerSigner.fromBunker(generateSecretKey(), bp!, { pool: new SimplePool() });
    try {
      await signer.connect();
      expect(await signer.getPublicKey()).toBe(pubkey);

      const before = new Set((await bob.api('request.list', {})).map((q) => q.id));
      const asked = signer.signEvent({
        kind: 7,
        created_at: Math.floor(Date.now() / 1000),
        tags: [['e', 'ab'.repeat(32)]],
        content: '+',
      });
      asked.catch(() => {}); // awaited below; a refusal must not be an unhandled rejection meanwhile
      // The bunker made a request (alice approved it as she asked); bob approves it.
      const req = await waitFor('the bunker request on bob', async () =>
        (await bob.api('request.list', {})).find((q) => q.kind === 'nostr' && !before.has(q.id)),
      );
      expect(req.card?.title).toBe('Sign a Nostr reaction as “nostr”');
      await bob.cliJson(['approve', req.id]);
      const signed = await asked;
      expect(signed.pubkey).toBe(pubkey);
      expect(verifyEvent(signed)).toBe(true);

      // A denial reaches the client as a NIP-46 error.
      const seenIds = new Set((await bob.api('request.list', {})).map((q) => q.id));
      const denied = signer.signEvent({ kind: 1, created_at: 1, tags: [], content: 'no' });
      denied.catch(() => {});
      const next = await waitFor('the second bunker request on bob', async () =>
        (await bob.api('request.list', {})).find((q) => q.kind === 'nostr' && !seenIds.has(q.id)),
      );
      await bob.cliJson(['deny', next.id]);
      await expect(denied).rejects.toMatch(/sign_event: denied by bob/);

      // NIP-44 with the group's key: the first use with a peer is a conversation request (threshold
      // ECDH, the key to alice's bunker alone); later messages with that peer need no new request.
      const peerSk = generateSecretKey();
      const peer = getPublicKey(peerSk);
      const theirs = getConversationKey(peerSk, pubkey);
      const known = new Set((await bob.api('request.list', {})).map((q) => q.id));
      const sealing = signer.nip44Encrypt(peer, 'hello from a threshold key');
      sealing.catch(() => {});
      const conv = await waitFor('the conversation request on bob', async () =>
        (await bob.api('request.list', {})).find((q) => q.kind === 'nostr' && !known.has(q.id)),
      );
      expect(conv.card?.title).toMatch(/^Open a NIP-44 conversation between “nostr” and npub1/);
      expect(conv.card?.warnings?.join(' ')).toMatch(
        /alice's device gets the NIP-44 conversation key/,
      );
      await bob.cliJson(['approve', conv.id]);
      expect(nip44Decrypt(await sealing, theirs)).toBe('hello from a threshold key');
      const reply = nip44Encrypt('hello back', theirs);
      expect(await signer.nip44Decrypt(peer, reply)).toBe('hello back');
      expect((await bob.api('request.list', {})).filter((q) => !known.has(q.id))).toHaveLength(1);
      // Alice's word that the conversation is open ends it on bob's node too.
      await waitFor('the conversation done on bob', async () =>
        (await bob.api('request.show', { id: conv.id })).status === 'done' ? true : undefined,
      );
      expect(bunkerLog + alice.logs).not.toContain(bytesToHex(theirs));
    } finally {
      await signer.close();
    }
    // The transport key stays in alice's home and out of the log.
    const state = JSON.parse(
      readFileSync(join(alice.home, 'nostr', `bunker-${group}.json`), 'utf8'),
    ) as { key: string };
    expect(bunkerLog).not.toContain(state.key);
    expect(bunkerLog).toMatch(/sign_event from client .*kind 7 \(reaction\)/);
  });
});
