// Unit tests of the pre-flight scanner, byte by byte: counts, line numbers, verdicts and the clean copy, over every chunking.
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { type PreflightOptions, type PreflightReport, preflight } from '../../lambdas/core/preflight.js';

const MB = 1024 * 1024;

interface Scan {
  report: PreflightReport;
  copy: string;
}

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const bytesOf = (input: string | Buffer): Buffer => (typeof input === 'string' ? Buffer.from(input, 'utf8') : input);

async function scanOnce(input: string | Buffer, options: Partial<PreflightOptions>, chunkSize: number): Promise<Scan> {
  const parts: Buffer[] = [];
  const report = await preflight(chunksOf(bytesOf(input), chunkSize), {
    attributeName: 'Email Address',
    maxBytes: 10 * MB,
    sink: (chunk) => {
      parts.push(Buffer.from(chunk));
    },
    ...options,
  });
  return { report, copy: Buffer.concat(parts).toString('utf8') };
}

const withoutTiming = ({ durationMs: _, ...rest }: PreflightReport) => rest;

/**
 * Scans `input` cut into chunks of 1, 2, 3, 5 and 64 KB bytes (so every boundary falls inside a BOM, a
 * CRLF, a multi-byte character and a quoted value somewhere) and checks that every cut gives the same
 * figures and the same copy. A scan that stops early has read more or less depending on the cut: then
 * only the verdict must agree.
 */
async function scan(input: string | Buffer, options: Partial<PreflightOptions> = {}, { stopsEarly = false } = {}): Promise<Scan> {
  const whole = await scanOnce(input, options, 64 * 1024);
  for (const size of [1, 2, 3, 5]) {
    const cut = await scanOnce(input, options, size);
    if (stopsEarly) {
      const { verdict, rejection, reason, problem } = cut.report;
      expect({ verdict, rejection, reason, problem }, `chunks of ${size} bytes`).toEqual({
        verdict: whole.report.verdict,
        rejection: whole.report.rejection,
        reason: whole.report.reason,
        problem: whole.report.problem,
      });
      continue;
    }
    expect(withoutTiming(cut.report), `chunks of ${size} bytes`).toEqual(withoutTiming(whole.report));
    expect(cut.copy, `chunks of ${size} bytes`).toBe(whole.copy);
  }
  return whole;
}

describe('a clean file', () => {
  it('is accepted unchanged, and the copy is the file', async () => {
    const input = 'ann@example.com\nbob@example.com\ncid@example.org\n';
    const { report, copy } = await scan(input);
    expect(report).toMatchObject({
      verdict: 'accept',
      changed: false,
      changes: [],
      format: 'email',
      bom: false,
      lineEndings: { kind: 'lf', lf: 3, crlf: 0, cr: 0 },
      lines: 3,
      rows: 3,
      values: 3,
      cleanValues: 3,
      header: null,
      complete: true,
      bytes: input.length,
      bytesRead: input.length,
      cleanBytes: input.length,
    });
    expect(copy).toBe(input);
  });

  it('needs no copy for a missing final line end', async () => {
    const { report, copy } = await scan('ann@example.com\nbob@example.com');
    expect(report).toMatchObject({ verdict: 'accept', changed: false, lines: 2, values: 2 });
    expect(copy).toBe('ann@example.com\nbob@example.com\n');
  });
});

describe('bytes and line ends', () => {
  it('drops a BOM', async () => {
    const { report, copy } = await scan('\ufeffann@example.com\nbob@example.com\n');
    expect(report).toMatchObject({ verdict: 'accept', bom: true, changed: true, changes: ['bom'], values: 2 });
    expect(copy).toBe('ann@example.com\nbob@example.com\n');
  });

  it.each([
    ['CRLF', 'a@x.com\r\nb@x.com\r\n', { kind: 'crlf', lf: 0, crlf: 2, cr: 0 }],
    ['CR only', 'a@x.com\rb@x.com\r', { kind: 'cr', lf: 0, crlf: 0, cr: 2 }],
    ['mixed', 'a@x.com\r\nb@x.com\nc@x.com\rd@x.com', { kind: 'mixed', lf: 1, crlf: 1, cr: 1 }],
  ])('rewrites %s line ends as LF', async (_, input, lineEndings) => {
    const { report, copy } = await scan(input);
    expect(report.lineEndings).toEqual(lineEndings);
    expect(report.changes).toEqual(['lineEndings']);
    expect(report.values).toBe(copy.split('\n').length - 1);
    expect(copy).toMatch(/^(?:[a-d]@x\.com\n)+$/);
  });

  it('counts blank and whitespace-only lines with their line numbers and drops them', async () => {
    const { report, copy } = await scan('\na@x.com\n   \nb@x.com\n\t \n\nc@x.com\n\n');
    expect(report.blankLines).toEqual({ count: 5, lines: [1, 3, 5, 6, 8] });
    expect(report).toMatchObject({ verdict: 'accept', changes: ['blankLines'], values: 3, lines: 8 });
    expect(copy).toBe('a@x.com\nb@x.com\nc@x.com\n');
  });

  it('keeps five line numbers per problem and the full count', async () => {
    const { report } = await scan(`a@x.com\n${'\n'.repeat(12)}b@x.com\n`);
    expect(report.blankLines).toEqual({ count: 12, lines: [2, 3, 4, 5, 6] });
  });
});

describe('files with no values', () => {
  it.each([
    ['empty (0 bytes)', '', 'The file is empty: there are no values to build a segment from.'],
    ['blank lines', '\n\n\n', 'The file has no values: it holds only 3 blank lines. Put one value per line in the first column.'],
    ['whitespace only', '  \t \r\n \n', 'The file has no values: it holds only 2 blank lines. Put one value per line in the first column.'],
    ['a BOM only', '\ufeff', 'The file has no values: it holds only a byte-order mark. Put one value per line in the first column.'],
    [
      'a BOM and a line end',
      '\ufeff\r\n',
      'The file has no values: it holds only a byte-order mark and 1 blank line. Put one value per line in the first column.',
    ],
    [
      'a header only',
      'Email Address\n\n',
      'The file has no values: it holds only 1 blank line and a header row (line 1). Put one value per line in the first column.',
    ],
    [
      'empty first columns',
      ',x\n"",y\n',
      'The file has no values: it holds only 2 rows with an empty first column. Put one value per line in the first column.',
    ],
  ])('rejects a file of %s', async (_, input, reason) => {
    const { report } = await scan(input);
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'empty', reason, values: 0 });
  });
});

describe('header row', () => {
  it('drops a first row equal to the attribute name in another case', async () => {
    const { report, copy } = await scan('EMAIL ADDRESS\nann@example.com\n');
    expect(report).toMatchObject({ verdict: 'accept', header: { line: 1, matches: 'attribute' }, changes: ['header'], values: 1, rows: 2 });
    expect(copy).toBe('ann@example.com\n');
  });

  it('matches the attribute with spaces, underscores and dashes alike (Insider\'s "Store ID")', async () => {
    const { report, copy } = await scan('Store ID\nS-1\nS-2\n', { attributeName: 'store_id' });
    expect(report).toMatchObject({ header: { line: 1, matches: 'attribute' }, format: null, values: 2 });
    expect(copy).toBe('S-1\nS-2\n');
  });

  it.each(['email', 'E-Mail', 'e_mail_address', 'Phone Number', 'MSISDN', 'customer id', 'Value'])('takes the header word "%s" for any attribute', async (word) => {
    const { report, copy } = await scan(`${word}\nann@example.com\n`, { attributeName: 'em' });
    expect(report.header).toEqual({ line: 1, matches: 'word' });
    expect(copy).toBe('ann@example.com\n');
  });

  it('looks at the first non-blank row only, quoted or not, first column only', async () => {
    const { report, copy } = await scan('\n\n"email",name\nann@example.com\nemail\n');
    expect(report.header).toEqual({ line: 3, matches: 'word' });
    // A header word further down is a value (an invalid one).
    expect(report).toMatchObject({ values: 2, invalidValues: { count: 1, lines: [5] } });
    expect(copy).toBe('ann@example.com\nemail\n');
  });

  it('is no header when the first row is a value', async () => {
    const { report } = await scan('ann@example.com\nbob@example.com\n');
    expect(report.header).toBeNull();
  });

  it('uses the header words given instead of the defaults', async () => {
    const { report } = await scan('Kunde\nann@example.com\n', { headerWords: ['kunde'] });
    expect(report.header).toEqual({ line: 1, matches: 'word' });
    const { report: defaults } = await scan('email\nann@example.com\n', { headerWords: ['kunde'] });
    expect(defaults.header).toBeNull();
  });
});

describe('values', () => {
  it('trims padded values and counts them', async () => {
    const { report, copy } = await scan(' ann@example.com\nbob@example.com  \n\tcid@example.com\t\ndan@example.com\n');
    expect(report.paddedValues).toEqual({ count: 3, lines: [1, 2, 3] });
    expect(report.changes).toEqual(['paddedValues']);
    expect(copy).toBe('ann@example.com\nbob@example.com\ncid@example.com\ndan@example.com\n');
  });

  it('drops exact duplicates (after trimming), keeping the first', async () => {
    const { report, copy } = await scan('a@x.com\nb@x.com\na@x.com\n a@x.com\nA@x.com\nb@x.com\n');
    expect(report.duplicates).toEqual({ count: 3, lines: [3, 4, 6], complete: true });
    expect(report).toMatchObject({ values: 6, cleanValues: 3, changes: ['paddedValues', 'duplicates'] });
    expect(copy).toBe('a@x.com\nb@x.com\nA@x.com\n');
  });

  it('keeps the first column of rows with more than one', async () => {
    const { report, copy } = await scan('a@x.com,Ann,1\nb@x.com\nc@x.com,\n');
    expect(report.multiColumnRows).toEqual({ count: 2, lines: [1, 3] });
    expect(report.changes).toEqual(['extraColumns']);
    expect(copy).toBe('a@x.com\nb@x.com\nc@x.com\n');
  });

  it('drops rows whose first column is empty', async () => {
    const { report, copy } = await scan('a@x.com\n,b@x.com\n" ",x\n');
    expect(report.emptyValues).toEqual({ count: 2, lines: [2, 3] });
    expect(report).toMatchObject({ verdict: 'accept', values: 1, rows: 3 });
    expect(copy).toBe('a@x.com\n');
  });
});

describe('quoting', () => {
  it('reads quoted values with commas and quotes, and quotes them in the copy only when needed', async () => {
    // Until the line-break rule, the value on lines 4-5 was kept and written across two lines of the copy.
    const input = '"a@x.com"\n"b,c@x.com"\n"d""e@x.com"\n"multi\nline@x.com",2\n"f@x.com",x\n';
    const { report, copy } = await scan(input, { attributeName: 'custom' });
    expect(report).toMatchObject({ verdict: 'accept', rows: 5, values: 4, lines: 6 });
    expect(report.unneededQuotes).toEqual({ count: 1, lines: [1] });
    expect(report.multiColumnRows).toEqual({ count: 1, lines: [6] });
    expect(report.lineBreakValues).toEqual({ count: 1, lines: [4] });
    expect(copy).toBe('a@x.com\n"b,c@x.com"\n"d""e@x.com"\nf@x.com\n');
  });

  it('reads warehouse exports that quote every field, with the first column as the value', async () => {
    const input = '\ufeff"EMAIL","NAME","SINCE"\r\n"a@x.com","Ann, Jr.","2026-01-01"\r\nb@x.com,"Bob",\r\n"c@x.com",,x\r\n';
    const { report, copy } = await scan(input);
    expect(report).toMatchObject({ verdict: 'accept', header: { line: 1, matches: 'word' }, values: 3, multiColumnRows: { count: 4 } });
    expect(report.changes).toEqual(['bom', 'lineEndings', 'header', 'extraColumns']);
    expect(copy).toBe('a@x.com\nb@x.com\nc@x.com\n');
    const slow = await scan(input, { csvParseOnly: true });
    expect(withoutTiming(slow.report)).toEqual(withoutTiming(report));
  });

  it('leaves needed quoting alone: no copy needed', async () => {
    const input = '"a,b"\n"c""d"\nplain\n';
    const { report, copy } = await scan(input, { attributeName: 'custom' });
    expect(report).toMatchObject({ changed: false, unneededQuotes: { count: 0, lines: [] } });
    expect(copy).toBe(input);
  });

  it('says why when every row is unreadable: a space after the closing quote', async () => {
    const { report } = await scan('"a@example.com" \n"b@example.com" \n"c@example.com" \n');
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'empty', unparseableRows: { count: 3 } });
    expect(report.reason).toBe(
      'The file has no values: it holds only 3 unreadable rows (text after the closing quote of a value, even a space). Put one value per line in the first column.',
    );
  });

  it('rejects a quote that is never closed, naming its line, and reads the whole file', async () => {
    const { report } = await scan('a@x.com\nb@x.com\n"c@x.com\nd@x.com\ne@x.com\n');
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notCsv',
      reason: 'The file is not valid CSV: the quote opened on line 3 is never closed.',
      problem: { kind: 'unterminatedQuote', line: 3 },
      complete: true,
    });
  });

  it('keeps a value with a quote inside an unquoted field, drops one with text after its closing quote, and reads on', async () => {
    // Until quotes were relaxed, line 2 was dropped as unreadable too.
    const { report, copy } = await scan('a@x.com\nb"@x.com\n"c"d@x.com\ne@x.com\nf@x.com\n');
    expect(report).toMatchObject({ verdict: 'accept', values: 4, rows: 5, changes: ['bareQuotes', 'unparseableRows'] });
    expect(report.bareQuotes).toEqual({ count: 1, lines: [2] });
    expect(report.unparseableRows).toEqual({ count: 1, lines: [3] });
    expect(report.lineBreakValues).toEqual({ count: 0, lines: [] });
    expect(copy).toBe('a@x.com\n"b""@x.com"\ne@x.com\nf@x.com\n');
  });

  it('rejects a file where more than half the rows have text after a closing quote', async () => {
    const { report, copy } = await scan('"a@x.com" \n"b@x.com"x,1\nc@x.com\n');
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notCsv',
      reason: 'The file is not valid CSV: 2 of 3 rows cannot be read (lines 1 and 2): text after the closing quote of a value, even a space.',
    });
    expect(copy).toBe('c@x.com\n');
  });

  it('reads JSON lines as values (their quotes are characters), so the format check judges them', async () => {
    // Until quotes were relaxed, these rows were unreadable and the file rejected as "not valid CSV".
    const { report } = await scan('{"em": "a@x.com"}\n{"em": "b@x.com"}\nc@x.com\n');
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'invalidValues', values: 3, bareQuotes: { count: 2, lines: [1, 2] }, unparseableRows: { count: 0 } });
    expect(report.reason).toMatch(/^2 of 3 values are not email addresses \(lines 1 and 2\)/);
  });

  it('reads on after a stray quote followed by more than a line of text', async () => {
    // The quote opens no value (it is mid-field), so the next lines are rows of their own. Until quotes
    // were relaxed, line 1 was dropped as unreadable; now it is a value with a quote in it.
    const rows = Array.from({ length: 50 }, (_, i) => `u${i}@x.com`).join('\n');
    const { report, copy } = await scan(`ab"c\n${rows}\n`, { maxLineLength: 100, attributeName: 'custom' });
    expect(report).toMatchObject({ verdict: 'accept', values: 51, bareQuotes: { count: 1, lines: [1] }, unparseableRows: { count: 0, lines: [] } });
    expect(copy).toBe(`"ab""c"\n${rows}\n`);
  });

  it('parses the same with csv-parse alone', async () => {
    const input =
      '\ufeffEmail\r\n a@x.com\r\n"b@x.com",Bob\r\n\r\n"c,d@x.com"\r\n"e""f@x.com"\r\n"multi\r\nline@x.com"\r\na@x.com\rg@x.com\n ""\n"h@x.com" \n';
    const fast = await scan(input);
    const slow = await scan(input, { csvParseOnly: true });
    expect(withoutTiming(fast.report)).toEqual(withoutTiming(slow.report));
    expect(fast.copy).toBe(slow.copy);
  });
});

/** The copy as a strict RFC 4180 reader and the FPS simulator's relaxed one read it: the first column of each row. */
/** A seeded random number generator, so a failing random file can be made again. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readCopy(copy: string): { strict: string[]; relaxed: string[] } {
  const firsts = (rows: string[][]) => rows.map((row) => row[0] ?? '');
  return {
    strict: firsts(parseCsv(copy, { relax_quotes: false, relax_column_count: true })),
    relaxed: firsts(parseCsv(copy, { relax_quotes: true, relax_column_count: true, trim: true })),
  };
}

describe('a quote inside an unquoted value', () => {
  it('is a character: the value is kept, and the copy quotes it so a CSV reader gets it as written', async () => {
    const { report, copy } = await scan('pii-O"Brien\npii-id-5\npii-id-6\n', { attributeName: 'customer_id' });
    expect(report).toMatchObject({ verdict: 'accept', changed: true, changes: ['bareQuotes'], rows: 3, values: 3, cleanValues: 3 });
    expect(report.bareQuotes).toEqual({ count: 1, lines: [1] });
    expect(report.unparseableRows).toEqual({ count: 0, lines: [] });
    expect(copy).toBe('"pii-O""Brien"\npii-id-5\npii-id-6\n');
    const read = readCopy(copy);
    expect(read.strict).toEqual(['pii-O"Brien', 'pii-id-5', 'pii-id-6']);
    expect(read.relaxed).toEqual(read.strict);
  });

  it('is read the same in any column, after spaces, in non-ASCII lines and by csv-parse alone', async () => {
    const input = 'a@x.com\nO"Brien,x\n "q"\nmü"ller\nsay ""hi""\n"ok","x"y"\n';
    const { report, copy } = await scan(input, { attributeName: 'custom' });
    expect(report).toMatchObject({ verdict: 'accept', values: 6, unparseableRows: { count: 0 } });
    expect(report.bareQuotes).toEqual({ count: 4, lines: [2, 3, 4, 5] });
    expect(report.paddedValues).toEqual({ count: 1, lines: [3] });
    // A quote in a later column is dropped with the column.
    expect(report.multiColumnRows).toEqual({ count: 2, lines: [2, 6] });
    expect(readCopy(copy).strict).toEqual(['a@x.com', 'O"Brien', '"q"', 'mü"ller', 'say ""hi""', 'ok']);
    const slow = await scan(input, { attributeName: 'custom', csvParseOnly: true });
    expect(withoutTiming(slow.report)).toEqual(withoutTiming(report));
    expect(slow.copy).toBe(copy);
  });

  it('still lets a quoted value run over lines when its quote opens the field', async () => {
    const { report } = await scan('a"b\n"c,\nd",e\nf\n', { attributeName: 'custom' });
    expect(report).toMatchObject({ rows: 3, values: 2, lines: 4, bareQuotes: { count: 1, lines: [1] }, lineBreakValues: { count: 1, lines: [2] } });
  });

  it('leaves an unclosed quoted value fatal', async () => {
    const { report } = await scan('a"b\nc@x.com\n"d@x.com\ne@x.com\n');
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'notCsv', problem: { kind: 'unterminatedQuote', line: 3 }, bareQuotes: { count: 1, lines: [1] } });
  });
});

describe('a line break inside a quoted value', () => {
  it('is never sent: the row is dropped and counted, and the copy is written without it', async () => {
    const { report, copy } = await scan('"pii-id-1\npii-id-2"\npii-id-3\n', { attributeName: 'customer_id' });
    expect(report).toMatchObject({ verdict: 'accept', changed: true, changes: ['unparseableRows'], rows: 2, values: 1, cleanValues: 1, lines: 3 });
    expect(report.unparseableRows).toEqual({ count: 1, lines: [1] });
    expect(report.lineBreakValues).toEqual({ count: 1, lines: [1] });
    expect(report.lineEndings).toEqual({ kind: 'lf', lf: 2, crlf: 0, cr: 0 });
    expect(copy).toBe('pii-id-3\n');
  });

  it('is dropped with CRLF too, and the copy holds no CR', async () => {
    const { report, copy } = await scan('pii-id-8\r\n"pii-id-9\r\ncont"\r\n', { attributeName: 'customer_id' });
    expect(report).toMatchObject({ verdict: 'accept', changes: ['lineEndings', 'unparseableRows'], values: 1, lineBreakValues: { count: 1, lines: [2] } });
    // Two line ends between rows; the one inside the value is not the file's.
    expect(report.lineEndings).toEqual({ kind: 'crlf', lf: 0, crlf: 2, cr: 0 });
    expect(copy).toBe('pii-id-8\n');
  });

  it('does not count as a line end of the file, so LF files are not said to have had CR', async () => {
    const { report, copy } = await scan('a@x.com\n"b@x.com\r\nc"\nd@x.com\n"e\rf"\n');
    expect(report.lineEndings).toEqual({ kind: 'lf', lf: 4, crlf: 0, cr: 0 });
    expect(report.changes).toEqual(['unparseableRows']);
    expect(report.lineBreakValues).toEqual({ count: 2, lines: [2, 5] });
    expect(copy).toBe('a@x.com\nd@x.com\n');
  });

  it('is trimmed like a space at either end of the value', async () => {
    const { report, copy } = await scan('"a@x.com\n"\nb@x.com\n');
    expect(report).toMatchObject({ values: 2, paddedValues: { count: 1, lines: [1] }, lineBreakValues: { count: 0 } });
    expect(copy).toBe('a@x.com\nb@x.com\n');
  });

  it('in a later column leaves the value alone', async () => {
    const { report, copy } = await scan('a@x.com,"Ann\nSmith"\nb@x.com\n');
    expect(report).toMatchObject({ values: 2, lineBreakValues: { count: 0 }, multiColumnRows: { count: 1, lines: [1] } });
    expect(copy).toBe('a@x.com\nb@x.com\n');
  });

  it('rejects the file when more than maxInvalidShare of the rows have one, naming the problem', async () => {
    const { report } = await scan('"a@x.com\nb@x.com"\n"c@x.com\r\nd@x.com"\ne@x.com\n');
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notCsv',
      reason: 'The file is not valid CSV: 2 of 3 rows cannot be read (lines 1 and 3): a line break inside a quoted value (Insider reads one value per line).',
    });
    const mixed = await scan('"a@x.com\nb@x.com"\n"c@x.com"d\ne@x.com\n');
    expect(mixed.report.reason).toBe(
      'The file is not valid CSV: 2 of 3 rows cannot be read (lines 1 and 3): 1 with a line break inside a quoted value (Insider reads one value per line), 1 with text after the closing quote of a value, even a space.',
    );
    const tolerated = await scan('"a@x.com\nb@x.com"\nc@x.com\nd@x.com\n');
    expect(tolerated.report).toMatchObject({ verdict: 'accept', lineBreakValues: { count: 1, lines: [1] } });
  });
});

describe('csv-parse alone and the quote-free fast path agree', () => {
  // Random files from the shapes real exports have: valid CSV, and CSV with rows csv-parse cannot read.
  const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  function randomFile(seed: number, malformed: boolean): string {
    const random = mulberry32(seed);
    const values = ['a@x.com', 'B@x.com', 'c,d@x.com', 'e"f@x.com', 'multi\nline', '', ' ', 'Email Address', '+14155552671', 'ü@x.de'];
    const endings = ['\n', '\r\n', '\r'];
    let out = random() < 0.3 ? '\ufeff' : '';
    const rows = 1 + Math.floor(random() * 30);
    for (let i = 0; i < rows; i++) {
      const value = pick(random, values);
      const needsQuotes = /[",\r\n]/.test(value);
      const quoted = needsQuotes || random() < 0.3 ? `"${value.replace(/"/g, '""')}"` : value;
      // Spaces after a quoted field make a row unreadable (text after its closing quote); before it, the
      // quotes are characters of an unquoted value.
      const padded = (malformed || quoted === value) && random() < 0.2 ? ` ${quoted} ` : quoted;
      const extra = random() < 0.2 ? `,${pick(random, ['x', '"y,z"', ''])}` : '';
      out += (random() < 0.1 ? '' : padded + extra) + pick(random, endings);
    }
    return out;
  }

  it.each(Array.from({ length: 60 }, (_, i) => i + 1))('valid random file %i', async (seed) => {
    const input = randomFile(seed, false);
    const fast = await scanOnce(input, {}, 64 * 1024);
    const slow = await scanOnce(input, { csvParseOnly: true }, 64 * 1024);
    expect(withoutTiming(fast.report)).toEqual(withoutTiming(slow.report));
    expect(fast.copy).toBe(slow.copy);
    // In valid CSV only a value holding a line break is unreadable (until the line-break rule: none was).
    expect(fast.report.unparseableRows).toEqual(fast.report.lineBreakValues);
    // The copy is one value per line, and a strict CSV reader reads it.
    expect(fast.copy).not.toMatch(/\r/);
    expect(readCopy(fast.copy).strict).toHaveLength(fast.report.cleanValues);
  });

  it.each(Array.from({ length: 60 }, (_, i) => i + 101))('random file with malformed rows %i', async (seed) => {
    const input = randomFile(seed, true);
    const fast = await scanOnce(input, {}, 64 * 1024);
    const slow = await scanOnce(input, { csvParseOnly: true }, 64 * 1024);
    expect(withoutTiming(fast.report)).toEqual(withoutTiming(slow.report));
    expect(fast.copy).toBe(slow.copy);
  });
});

describe('semicolon and tab files', () => {
  // Excel saves "CSV" with semicolons where the list separator is one (Turkish, German, French, …).
  const excelTurkish = '\ufeffemail;first_name;last_name\r\nann@example.com;Ann;Yılmaz\r\nbob@example.com;Bob;Kaya\r\ncid@example.com;;\r\n';

  it('takes the first field of a semicolon export, drops its header and says so', async () => {
    const { report, copy } = await scan(excelTurkish, { attributeName: 'email' });
    expect(report).toMatchObject({
      verdict: 'accept',
      delimiter: 'semicolon',
      header: { line: 1, matches: 'attribute' },
      values: 3,
      cleanValues: 3,
      invalidValues: { count: 0 },
      multiColumnRows: { count: 4, lines: [1, 2, 3, 4] },
      changes: ['bom', 'lineEndings', 'header', 'extraColumns'],
    });
    expect(copy).toBe('ann@example.com\nbob@example.com\ncid@example.com\n');
    const slow = await scan(excelTurkish, { attributeName: 'email', csvParseOnly: true });
    expect(withoutTiming(slow.report)).toEqual(withoutTiming(report));
    expect(slow.copy).toBe(copy);
  });

  it('takes the first field of a tab-separated export', async () => {
    const input = 'Phone Number\tname\n+905321234567\tAnn\n+905321234568\tBob\n';
    const { report, copy } = await scan(input, { attributeName: 'Phone Number' });
    expect(report).toMatchObject({ verdict: 'accept', delimiter: 'tab', header: { line: 1 }, values: 2, invalidValues: { count: 0 }, multiColumnRows: { count: 3 } });
    expect(copy).toBe('+905321234567\n+905321234568\n');
  });

  it('quotes a value holding a comma in the copy, whether the file quoted it or not', async () => {
    const input = 'customer_name;id\nSmith, Ann;1\n"Lee, Bob";2\nplain;3\nKaya, Cem;\n"quoted";4\n';
    const { report, copy } = await scan(input, { attributeName: 'customer_name' });
    expect(report).toMatchObject({ verdict: 'accept', delimiter: 'semicolon', header: { line: 1 }, values: 5, unneededQuotes: { count: 0 }, multiColumnRows: { count: 6 } });
    expect(copy).toBe('"Smith, Ann"\n"Lee, Bob"\nplain\n"Kaya, Cem"\nquoted\n');
    expect(readCopy(copy).strict).toEqual(['Smith, Ann', 'Lee, Bob', 'plain', 'Kaya, Cem', 'quoted']);
    const slow = await scan(input, { attributeName: 'customer_name', csvParseOnly: true });
    expect(withoutTiming(slow.report)).toEqual(withoutTiming(report));
    expect(slow.copy).toBe(copy);
  });

  it('quotes a one-column row with a comma in a semicolon file, which the file could leave as it was', async () => {
    const input = 'Kaya, Cem\nplain\n';
    for (const csvParseOnly of [false, true]) {
      const { report, copy } = await scan(input, { attributeName: 'customer_name', delimiter: 'semicolon', csvParseOnly });
      expect(report).toMatchObject({ verdict: 'accept', delimiter: 'semicolon', values: 2, unneededQuotes: { count: 0 }, multiColumnRows: { count: 0 } });
      expect(copy).toBe('"Kaya, Cem"\nplain\n');
    }
  });

  it('follows Excel\'s separator line, leaves it out, and finds the header below it', async () => {
    const input = 'sep=;\r\nemail;name\r\nann@example.com;Smith, Ann\r\nbob@example.com;Lee\r\n';
    const { report, copy } = await scan(input, { attributeName: 'email' });
    expect(report).toMatchObject({ verdict: 'accept', delimiter: 'semicolon', separatorLine: true, header: { line: 2 }, rows: 3, values: 2, invalidValues: { count: 0 } });
    expect(report.changes).toEqual(['lineEndings', 'separatorLine', 'header', 'extraColumns']);
    expect(copy).toBe('ann@example.com\nbob@example.com\n');
    const slow = await scan(input, { attributeName: 'email', csvParseOnly: true });
    expect(withoutTiming(slow.report)).toEqual(withoutTiming(report));
    const comma = await scan('sep=,\nEmail\na@example.com\n');
    expect(comma.report).toMatchObject({ delimiter: 'comma', separatorLine: true, header: { line: 2 }, values: 1 });
    expect(comma.copy).toBe('a@example.com\n');
    // Only on line 1.
    const later = await scan('a@example.com\nsep=,x\n', { attributeName: 'custom' });
    expect(later.report).toMatchObject({ separatorLine: false, values: 2 });
    const alone = await scan('sep=;\nemail;name\n', { attributeName: 'email' });
    expect(alone.report.reason).toBe("The file has no values: it holds only Excel's separator line (line 1) and a header row (line 2). Put one value per line in the first column.");
  });

  it('tells the delimiter from the same bytes however the file arrives in chunks', async () => {
    const files = [
      // Blank lines first: whole rows, not line ends, are counted.
      `${'\n'.repeat(90)}email;name\nann@example.com;Ann\nbob@example.com;Bob\n`,
      // Rows that run past the sample's 64 KB.
      `email;notes\r\n${Array.from({ length: 14 }, (_, i) => `u${i}@example.com;${'n'.repeat(5000)}\r\n`).join('')}plain@example.com\r\n${Array.from({ length: 30 }, (_, i) => `v${i}@example.com;x\r\n`).join('')}`,
      `ann@example.com;${'x'.repeat(71_680)}\nbob@example.com;b\n`,
    ];
    for (const input of files) {
      const reports = [];
      for (const size of [1, 7, 16 * 1024, 64 * 1024, 70_000, 100_000, MB]) reports.push(withoutTiming((await scanOnce(input, { attributeName: 'email' }, size)).report));
      for (const report of reports) expect(report).toEqual(reports[0]);
    }
  });

  it('reads the file as the delimiter option says, when one is given', async () => {
    const { report } = await scan(excelTurkish, { attributeName: 'email', delimiter: 'comma' });
    expect(report).toMatchObject({ verdict: 'reject', delimiter: 'comma', rejection: 'invalidValues' });
  });

  it('keeps a one-column list whose values hold a semicolon in some rows whole', async () => {
    const input = 'id-1\nid;2\nid-3\n';
    const { report, copy } = await scan(input, { attributeName: 'customer_id' });
    expect(report).toMatchObject({ verdict: 'accept', delimiter: 'comma', changed: false, values: 3 });
    expect(copy).toBe(input);
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 201))('a random semicolon or tab file %i reads the same through csv-parse and the fast path', async (seed) => {
    const random = mulberry32(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const d = seed % 2 === 0 ? ';' : '\t';
    // A tab before anything else in a row is padding, not a delimiter: tab files here have no empty first field.
    const values = ['a@x.com', 'B@x.com', 'c,d@x.com', `e${d}f@x.com`, 'g"h@x.com', 'multi\nline', 'email', 'ü@x.de', ...(d === ';' ? ['', ' '] : [])];
    // A header names the table, so the semicolon (or tab) is taken whatever the random values are.
    let input = `${random() < 0.3 ? '\ufeff' : ''}email${d}name\n`;
    const rows = 1 + Math.floor(random() * 30);
    for (let i = 0; i < rows; i++) {
      const value = pick(values);
      const mustQuote = value.includes(d) || /["\r\n]/.test(value);
      const field = mustQuote || random() < 0.3 ? `"${value.replace(/"/g, '""')}"` : value;
      input += `${field}${d}${pick(['x', '"y;z"', '', 'Ann'])}${pick(['\n', '\r\n', '\r'])}`;
    }
    const delimiter = d === ';' ? 'semicolon' : 'tab';
    const fast = await scanOnce(input, { attributeName: 'email' }, 64 * 1024);
    const slow = await scanOnce(input, { attributeName: 'email', csvParseOnly: true, delimiter }, 64 * 1024);
    const cut = await scanOnce(input, { attributeName: 'email' }, 3);
    expect(fast.report.delimiter).toBe(delimiter);
    expect(withoutTiming(fast.report)).toEqual(withoutTiming(slow.report));
    expect(withoutTiming(cut.report)).toEqual(withoutTiming(fast.report));
    expect(fast.copy).toBe(slow.copy);
    expect(cut.copy).toBe(fast.copy);
    expect(readCopy(fast.copy).strict).toHaveLength(fast.report.cleanValues);
  });
});

describe('not text', () => {
  it('rejects NUL bytes, naming the line, and stops reading', async () => {
    const input = Buffer.concat([Buffer.from('a@x.com\nb@x.com\nc@'), Buffer.from([0]), Buffer.from('x.com\n'), Buffer.alloc(200_000, 'a')]);
    const { report } = await scan(input, {}, { stopsEarly: true });
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notText',
      reason: 'The file is not text: line 3 holds a NUL byte. Export the list as a UTF-8 CSV file.',
      problem: { kind: 'nulByte', line: 3 },
      complete: false,
    });
    expect(report.bytes).toBeLessThan(input.length);
  });

  it('rejects invalid UTF-8 (Latin-1 text), naming the line', async () => {
    const input = Buffer.concat([Buffer.from('a@x.com\r\nb@x.com\r\n'), Buffer.from('m\xfcller@x.de\r\n', 'latin1')]);
    const { report } = await scan(input, {}, { stopsEarly: true });
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notText',
      problem: { kind: 'invalidUtf8', line: 3 },
      reason: 'The file is not UTF-8 text: line 3 holds bytes that are not valid UTF-8. Save it as "CSV UTF-8".',
    });
  });

  it('rejects UTF-8 cut off at the end of the file', async () => {
    const { report } = await scan(Buffer.concat([Buffer.from('a@x.com\nm'), Buffer.from('ü').subarray(0, 1)]));
    expect(report).toMatchObject({ verdict: 'reject', problem: { kind: 'invalidUtf8', line: 2 } });
  });

  it('reads multi-byte characters split across chunks', async () => {
    const { report, copy } = await scan('müller@x.de\nçağrı@örnek.com.tr\n日本@例え.jp\n');
    expect(report).toMatchObject({ verdict: 'accept', values: 3, invalidValues: { count: 0 } });
    expect(copy).toBe('müller@x.de\nçağrı@örnek.com.tr\n日本@例え.jp\n');
  });

  it.each([
    ['UTF-16 (LE BOM)', Buffer.from('\ufeffa@x.com\n', 'utf16le'), 'utf16', 'The file is UTF-16 text; Insider reads UTF-8. Save it as "CSV UTF-8".'],
    [
      'gzip in a file not named .gz',
      gzipSync('a@x.com\n'),
      'gzipNotNamedGz',
      'The file is gzip-compressed but its name does not end in ".gz": name it "<segment>.csv.gz", or upload it uncompressed.',
    ],
    [
      'ZIP (xlsx)',
      Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 1)]),
      'zip',
      'The file is a ZIP archive (an Excel .xlsx file is one), not a CSV: export the list as CSV.',
    ],
  ])('rejects %s', async (_, input, kind, reason) => {
    const { report } = await scan(input, {}, { stopsEarly: true });
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'notText', problem: { kind }, reason });
  });
});

describe('gzip', () => {
  it('decompresses while reading: same figures as the plain file, and the copy is always needed', async () => {
    const input = 'ann@example.com\nbob@example.com\n';
    const gz = gzipSync(input);
    const plain = await scan(input);
    const { report, copy } = await scan(gz, { gzip: true });
    expect(report).toMatchObject({ verdict: 'accept', gzip: true, changed: true, changes: ['gzip'], bytes: input.length, bytesRead: gz.length });
    expect({ ...withoutTiming(report), gzip: false, changed: false, changes: [], bytesRead: input.length }).toEqual(withoutTiming(plain.report));
    expect(copy).toBe(input);
  });

  it('reads concatenated gzip members (as `cat a.gz b.gz` makes)', async () => {
    const { report, copy } = await scan(Buffer.concat([gzipSync('a@x.com\n'), gzipSync('b@x.com\n')]), { gzip: true });
    expect(report).toMatchObject({ verdict: 'accept', values: 2 });
    expect(copy).toBe('a@x.com\nb@x.com\n');
  });

  it('rejects gzip inside gzip', async () => {
    const { report } = await scanOnce(gzipSync(gzipSync('a@x.com\n')), { gzip: true }, 64 * 1024);
    expect(report).toMatchObject({ verdict: 'reject', rejection: 'notText', reason: 'The file is compressed twice (gzip inside gzip): compress the CSV once.' });
  });

  it('rejects data that is not gzip, and gzip cut short', async () => {
    const bad = await scanOnce('a@x.com\n', { gzip: true }, 64 * 1024);
    expect(bad.report).toMatchObject({ verdict: 'reject', rejection: 'notText', problem: { kind: 'notGzip' } });
    const whole = gzipSync(Buffer.alloc(100_000, 'a@x.com\n'));
    const cut = await scanOnce(whole.subarray(0, whole.length - 10), { gzip: true }, 1000);
    expect(cut.report).toMatchObject({
      verdict: 'reject',
      problem: { kind: 'gzipTruncated' },
      reason: 'The gzip data ends early: the file is cut short. Upload it again.',
    });
  });

  it('stops reading a decompression bomb as soon as it passes maxBytes', async () => {
    // 1 GB of values from 100 gzip members of 10 MB each (about 10 KB compressed each).
    const member = gzipSync(Buffer.alloc(10 * MB, 'user@example.com\n'));
    const members = 100;
    let pulled = 0;
    let closed = false;
    async function* bomb(): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < members; i++) {
          for (let at = 0; at < member.length; at += 1024) {
            pulled += Math.min(1024, member.length - at);
            yield member.subarray(at, at + 1024);
          }
        }
      } finally {
        closed = true;
      }
    }
    const heapBefore = process.memoryUsage().heapUsed;
    const report = await preflight(bomb(), { attributeName: 'email', gzip: true, maxBytes: 5 * MB });

    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'tooLarge',
      complete: false,
      reason: 'The file is over 5 MB once decompressed (reading stopped there); Insider accepts at most 5 MB. Split it into smaller files.',
    });
    expect(report.bytes).toBeGreaterThan(5 * MB);
    expect(report.bytes).toBeLessThan(5 * MB + 128 * 1024);
    // It read about half of the first member of 100, and closed the source.
    expect(pulled).toBeLessThan(member.length);
    expect(report.bytesRead).toBe(pulled);
    expect(closed).toBe(true);
    // Nothing close to the 1 GB (or even the 5 MB) was held.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MB);
  });
});

describe('size', () => {
  it('rejects a plain file past maxBytes and stops reading', async () => {
    const input = Buffer.alloc(300_000, 'a@x.com\n');
    const { report } = await scan(input, { maxBytes: 100_000 }, { stopsEarly: true });
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'tooLarge',
      reason: 'The file is over 97.7 KB; Insider accepts at most 97.7 KB. Split it into smaller files.',
      complete: false,
    });
    expect(report.bytes).toBeLessThanOrEqual(100_000 + 64 * 1024);
  });

  it('rejects a line longer than maxLineLength: not a list of values', async () => {
    const { report } = await scan(`a@x.com\n${'x'.repeat(5000)}\nb@x.com\n`, { maxLineLength: 1000, attributeName: 'custom' }, { stopsEarly: true });
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'notCsv',
      problem: { kind: 'lineTooLong', line: 2 },
      reason: 'The file is not a list of values: line 2 is longer than 1000 bytes. Export one value per line.',
    });
  });
});

describe('formats', () => {
  const emails = ['ann@example.com', 'b.o+b@mail.example.co.uk', "o'neil@x.io", 'müller@bücher.de'];
  const phones = ['+14155552671', '+447911123456', '+4915112345678', '+33612345678', '+6598765432', '+905321234567'];

  it('accepts an email list in the email folder and a phone list in the phone folder', async () => {
    const e = await scan(`${emails.join('\n')}\n`, { attributeName: 'email' });
    expect(e.report).toMatchObject({ verdict: 'accept', format: 'email', invalidValues: { count: 0 } });
    const p = await scan(`${phones.join('\n')}\n`, { attributeName: 'Phone Number' });
    expect(p.report).toMatchObject({ verdict: 'accept', format: 'e164', invalidValues: { count: 0 } });
  });

  it('rejects a phone list dropped in the email folder, with the count in words', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => (i < 812 ? `+1415555${String(i).padStart(4, '0')}` : `u${i}@example.com`));
    const { report } = await scanOnce(`${rows.join('\n')}\n`, { attributeName: 'Email Address' }, 4096);
    expect(report).toMatchObject({
      verdict: 'reject',
      rejection: 'invalidValues',
      reason:
        '812 of 1,000 values are not email addresses (first at lines 1, 2, 3, 4 and 5). 812 of them look like phone numbers: check the folder, it names the attribute.',
    });
  });

  it('rejects emails in the phone folder, and phones without + and country code', async () => {
    const e = await scan(`${emails.join('\n')}\n`, { attributeName: 'pn' });
    expect(e.report.reason).toBe(
      '4 of 4 values are not phone numbers in E.164 format (+ and country code) (lines 1, 2, 3 and 4). 4 of them look like email addresses: check the folder, it names the attribute.',
    );
    const p = await scan('(415) 555-2671\n0612345678\n+14155552671\n', { attributeName: 'phone_number' });
    expect(p.report).toMatchObject({ verdict: 'reject', invalidValues: { count: 2, lines: [1, 2] } });
    expect(p.report.reason).toMatch(/^2 of 3 values are not phone numbers in E\.164 format \(\+ and country code\) \(lines 1 and 2\)\. 2 of them look like phone numbers without "\+"/);
  });

  it('refuses a list written across rows, which would send only the first value of each row, the same however it arrives', async () => {
    const input = 'ann@example.com, bob@example.com, cid@example.com, dan@example.com\n';
    const reason =
      "Most of the file's email addresses would not reach Insider: its first row holds 4, separated by commas, and only each row's first value is sent (here 1). Put one value per line. If the file is a table of several columns, give it a header row.";
    for (const size of [1, 7, MB]) expect((await scanOnce(input, { attributeName: 'email' }, size)).report).toMatchObject({ verdict: 'reject', rejection: 'notCsv', reason });
    const phones = await scan('+905321234567;+905551234567\r\n+14155552671;+447911123456;+33612345678\r\n', { attributeName: 'pn' });
    expect(phones.report.reason).toBe(
      "Most of the file's phone numbers in E.164 format would not reach Insider: its first 2 rows hold 5, separated by semicolons, and only each row's first value is sent (here none). Put one value per line. If the file is a table of several columns, give it a header row.",
    );
    // Addresses in the second column of a headerless file are no pasted list: the format check refuses the names.
    expect((await scan('Ann Smith,ann@example.com\nBob Lee,bob@example.com\n')).report.reason).toMatch(/^2 of 2 values are not email addresses/);
    // Nor is a table with several address columns (email, name, owner, manager), headerless as warehouse unloads are.
    const audit = Array.from({ length: 30 }, (_, i) => `u${i}@example.com,Ann ${i},rep@example.com,mgr@example.com`).join('\n');
    expect((await scan(`${audit}\n`)).report).toMatchObject({ verdict: 'accept', values: 30, multiColumnRows: { count: 30 } });
    // Two address columns with no header keep the first, as before, and the note says so.
    expect((await scan('ann@example.com,ann@work.example\nbob@example.com,bob@work.example\n')).report).toMatchObject({ verdict: 'accept', multiColumnRows: { count: 2 } });
  });

  it('says when phone numbers went through Excel and came out in scientific notation, without quoting one', async () => {
    // Excel reads +905321234567 as a number and, in a narrow column, saves what it shows: 9.05321E+11 (9,05321E+11 with a decimal comma).
    const { report } = await scan('9.05321E+11\n"9,05551E+11"\n1.41556E+10\n+14155552671\n', { attributeName: 'phone_number' });
    expect(report).toMatchObject({ verdict: 'reject', invalidValues: { count: 3, lines: [1, 2, 3] } });
    expect(report.reason).toBe(
      '3 of 4 values are not phone numbers in E.164 format (+ and country code) (lines 1, 2 and 3). 3 of them are numbers Excel saved in scientific notation (like 9.05E+11), their last digits likely lost: export the file again from its source, or format the column as Text in Excel and type the numbers with + and the country code.',
    );
    // Excel writes 12-digit numbers so, shorter ones in full: a mixed column names the rounded ones, though fewer, as no edit brings them back.
    const mixed = await scan('9.05321E+11\n5321234568\n9.05331E+11\n5331234568\n9.05341E+11\n4155552671\n4155552672\n', { attributeName: 'phone_number' });
    expect(mixed.report.reason).toMatch(/^7 of 7 values are not phone numbers in E\.164 format .*\. 4 of them look like phone numbers without "\+".*\. 3 of them are numbers Excel saved in scientific notation/);
    // Addresses in the phone folder stay the first thing said when they are most of it.
    const folder = await scan('a@example.com\nb@example.com\nc@example.com\n9.05321E+11\n', { attributeName: 'phone_number' });
    expect(folder.report.reason).toMatch(/\. 3 of them look like email addresses: check the folder, it names the attribute\. 1 of them are numbers Excel saved/);
  });

  it('accepts up to maxInvalidShare invalid values, and takes another share', async () => {
    const half = 'a@x.com\nnot an email\n';
    expect((await scan(half)).report).toMatchObject({ verdict: 'accept', invalidValues: { count: 1, lines: [2] } });
    expect((await scan(half, { maxInvalidShare: 0.4 })).report).toMatchObject({ verdict: 'reject', rejection: 'invalidValues' });
  });

  it('checks no format for other attributes, and uses the map it is given', async () => {
    expect((await scan('anything\n', { attributeName: 'Store ID' })).report).toMatchObject({ verdict: 'accept', format: null });
    const custom = await scan('anything\n', { attributeName: 'Work Email', formats: { 'work email': 'email' } });
    expect(custom.report).toMatchObject({ verdict: 'reject', format: 'email' });
    expect((await scan('anything\n', { attributeName: 'email', formats: {} })).report.format).toBeNull();
  });
});

describe('normalization', () => {
  it('is off by default: values are copied as written', async () => {
    const { report, copy } = await scan('Ann@Example.com\nann@example.com\n');
    expect(report).toMatchObject({ changed: false, normalizedValues: null, duplicates: { count: 0 } });
    expect(copy).toBe('Ann@Example.com\nann@example.com\n');
  });

  it('lower-cases emails when on, and then finds the duplicates it makes', async () => {
    const { report, copy } = await scan('Ann@Example.com\nann@example.com\nbob@x.com\n', { normalize: {} });
    expect(report).toMatchObject({
      changed: true,
      changes: ['duplicates', 'normalized'],
      normalizedValues: { count: 1, lines: [1] },
      duplicates: { count: 1, lines: [2] },
    });
    expect(copy).toBe('ann@example.com\nbob@x.com\n');
  });

  it('writes phones in E.164 given a default region, and leaves what it cannot read', async () => {
    const input = '06 12 34 56 78\n+33 6 12 34 56 79\n+33612345680\nnot a phone\n';
    const { report, copy } = await scan(input, { attributeName: 'Phone Number', normalize: { phoneDefaultRegion: 'FR' } });
    expect(report).toMatchObject({ normalizedValues: { count: 2, lines: [1, 2] }, invalidValues: { count: 1, lines: [4] }, verdict: 'accept' });
    expect(copy).toBe('+33612345678\n+33612345679\n+33612345680\nnot a phone\n');
    const noRegion = await scan(input, { attributeName: 'Phone Number', normalize: {} });
    expect(noRegion.copy).toBe('06 12 34 56 78\n+33612345679\n+33612345680\nnot a phone\n');
  });
});

describe('duplicates past the cap', () => {
  it('can be turned off: every value is kept', async () => {
    const { report, copy } = await scan('a@x.com\na@x.com\n', { maxTrackedValues: 0 });
    expect(report).toMatchObject({ changed: false, duplicates: { count: 0, complete: false }, cleanValues: 2 });
    expect(copy).toBe('a@x.com\na@x.com\n');
  });

  it('still finds repeats of remembered values, keeps the others, and never drops a unique value', async () => {
    // Remembers 4 values; u4..u9 arrive after the cap, so their repeats stay in the copy.
    const unique = Array.from({ length: 10 }, (_, i) => `u${i}@x.com`);
    const input = `${[...unique, ...unique].join('\n')}\n`;
    const { report, copy } = await scan(input, { maxTrackedValues: 4 });
    expect(report.duplicates).toEqual({ count: 4, lines: [11, 12, 13, 14], complete: false });
    const kept = copy.split('\n').filter(Boolean);
    expect(kept).toEqual([...unique, ...unique.slice(4)]);
    expect(new Set(kept)).toEqual(new Set(unique));
  });
});

describe('the clean-copy sink', () => {
  const big = `${Array.from({ length: 40_000 }, (_, i) => ` user${i}@example.com `).join('\r\n')}\r\n`;
  const expected = `${Array.from({ length: 40_000 }, (_, i) => `user${i}@example.com`).join('\n')}\n`;

  it('waits for a slow Writable (backpressure) and delivers the copy whole and in order', async () => {
    const received: Buffer[] = [];
    let drains = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setTimeout(callback, 1);
      },
    });
    sink.on('drain', () => drains++);
    const report = await preflight(chunksOf(Buffer.from(big), 16 * 1024), { attributeName: 'email', maxBytes: 10 * MB, sink });
    expect(report).toMatchObject({ verdict: 'accept', changes: ['lineEndings', 'paddedValues'], values: 40_000 });
    expect(drains).toBeGreaterThan(5);
    // Never more than one chunk over the high-water mark was waiting.
    expect(sink.writableLength).toBe(0);
    expect(Buffer.concat(received).toString()).toBe(expected);
    expect(report.cleanBytes).toBe(Buffer.byteLength(expected));
  });

  it('awaits a function sink before the next chunk (one call at a time)', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const parts: string[] = [];
    await preflight(chunksOf(Buffer.from(big), 16 * 1024), {
      attributeName: 'email',
      maxBytes: 10 * MB,
      sink: async (chunk) => {
        inFlight++;
        calls++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        parts.push(chunk.toString());
        inFlight--;
      },
    });
    expect(calls).toBeGreaterThan(5);
    expect(maxInFlight).toBe(1);
    expect(parts.join('')).toBe(expected);
  });

  it('fails when the Writable fails, so the caller can retry', async () => {
    const sink = new Writable({
      highWaterMark: 16,
      write(_chunk, _encoding, callback) {
        setTimeout(() => callback(new Error('upload failed')), 1);
      },
    });
    sink.on('error', () => {});
    await expect(preflight(chunksOf(Buffer.from(big), 16 * 1024), { attributeName: 'email', maxBytes: 10 * MB, sink })).rejects.toThrow(
      'upload failed',
    );
  });
});

describe('the report', () => {
  // Every kind of row, with values distinctive enough to find anywhere in the serialized report.
  const values = [
    'zelda.quinn@secret-example.org',
    'yannick.ortega@hidden-mail.net',
    '+447700900123',
    'xavier,kommadot@private.io',
    'wendy""quinto@confidential.biz',
    'valentina.rossi@privato.it',
    'not-an-email-ulrich',
    'teodora"bare@quote-example.com',
    'samuel.break@newline-example.net',
  ];
  const file = [
    'Email Address', // header
    ` ${values[0]} `, // padded
    values[0], // duplicate
    `${values[1]},Yannick,Ortega,1985-02-03`, // more columns
    values[2], // not an email
    `"${values[3]}"`, // quoted, needed
    `"${values[4]}"`, // quoted with an escaped quote
    `"${values[5]}"broken`, // unreadable: text after its closing quote
    '',
    values[6],
    `"${values[5]}"`, // quoting not needed
    values[7], // a quote inside an unquoted value: kept, quoted in the copy
    `"${values[8]}\r\n${values[8]}"`, // a line break inside a quoted value: dropped
  ].join('\r\n');

  it('holds counts and line numbers only, never a value from the file', async () => {
    for (const options of [{}, { normalize: {} }, { maxInvalidShare: 0.1 }, { csvParseOnly: true }] as Partial<PreflightOptions>[]) {
      const { report } = await scan(`\ufeff${file}`, options);
      const json = JSON.stringify(report);
      for (const value of values) {
        for (const piece of [value, ...value.split(/[@,"]+/)].filter((p) => p.length >= 5)) expect(json).not.toContain(piece);
      }
      expect(json).not.toContain('Yannick');
      expect(json).not.toContain('1985');
      // It did see them all.
      expect(report).toMatchObject({
        rows: 12,
        header: { line: 1 },
        duplicates: { count: 1 },
        unparseableRows: { count: 2, lines: [8, 13] },
        lineBreakValues: { count: 1, lines: [13] },
        bareQuotes: { count: 1, lines: [12] },
      });
    }
  });

  it('quotes no value in a rejection reason either', async () => {
    const rejected = [
      await scan(`${values[6]}\n${values[2]}\n`),
      await scan(`${values[0]}\n"${values[1]}\n`),
      await scan(`{"em": "${values[0]}"}\n{"em": "${values[1]}"}\n`),
      await scan(`"${values[0]}\n${values[1]}"\n"${values[8]}\r\n${values[6]}"\n${values[7]}\n`),
      await scan(`"${values[0]}"${values[1]}\n"${values[8]}" \n${values[7]}\n`),
    ];
    for (const { report } of rejected) {
      expect(report.verdict).toBe('reject');
      for (const value of values) expect(JSON.stringify(report)).not.toContain(value.slice(0, 6));
    }
  });

  it('is plain JSON', async () => {
    const { report } = await scan(file);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
