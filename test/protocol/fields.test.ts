// The field predicates the strict decoders share (shared/protocol/fields.ts).
import { describe, expect, it } from 'vitest';
import { isLowerHex } from '../../shared/protocol/fields.js';

describe('isLowerHex', () => {
  it('accepts lowercase hex of whole bytes, of any length without a length', () => {
    for (const v of ['', '00', '0123456789abcdef', 'ff'.repeat(1000)])
      expect(isLowerHex(v)).toBe(true);
  });

  it('accepts exactly `chars` characters when given', () => {
    expect(isLowerHex('ab'.repeat(32), 64)).toBe(true);
    expect(isLowerHex('', 0)).toBe(true);
  });

  it('refuses uppercase, non-hex, odd lengths and non-strings', () => {
    for (const v of [
      'AB',
      'aB',
      'zz',
      '0x00',
      ' 00',
      '00\n',
      'abc',
      '0',
      0,
      12,
      null,
      undefined,
      ['00'],
      { toString: () => '00' },
    ])
      expect(isLowerHex(v)).toBe(false);
  });

  it('refuses a string one byte short, one byte long, or of the right length but odd', () => {
    const good = 'ab'.repeat(32);
    expect(isLowerHex(good.slice(2), 64)).toBe(false);
    expect(isLowerHex(good + 'ab', 64)).toBe(false);
    expect(isLowerHex(good.slice(1), 63)).toBe(false);
    expect(isLowerHex('ab'.repeat(300_000), 64)).toBe(false);
  });
});
