// Unit tests of telling a file's delimiter from its first rows: semicolons and tabs only when every sampled row shows them.
import { describe, expect, it } from 'vitest';
import { DELIMITER_SAMPLE_ROWS, sniffDelimiter } from '../../lambdas/core/preflight-delimiter.js';

const sniff = (text: string, final = true) => sniffDelimiter(Buffer.from(text, 'utf8'), final);

describe('sniffDelimiter', () => {
  it.each([
    ['a one-column list', 'ann@example.com\nbob@example.com\n', 'comma'],
    ['a comma export', 'email,name\nann@example.com,Ann\n', 'comma'],
    ['an Excel export in Turkish or German (semicolons, CRLF)', 'email;first_name\r\nann@example.com;Ann\r\nbob@example.com;Bob\r\n', 'semicolon'],
    ['a tab-separated export', 'email\tname\nann@example.com\tAnn\n', 'tab'],
    ['semicolons with empty cells', 'ann@example.com;;\nbob@example.com;;x\n', 'semicolon'],
    ['a semicolon file whose quoted fields hold commas', '"Smith, Ann";ann@example.com\n"Lee, Bob";bob@example.com\n', 'semicolon'],
    ['a comma file whose quoted fields hold semicolons', '"a;b",x\n"c;d",y\n', 'comma'],
    ['a semicolon file with a comma in one value', 'a;b\nc;d\ne,f;g\n', 'semicolon'],
    ['Excel\'s semicolons with unquoted commas in later fields', 'ann@example.com;Smith, Ann\nbob@example.com;Lee, Bob\n', 'semicolon'],
    ['a comma file with a semicolon in a later field of every row', 'ann@example.com,Smith; Ann\nbob@example.com,Lee; Bob\n', 'comma'],
    ['a comma file whose rows have different numbers of columns', 'a,b\nc,d,e\nf,g\n', 'comma'],
    ['a header with the semicolons, rows with commas in their second field', 'email;name\nann@example.com;Smith, Ann\n', 'semicolon'],
    ['semicolons in only some rows', 'a;b\nplain\nc;d\n', 'comma'],
    ['a single row with a semicolon', 'ann@example.com;Ann', 'semicolon'],
    ['blank lines and spaces between rows', '\n  \na;b\n\n\t\nc;d\n', 'semicolon'],
    ['both semicolons and tabs in every row', 'a;b\tc\nd;e\tf\n', 'semicolon'],
    ['nothing but blank lines', '\n\n  \n', 'comma'],
    ['an empty file', '', 'comma'],
    ['a quoted value running over lines', '"multi\nline";x\ny;z\n', 'semicolon'],
  ])('%s: %s', (_name, text, expected) => {
    expect(sniff(text)).toBe(expected);
  });

  it('follows Excel\'s separator line when the file starts with one', () => {
    expect(sniff('sep=;\r\nemail,name;x\r\n')).toBe('semicolon');
    expect(sniff('SEP=,\nemail;name\n')).toBe('comma');
    expect(sniff('sep=\t\na\tb\n')).toBe('tab');
    expect(sniff('sep=;', false)).toBe('semicolon');
    // Not a separator line: something follows the character, or it is not one of the three.
    expect(sniff('sep=;x\na;b\n')).toBe('semicolon');
    expect(sniff('sep=|\na|b\n')).toBe('comma');
    expect(sniff(' sep=;\na,b\n')).toBe('comma');
  });

  it('does not judge a row cut off by the end of the sample', () => {
    // The last row may go on past the sample with a comma in it: only whole rows count.
    expect(sniff('a;b\nc;d\ne', false)).toBe('semicolon');
    expect(sniff('a;b\nc;d\ne', true)).toBe('comma');
    expect(sniff('a;b', false)).toBe('comma');
  });

  it(`looks at the first ${DELIMITER_SAMPLE_ROWS} non-blank rows only`, () => {
    const rows = Array.from({ length: DELIMITER_SAMPLE_ROWS }, (_, i) => `user${i}@example.com;x`);
    expect(sniff(`${rows.join('\n')}\nlater,row\n`)).toBe('semicolon');
    expect(sniff(`${rows.slice(1).join('\n')}\nlater,row\n`)).toBe('comma');
  });
});
