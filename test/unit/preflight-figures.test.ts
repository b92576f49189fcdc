// Unit tests of what a record keeps of a pre-flight report, the sentences made from it, and how long a prepared copy lives.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { preflight } from '../../lambdas/core/preflight.js';
import { describeCleanup, describeInvalidSent, describeValues, figuresOf } from '../../lambdas/core/preflight-figures.js';
import { preparedCopyRetentionDays } from '../../lambdas/shared/contract.js';

const scan = (text: string, attributeName = 'Email Address') => preflight(Readable.from([Buffer.from(text)]), { attributeName, maxBytes: 1_000_000 });

describe('figuresOf', () => {
  it('keeps counts, kinds and line numbers, and nothing the scanner may add later', async () => {
    const report = await scan('\ufeffEmail Address\r\n a@example.com \r\n\r\nnot-an-address\r\na@example.com\r\n');
    const figures = figuresOf({ ...report, someFutureField: 'a value' } as typeof report);
    expect(figures).toMatchObject({
      verdict: 'accept',
      changed: true,
      bom: true,
      lineEndings: 'crlf',
      header: { line: 1, matches: 'attribute' },
      values: 3,
      cleanValues: 2,
      blankLines: { count: 1, lines: [3] },
      duplicates: { count: 1, lines: [5] },
      invalidValues: { count: 1, lines: [4] },
    });
    expect(figures).not.toHaveProperty('someFutureField');
    expect(figures).not.toHaveProperty('reason');
    expect(JSON.stringify(figures)).not.toMatch(/example\.com|not-an-address/);
  });

  it('keeps a rejection and the problem that stopped the scan', async () => {
    const figures = figuresOf(await scan('a@example.com\n\u0000\n'));
    expect(figures).toMatchObject({ verdict: 'reject', rejection: 'notText', problem: { kind: 'nulByte', line: 2 }, complete: false });
  });
});

describe('describeCleanup', () => {
  it('says what the copy does, in one sentence a person reads', async () => {
    expect(describeCleanup(figuresOf(await scan('\ufeffemail\r\nb@example.com\r\n\r\nb@example.com\r\n')))).toBe(
      'removed the byte order mark; dropped the header row (line 1), 1 blank line and 1 duplicate (line 4); and wrote "\\n" line ends (the file had CRLF)',
    );
    expect(describeCleanup(figuresOf(await scan('"a@example.com",Ann\n')))).toBe('kept only the first column of 1 row');
    expect(describeCleanup(figuresOf(await scan('"a@example.com"\n')))).toBe('removed quotes the values did not need');
    expect(describeCleanup(figuresOf(await scan('a@example.com\n')))).toBe('');
  });

  it('names the separator of a semicolon or tab file whose first column it kept, and keeps the delimiter on the figures', async () => {
    const semicolons = figuresOf(await scan('a@example.com;Ann\nb@example.com;Bob\n'));
    expect(semicolons.delimiter).toBe('semicolon');
    expect(describeCleanup(semicolons)).toBe('kept only the first column of 2 rows (its fields are separated by semicolons)');
    expect(describeCleanup(figuresOf(await scan('a@example.com\tAnn\nb@example.com\tBob\n')))).toBe('kept only the first column of 2 rows (its fields are separated by tabs)');
    expect(describeCleanup(figuresOf(await scan('sep=;\nemail;name\na@example.com;Ann\n')))).toBe(
      "dropped Excel's separator line (line 1) and the header row (line 2); and kept only the first column of 2 rows (its fields are separated by semicolons)",
    );
    const { delimiter: _, ...older } = semicolons;
    expect(describeCleanup(older)).toBe('kept only the first column of 2 rows');
  });

  it('says which rows were dropped for a line break and which values it quoted, with line numbers only', async () => {
    expect(describeCleanup(figuresOf(await scan('pii-id-8\r\n"pii-id-9\r\ncont"\r\n', 'customer_id')))).toBe(
      'dropped 1 row with a line break inside a quoted value (line 2) and wrote "\\n" line ends (the file had CRLF)',
    );
    expect(describeCleanup(figuresOf(await scan('a\n"b\r\nc"\nd\n', 'customer_id')))).toBe('dropped 1 row with a line break inside a quoted value (line 2)');
    expect(describeCleanup(figuresOf(await scan('"a"b\n"c\nd"\ne\nf\ng\n', 'customer_id')))).toBe(
      'dropped 2 rows that could not be read (lines 1, 2), 1 of them with a line break inside a quoted value (line 2)',
    );
    expect(describeCleanup(figuresOf(await scan('pii-O"Brien\npii-id-5\n', 'customer_id')))).toBe('put quotes around 1 value with a quote mark inside (line 1)');
    expect(describeCleanup(figuresOf(await scan('a@example.com\n"b@example.com" \nc@example.com\nd@example.com\n')))).toBe(
      'dropped 1 row with text after the closing quote of its value, where even a space counts (line 2)',
    );
  });

  it('reads records written before line breaks and bare quotes were counted', async () => {
    const { lineBreakValues: _, bareQuotes: __, ...old } = figuresOf(await scan('a\n"b\nc"\nd\n', 'customer_id'));
    expect(describeCleanup(old)).toBe('dropped 1 row that could not be read (line 2)');
  });

  it('counts the values Insider gets and those failing the format', async () => {
    expect(describeValues(figuresOf(await scan('a@example.com\nb@example.com\n')))).toBe('2 values');
    expect(describeValues(figuresOf(await scan('+905321234567\na@example.com\n', 'pn')))).toBe('2 values (1 fails the E.164 phone format (line 2))');
    expect(describeValues(figuresOf(await scan('a@example.com\nnope\nb@example.com\nnada\nc@example.com\n')))).toBe('5 values (2 fail the email format (lines 2, 4))');
  });
});

describe('describeInvalidSent', () => {
  it('tells the user which values were sent although they fail the format, by line number only', async () => {
    const titled = figuresOf(await scan('Customer export generated 2026-11-29\n\nEmail\na@example.com\nb@example.com\nc@example.com\nd@example.com\n'));
    expect(titled.verdict).toBe('accept');
    expect(describeInvalidSent(titled)).toBe('2 values fail the email format (lines 1, 3) and were sent as they are: Insider will likely count them invalid.');
    const one = figuresOf(await scan('\u200be@example.com\nf@example.com\ng@example.com\n'));
    expect(describeInvalidSent(one)).toBe('1 value fails the email format (line 1) and was sent as it is: Insider will likely count it invalid.');
    expect(describeInvalidSent(one)).not.toContain('example.com');
  });

  it('says nothing when every value passes, or the attribute has no format', async () => {
    expect(describeInvalidSent(figuresOf(await scan('a@example.com\n')))).toBe('');
    expect(describeInvalidSent(figuresOf(await scan('anything\n', 'customer_id')))).toBe('');
  });
});

describe('preparedCopyRetentionDays', () => {
  it('outlives the longest file URL by a day, and is never under a day', () => {
    expect(preparedCopyRetentionDays(3600)).toBe(2);
    expect(preparedCopyRetentionDays(86_400)).toBe(2);
    expect(preparedCopyRetentionDays(86_401)).toBe(3);
    expect(preparedCopyRetentionDays(604_800)).toBe(8);
  });
});
