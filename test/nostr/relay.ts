// A minimal Nostr relay for tests (NIP-01 EVENT, REQ, CLOSE; OK and EOSE): enough for NIP-46
// between a client and a bunker, on 127.0.0.1 only. Events are checked (id and signature) and
// kept in memory; each REQ gets the stored matches, then EOSE, then new matches as they come.
import type { AddressInfo } from 'node:net';
import { verifyEvent, type Event } from 'nostr-tools/pure';
import { WebSocketServer, type WebSocket } from 'ws';

interface Filter {
  ids?: string[];
  authors?: string[];
  kinds?: number[];
  since?: number;
  until?: number;
  limit?: number;
  [tag: `#${string}`]: string[] | undefined;
}

function matches(f: Filter, e: Event): boolean {
  if (f.ids && !f.ids.includes(e.id)) return false;
  if (f.authors && !f.authors.includes(e.pubkey)) return false;
  if (f.kinds && !f.kinds.includes(e.kind)) return false;
  if (f.since !== undefined && e.created_at < f.since) return false;
  if (f.until !== undefined && e.created_at > f.until) return false;
  for (const [k, want] of Object.entries(f)) {
    if (!k.startsWith('#') || !Array.isArray(want)) continue;
    const name = k.slice(1);
    if (!e.tags.some((t) => t[0] === name && want.includes(t[1] ?? ''))) return false;
  }
  return true;
}

export interface TestRelay {
  url: string;
  /** Every event accepted so far, in order. */
  events: Event[];
  /** Open client connections. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 on a free port. */
export async function startRelay(): Promise<TestRelay> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 512 * 1024 });
  await new Promise<void>((ok) => wss.once('listening', () => ok()));
  const events: Event[] = [];
  const subs = new Map<WebSocket, Map<string, Filter[]>>();
  const send = (ws: WebSocket, msg: unknown[]) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };

  wss.on('connection', (ws) => {
    const mine = new Map<string, Filter[]>();
    subs.set(ws, mine);
    ws.on('close', () => subs.delete(ws));
    ws.on('message', (data) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return send(ws, ['NOTICE', 'invalid: not JSON']);
      }
      if (!Array.isArray(msg)) return send(ws, ['NOTICE', 'invalid: not an array']);
      const [type, ...rest] = msg as [unknown, ...unknown[]];
      if (type === 'EVENT') {
        const e = rest[0] as Event;
        if (!e || typeof e !== 'object' || !verifyEvent({ ...e }))
          return send(ws, ['OK', (e as { id?: string })?.id ?? '', false, 'invalid: bad event']);
        const ephemeral = e.kind >= 20_000 && e.kind < 30_000;
        if (!ephemeral) events.push(e);
        send(ws, ['OK', e.id, true, '']);
        for (const [peer, theirs] of subs)
          for (const [id, filters] of theirs)
            if (filters.some((f) => matches(f, e))) send(peer, ['EVENT', id, e]);
      } else if (type === 'REQ') {
        const [id, ...filters] = rest as [string, ...Filter[]];
        mine.set(id, filters);
        for (const f of filters) {
          const found = events.filter((e) => matches(f, e));
          const limited = f.limit !== undefined ? found.slice(-f.limit) : found;
          for (const e of limited) send(ws, ['EVENT', id, e]);
        }
        send(ws, ['EOSE', id]);
      } else if (type === 'CLOSE') {
        mine.delete(rest[0] as string);
      } else {
        send(ws, ['NOTICE', `unknown message ${JSON.stringify(type)}`]);
      }
    });
  });

  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    events,
    connections: () => wss.clients.size,
    close: () =>
      new Promise<void>((done) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => done());
      }),
  };
}
