// logSafe: names and other strings from the network, made safe for one log line.
import { describe, expect, it } from 'vitest';
import { LOG_SAFE_MAX, logSafe } from '../../shared/protocol/text.js';

describe('logSafe', () => {
  it('quotes plain text and keeps letters of every script, accents and emoji', () => {
    expect(logSafe('alice')).toBe('"alice"');
    expect(logSafe('Zoë Łukasz 山田 مريم 👩🏽‍💻')).toBe('"Zoë Łukasz 山田 مريم 👩🏽\\u{200d}💻"');
    expect(logSafe('')).toBe('""');
  });

  it('escapes what could forge or hide a line: newlines, controls, quotes, backslashes', () => {
    expect(logSafe('bob\nnet: host stopped')).toBe('"bob\\u{a}net: host stopped"');
    expect(logSafe('a\r\tb\u0000c\u001bd\u007fe\u0085f')).toBe(
      '"a\\u{d}\\u{9}b\\u{0}c\\u{1b}d\\u{7f}e\\u{85}f"',
    );
    expect(logSafe('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(logSafe('line\u2028para\u2029end')).toBe('"line\\u{2028}para\\u{2029}end"');
  });

  it('escapes bidi overrides and isolates, zero-width and other invisible characters', () => {
    // "evil" shown reversed by RLO would read as something else.
    expect(logSafe('\u202Elive\u202C')).toBe('"\\u{202e}live\\u{202c}"');
    expect(logSafe('a\u2066b\u2069c\u200Fd')).toBe('"a\\u{2066}b\\u{2069}c\\u{200f}d"');
    expect(logSafe('ad\u200Bmin\uFEFF\u00AD')).toBe('"ad\\u{200b}min\\u{feff}\\u{ad}"');
    expect(logSafe('\u3164\u115F\u2800')).toBe('"\\u{3164}\\u{115f}\\u{2800}"');
    // Spaces other than the plain one look like it, or like nothing.
    expect(logSafe('a b\u00A0c\u3000d\u2009e')).toBe('"a b\\u{a0}c\\u{3000}d\\u{2009}e"');
    // Private use and unassigned code points, and a lone surrogate.
    expect(logSafe('\uE000\u{10FFFF}x\uD800')).toBe('"\\u{e000}\\u{10ffff}x\\u{d800}"');
  });

  it('cuts at the limit (escapes included) with an ellipsis, never inside a surrogate pair', () => {
    expect(logSafe('x'.repeat(200))).toBe(`"${'x'.repeat(LOG_SAFE_MAX)}"…`);
    expect(logSafe('abcdef', 4)).toBe('"abcd"…');
    expect(logSafe('abcd', 4)).toBe('"abcd"');
    expect(logSafe('ab\ncd', 6)).toBe('"ab"…');
    expect(logSafe('a😀😀', 4)).toBe('"a😀"…');
    expect(logSafe('\n'.repeat(1_000_000)).length).toBeLessThan(LOG_SAFE_MAX + 4);
    // A nonsense limit falls back to the default.
    expect(logSafe('y'.repeat(100), -1)).toBe(`"${'y'.repeat(LOG_SAFE_MAX)}"…`);
  });

  it('shows values that are not strings by their JSON form, and never throws', () => {
    expect(logSafe(42)).toBe('"42"');
    expect(logSafe(null)).toBe('"null"');
    expect(logSafe(undefined)).toBe('"undefined"');
    expect(logSafe(10n)).toBe('"10n"');
    expect(logSafe({ name: 'x\ny' })).toBe('"{\\"name\\":\\"x\\\\ny\\"}"');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(logSafe(cyclic)).toBe('"[unprintable]"');
    expect(logSafe(Object.create(null))).toBe('"{}"');
    expect(logSafe(Symbol('s'))).toBe('"[symbol]"');
    expect(logSafe(() => 1)).toBe('"[function]"');
  });
});
