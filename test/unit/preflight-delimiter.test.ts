// Unit tests of telling a file's delimiter from its first bytes: semicolons or tabs only for a table whose first column is what the attribute holds.
import { describe, expect, it } from 'vitest';
import { DELIMITER_SAMPLE_BYTES, DELIMITER_SAMPLE_ROWS, type DelimiterJudge, sniffDelimiter } from '../../lambdas/core/preflight-delimiter.js';
import { HeaderMatcher } from '../../lambdas/core/preflight-header.js';
import { checkFormat } from '../../lambdas/core/value-formats.js';
import { PREFLIGHT_HEADER_WORDS, ValueFormat } from '../../lambdas/shared/contract.js';

function judgeFor(attribute: string, format?: ValueFormat): DelimiterJudge {
  const header = new HeaderMatcher(attribute, PREFLIGHT_HEADER_WORDS);
  return { isHeader: (f) => header.match(f) !== undefined, isValue: format === undefined ? undefined : (f) => checkFormat(format, f) };
}
const EMAIL = judgeFor('Email Address', ValueFormat.email);
const CUSTOM = judgeFor('customer_id');
const sniff = (text: string, judge = EMAIL, final = true) => sniffDelimiter(Buffer.from(text, 'utf8'), final, judge).delimiter;

describe('sniffDelimiter', () => {
  it.each([
    ['a one-column list', 'ann@example.com\nbob@example.com\n', EMAIL, 'comma'],
    ['a comma export', 'email,name\nann@example.com,Ann\n', EMAIL, 'comma'],
    ['an Excel export in Turkish or German (semicolons, CRLF)', 'email;first_name\r\nann@example.com;Ann\r\nbob@example.com;Bob\r\n', EMAIL, 'semicolon'],
    ['a tab-separated export', 'email\tname\nann@example.com\tAnn\nbob@example.com\tBob\n', EMAIL, 'tab'],
    ['semicolons with empty cells, no header, values that pass the format', 'ann@example.com;;\nbob@example.com;;x\n', EMAIL, 'semicolon'],
    ['Excel\'s semicolons with unquoted commas in later fields', 'ann@example.com;Smith, Ann\nbob@example.com;Lee, Bob\n', EMAIL, 'semicolon'],
    ['a semicolon file whose quoted fields hold commas, with a header', 'name;email\n"Smith, Ann";ann@example.com\n"Lee, Bob";bob@example.com\n', judgeFor('name'), 'semicolon'],
    ['a comma file whose quoted fields hold semicolons', '"a;b",x\n"c;d",y\n', CUSTOM, 'comma'],
    ['semicolons in only some rows', 'a;b\nplain\nc;d\n', CUSTOM, 'comma'],
    ['a custom attribute\'s values that hold a semicolon, no header', 'A;1\nA;2\nB;1\n', CUSTOM, 'comma'],
    ['a custom attribute\'s table with its header', 'customer_id;score\nA;1\nB;2\n', CUSTOM, 'semicolon'],
    ['a list of emails written across rows (Outlook)', 'ann@example.com;bob@example.com\ncid@example.com;dan@example.com\n', EMAIL, 'comma'],
    ['several emails on one line', 'ann@example.com;bob@example.com;cid@example.com\n', EMAIL, 'comma'],
    ['a single row', 'ann@example.com;Ann\n', EMAIL, 'comma'],
    ['rows with different numbers of semicolons', 'email;name\nann@example.com;Ann\nbob@example.com;Bob;x\n', EMAIL, 'comma'],
    ['a comma file with a semicolon in every first field', 'Smith; Ann,ann@example.com\nLee; Bob,bob@example.com\n', judgeFor('customer_name'), 'comma'],
    ['values indented with a tab', '\tann@example.com\n\tbob@example.com\n\tcid@example.com\n', EMAIL, 'comma'],
    ['a comma file indented with tabs', '\tann@example.com,Ann\n\tbob@example.com,Bob\n', EMAIL, 'comma'],
    ['a quote in the middle of a field is a character', 'pipe 5" a;1\nplain-1\nplain-2\npipe 3" b;2\n', judgeFor('sku'), 'comma'],
    ['blank lines between rows', '\n  \nemail;name\n\n\t\nann@example.com;Ann\n', EMAIL, 'semicolon'],
    ['nothing but blank lines', '\n\n  \n', EMAIL, 'comma'],
    ['an empty file', '', EMAIL, 'comma'],
  ] as const)('%s', (_name, text, judge, expected) => {
    expect(sniff(text, judge)).toBe(expected);
  });

  it('follows Excel\'s separator line when the file starts with one, and says so', () => {
    expect(sniffDelimiter(Buffer.from('sep=;\r\nemail,name;x\r\n'), true, EMAIL)).toEqual({ delimiter: 'semicolon', separatorLine: true });
    expect(sniff('SEP=,\nemail;name\n')).toBe('comma');
    expect(sniff('sep=\t\na\tb\n')).toBe('tab');
    // Not a separator line: something follows the character, or it is not one of the three.
    expect(sniffDelimiter(Buffer.from('sep=;x\nann@example.com;1\nbob@example.com;2\n'), true, CUSTOM).separatorLine).toBe(false);
    expect(sniff('sep=|\na|b\n', CUSTOM)).toBe('comma');
  });

  it('judges whole rows only: a row cut off by the end of the sample does not count', () => {
    expect(sniff('email;name\nann@example.com;Ann\nbob', EMAIL, false)).toBe('semicolon');
    expect(sniff('email;name\nann@example.com;Ann\nbob', EMAIL, true)).toBe('comma');
  });

  it(`looks at the first ${DELIMITER_SAMPLE_ROWS} non-blank rows and ${DELIMITER_SAMPLE_BYTES / 1024} KB only`, () => {
    const rows = Array.from({ length: DELIMITER_SAMPLE_ROWS }, (_, i) => `user${i}@example.com;x`);
    expect(sniff(`${rows.join('\n')}\nlater,row;a;b\n`)).toBe('semicolon');
    expect(sniff(`${rows.slice(1).join('\n')}\nlater,row;a;b\n`)).toBe('comma');
    // Past the sample's bytes nothing counts, however much of the file was handed over.
    const long = `email;notes\n${'u@example.com;'}${'n'.repeat(DELIMITER_SAMPLE_BYTES)}\nv@example.com;x\n`;
    expect(sniff(long, EMAIL, false)).toBe(sniff(long.slice(0, DELIMITER_SAMPLE_BYTES + 10), EMAIL, false));
  });
});

describe('a list written across rows', () => {
  const PHONE = judgeFor('phone_number', ValueFormat.e164);
  const across = (text: string, judge = EMAIL, final = true) => sniffDelimiter(Buffer.from(text, 'utf8'), final, judge).acrossRows;
  const rows = (n: number, row: (i: number) => string) => `${Array.from({ length: n }, (_, i) => row(i)).join('\n')}\n`;

  it.each([
    ['emails pasted on one line with commas', 'ann@example.com,bob@example.com,cid@example.com,dan@example.com\n', EMAIL, { separator: 'comma', rows: 1, sent: 1, total: 4 }],
    ['with a space after each comma (a mail client\'s To: line)', 'ann@example.com, bob@example.com, cid@example.com', EMAIL, { separator: 'comma', rows: 1, sent: 1, total: 3 }],
    ['with semicolons (Outlook), one field as a comma file reads it', 'ann@example.com; bob@example.com; cid@example.com\r\n', EMAIL, { separator: 'semicolon', rows: 1, sent: 0, total: 3 }],
    ['three a row, two rows', 'a@example.com,b@example.com,c@example.com\nd@example.com,e@example.com,f@example.com\n', EMAIL, { separator: 'comma', rows: 2, sent: 2, total: 6 }],
    ['phone numbers, tab-separated', '+905321234567\t+905551234567\t+14155552671\n', PHONE, { separator: 'tab', rows: 1, sent: 0, total: 3 }],
    ['a pasted line with one entry that is no address', `${Array.from({ length: 40 }, (_, i) => (i === 25 ? 'u25@example' : `u${i}@example.com`)).join(', ')}\n`, EMAIL, { separator: 'comma', rows: 1, sent: 1, total: 39 }],
    ['a pasted line under a one-word header', `email\n${Array.from({ length: 10 }, (_, i) => `p${i}@example.com`).join(',')}\n`, EMAIL, { separator: 'comma', rows: 1, sent: 1, total: 10 }],
    ['a pasted line of 50 after a table\'s rows', `${rows(10, (i) => `u${i}@example.com,Ann ${i}`)}${Array.from({ length: 50 }, (_, i) => `p${i}@example.com`).join(',')}\n`, EMAIL, { separator: 'comma', rows: 11, sent: 11, total: 60 }],
    ['a pasted line after a few one-value rows', `u1@example.com\nu2@example.com\n${Array.from({ length: 20 }, (_, i) => `p${i}@example.com`).join(',')}\n`, EMAIL, { separator: 'comma', rows: 3, sent: 3, total: 22 }],
  ] as const)('tells %s', (_name, text, judge, expected) => {
    expect(across(text, judge)).toEqual(expected);
  });

  it.each([
    ['a one-column list', 'ann@example.com\nbob@example.com\n', EMAIL],
    // These are refused by the format check instead ("2 of 2 values are not email addresses").
    ['addresses in the second column of a headerless file', 'Ann Smith,ann@example.com\nBob Lee,bob@example.com\n', EMAIL],
    ['two addresses in one quoted field', '"ann@example.com, bob@example.com"\n', EMAIL],
    ['a first field that is no value, then values', 'Newsletter,ann@example.com,bob@example.com,cid@example.com\n', EMAIL],
    // Tables, however many of their columns hold addresses, and whatever their header looks like.
    ['a headerless dump with audit columns (email, name, created_by, updated_by)', rows(30, (i) => `u${i}@example.com,Ann ${i},admin@example.com,ops@example.com`), EMAIL],
    ['a headerless table of three address columns', rows(30, (i) => `u${i}@example.com,u${i}@work.example,u${i}@home.example`), EMAIL],
    ['a headerless (email, alt) dump sorted with the blank emails first', rows(30, (i) => (i < 20 ? `,u${i}@work.example` : `u${i}@example.com,u${i}@work.example`)), EMAIL],
    ['a header with a trailing delimiter', `Contact Email,Work Email,Personal Email,\n${rows(10, (i) => `u${i}@example.com,u${i}@work.example,u${i}@home.example,`)}`, EMAIL],
    ['a header with an empty cell', `Kundenmail;;Zweitmail;Drittmail\n${rows(10, (i) => `u${i}@example.com;;u${i}@work.example;u${i}@home.example`)}`, EMAIL],
    ['a title line above a known header', `Contacts export 2026-11-29\nEmail,Work Email,Personal Email\n${rows(10, (i) => `u${i}@example.com,u${i}@work.example,u${i}@home.example`)}`, EMAIL],
    ['an owner table with one row ending in an extra comma', rows(30, (i) => `u${i}@example.com,rep@example.com,mgr@example.com${i === 6 ? ',' : ''}`), EMAIL],
    ['an owner table with a fourth address on one row', rows(30, (i) => `u${i}@example.com,rep@example.com,mgr@example.com${i === 2 ? ',rep2@example.com' : ''}`), EMAIL],
    ['a daily list with one stray line of three', `${rows(15, (i) => `u${i}@example.com`)}a@example.com,b@example.com,c@example.com\n`, EMAIL],
    ['two address columns (email, second email)', rows(30, (i) => `u${i}@example.com,u${i}@work.example`), EMAIL],
    ['two address columns, one first cell blank', rows(30, (i) => (i === 5 ? `,u${i}@work.example` : `u${i}@example.com,u${i}@work.example`)), EMAIL],
    ['two address columns, one row with a third', rows(30, (i) => `u${i}@example.com,u${i}@work.example${i === 5 ? `,u${i}@home.example` : ''}`), EMAIL],
    ['two phone columns, one mobile missing', rows(20, (i) => `${i === 3 ? '' : `+9053212345${String(i).padStart(2, '0')}`},+9021221234${String(i).padStart(2, '0')}`), PHONE],
    ['addresses joined by semicolons in a later column (HubSpot\'s additional emails)', rows(30, (i) => `u${i}@example.com,Name ${i},u${i}@a.example;u${i}@b.example`), EMAIL],
    ['a table with a header, however many address columns', 'email,email2,email3\na@example.com,b@example.com,c@example.com\n', EMAIL],
    ['Insider\'s own attribute name as the header', 'Email Address;Other\na@example.com;b@example.com;c@example.com\n', EMAIL],
    ['a header the matcher does not know (Kundenmail, E-posta, Courriel)', `Kundenmail,Zweitmail,Drittmail\n${rows(10, (i) => `u${i}@example.com,u${i}@work.example,u${i}@home.example`)}`, EMAIL],
    ['an attribute with no format to tell values by', 'id-1,id-2,id-3,id-4\n', CUSTOM],
    ['one stray address in a long export', `${Array.from({ length: 10 }, (_, i) => `u${i},x`).join('\n')}\nu10,v@example.com\n`, EMAIL],
  ] as const)('leaves alone %s', (_name, text, judge) => {
    expect(across(text, judge)).toBeUndefined();
  });

  it(`sees one line longer than the ${DELIMITER_SAMPLE_BYTES / 1024} KB sample, cut off by its end`, () => {
    const line = Array.from({ length: 4000 }, (_, i) => `user${i}@example.com`).join(',');
    expect(line.length).toBeGreaterThan(DELIMITER_SAMPLE_BYTES);
    const found = across(`${line}\n`, EMAIL, false);
    expect(found).toMatchObject({ separator: 'comma', rows: 1, sent: 1 });
    expect(found?.total).toBeGreaterThan(3000);
    // The delimiter is still judged on whole rows only.
    expect(sniff(`${line}\n`, EMAIL, false)).toBe('comma');
  });

  it('reads a semicolon table of several address columns under a known header by its semicolons', () => {
    expect(sniff('E-Mail;E-Mail 2;E-Mail 3\na@example.com;b@example.com;c@example.com\nd@example.com;e@example.com;f@example.com\n', judgeFor('E-Mail', ValueFormat.email))).toBe('semicolon');
    // Without the header the same rows are a list written across rows, not cut on semicolons.
    expect(sniff('a@example.com;b@example.com;c@example.com\nd@example.com;e@example.com;f@example.com\n')).toBe('comma');
  });
});
