// The custodian's log escaper: whatever a peer put in a name or a reason, one call logs one line,
// in the order it reads, with nothing hidden.
import { describe, expect, it } from 'vitest';
import { escapingLog } from '../../main/node/custodian.js';

function logged(line: string): string[] {
  const lines: string[] = [];
  escapingLog((l) => lines.push(l))(line);
  return lines;
}

describe('escapingLog', () => {
  it('shows line breaks, bidi overrides and invisible characters as \\u{…}', () => {
    const [line] = logged('bob\nready: forged\r\u2028 \u202eevil\u200b\u3164 joined');
    expect(line).toBe(
      'bob\\u{a}ready: forged\\u{d}\\u{2028} \\u{202e}evil\\u{200b}\\u{3164} joined',
    );
    expect(line).not.toMatch(/[\n\r\u2028\u202e\u200b]/);
  });

  it('leaves ordinary text, quotes and non-Latin names alone', () => {
    expect(logged('"Zoë" (…1a2b3c4d) joined 金库')).toEqual(['"Zoë" (…1a2b3c4d) joined 金库']);
  });
});
