// Formatting for people: times, durations, byte counts, hex views.

const dateTime = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateTime.format(t);
}

function span(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'less than a minute';
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

/** "12 min ago", "just now" */
export function ago(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  if (ms < 60_000) return 'just now';
  return `${span(ms)} ago`;
}

/** "23 h 48 min left", or "expired" */
export function timeLeft(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return iso;
  if (ms <= 0) return 'expired';
  return `${span(ms)} left`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * A hex dump: offset, 16 bytes in groups of two, then the same bytes as ASCII (a dot for anything
 * that is not a printable ASCII character), one line each.
 */
export function hexDump(hex: string): string {
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 32) {
    const row = hex.slice(i, i + 32);
    const pairs = row.match(/.{1,4}/g) ?? [];
    const ascii = (row.match(/.{2}/g) ?? [])
      .map((b) => {
        const c = parseInt(b, 16);
        return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
      })
      .join('');
    lines.push(
      `${(i / 2).toString(16).padStart(6, '0')}  ${pairs.join(' ').padEnd(39)}  |${ascii}|`,
    );
  }
  return lines.join('\n');
}

/** Hex in groups of four characters, so a person can compare it piece by piece. */
export function groupHex(hex: string): string {
  return (hex.match(/.{1,8}/g) ?? []).join(' ');
}

/** The first characters of a peer id, for where no name is known. */
export function shortPeer(peerId: string): string {
  return peerId.length > 14 ? `${peerId.slice(0, 8)}…${peerId.slice(-4)}` : peerId;
}

// The node's words for an exposed key: "key exposed on <member> at <ISO time> (<purpose>)".
const EXPOSED = /^key exposed on (.+?) at (\d{4}-\d\d-\d\dT[\d:.]+Z) \((.*)\)$/s;

/** Who holds the exposed key ("Bob’s computer"), or the node's words when they do not parse. */
export function exposedWho(exposed: string): string {
  const m = EXPOSED.exec(exposed);
  return m ? `${m[1]}’s computer` : `whoever it was exported to (${exposed})`;
}

/** The node's words with the time for people: "key exposed on Bob at 1 Mar 2026, 12:00 (…)". */
export function exposedText(exposed: string): string {
  const m = EXPOSED.exec(exposed);
  return m ? `key exposed on ${m[1]} at ${formatTime(m[2]!)} (${m[3]})` : exposed;
}

/**
 * A word for a POSIX shell: left bare when it is only safe characters, else in single quotes (a
 * group name comes from the network and could hold `$(…)` or a quote).
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
