// Unit tests of the terminal tables: columns padded by what a terminal shows, cells cut between whole visible characters.
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { textTable, truncate } from '../../local/text-table.js';

describe('truncate', () => {
  it('leaves text that fits alone', () => {
    expect(truncate('VIP customers', 13)).toBe('VIP customers');
    expect(truncate('日本', 4)).toBe('日本');
  });

  it('cuts to the width in terminal columns, the ellipsis included', () => {
    expect(truncate('abcdefgh', 5)).toBe('abcd…');
    // Each of these takes two columns: four columns of them and the ellipsis make five.
    expect(truncate('日本の顧客リスト', 5)).toBe('日本…');
    expect(stringWidth(truncate('日本の顧客リスト', 5))).toBeLessThanOrEqual(5);
  });

  it('never splits an emoji, a family, a flag or a letter from its accent', () => {
    const family = '👨\u200d👩\u200d👧';
    for (const text of [`ab${family}cdef`, 'ab🇫🇷cdef', 'abe\u0301e\u0301e\u0301e\u0301', 'ab😀😀😀😀']) {
      for (let width = 2; width <= 6; width++) {
        const cut = truncate(text, width);
        expect(stringWidth(cut)).toBeLessThanOrEqual(width);
        // What is kept is a prefix of the text made of whole grapheme clusters.
        const kept = cut.endsWith('…') ? cut.slice(0, -1) : cut;
        const clusters = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)].map((s) => s.segment);
        const whole = Array.from({ length: clusters.length + 1 }, (_, i) => clusters.slice(0, i).join(''));
        expect(whole).toContain(kept);
      }
    }
  });
});

describe('textTable', () => {
  it('pads by display width, aligns right where asked, and trims line ends', () => {
    const out = textTable(['name', 'n'], [['日本', '1'], ['plain', '22']], { indent: '  ', align: ['left', 'right'] });
    expect(out.split('\n')).toEqual(['  name    n', '  -----  --', '  日本    1', '  plain  22']);
  });
});
