// Text from the network made safe to print: a peer's name in a log line must not forge another
// line, reorder the one it is in (bidi overrides), hide in invisible characters or run on forever.

/**
 * Characters escaped as \u{…}: controls (newlines included), format characters (bidi overrides
 * and isolates, zero-width characters, the BOM), surrogates, private use, unassigned code points,
 * line and paragraph separators, every space but the plain one, and the Hangul fillers and braille
 * blank that render as nothing.
 */
const UNSAFE =
  /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u{115F}\u{1160}\u{2800}\u{3164}\u{FFA0}]|(?! )\p{Zs}/u;

export const LOG_SAFE_MAX = 64;

/**
 * `text` as a quoted, escaped string of at most `max` characters between the quotes (an ellipsis
 * after them marks a cut): safe to put in a log line whatever a peer sent. Non-strings are shown
 * by their JSON form.
 */
export function logSafe(text: unknown, max = LOG_SAFE_MAX): string {
  const limit = Number.isSafeInteger(max) && max > 0 ? max : LOG_SAFE_MAX;
  let out = '';
  let cut = false;
  // By code point, so a surrogate pair is never split (a lone surrogate is escaped).
  for (const ch of asText(text)) {
    const piece = escape(ch);
    if (out.length + piece.length > limit) {
      cut = true;
      break;
    }
    out += piece;
  }
  return `"${out}"${cut ? '…' : ''}`;
}

function escape(ch: string): string {
  if (ch === '"' || ch === '\\') return `\\${ch}`;
  if (UNSAFE.test(ch)) return `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
  return ch;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return `[${typeof value}]`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles, getters that throw, BigInt inside objects.
    return '[unprintable]';
  }
}
