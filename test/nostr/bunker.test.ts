// The NIP-46 bunker against nostr-tools' own NIP-46 client (BunkerSigner) over a relay on
// 127.0.0.1, with a stand-in for the group (the real group signs in use-nostr.test.ts).
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import {
  decrypt as nip44Decrypt,
  encrypt as nip44Encrypt,
  getConversationKey,
} from 'nostr-tools/nip44';
import { BunkerSigner, parseBunkerInput } from 'nostr-tools/nip46';
import { SimplePool, useWebSocketImplementation } from 'nostr-tools/pool';
import { generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  BunkerRefusal,
  loadBunkerState,
  NostrBunker,
  saveBunkerState,
  type BunkerBackend,
} from '../../main/nostr-bunker.js';
import { eventId, signedEvent } from '../../shared/nostr/event.js';
import { startRelay, type TestRelay } from './relay.js';

useWebSocketImplementation(WebSocket);

const USER_SK = hexToBytes('55'.repeat(32));
const USER = getPublicKey(USER_SK);

let relay: TestRelay;
let home: string;
let bunker: NostrBunker;
const logs: string[] = [];
const asked: { kind: number; client: string }[] = [];
let refuseNext: string | undefined;

const backend: BunkerBackend = {
  pubkey: USER,
  signEvent(event, client) {
    asked.push({ kind: event.kind, client });
    if (refuseNext) {
      const why = refuseNext;
      refuseNext = undefined;
      return Promise.reject(new BunkerRefusal(why));
    }
    return Promise.resolve(signedEvent(event, schnorr.sign(eventId(event), USER_SK)));
  },
};

async function client(uri: string, sk = generateSecretKey()) {
  const bp = await parseBunkerInput(uri);
  if (!bp) throw new Error(`not a bunker URI: ${uri}`);
  return BunkerSigner.fromBunker(sk, bp, { pool: new SimplePool() });
}

beforeAll(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'conclave-bunker-'));
  const state = await loadBunkerState(home, 'g1');
  bunker = new NostrBunker({
    relays: [relay.url],
    state,
    backend,
    saveState: (s) => saveBunkerState(home, 'g1', s),
    log: (l) => logs.push(l),
  });
  bunker.start();
  await bunker.ready();
});

afterAll(async () => {
  await bunker?.stop();
  await relay?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('NIP-46 bunker', () => {
  it('connects with the URI secret, answers get_public_key, ping and sign_event', async () => {
    const uri = bunker.uri();
    expect(uri).toMatch(new RegExp(`^bunker://${bunker.pubkey}\\?relay=.*&secret=[0-9a-f]{32}$`));
    const signer = await client(uri);
    try {
      await signer.connect();
      await signer.ping();
      expect(await signer.getPublicKey()).toBe(USER);
      const signed = await signer.signEvent({
        kind: 1,
        created_at: Math.floor(Date.now() / 1000),
        tags: [['t', 'conclave']],
        content: 'hello through a bunker',
      });
      expect(signed.pubkey).toBe(USER);
      expect(verifyEvent(signed)).toBe(true);
      expect(asked.at(-1)?.kind).toBe(1);

      // The group's refusal reaches the client as a NIP-46 error, in words.
      refuseNext = 'denied by Bob';
      await expect(
        signer.signEvent({ kind: 1, created_at: 1_700_000_000, tags: [], content: 'no' }),
      ).rejects.toMatch(/sign_event: denied by Bob/);

      // An event for another key, or not an event, is refused before the group is asked.
      const before = asked.length;
      const other = getPublicKey(generateSecretKey());
      await expect(
        signer.sendRequest('sign_event', [
          JSON.stringify({ kind: 1, created_at: 1, tags: [], content: 'x', pubkey: other }),
        ]),
      ).rejects.toMatch(/is not this signer's/);
      await expect(
        signer.sendRequest('sign_event', [
          JSON.stringify({ kind: 1, created_at: 1, tags: 'x', content: 'x' }),
        ]),
      ).rejects.toMatch(/event\.tags: must be a list/);
      expect(asked.length).toBe(before);

      // Encryption with the group's key is refused with a clear error (no threshold ECDH yet).
      await expect(signer.nip44Encrypt(other, 'hi')).rejects.toMatch(/nip44_encrypt: not offered/);
    } finally {
      await signer.close();
    }
  });

  it('refuses clients without the secret, and the secret a second time', async () => {
    const stranger = await client(bunker.uri().replace(/secret=[0-9a-f]+/, 'secret=00'));
    const late = await client(bunker.uri());
    try {
      await expect(stranger.connect()).rejects.toMatch(/secret is missing or already used/);
      await expect(stranger.getPublicKey()).rejects.toMatch(/not connected/);
      // The secret was used by the first client: it does not let in another one.
      await expect(late.connect()).rejects.toMatch(/already used/);
      await expect(
        late.signEvent({ kind: 1, created_at: 1, tags: [], content: 'x' }),
      ).rejects.toMatch(/not connected/);
    } finally {
      await stranger.close();
      await late.close();
    }
  });

  it('bounds the events waiting for approval per client', async () => {
    const release: (() => void)[] = [];
    const slow: BunkerBackend = {
      pubkey: USER,
      signEvent: (event) =>
        new Promise((done) =>
          release.push(() => done(signedEvent(event, schnorr.sign(eventId(event), USER_SK)))),
        ),
    };
    const state = { key: 'aa'.repeat(32), clients: [] };
    const second = new NostrBunker({ relays: [relay.url], state, backend: slow, secret: 'ab12' });
    second.start();
    await second.ready();
    const signer = await client(second.uri());
    try {
      await signer.connect();
      const note = (content: string) => ({ kind: 1, created_at: 1, tags: [], content });
      const waiting = [signer.signEvent(note('one')), signer.signEvent(note('two'))];
      for (const w of waiting) w.catch(() => {});
      // Both reach the group before the third is asked, so the third finds two waiting.
      for (let i = 0; release.length < 2 && i < 200; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(release).toHaveLength(2);
      await expect(signer.signEvent(note('three'))).rejects.toMatch(/too many events are waiting/);
      for (const r of release) r();
      const signed = await Promise.all(waiting);
      expect(signed.map((e) => e.content).sort()).toEqual(['one', 'two']);
      expect(signed.every((e) => verifyEvent(e))).toBe(true);
    } finally {
      await signer.close();
      await second.stop();
    }
  });

  it('encrypts and decrypts NIP-44 with a conversation key asked once per peer', async () => {
    const asked: string[] = [];
    let deny = true;
    const withEcdh: BunkerBackend = {
      ...backend,
      conversationKey(peer) {
        asked.push(peer);
        if (deny) {
          deny = false;
          return Promise.reject(new BunkerRefusal('denied by Bob'));
        }
        return Promise.resolve(getConversationKey(USER_SK, peer));
      },
    };
    const state = { key: 'bb'.repeat(32), clients: [] };
    const third = new NostrBunker({
      relays: [relay.url],
      state,
      backend: withEcdh,
      secret: 'cd34',
    });
    third.start();
    await third.ready();
    const signer = await client(third.uri());
    const peerSk = generateSecretKey();
    const peer = getPublicKey(peerSk);
    try {
      await signer.connect();
      // A denial is the client's error, and is not remembered: the next use asks again.
      await expect(signer.nip44Encrypt(peer, 'hi')).rejects.toMatch(/nip44_encrypt: denied by Bob/);
      const sealed = await signer.nip44Encrypt(peer, 'hello, peer');
      expect(nip44Decrypt(sealed, getConversationKey(peerSk, USER))).toBe('hello, peer');
      const reply = nip44Encrypt('hello, group', getConversationKey(peerSk, USER));
      expect(await signer.nip44Decrypt(peer, reply)).toBe('hello, group');
      expect(asked).toEqual([peer, peer]);
      await expect(signer.nip44Decrypt('zz', reply)).rejects.toMatch(/peer: must be a 32-byte key/);
      await expect(signer.nip04Encrypt(peer, 'x')).rejects.toMatch(/use NIP-44/);
    } finally {
      await signer.close();
      await third.stop();
    }
  });

  it('keeps its transport key in a 0600 file in the home, and never logs it', async () => {
    const path = join(home, 'nostr', 'bunker-g1.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'nostr')).mode & 0o777).toBe(0o700);
    const state = JSON.parse(readFileSync(path, 'utf8')) as { key: string; clients: string[] };
    expect(getPublicKey(hexToBytes(state.key))).toBe(bunker.pubkey);
    expect(state.clients).toHaveLength(1);
    expect((await loadBunkerState(home, 'g1')).key).toBe(state.key);
    expect(logs.join('\n')).not.toContain(state.key);
    expect(logs.join('\n')).toMatch(/client [0-9a-f]{8}… connected/);
  });
});
