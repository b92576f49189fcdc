// Unit tests of the Unicode name rules: NFC, trimming, the conservative length measure, invisible characters.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeInvisibleCharacters,
  describeNameLength,
  editDistance,
  findInvisibleCharacters,
  lazyRegExp,
  measureName,
  nameLengthProblem,
  normalizeName,
  sameName,
  trimNameEnd,
} from '../../lambdas/core/unicode-names.js';

const NFD_MUSTERI = 'Mu\u0308s\u0327teri'; // what macOS writes for "Müşteri"
const FAMILY = '👨‍👩‍👧';

describe('normalizeName and sameName', () => {
  it('composes macOS NFD names into their NFC twins', () => {
    expect(NFD_MUSTERI).not.toBe('Müşteri');
    expect(normalizeName(NFD_MUSTERI)).toBe('Müşteri');
  });

  it('trims Unicode white space but keeps a byte order mark, so it can be reported', () => {
    expect(normalizeName(' \t\u00A0VIP\u3000\n')).toBe('VIP');
    expect(normalizeName('\uFEFFVIP')).toBe('\uFEFFVIP');
  });

  it('trims only the end when asked', () => {
    expect(trimNameEnd(' VIP \u00A0')).toBe(' VIP');
  });

  it('compares callback names insensitive to normalization and surrounding white space', () => {
    expect(sameName(` ${NFD_MUSTERI}  `, 'Müşteri')).toBe(true);
    expect(sameName('Müşteri', 'Musteri')).toBe(false);
    expect(sameName('\uFEFFVIP', 'VIP')).toBe(false);
  });
});

describe('measureName', () => {
  it.each([
    ['ASCII', 'VIP customers', { codePoints: 13, utf16Units: 13, visible: 13, counted: 13 }],
    ['40 emoji', '🎉'.repeat(40), { codePoints: 40, utf16Units: 80, visible: 40, counted: 80 }],
    ['a family emoji', FAMILY, { codePoints: 5, utf16Units: 8, visible: 1, counted: 8 }],
    ['a flag', '🇹🇷', { codePoints: 2, utf16Units: 4, visible: 1, counted: 4 }],
    ['a letter with a combining mark NFC cannot compose', 'q\u0323', { codePoints: 2, utf16Units: 2, visible: 1, counted: 2 }],
    ['Turkish letters', 'İğdır', { codePoints: 5, utf16Units: 5, visible: 5, counted: 5 }],
  ])('%s', (_, text, expected) => {
    expect(measureName(text)).toEqual(expected);
  });
});

describe('describeNameLength and nameLengthProblem', () => {
  it('says "has N characters" when every measure agrees', () => {
    expect(describeNameLength('x'.repeat(41))).toBe('has 41 characters');
    expect(nameLengthProblem('x'.repeat(41), 40)).toBe('has 41 characters');
    expect(nameLengthProblem('x'.repeat(40), 40)).toBeUndefined();
    expect(nameLengthProblem('ü'.repeat(40), 40)).toBeUndefined();
  });

  it('rejects 40 emoji (80 UTF-16 units) and says emoji count as two', () => {
    expect(nameLengthProblem('🎉'.repeat(20), 40)).toBeUndefined();
    expect(nameLengthProblem('🎉'.repeat(21), 40)).toBe(
      'has 42 characters as Insider may count them, though you see 21 (emoji and some symbols count as two)',
    );
    expect(nameLengthProblem('🎉'.repeat(40), 40)).toMatch(/^has 80 characters as Insider may count them, though you see 40 \(emoji/);
  });

  it('names the character the user sees as one but that counts as several', () => {
    const name = `Family ${FAMILY} `.repeat(3).trim();
    expect(describeNameLength(name)).toBe(
      `has 47 characters as Insider may count them, though you see 26 (emoji and some symbols count as two; "${FAMILY}" counts as 8)`,
    );
    // NFC composes a + U+0323 into ạ; q + U+0323 has no composed form.
    expect(describeNameLength(normalizeName('Ba\u0323c q\u0323'))).toBe('has 6 characters as Insider may count them, though you see 5 ("q\u0323" counts as 2)');
  });
});

describe('findInvisibleCharacters', () => {
  it.each([
    ['U+200B', 'ZERO WIDTH SPACE'],
    ['U+200C', 'ZERO WIDTH NON-JOINER'],
    ['U+200D', 'ZERO WIDTH JOINER'],
    ['U+2060', 'WORD JOINER'],
    ['U+FEFF', 'ZERO WIDTH NO-BREAK SPACE (byte order mark)'],
    ['U+00AD', 'SOFT HYPHEN'],
    ['U+202A', 'LEFT-TO-RIGHT EMBEDDING'],
    ['U+202B', 'RIGHT-TO-LEFT EMBEDDING'],
    ['U+202C', 'POP DIRECTIONAL FORMATTING'],
    ['U+202D', 'LEFT-TO-RIGHT OVERRIDE'],
    ['U+202E', 'RIGHT-TO-LEFT OVERRIDE'],
    ['U+2066', 'LEFT-TO-RIGHT ISOLATE'],
    ['U+2067', 'RIGHT-TO-LEFT ISOLATE'],
    ['U+2068', 'FIRST STRONG ISOLATE'],
    ['U+2069', 'POP DIRECTIONAL ISOLATE'],
    ['U+200E', 'LEFT-TO-RIGHT MARK'],
    ['U+200F', 'RIGHT-TO-LEFT MARK'],
    ['U+061C', 'ARABIC LETTER MARK'],
    ['U+034F', 'COMBINING GRAPHEME JOINER'],
    ['U+3164', 'HANGUL FILLER'],
    ['U+180E', 'MONGOLIAN VOWEL SEPARATOR'],
    ['U+2064', 'INVISIBLE PLUS'],
    ['U+E0001', 'LANGUAGE TAG'],
    ['U+E0067', 'TAG g'],
    ['U+0007', 'a control character'],
    ['U+0009', 'CHARACTER TABULATION (tab)'],
    ['U+2028', 'LINE SEPARATOR'],
    ['U+FFFD', 'REPLACEMENT CHARACTER (text damaged by a wrong encoding)'],
    ['U+FFFE', 'a noncharacter'],
    ['U+D83C', 'a lone surrogate (half of a broken emoji or symbol)'],
  ])('rejects %s between letters, naming it %s', (codePoint, name) => {
    const text = `VIP${String.fromCodePoint(Number.parseInt(codePoint.slice(2), 16))}list`;
    expect(findInvisibleCharacters(text)).toEqual([{ codePoint, name, position: 4, after: 'VIP' }]);
  });

  it.each([
    ['a family (zero width joiners between pictographs)', FAMILY],
    ['a rainbow flag (variation selector, then a joiner)', '🏳️‍🌈'],
    ['a red heart (emoji variation selector)', '❤️'],
    ['a keycap', '1️⃣'],
    ['a text-style variation selector', '☺︎'],
    ['a skin tone in a joined sequence', '👩🏽‍💻'],
    ['a subdivision flag (tag characters)', '🏴󠁧󠁢󠁳󠁣󠁴󠁿'],
    ['an ideographic variation sequence', '葛\u{E0100}'],
  ])('accepts %s', (_, emoji) => {
    expect(findInvisibleCharacters(`VIP ${emoji} list`)).toEqual([]);
  });

  it.each([
    ['a joiner between letters', 'a\u200Db', 'U+200D'],
    ['a joiner after an emoji but before a letter', '👨\u200Da', 'U+200D'],
    ['a trailing joiner', '👨\u200D', 'U+200D'],
    ['a variation selector at the start', '\uFE0Fabc', 'U+FE0F'],
    ['a variation selector after a space', 'a \uFE0F', 'U+FE0F'],
    ['a variation selector after a zero width space', 'a\u200B\uFE0F', 'U+200B'],
    ['tags outside a flag', 'a\u{E0067}\u{E0062}', 'U+E0067'],
  ])('rejects %s', (_, text, first) => {
    expect(findInvisibleCharacters(text)[0]?.codePoint).toBe(first);
  });

  it('describes positions in visible characters, the start, and caps the list at three', () => {
    expect(describeInvisibleCharacters('VIP customers')).toBeUndefined();
    expect(describeInvisibleCharacters('\u200BVIP')).toBe('U+200B ZERO WIDTH SPACE at the start');
    expect(describeInvisibleCharacters(`${FAMILY}x\u202Ey`)).toBe(`U+202E RIGHT-TO-LEFT OVERRIDE at character 3 (after "${FAMILY}x")`);
    expect(describeInvisibleCharacters('a\u200Bb\u200Cc\u200Dd\u2060e\uFEFF')).toBe(
      'U+200B ZERO WIDTH SPACE at character 2 (after "a"), U+200C ZERO WIDTH NON-JOINER at character 3 (after "ab"), ' +
        'U+200D ZERO WIDTH JOINER at character 4 (after "abc"), and 2 more',
    );
  });
});

describe('editDistance', () => {
  it.each([
    ['segmentname', 'segmentname', 0],
    ['segmentnametmplate', 'segmentnametemplate', 1],
    ['istambul', 'istanbul', 1],
    ['', 'abc', 3],
  ])('%s ↔ %s = %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });
});

describe('lazyRegExp', () => {
  it('builds the pattern once, on first use, with lastIndex reset', () => {
    const re = lazyRegExp('\\p{Lu}', 'gu');
    const first = re();
    expect(first.test('aB')).toBe(true);
    expect(first.lastIndex).toBe(2);
    expect(re()).toBe(first);
    expect(re().lastIndex).toBe(0);
  });

  it('is how every naming module writes Unicode property patterns (a \\p{…} literal costs the cold start ~4 MB)', () => {
    for (const file of ['unicode-names', 'segment-name-template', 'object-key', 'object-metadata', 'naming']) {
      const source = readFileSync(new URL(`../../lambdas/core/${file}.ts`, import.meta.url), 'utf8');
      const literals = source.split('\n').filter((line) => line.includes('\\p{') && !line.includes('lazyRegExp(') && !/^\s*(\/\/|\*)/.test(line));
      expect(literals, file).toEqual([]);
    }
  });
});
