// What an approver must be told about a message before signing it: characters that are invisible
// or turn text around (named, never hidden), letters that look like others (mixed scripts), why a
// message is shown as bytes, and the message's own SHA-256 (computed here, from the exact bytes).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** Names of the invisible and direction-changing characters a custodian may be shown. */
const NAMES: Record<number, string> = {
  0x00ad: 'soft hyphen',
  0x034f: 'combining grapheme joiner',
  0x061c: 'Arabic letter mark',
  0x115f: 'Hangul choseong filler',
  0x1160: 'Hangul jungseong filler',
  0x17b4: 'Khmer vowel inherent aq',
  0x17b5: 'Khmer vowel inherent aa',
  0x180e: 'Mongolian vowel separator',
  0x200b: 'zero width space',
  0x200c: 'zero width non-joiner',
  0x200d: 'zero width joiner',
  0x200e: 'left-to-right mark',
  0x200f: 'right-to-left mark',
  0x2028: 'line separator',
  0x2029: 'paragraph separator',
  0x202a: 'left-to-right embedding',
  0x202b: 'right-to-left embedding',
  0x202c: 'pop directional formatting',
  0x202d: 'left-to-right override',
  0x202e: 'right-to-left override',
  0x2060: 'word joiner',
  0x2061: 'function application',
  0x2062: 'invisible times',
  0x2063: 'invisible separator',
  0x2064: 'invisible plus',
  0x2066: 'left-to-right isolate',
  0x2067: 'right-to-left isolate',
  0x2068: 'first strong isolate',
  0x2069: 'pop directional isolate',
  0x3164: 'Hangul filler',
  0xfeff: 'zero width no-break space (byte-order mark)',
  0xffa0: 'halfwidth Hangul filler',
};

/** Characters that change direction: text around them may read in another order than it is. */
const BIDI = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

/** "U+202E" */
export function codePoint(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * True for a character a person cannot see or that changes how the text around it is laid out:
 * controls other than tab and line feed, format characters, fillers, tag characters.
 */
export function isHidden(cp: number): boolean {
  if (cp === 0x09 || cp === 0x0a) return false;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  if (cp in NAMES) return true;
  // Tag characters (invisible), variation selectors (change a glyph unseen).
  if (cp >= 0xe0000 && cp <= 0xe007f) return true;
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef)) return true;
  return /\p{Cf}/u.test(String.fromCodePoint(cp));
}

/** "U+202E right-to-left override", "U+0007 control character" */
export function describe(cp: number): string {
  const name =
    NAMES[cp] ??
    (cp === 0x0d
      ? 'carriage return'
      : cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
        ? 'control character'
        : cp >= 0xe0000 && cp <= 0xe007f
          ? 'tag character'
          : (cp >= 0xfe00 && cp <= 0xfe0f) || cp >= 0xe0100
            ? 'variation selector'
            : 'invisible formatting character');
  return `${codePoint(cp)} ${name}`;
}

export interface HiddenFinding {
  cp: number;
  /** "U+202E right-to-left override" */
  label: string;
  count: number;
  /** 1-based lines where it occurs (the first few). */
  lines: number[];
  bidi: boolean;
}

/** Every invisible or direction-changing character in the text, once each, in order of appearance. */
export function hiddenCharacters(text: string): HiddenFinding[] {
  const found = new Map<number, HiddenFinding>();
  let line = 1;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x0a) line++;
    if (!isHidden(cp)) continue;
    let f = found.get(cp);
    if (!f) {
      f = { cp, label: describe(cp), count: 0, lines: [], bidi: BIDI.has(cp) };
      found.set(cp, f);
    }
    f.count++;
    if (f.lines.length < 5 && !f.lines.includes(line)) f.lines.push(line);
  }
  return [...found.values()];
}

// Letters of other scripts that look like Latin letters (the common confusables of Unicode's list):
// in a text with Latin letters, each is flagged with the Latin letter it imitates.
// prettier-ignore
const LOOK_ALIKE: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'B', е: 'e', к: 'k', м: 'M', н: 'H', о: 'o', р: 'p', с: 'c', т: 'T', у: 'y', х: 'x',
  і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ӏ: 'l', ү: 'y', ɡ: 'g',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X',
  І: 'I', Ј: 'J', Ѕ: 'S', Ү: 'Y', Ԁ: 'D', Ԛ: 'Q', Ԝ: 'W', Һ: 'h',
  // Greek
  α: 'a', ο: 'o', ν: 'v', ρ: 'p', υ: 'u', ι: 'i', κ: 'k', τ: 't', χ: 'x',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P',
  Τ: 'T', Υ: 'Y', Χ: 'X',
  // Armenian and others that pass for Latin
  օ: 'o', ս: 'u', զ: 'q', ց: 'g', հ: 'h', ո: 'n',
};

const SCRIPTS = ['Latin', 'Cyrillic', 'Greek', 'Armenian'] as const;
const SCRIPT_RE = Object.fromEntries(
  SCRIPTS.map((s) => [s, new RegExp(`\\p{Script=${s}}`, 'u')]),
) as Record<(typeof SCRIPTS)[number], RegExp>;

function scriptOf(ch: string): string | undefined {
  return SCRIPTS.find((s) => SCRIPT_RE[s].test(ch));
}

export interface LookAlikeFinding {
  /** The word as it appears. */
  word: string;
  /** "U+0430 Cyrillic “а”, looks like Latin “a”", one per suspicious character. */
  characters: string[];
  /** The suspicious characters themselves, each with its description, to mark them in the text. */
  marks: Record<string, string>;
}

/**
 * Words that mix scripts (Latin with Cyrillic, Greek or Armenian letters), and words of Latin-looking
 * letters from another script in a text that is otherwise Latin: "pаypal" with a Cyrillic а.
 */
export function lookAlikes(text: string): LookAlikeFinding[] {
  const hasLatin = /\p{Script=Latin}/u.test(text);
  const out: LookAlikeFinding[] = [];
  const seen = new Set<string>();
  for (const word of text.match(/[\p{L}\p{M}\p{N}]+/gu) ?? []) {
    if (seen.has(word)) continue;
    const scripts = new Set([...word].map(scriptOf).filter((s) => s !== undefined));
    const mixed = scripts.size > 1;
    const suspects = [...word].filter((ch) => {
      const s = scriptOf(ch);
      return s !== undefined && s !== 'Latin' && (mixed || (hasLatin && ch in LOOK_ALIKE));
    });
    // A whole Cyrillic or Greek word is suspicious only when every letter could pass for Latin.
    if (!mixed && !(suspects.length > 0 && suspects.length === [...word].filter(scriptOf).length))
      continue;
    if (suspects.length === 0) continue;
    seen.add(word);
    const marks: Record<string, string> = {};
    for (const ch of new Set(suspects)) {
      const like = LOOK_ALIKE[ch];
      marks[ch] =
        `${codePoint(ch.codePointAt(0)!)} ${scriptOf(ch)} “${ch}”${like ? `, looks like Latin “${like}”` : ''}`;
    }
    out.push({ word, characters: Object.values(marks), marks });
  }
  return out;
}

/** Why the node shows these bytes as binary rather than text, in words a custodian can check. */
export function whyBinary(bytes: Uint8Array): {
  reason: string;
  /** The text, when the bytes are UTF-8 (it then holds hidden characters). */
  text?: string;
} {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    return {
      reason:
        at === undefined
          ? 'These bytes are not valid UTF-8 text.'
          : `These bytes are not valid UTF-8 text: byte ${at} is 0x${bytes[at]!.toString(16).padStart(2, '0')}.`,
    };
  }
  const hidden = hiddenCharacters(text);
  if (hidden.length === 0) return { reason: 'These bytes are shown as they are.', text };
  return {
    reason: `This would be text, but it holds characters that cannot be seen or that change its direction: ${hidden
      .map((h) => `${h.label} (${h.count}×)`)
      .join(', ')}. They are marked below.`,
    text,
  };
}

/** Offset of the first byte that breaks UTF-8, if any. */
function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let lo = 0;
  let hi = bytes.length;
  // The longest prefix that decodes (allowing a cut sequence at its end) ends where it breaks.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      decoder.decode(bytes.subarray(0, mid), { stream: true });
      decoder.decode();
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo < bytes.length ? lo : undefined;
}

export interface Segment {
  text: string;
  /** Set for a hidden character, shown as a visible mark: "U+202E right-to-left override". */
  hidden?: string;
  /** Set for a look-alike letter, shown as itself but marked: "U+0430 Cyrillic “а”, …". */
  lookAlike?: string;
}

/**
 * The text cut into plain runs, hidden characters (each shown as its code point) and look-alike
 * letters (`lookAlikes`' marks, each shown as itself), so every one of them can be marked.
 */
export function segments(text: string, lookAlike: Record<string, string> = {}): Segment[] {
  const out: Segment[] = [];
  let run = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isHidden(cp)) {
      if (run) out.push({ text: run });
      run = '';
      out.push({ text: codePoint(cp), hidden: describe(cp) });
    } else if (lookAlike[ch] !== undefined) {
      if (run) out.push({ text: run });
      run = '';
      out.push({ text: ch, lookAlike: lookAlike[ch] });
    } else run += ch;
  }
  if (run) out.push({ text: run });
  return out;
}

/** SHA-256 of the bytes given as hex, as hex: computed here, not taken from the node's word. */
export function sha256Hex(hex: string): string {
  return bytesToHex(sha256(hexToBytes(hex)));
}

export function bytesOf(hex: string): Uint8Array {
  return hexToBytes(hex);
}
