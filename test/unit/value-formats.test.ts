// Unit tests of the value formats (email, E.164 against libphonenumber-js), normalization and the duplicate fingerprints.
import { type CountryCode, Metadata } from 'libphonenumber-js/core';
import metadata from 'libphonenumber-js/min/metadata';
import { describe, expect, it } from 'vitest';
import { FingerprintSet } from '../../lambdas/core/fingerprints.js';
import { formatForAttribute, isE164, isE164ByLibrary, isE164Bytes, isEmail, isEmailBytes, looksLike, normalizeValue } from '../../lambdas/core/value-formats.js';
import { ValueFormat } from '../../lambdas/shared/contract.js';
import { mulberry32 } from '../../local/prng.js';

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const isAsciiText = (value: string): boolean => Buffer.byteLength(value, 'utf8') === value.length;

/** `value` in a buffer between other bytes, as the scanner finds it in a file. */
function inBuffer(value: string): { bytes: Buffer; start: number; end: number } {
  const bytes = Buffer.from(`9,${value}\n0`, 'latin1');
  return { bytes, start: 2, end: 2 + value.length };
}

/** inBuffer's placement as the byte checkers' arguments. */
function inBufferArgs(value: string): [Buffer, number, number] {
  const { bytes, start, end } = inBuffer(value);
  return [bytes, start, end];
}

describe('formatForAttribute', () => {
  it.each([
    ['Email Address', 'email'],
    ['email address', 'email'],
    [' EMAIL ', 'email'],
    ['em', 'email'],
    ['Phone Number', 'e164'],
    ['phone_number', 'e164'],
    ['PN', 'e164'],
    ['Store ID', undefined],
    ['e-mail', undefined],
  ])('%s → %s', (attribute, format) => {
    expect(formatForAttribute(attribute)).toBe(format);
  });

  it('reads the map it is given', () => {
    expect(formatForAttribute('Work Email', { 'work email': 'email' })).toBe('email');
    expect(formatForAttribute('email', {})).toBeUndefined();
  });
});

describe('isEmail', () => {
  it.each([
    'ann@example.com',
    'a.b+tag@sub.example.co.uk',
    "o'neil@x.io",
    'UPPER@EXAMPLE.COM',
    'x@a-b.example',
    'müller@bücher.de',
    'çağrı@örnek.com.tr',
    `${'a'.repeat(64)}@${'b'.repeat(63)}.com`,
  ])('accepts %s', (value) => {
    expect(isEmail(value)).toBe(true);
  });

  it.each([
    '',
    'ann',
    'ann@',
    '@example.com',
    'ann@localhost',
    'ann@@example.com',
    'ann@exa mple.com',
    'ann @example.com',
    'ann@-example.com',
    'ann@example-.com',
    'ann@example..com',
    'ann@.example.com',
    `ann@${'b'.repeat(64)}.com`,
    `${'a'.repeat(250)}@x.com`,
    '+14155552671',
    'a,b@x.com',
    'a"b@x.com',
  ])('rejects %s', (value) => {
    expect(isEmail(value)).toBe(false);
  });
});

describe('isEmail and isEmailBytes equal the regular expressions they replaced', () => {
  // The rule as it was written before the byte check: WHATWG's expression (ASCII, then Unicode), then the label rules.
  const EMAIL_SHAPE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
  const EMAIL_SHAPE_UNICODE = /^[\p{L}\p{N}\p{M}.!#$%&'*+/=?^_`{|}~-]+@[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)+$/u;
  function referenceIsEmail(value: string): boolean {
    if (value.length > 254) return false;
    if (!EMAIL_SHAPE.test(value) && !(/[\u0080-\uffff]/.test(value) && EMAIL_SHAPE_UNICODE.test(value))) return false;
    const at = value.lastIndexOf('@');
    const labels = value.slice(at + 1).split('.');
    return labels.every((label) => label.length <= 63 && !label.startsWith('-') && !label.endsWith('-'));
  }

  // Characters that matter to the rule, and some that do not belong in an address at all.
  const LETTERS = ['a', 'b', 'z', 'A', 'Z', '0', '9', 'x', 'm'];
  const SPECIAL = ['.', '-', '_', '+', "'", '!', '#', '$', '%', '&', '*', '/', '=', '?', '^', '`', '{', '|', '}', '~'];
  const BAD = ['@', ' ', ',', '"', '(', ')', ':', ';', '<', '>', '[', ']', '\\', '\t', '\x7f', '\x00'];
  const WIDE = ['ü', 'é', '日', '\u0301', '\u00a0', 'ß', '٣', '😀'];
  /** `length` characters: mostly letters; `other` is the share of specials (as many again of bad ones, or wide ones when `wide`). */
  function randomPart(random: () => number, length: number, other: number, wide: boolean): string {
    let out = '';
    for (let i = 0; i < length; i++) {
      const r = random();
      out += r >= other ? pick(random, LETTERS) : r < other * 0.6 ? pick(random, SPECIAL) : pick(random, wide && r < other * 0.8 ? WIDE : BAD);
    }
    return out;
  }
  function randomValue(random: () => number): string {
    const wide = random() < 0.2;
    if (random() < 0.1) return randomPart(random, Math.floor(random() * 40), 0.5, wide);
    const labels = 1 + Math.floor(random() * 4);
    const long = random() < 0.1;
    const domain = Array.from({ length: labels }, () => randomPart(random, long ? 58 + Math.floor(random() * 10) : 1 + Math.floor(random() * 8), 0.01, wide))
      .map((label) => (random() < 0.05 ? `-${label}` : random() < 0.05 ? `${label}-` : random() < 0.2 ? `${label}-x` : label))
      .join(random() < 0.03 ? '..' : '.');
    const local = randomPart(random, random() < 0.05 ? 180 + Math.floor(random() * 80) : 1 + Math.floor(random() * 12), 0.1, wide);
    return `${random() < 0.03 ? '' : local}${random() < 0.03 ? '' : '@'}${random() < 0.03 ? '' : domain}`;
  }

  it('on 200,000 random values, valid and not, ASCII and not, near every limit', () => {
    const random = mulberry32(2026);
    let valid = 0;
    let validWide = 0;
    // Disagreements are collected and compared once: an expect per value made the loop slow enough to near the test's timeout under load.
    const disagreements: { value: string; reference: boolean; isEmail: boolean; isEmailBytes?: boolean }[] = [];
    for (let n = 0; n < 200_000; n++) {
      const value = randomValue(random);
      const expected = referenceIsEmail(value);
      if (expected) valid++;
      if (expected && !isAsciiText(value)) validWide++;
      const text = isEmail(value);
      const bytes = isAsciiText(value) ? isEmailBytes(...inBufferArgs(value)) : expected;
      if (text !== expected || bytes !== expected) disagreements.push({ value, reference: expected, isEmail: text, isEmailBytes: bytes });
    }
    expect(disagreements.slice(0, 20)).toEqual([]);
    // Both answers occur often enough to mean something.
    expect(valid).toBeGreaterThan(20_000);
    expect(valid).toBeLessThan(180_000);
    expect(validWide).toBeGreaterThan(1000);
  });
});

describe('isE164', () => {
  it.each(['+14155552671', '+447911123456', '+4915112345678', '+33612345678', '+6598765432', '+905321234567', '+8613800138000', '+390612345678'])(
    'accepts %s',
    (value) => {
      expect(isE164(value)).toBe(true);
    },
  );

  it.each([
    '14155552671', // no +
    '+1 415 555 2671', // spaces
    '+1-415-555-2671',
    '(415) 555-2671',
    '+0123456789', // no country code starts with 0
    '+330612345678', // trunk prefix after the country code
    '+3361234567', // one digit short for France
    '+1415555267100000', // over 15 digits
    '+999123456789', // no such calling code
    '+',
    'ann@example.com',
  ])('rejects %s', (value) => {
    expect(isE164(value)).toBe(false);
  });

  it('agrees with libphonenumber-js on random numbers for every calling code and length, but for trunk prefixes', () => {
    // A deterministic sweep: each calling code the library knows, every national length, random digits.
    const codes = [...Object.keys(metadata.country_calling_codes), ...Object.keys(metadata.nonGeographic ?? {})];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let checked = 0;
    let differ = 0;
    for (const code of codes) {
      for (let length = 1; length <= 15 - code.length; length++) {
        for (let r = 0; r < 20; r++) {
          let digits = '';
          for (let i = 0; i < length; i++) digits += Math.floor(random() * 10);
          const value = `+${code}${digits}`;
          checked++;
          const fast = isE164(value);
          const library = isE164ByLibrary(value);
          if (fast !== library) {
            differ++;
            // The only known difference: a national trunk or carrier prefix after the code, which the fast check lets through.
            expect({ value, fast, library }).toMatchObject({ fast: true, library: false });
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40_000);
    expect(differ / checked).toBeLessThan(1e-3);
  });
});

describe('isE164 and isE164Bytes equal the regular expression and lookups they replaced', () => {
  // The check as it was written before the byte version: the syntax by regular expression, then the length tables.
  const E164_SYNTAX = /^\+[1-9]\d{1,14}$/;
  const tables: ({ some: number; every: number } | undefined)[][] = [new Array(10), new Array(100), new Array(1000)];
  const plans = new Metadata(metadata);
  const add = (code: string, selector: string) => {
    plans.selectNumberingPlan(selector as CountryCode);
    let mask = 0;
    for (const length of plans.numberingPlan?.possibleLengths() ?? []) mask |= 1 << length;
    const table = tables[code.length - 1] as ({ some: number; every: number } | undefined)[];
    const known = table[Number(code)];
    table[Number(code)] = known ? { some: known.some | mask, every: known.every & mask } : { some: mask, every: mask };
  };
  for (const [code, countries] of Object.entries(metadata.country_calling_codes)) for (const country of countries) add(code, country);
  for (const code of Object.keys(metadata.nonGeographic ?? {})) add(code, code);
  function referenceIsE164(value: string): boolean {
    if (!E164_SYNTAX.test(value)) return false;
    let code = 0;
    for (let digits = 1; digits <= 3; digits++) {
      code = code * 10 + value.charCodeAt(digits) - 0x30;
      const masks = tables[digits - 1]?.[code];
      if (masks === undefined) continue;
      const bit = 1 << (value.length - 1 - digits);
      if ((masks.some & bit) === 0) return false;
      if ((masks.every & bit) !== 0 && value.charCodeAt(1 + digits) !== 0x30) return true;
      return isE164ByLibrary(value);
    }
    return false;
  }

  const codes = [...Object.keys(metadata.country_calling_codes), ...Object.keys(metadata.nonGeographic ?? {})];
  function randomValue(random: () => number): string {
    const r = random();
    if (r < 0.3) {
      // Anything phone-shaped or not.
      let out = '';
      const length = Math.floor(random() * 19);
      for (let i = 0; i < length; i++) out += pick(random, ['+', '0', '1', '4', '7', '9', '5', ' ', '-', '(', 'a', '٣', '\uff11', '\n']);
      return out;
    }
    let digits = '';
    const length = Math.floor(random() * 16);
    for (let i = 0; i < length; i++) digits += Math.floor(random() * 10);
    return `${random() < 0.05 ? '' : '+'}${pick(random, codes)}${random() < 0.1 ? '0' : ''}${digits}`;
  }

  it('on 100,000 random values, valid and not', () => {
    const random = mulberry32(164);
    let valid = 0;
    const disagreements: { value: string; reference: boolean; isE164: boolean; isE164Bytes?: boolean }[] = [];
    for (let n = 0; n < 100_000; n++) {
      const value = randomValue(random);
      const expected = referenceIsE164(value);
      if (expected) valid++;
      const text = isE164(value);
      const bytes = isAsciiText(value) ? isE164Bytes(...inBufferArgs(value)) : expected;
      if (text !== expected || bytes !== expected) disagreements.push({ value, reference: expected, isE164: text, isE164Bytes: bytes });
    }
    expect(disagreements.slice(0, 20)).toEqual([]);
    expect(valid).toBeGreaterThan(5_000);
    expect(valid).toBeLessThan(90_000);
  });
});

describe('looksLike', () => {
  it.each(['9.05321E+11', '9,05551E+11', '1E+12', '-9.05E+11', '9.05321e+11'])('tells %s in the phone folder is Excel\'s scientific notation', (value) => {
    expect(looksLike(ValueFormat.e164, value)).toMatch(/^are numbers Excel saved in scientific notation/);
  });

  it.each(['905321234567', '9.05', '9E11', 'E+11', '9.05E-11', '9.05E+11 x', '19.05E+11'])('does not take %s for it', (value) => {
    expect(looksLike(ValueFormat.e164, value) ?? '').not.toMatch(/scientific/);
  });

  it('says nothing of it for emails (it is no phone list gone wrong there)', () => {
    expect(looksLike(ValueFormat.email, '9.05321E+11')).toBeUndefined();
  });
});

describe('normalizeValue', () => {
  it('lower-cases emails and nothing else for other attributes', () => {
    expect(normalizeValue('email', 'Ann@Example.COM', {})).toBe('ann@example.com');
    expect(normalizeValue(undefined, 'Store-ABC', {})).toBe('Store-ABC');
  });

  it('rewrites phones as E.164, with the default region for national numbers', () => {
    expect(normalizeValue('e164', '+1 (415) 555-2671', {})).toBe('+14155552671');
    expect(normalizeValue('e164', '(415) 555-2671', { phoneDefaultRegion: 'US' })).toBe('+14155552671');
    expect(normalizeValue('e164', '07911 123456', { phoneDefaultRegion: 'GB' })).toBe('+447911123456');
    expect(normalizeValue('e164', '07911 123456', {})).toBe('07911 123456');
    expect(normalizeValue('e164', 'call me', { phoneDefaultRegion: 'GB' })).toBe('call me');
    expect(normalizeValue('e164', '+447911123456', { phoneDefaultRegion: 'US' })).toBe('+447911123456');
  });
});

describe('FingerprintSet', () => {
  it('tells new values from repeats', () => {
    const set = new FingerprintSet(100_000);
    for (let i = 0; i < 50_000; i++) expect(set.add(`user${i}@example.com`)).toBe('added');
    for (let i = 0; i < 50_000; i += 7) expect(set.add(`user${i}@example.com`)).toBe('seen');
    expect(set.size).toBe(50_000);
    expect(set.complete).toBe(true);
  });

  it('gives a value the same fingerprint from its bytes as from its string, at every length', () => {
    const bytes = Buffer.from(`x${'abcdefghijklmnopqrstuvwxyz0123456789@.-_+'.repeat(2)}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let length = 0; length <= 40; length++) {
      const fromString = new FingerprintSet(10);
      const fromBytes = new FingerprintSet(10);
      const value = bytes.toString('latin1', 1, 1 + length);
      expect(fromString.add(value)).toBe('added');
      expect(fromString.addBytes(bytes, view, 1, 1 + length)).toBe('seen');
      expect(fromBytes.addBytes(bytes, view, 1, 1 + length)).toBe('added');
      expect(fromBytes.add(value)).toBe('seen');
      // A value one character longer or shorter is another value.
      expect(fromBytes.add(bytes.toString('latin1', 1, 2 + length))).toBe('added');
    }
  });

  it('tells apart values with characters past Latin-1 (hashed another way)', () => {
    const set = new FingerprintSet(100);
    for (const value of ['日本@例え.jp', '日本@例え.JP', 'ü@x.de', 'Ā@x.de', 'a@x.de']) expect(set.add(value)).toBe('added');
    expect(set.add('日本@例え.jp')).toBe('seen');
    expect(set.add('Ā@x.de')).toBe('seen');
  });

  it('stops remembering at the cap, and keeps finding what it remembers', () => {
    const set = new FingerprintSet(3);
    expect(['a', 'b', 'c'].map((v) => set.add(v))).toEqual(['added', 'added', 'added']);
    expect(set.complete).toBe(false);
    expect(set.add('d')).toBe('untracked');
    expect(set.add('d')).toBe('untracked');
    expect(set.add('b')).toBe('seen');
    expect(set.size).toBe(3);
  });

  it('spans what the cap needs: 8 bytes a slot, at most half full, and a filter of 1 byte a slot', () => {
    expect(new FingerprintSet(262_144).bytes).toBe(524_288 * 9);
    expect(new FingerprintSet(262_145).bytes).toBe(1_048_576 * 9);
    expect(new FingerprintSet(10).bytes).toBe(4096 * 9);
    const set = new FingerprintSet(262_144);
    for (let i = 0; i < 500_000; i++) set.add(`v${i}`);
    expect(set.size).toBe(262_144);
  });

  it('treats two values with the same 64 bits as one (the stated risk), and the all-zero fingerprint as any other', () => {
    const set = new FingerprintSet(10);
    expect(set.addHash(0x12345678, 0x9abcdef0)).toBe('added');
    expect(set.addHash(0x12345678, 0x9abcdef0)).toBe('seen');
    expect(set.addHash(0x12345678, 0x9abcdef1)).toBe('added');
    expect(set.addHash(0, 0)).toBe('added');
    expect(set.addHash(0, 0)).toBe('seen');
  });

  it('finds no false duplicate among a million distinct, similar values', () => {
    const set = new FingerprintSet(1_000_000);
    let seen = 0;
    for (let i = 0; i < 1_000_000; i++) if (set.add(`user${i}@example.com`) !== 'added') seen++;
    expect(seen).toBe(0);
  });
});
