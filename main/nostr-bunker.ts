// A NIP-46 remote signer ("bunker") for a group's Nostr key: it listens on Nostr relays for
// requests encrypted (NIP-44 v2) to its own local transport key, and answers connect, ping,
// get_public_key, sign_event and nip44_encrypt/decrypt. The user's key is the group's: every
// sign_event becomes a 'nostr' request the members approve, and the first NIP-44 use with a peer
// a 'nostr' conversation request (threshold ECDH), whose key this process then keeps in memory.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import * as nip44 from 'nostr-tools/nip44';
import { toBunkerURL } from 'nostr-tools/nip46';
import { finalizeEvent, getPublicKey, verifyEvent, type Event } from 'nostr-tools/pure';
import WebSocket from 'ws';
import {
  parseEventTemplate,
  xOnlyKey,
  type SignedEvent,
  type UnsignedEvent,
} from '../shared/nostr/event.js';
import { RequestParamError } from '../shared/requests/types.js';
import { isLowerHex } from '../shared/protocol/fields.js';

/** NIP-46 request and response events. */
export const NOSTR_CONNECT_KIND = 24133;

/** What the bunker asks of the group (the CLI implements it over the node's API). */
export interface BunkerBackend {
  /** The group's Nostr key, hex x-only. */
  pubkey: string;
  /**
   * Signs through an approved 'nostr' request; resolves with the signed event, or rejects with
   * a BunkerRefusal whose message is sent to the client (denied, expired, refused by policy).
   */
  signEvent(event: UnsignedEvent, client: string): Promise<SignedEvent>;
  /**
   * The NIP-44 conversation key between the group and `peer` (hex x-only), through an approved
   * 'nostr' conversation request; rejects like signEvent. Absent: NIP-44 is not offered.
   */
  conversationKey?(peer: string, client: string): Promise<Uint8Array>;
}

/** A refusal the client should read (its message is sent as the NIP-46 error). */
export class BunkerRefusal extends Error {}

/** The bunker's own key and the clients it has let in, kept in the node's home. */
export interface BunkerState {
  /** The transport key (hex): never logged, never sent. */
  key: string;
  /** Client transport keys that connected with a valid secret. */
  clients: string[];
}

const STATE_DIR = 'nostr';

function statePath(home: string, group: string): string {
  if (!/^[0-9A-Za-z_-]{1,128}$/.test(group))
    throw new Error(`not a group id for a file name: ${JSON.stringify(group.slice(0, 40))}`);
  return join(home, STATE_DIR, `bunker-${group}.json`);
}

/** Reads the bunker's state for a group, making a new transport key the first time. */
export async function loadBunkerState(home: string, group: string): Promise<BunkerState> {
  const path = statePath(home, group);
  let raw: string | undefined;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (raw === undefined) {
    const state = { key: bytesToHex(randomBytes(32)), clients: [] };
    await saveBunkerState(home, group, state);
    return state;
  }
  const v = JSON.parse(raw) as Partial<BunkerState>;
  if (
    !isLowerHex(v.key, 64) ||
    !Array.isArray(v.clients) ||
    !v.clients.every((c) => isLowerHex(c, 64))
  )
    throw new Error(`${path} is not a bunker state file (delete it to make a new bunker key)`);
  return { key: v.key, clients: v.clients };
}

/** Writes the state (0600, in a 0700 folder), replacing the file in one step. */
export async function saveBunkerState(
  home: string,
  group: string,
  state: BunkerState,
): Promise<void> {
  const path = statePath(home, group);
  await mkdir(join(home, STATE_DIR), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export interface BunkerOptions {
  /** Relay URLs (ws:// or wss://). */
  relays: string[];
  state: BunkerState;
  backend: BunkerBackend;
  /** Called when a client is let in or logs out, to keep the state. */
  saveState?(state: BunkerState): Promise<void>;
  /** One line per thing that happened (never a key or a decrypted payload). */
  log?(line: string): void;
  /** Connect secret for the bunker:// URI (default: a fresh random one, single use). */
  secret?: string;
}

/** Bounds, so a client or relay cannot make the bunker hold or do unbounded work. */
const MAX_RELAY_MESSAGE = 256 * 1024;
const MAX_CONTENT = 128 * 1024;
const MAX_SIGNING_PER_CLIENT = 2;
const MAX_SIGNING = 8;
/** NIP-44 v2 plaintexts are 1..65535 bytes; a payload is base64 of at most ~87 KiB. */
const MAX_NIP44_PLAINTEXT = 65_535;
const MAX_NIP44_PAYLOAD = 90_000;
/** Conversation keys kept in memory for this run (the oldest go first). */
const MAX_CONVERSATIONS = 256;
const SEEN = 4096;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;
/** Requests older than this (by created_at) are not answered: a relay replaying old ones. */
const MAX_AGE_SEC = 10 * 60;

const short = (hex: string) => `${hex.slice(0, 8)}…`;

/** The NIP-46 remote signer. */
export class NostrBunker {
  readonly pubkey: string;
  private readonly secretKey: Uint8Array;
  private readonly secret: string;
  private secretUsed = false;
  private readonly clients: Set<string>;
  private readonly sockets = new Map<string, WebSocket>();
  private readonly seen = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private signing = 0;
  /** NIP-44 conversation keys by peer, for this run only (never written anywhere). */
  private readonly conversations = new Map<string, Promise<Uint8Array>>();
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: (line: string) => void;

  constructor(private readonly opts: BunkerOptions) {
    this.secretKey = hexToBytes(opts.state.key);
    this.pubkey = getPublicKey(this.secretKey);
    this.secret = opts.secret ?? bytesToHex(randomBytes(16));
    this.clients = new Set(opts.state.clients);
    this.log = opts.log ?? (() => {});
    if (opts.relays.length === 0) throw new Error('a bunker needs at least one relay');
  }

  /** bunker://<transport key>?relay=…&secret=…: what a client pastes to connect. */
  uri(): string {
    return toBunkerURL({ pubkey: this.pubkey, relays: this.opts.relays, secret: this.secret });
  }

  /** Connects to every relay (and keeps reconnecting until stopped). */
  start(): void {
    for (const url of this.opts.relays) this.connect(url, RECONNECT_MIN_MS);
  }

  /** Resolves once every relay's connection is open (for tests and the first URI print). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (![...this.sockets.values()].some((s) => s.readyState === WebSocket.OPEN)) {
      if (Date.now() > until) throw new Error('no relay could be reached');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const k of this.conversations.values()) void k.then((b) => b.fill(0)).catch(() => {});
    this.conversations.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(
      [...this.sockets.values()].map(
        (ws) =>
          new Promise<void>((done) => {
            if (ws.readyState === WebSocket.CLOSED) return done();
            ws.once('close', () => done());
            ws.terminate();
          }),
      ),
    );
    this.sockets.clear();
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private connect(url: string, backoff: number): void {
    if (this.stopped) return;
    const ws = new WebSocket(url, { maxPayload: MAX_RELAY_MESSAGE });
    this.sockets.set(url, ws);
    let opened = false;
    ws.on('open', () => {
      opened = true;
      // Only new requests: one asked while the bunker was away has long been given up on.
      const since = Math.floor(Date.now() / 1000) - 60;
      ws.send(
        JSON.stringify([
          'REQ',
          'conclave-bunker',
          { kinds: [NOSTR_CONNECT_KIND], '#p': [this.pubkey], since },
        ]),
      );
      this.log(`connected to ${url}`);
    });
    ws.on('message', (data) => this.onRelayMessage(String(data)));
    ws.on('error', (e) => {
      if (!opened) this.log(`cannot reach ${url} (${e.message})`);
    });
    ws.on('close', () => {
      if (this.stopped) return;
      const next = opened ? RECONNECT_MIN_MS : Math.min(backoff * 2, RECONNECT_MAX_MS);
      if (opened) this.log(`lost ${url}; reconnecting`);
      this.later(next, () => this.connect(url, next));
    });
  }

  private onRelayMessage(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(msg) || msg[0] !== 'EVENT' || msg[1] !== 'conclave-bunker') return;
    const event = msg[2] as Event;
    void this.onEvent(event).catch((e: unknown) =>
      this.log(`could not answer a request: ${String((e as Error)?.message ?? e).slice(0, 200)}`),
    );
  }

  private remember(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > SEEN) this.seen.delete(this.seen.values().next().value!);
    return true;
  }

  private async onEvent(event: Event): Promise<void> {
    if (
      !event ||
      typeof event !== 'object' ||
      event.kind !== NOSTR_CONNECT_KIND ||
      typeof event.content !== 'string' ||
      event.content.length > MAX_CONTENT ||
      !Array.isArray(event.tags) ||
      !event.tags.some((t) => Array.isArray(t) && t[0] === 'p' && t[1] === this.pubkey)
    )
      return;
    // Checked before it is remembered, so a relay cannot shadow a real request with a forgery
    // of the same id; then the same request coming from every relay is answered once.
    if (!verifyEvent({ ...event }) || !this.remember(event.id)) return;
    if (event.created_at < Math.floor(Date.now() / 1000) - MAX_AGE_SEC) return;
    const client = event.pubkey;
    let key: Uint8Array;
    let request: { id: string; method: string; params: string[] };
    try {
      key = nip44.getConversationKey(this.secretKey, client);
      const o = JSON.parse(nip44.decrypt(event.content, key)) as Record<string, unknown>;
      if (
        typeof o.id !== 'string' ||
        o.id.length === 0 ||
        o.id.length > 128 ||
        typeof o.method !== 'string' ||
        !Array.isArray(o.params) ||
        !o.params.every((p) => typeof p === 'string')
      )
        return;
      request = { id: o.id, method: o.method, params: o.params as string[] };
    } catch {
      return;
    }
    const answer = await this.handle(client, request.method, request.params);
    await this.reply(client, key, { id: request.id, ...answer });
  }

  private async handle(
    client: string,
    method: string,
    params: string[],
  ): Promise<{ result: string } | { result: string; error: string }> {
    const refuse = (error: string) => ({ result: '', error });
    if (method === 'ping') return { result: 'pong' };
    if (method === 'connect') {
      if (params[0] !== undefined && params[0] !== this.pubkey)
        return refuse('connect: this bunker is not the remote signer named');
      if (this.clients.has(client)) return { result: 'ack' };
      if (this.secretUsed || params[1] !== this.secret)
        return refuse(
          'connect: the secret is missing or already used; ask for a new bunker:// URI',
        );
      this.secretUsed = true;
      this.clients.add(client);
      await this.saveClients();
      this.log(`client ${short(client)} connected`);
      return { result: 'ack' };
    }
    if (!this.clients.has(client))
      return refuse(`${method}: not connected; connect with the bunker:// URI's secret first`);
    switch (method) {
      case 'get_public_key':
        return { result: this.opts.backend.pubkey };
      case 'sign_event':
        return this.signEvent(client, params);
      case 'logout':
        this.clients.delete(client);
        await this.saveClients();
        this.log(`client ${short(client)} logged out`);
        return { result: 'ack' };
      case 'switch_relays':
        // The relays stay the ones the bunker was started with.
        return { result: 'null' };
      case 'nip44_encrypt':
      case 'nip44_decrypt':
        return this.nip44(client, method, params);
      case 'nip04_encrypt':
      case 'nip04_decrypt':
        return refuse(`${method}: not offered by this bunker (NIP-04 is deprecated; use NIP-44)`);
      default:
        return refuse(`${method.slice(0, 40)}: not a method this bunker answers`);
    }
  }

  private async signEvent(
    client: string,
    params: string[],
  ): Promise<{ result: string } | { result: string; error: string }> {
    const refuse = (error: string) => ({ result: '', error: `sign_event: ${error}` });
    let event: UnsignedEvent;
    try {
      const template = parseEventTemplate(JSON.parse(params[0] ?? ''), 'event');
      const pubkey = this.opts.backend.pubkey;
      if (template.pubkey !== undefined && template.pubkey !== pubkey)
        return refuse(`the event's pubkey ${template.pubkey} is not this signer's ${pubkey}`);
      event = { ...template, pubkey };
    } catch (e) {
      return refuse(
        e instanceof RequestParamError ? e.message : 'the event is not JSON (params[0])',
      );
    }
    const mine = this.inFlight.get(client) ?? 0;
    if (mine >= MAX_SIGNING_PER_CLIENT || this.signing >= MAX_SIGNING)
      return refuse('too many events are waiting for approval; try again once they are decided');
    this.inFlight.set(client, mine + 1);
    this.signing++;
    try {
      const signed = await this.opts.backend.signEvent(event, client);
      return { result: JSON.stringify(signed) };
    } catch (e) {
      const why = e instanceof BunkerRefusal ? e.message : 'the group could not sign it';
      if (!(e instanceof BunkerRefusal))
        this.log(`signing failed: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
      return refuse(why);
    } finally {
      this.signing--;
      const left = (this.inFlight.get(client) ?? 1) - 1;
      if (left > 0) this.inFlight.set(client, left);
      else this.inFlight.delete(client);
    }
  }

  private async nip44(
    client: string,
    method: 'nip44_encrypt' | 'nip44_decrypt',
    params: string[],
  ): Promise<{ result: string } | { result: string; error: string }> {
    const refuse = (error: string) => ({ result: '', error: `${method}: ${error}` });
    const backend = this.opts.backend;
    if (!backend.conversationKey) return refuse('not offered by this bunker');
    let peer: string;
    try {
      peer = xOnlyKey(params[0], 'peer');
    } catch (e) {
      return refuse(e instanceof RequestParamError ? e.message : 'peer: not a key');
    }
    const text = params[1];
    if (typeof text !== 'string') return refuse('missing its second parameter');
    if (method === 'nip44_encrypt' && (text.length === 0 || text.length > MAX_NIP44_PLAINTEXT))
      return refuse(`the plaintext must be 1..${MAX_NIP44_PLAINTEXT} characters`);
    if (method === 'nip44_decrypt' && text.length > MAX_NIP44_PAYLOAD)
      return refuse(`the payload is longer than ${MAX_NIP44_PAYLOAD} characters`);
    let key: Uint8Array;
    const known = this.conversations.get(peer);
    if (known) {
      key = await known.catch(() => new Uint8Array());
      if (key.length === 0) return refuse('the group did not open this conversation');
    } else {
      const mine = this.inFlight.get(client) ?? 0;
      if (mine >= MAX_SIGNING_PER_CLIENT || this.signing >= MAX_SIGNING)
        return refuse(
          'too many requests are waiting for approval; try again once they are decided',
        );
      this.inFlight.set(client, mine + 1);
      this.signing++;
      const asked = backend.conversationKey(peer, client);
      this.conversations.set(peer, asked);
      if (this.conversations.size > MAX_CONVERSATIONS)
        this.conversations.delete(this.conversations.keys().next().value!);
      try {
        key = await asked;
      } catch (e) {
        // Asked again next time (a denial is not remembered as the group's last word).
        if (this.conversations.get(peer) === asked) this.conversations.delete(peer);
        if (!(e instanceof BunkerRefusal))
          this.log(`NIP-44 failed: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
        return refuse(e instanceof BunkerRefusal ? e.message : 'the group could not open it');
      } finally {
        this.signing--;
        const left = (this.inFlight.get(client) ?? 1) - 1;
        if (left > 0) this.inFlight.set(client, left);
        else this.inFlight.delete(client);
      }
    }
    try {
      return {
        result: method === 'nip44_encrypt' ? nip44.encrypt(text, key) : nip44.decrypt(text, key),
      };
    } catch (e) {
      return refuse(`cannot be done: ${String((e as Error)?.message ?? e).slice(0, 100)}`);
    }
  }

  private async saveClients(): Promise<void> {
    await this.opts.saveState?.({ key: this.opts.state.key, clients: [...this.clients] });
  }

  private async reply(
    client: string,
    key: Uint8Array,
    body: { id: string; result: string; error?: string },
  ): Promise<void> {
    const event = finalizeEvent(
      {
        kind: NOSTR_CONNECT_KIND,
        created_at: Math.floor(Date.now() / 1000),
        tags: [['p', client]],
        content: nip44.encrypt(JSON.stringify(body), key),
      },
      this.secretKey,
    );
    const msg = JSON.stringify(['EVENT', event]);
    for (const ws of this.sockets.values()) if (ws.readyState === WebSocket.OPEN) ws.send(msg);
  }
}
