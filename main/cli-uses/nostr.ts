// The Nostr commands: the group's npub, signing an event file (`request sign --nostr-event`),
// and a NIP-46 bunker whose sign_event requests go to the group for approval.
import { readFile, stat } from 'node:fs/promises';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  ApiError,
  type GroupView,
  type RequestResult,
  type RequestView,
} from '../../shared/api/index.js';
import { LIMITS } from '../../shared/api/schema.js';
import {
  npubEncode,
  parseEventTemplate,
  verifySignedEvent,
  type SignedEvent,
  type UnsignedEvent,
} from '../../shared/nostr/event.js';
import { kindName } from '../../shared/nostr/kinds.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { nostrConversationMessage, nostrMessage } from '../../shared/requests/nostr.js';
import { conversationKey } from '../../shared/nostr/nip44.js';
import { RequestParamError } from '../../shared/requests/types.js';
import {
  call,
  clean,
  EXIT,
  int,
  list,
  output,
  outputCreated,
  shutdownRequested,
  str,
  UsageError,
  type Command,
  type Context,
  type OptionSpec,
} from '../cli.js';
import {
  BunkerRefusal,
  loadBunkerState,
  NostrBunker,
  saveBunkerState,
  type BunkerBackend,
} from '../nostr-bunker.js';
import { callControl } from '../server/control.js';

/** The group's Nostr key (hex x-only, untweaked): a taproot group's internal key, else x of P. */
export function nostrKeyOf(g: GroupView): string {
  if (g.scheme === 'taproot' && g.internalKey) return g.internalKey;
  if (g.scheme === 'secp256k1' && g.publicKey && /^0[23][0-9a-f]{64}$/.test(g.publicKey))
    return g.publicKey.slice(2);
  if (g.scheme === 'ed25519')
    throw new UsageError(
      `${g.name} is an ed25519 group: Nostr needs a taproot or secp256k1 group (BIP340 keys)`,
    );
  throw new UsageError(`${g.name} has no key yet (status ${g.status})`);
}

async function groupKey(ctx: Context): Promise<{ g: GroupView; pubkey: string }> {
  const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
  return { g, pubkey: nostrKeyOf(g) };
}

/** The unsigned event in a file (a template without pubkey, or with the group's). */
async function readEventFile(
  path: string,
  pubkey: string,
  command: string,
): Promise<UnsignedEvent> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile())
      throw new UsageError(`--nostr-event: ${path} is not a regular file`, command);
    size = info.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`--nostr-event: cannot read ${path} (${reason})`, command);
  }
  if (size > LIMITS.messageBytes)
    throw new UsageError(
      `--nostr-event: ${path} has ${size} bytes; the limit is ${LIMITS.messageBytes}`,
      command,
    );
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new UsageError(`--nostr-event: ${path} is not JSON`, command);
  }
  // A signed event's id and sig are dropped: the group signs its own computation of the id.
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const { id: _id, sig: _sig, ...rest } = v as Record<string, unknown>;
    v = rest;
  }
  try {
    const t = parseEventTemplate(v, 'event');
    if (t.pubkey !== undefined && t.pubkey !== pubkey)
      throw new UsageError(
        `--nostr-event: the event's pubkey ${t.pubkey} is not the group's Nostr key ${pubkey} (${npubEncode(pubkey)})`,
        command,
      );
    return { ...t, pubkey };
  } catch (err) {
    if (err instanceof RequestParamError)
      throw new UsageError(`--nostr-event: ${err.message}`, command);
    throw err;
  }
}

/**
 * `request sign --nostr-event FILE`. A function, not a constant: cli.ts reads it while building
 * its commands, which may happen while this module is still loading (they import each other).
 */
export function nostrEventOption(): OptionSpec {
  return {
    type: 'string',
    value: 'FILE',
    help: "a Nostr event (JSON: kind, created_at, tags, content) to sign with the group's Nostr key",
  };
}

/** `request sign --group G --nostr-event FILE`: a 'nostr' request for the event in FILE. */
export async function requestSignNostr(ctx: Context): Promise<number> {
  const path = str(ctx, 'nostr-event')!;
  const others = ['message', 'file', 'hex'].filter((k) => str(ctx, k) !== undefined);
  if (others.length > 0)
    throw new UsageError(`give either --nostr-event or --${others[0]}, not both`, ctx.command.name);
  const { g, pubkey } = await groupKey(ctx);
  const event = await readEventFile(path, pubkey, ctx.command.name);
  const r = await call(ctx, 'request.create', {
    group: g.id,
    kind: 'nostr',
    message: bytesToHex(nostrMessage(event)),
    expiresInSec: int(ctx, 'expires'),
    approve: ctx.values.approve === true || undefined,
  });
  outputCreated(ctx, r);
  if (!ctx.json)
    ctx.io.stdout.write(
      `once done, the signed event: conclave request result ${clean(r.id)} --out event.json\n`,
    );
  return EXIT.OK;
}

/** How long one request.wait call of the bunker lasts before it looks again. */
const BUNKER_WAIT_SEC = 30;

function endedWith(r: RequestView): string {
  switch (r.status) {
    case 'denied':
      return `denied by ${r.denials.map((d) => d.name).join(', ') || 'the group'}`;
    case 'expired':
      return 'the request expired before enough members approved it';
    case 'failed':
      return `the group could not sign it${r.failure ? ` (${r.failure})` : ''}`;
    default:
      return `the request is ${r.status}`;
  }
}

/** The bunker's way to the group: one 'nostr' request per sign_event, through the node's API. */
function bunkerBackend(
  ctx: Context,
  g: GroupView,
  pubkey: string,
  log: (line: string) => void,
  stopping: () => boolean,
): BunkerBackend {
  const approve = ctx.values.approve === true || undefined;
  const expiresInSec = int(ctx, 'expires');
  /** Makes a 'nostr' request, waits until the group decides, and gives its result when done. */
  async function ask(message: Uint8Array, what: string): Promise<RequestResult> {
    let r: RequestView;
    try {
      r = await callControl(ctx.home, 'request.create', {
        group: g.id,
        kind: 'nostr',
        message: bytesToHex(message),
        ...(expiresInSec !== undefined ? { expiresInSec } : {}),
        ...(approve ? { approve } : {}),
      });
    } catch (err) {
      if (err instanceof ApiError) throw new BunkerRefusal(err.message);
      throw err;
    }
    log(`${what}: request ${r.id}; members approve with: conclave approve ${r.id}`);
    while (r.status === 'pending' || r.status === 'signing') {
      if (stopping()) throw new BunkerRefusal('the bunker stopped before the group decided');
      r = await callControl(ctx.home, 'request.wait', { id: r.id, timeoutSec: BUNKER_WAIT_SEC });
    }
    if (r.status !== 'done') {
      log(`request ${r.id}: ${endedWith(r)}`);
      throw new BunkerRefusal(endedWith(r));
    }
    return callControl(ctx.home, 'request.result', { id: r.id });
  }
  return {
    pubkey,
    async signEvent(event, client) {
      const res = await ask(
        nostrMessage(event),
        `sign_event from client ${client.slice(0, 8)}…: kind ${event.kind} (${kindName(event.kind)})`,
      );
      const text = res.artifact?.text;
      if (text === undefined) throw new Error(`request ${res.id} is done but has no signed event`);
      const signed = JSON.parse(text) as SignedEvent;
      // The event handed out is exactly the one asked for, and its signature verifies.
      if (
        !verifySignedEvent(signed) ||
        signed.pubkey !== event.pubkey ||
        signed.kind !== event.kind ||
        signed.created_at !== event.created_at ||
        signed.content !== event.content ||
        JSON.stringify(signed.tags) !== JSON.stringify(event.tags)
      )
        throw new Error(`request ${res.id} gave an event that is not the one asked for`);
      log(`request ${res.id}: signed event ${signed.id}`);
      return signed;
    },
    async conversationKey(peer, client) {
      const res = await ask(
        nostrConversationMessage(peer),
        `NIP-44 from client ${client.slice(0, 8)}…: a conversation with ${npubEncode(peer)}`,
      );
      const shared = res.ecdh?.[0];
      if (!isLowerHex(shared, 66))
        throw new Error(`request ${res.id} is done but this node holds no shared point for it`);
      log(`request ${res.id}: conversation with ${npubEncode(peer)} opened (kept in memory only)`);
      return conversationKey(hexToBytes(shared));
    },
  };
}

function relayList(ctx: Context): string[] {
  const relays = list(ctx, 'relay');
  if (relays.length === 0)
    throw new UsageError('give at least one --relay ws://… or wss://…', ctx.command.name);
  for (const r of relays) {
    let u: URL | undefined;
    try {
      u = new URL(r);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'ws:' && u.protocol !== 'wss:'))
      throw new UsageError(`--relay: not a ws:// or wss:// URL: ${clean(r)}`, ctx.command.name);
  }
  return relays;
}

export function nostrCommands(): Command[] {
  // Built here, not at the top: cli.ts calls this while this module may still be loading.
  const GROUP_OPTION = { type: 'string', value: 'GROUP', help: 'group id or name' } as const;
  return [
    {
      name: 'nostr pubkey',
      usage: '--group GROUP',
      summary: "the group's Nostr public key (npub), for a taproot or secp256k1 group",
      options: { group: GROUP_OPTION },
      required: ['group'],
      fields: { group: '--group' },
      async run(ctx) {
        const { g, pubkey } = await groupKey(ctx);
        const npub = npubEncode(pubkey);
        output(ctx, { group: g.id, npub, pubkey }, () => [npub, `hex: ${pubkey}`]);
        return EXIT.OK;
      },
    },
    {
      name: 'nostr bunker',
      usage: '--group GROUP --relay URL... [--approve] [--expires SECONDS]',
      summary:
        'a NIP-46 remote signer for the group: prints a bunker:// URI for a Nostr client; every event it asks to sign, and each NIP-44 conversation it opens, is a request the members approve',
      options: {
        group: GROUP_OPTION,
        relay: {
          type: 'string',
          multiple: true,
          value: 'URL',
          help: 'a relay the bunker listens on (ws:// or wss://); give it once per relay',
        },
        approve: {
          type: 'boolean',
          help: "approve each of the client's events yourself as the bunker asks (the others still approve)",
        },
        expires: {
          type: 'string',
          value: 'SECONDS',
          help: `seconds each request waits for approvals (${LIMITS.minExpiresSec}..${LIMITS.maxExpiresSec})`,
        },
      },
      required: ['group', 'relay'],
      fields: { group: '--group', expiresInSec: '--expires' },
      async run(ctx) {
        const relays = relayList(ctx);
        const { g, pubkey } = await groupKey(ctx);
        const state = await loadBunkerState(ctx.home, g.id);
        const log = (line: string) => ctx.io.stderr.write(`${clean(line)}\n`);
        const shutdown = shutdownRequested(ctx.io);
        let stopping = false;
        const bunker = new NostrBunker({
          relays,
          state,
          backend: bunkerBackend(ctx, g, pubkey, log, () => stopping),
          saveState: (s) => saveBunkerState(ctx.home, g.id, s),
          log,
        });
        bunker.start();
        try {
          await Promise.race([bunker.ready(), shutdown.promise]);
          const uri = bunker.uri();
          output(ctx, { group: g.id, uri, pubkey, npub: npubEncode(pubkey) }, () => [uri]);
          log(
            `bunker for ${g.name} (${npubEncode(pubkey)}) on ${relays.join(', ')}: paste the bunker:// URI into a Nostr client (its secret lets one client in); Ctrl-C stops`,
          );
          await shutdown.promise;
        } finally {
          stopping = true;
          shutdown.dispose();
          await bunker.stop();
        }
        return EXIT.OK;
      },
    },
  ];
}
