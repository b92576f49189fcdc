// Unit tests of the value formats (email, E.164 against libphonenumber-js), normalization and the duplicate fingerprints.
import metadata from 'libphonenumber-js/min/metadata';
import { describe, expect, it } from 'vitest';
import { FingerprintSet } from '../../lambdas/core/fingerprints.js';
import { formatForAttribute, isE164, isE164ByLibrary, isEmail, normalizeValue } from '../../lambdas/core/value-formats.js';

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
