// The text path and the CSV fallback: lines that need a real CSV parser (quotes beyond whole plain fields, values spanning lines) go to csv-parse in batches; bad rows are found and reading resumes after them.
//
// Lines reach this module as text when the byte path in preflight-lines.ts cannot take them: a quote
// other than around a whole field, a character past ASCII, csv-parse forced (`csvParseOnly`) or
// normalization on. A line without a quote, or whose quotes only wrap whole fields, is still read here
// without csv-parse; the rest is batched for it.
import type { CsvError, Options as CsvOptions } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import { Ending, ENDING_TEXT, lineBreaks } from './preflight-lines.js';
import type { RowReader } from './preflight-rows.js';
import type { PreflightTally } from './preflight-tally.js';

const CSV_BATCH_CHARS = 64 * 1024;

// What csv-parse is asked for: RFC 4180 quoting, any of the three line ends (mixed files exist), every
// row whatever its number of columns, and bad rows skipped and reported rather than failing the file.
const CSV_OPTIONS: CsvOptions = {
  delimiter: ',',
  quote: '"',
  escape: '"',
  record_delimiter: ['\r\n', '\n', '\r'],
  relax_column_count: true,
  relax_quotes: false,
  skip_empty_lines: false,
  skip_records_with_error: true,
  bom: false,
  trim: false,
  cast: false,
};

/**
 * A line whose every field is either unquoted without a quote in it, or quoted with no quote inside
 * (`"a@b.com","Ann",2026-01-01`: warehouse exports quote every field). Its fields are the text between
 * the commas, less the wrapping quotes; csv-parse returns the same, only 5–10 times slower. Anything
 * else with a quote (an escaped `""`, a quoted line end, a stray quote) goes to csv-parse.
 */
const PLAIN_QUOTED_LINE = /^(?:"[^"]*"|[^",]*)(?:,(?:"[^"]*"|[^",]*))*$/;

interface QuotedGroup {
  /** The lines with their original line ends: what csv-parse reads. */
  text: string;
  startLine: number;
  /** Quote characters so far, odd while a quoted value is open. */
  quotes: number;
}

function withoutEnding(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') || text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** The lines of `text` with their line ends, split the way the scanner splits the file. */
function splitLines(text: string): { text: string; ending: Ending }[] {
  const lines: { text: string; ending: Ending }[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x0a && c !== 0x0d) continue;
    const ending = c === 0x0a ? Ending.Lf : text.charCodeAt(i + 1) === 0x0a ? Ending.CrLf : Ending.Cr;
    lines.push({ text: text.slice(start, i), ending });
    if (ending === Ending.CrLf) i++;
    start = i + 1;
  }
  if (start < text.length) lines.push({ text: text.slice(start), ending: Ending.None });
  return lines;
}

function countQuotes(text: string): number {
  let count = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) count++;
  return count;
}

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  if (c > 0x20 && c < 0x7f) return false;
  return line.trim().length === 0;
}

export class CsvFallback {
  private group: QuotedGroup | undefined;
  private batch: QuotedGroup[] = [];
  private batchText = '';

  constructor(
    private readonly tally: PreflightTally,
    private readonly rows: RowReader,
    private readonly maxLine: number,
    private readonly csvParseOnly: boolean,
  ) {}

  /** A quoted value is open: the next lines belong to it. */
  get inGroup(): boolean {
    return this.group !== undefined;
  }

  /** Where the open quoted value started, if one is open. */
  get groupStartLine(): number | undefined {
    return this.group?.startLine;
  }

  /** A line of a quoted value that began on an earlier line. */
  continueGroup(line: string, ending: Ending): void {
    const group = this.group as QuotedGroup;
    group.text += line + ENDING_TEXT[ending];
    group.quotes += countQuotes(line);
    if (group.quotes % 2 === 0) this.closeGroup();
    else if (group.text.length > this.maxLine) this.parseOpenGroup();
  }

  /** A line (not inside a quoted value) as text. */
  line(line: string, ending: Ending, lineNo: number): void {
    if (this.quickLine(line, lineNo)) return;
    this.group = { text: line + ENDING_TEXT[ending], startLine: lineNo, quotes: countQuotes(line) };
    if (this.group.quotes % 2 === 0) this.closeGroup();
  }

  /** Before a row read elsewhere: the batched rows come first. */
  flushBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const text = this.batchText;
    this.batch = [];
    this.batchText = '';
    let failed = false;
    const records = parseCsv(text, {
      ...CSV_OPTIONS,
      on_skip: () => {
        failed = true;
        return undefined;
      },
    });
    if (!failed && records.length === batch.length) {
      // Each group began between records and csv-parse found no error: one record per group, in order.
      for (let i = 0; i < batch.length; i++) {
        const fields = records[i] as string[];
        const group = batch[i] as QuotedGroup;
        this.rows.textRow(fields[0] ?? '', fields.length > 1, group.startLine, withoutEnding(group.text), false);
      }
      return;
    }
    // Some row is malformed: parse group by group to learn which lines.
    for (const group of batch) this.parseGroup(group);
  }

  /** The end of the file: an open quoted value and the batch are parsed. */
  end(): void {
    if (this.group) this.parseOpenGroup();
    if (!this.tally.problem) this.flushBatch();
  }

  /**
   * A line that needs no CSV parser (blank, no quote, or quotes only around whole fields): read here.
   * False: it needs csv-parse.
   */
  private quickLine(line: string, lineNo: number): boolean {
    if (isBlank(line)) {
      this.tally.blankLines.add(lineNo);
      return true;
    }
    if (this.csvParseOnly) return false;
    const quote = line.indexOf('"');
    if (quote === -1) {
      this.flushBatch();
      const comma = line.indexOf(',');
      // No quote, no comma in the first field, no line end: the value never needs quoting.
      if (comma === -1) this.rows.textRow(line, false, lineNo, line, true);
      else this.rows.textRow(line.slice(0, comma), true, lineNo, line, true);
      return true;
    }
    if (PLAIN_QUOTED_LINE.test(line)) {
      this.flushBatch();
      const close = quote === 0 ? line.indexOf('"', 1) : -1;
      const first = close === -1 ? line.slice(0, line.indexOf(',')) : line.slice(1, close);
      const end = close === -1 ? first.length : close + 1;
      this.rows.textRow(first, end < line.length, lineNo, line, false);
      return true;
    }
    return false;
  }

  private closeGroup(): void {
    const group = this.group as QuotedGroup;
    this.group = undefined;
    this.batch.push(group);
    this.batchText += group.text;
    if (this.batchText.length >= CSV_BATCH_CHARS) this.flushBatch();
  }

  /**
   * A quote is still open after `maxLineLength`, or at the end of the file. csv-parse decides: a quote
   * that opens no value (`ab"c`) leaves a bad row and reading resumes; a value opened and never closed is fatal.
   */
  private parseOpenGroup(): void {
    const group = this.group as QuotedGroup;
    this.group = undefined;
    this.flushBatch();
    const unclosedAt = this.parseGroup(group);
    if (unclosedAt !== undefined) this.tally.stop('unterminatedQuote', unclosedAt);
  }

  /**
   * One group on its own. At a row csv-parse cannot read, the row is counted and reading resumes at the
   * line after the one the row starts on, as if the file started there: csv-parse itself would carry on
   * inside a quote it considers open and swallow the rows after a stray quote. Returns the line of a
   * quoted value that is never closed, if any.
   */
  private parseGroup(group: QuotedGroup): number | undefined {
    // Line numbers come from byte offsets: csv-parse's own `lines` counts a CRLF inside a quoted value twice.
    const bytes = Buffer.from(group.text, 'utf8');
    let counted = 0;
    let linesBefore = 0;
    const lineAt = (offset: number): number => {
      linesBefore += lineBreaks(bytes, counted, offset);
      counted = offset;
      return linesBefore;
    };
    const rows: { fields: string[]; line: number }[] = [];
    let failure: string | undefined;
    // Where the last good row ended: the next row, good or bad, starts there.
    let rowStart = 0;
    parseCsv(bytes, {
      ...CSV_OPTIONS,
      on_record: (fields: string[], context) => {
        if (failure !== undefined) return null;
        rows.push({ fields, line: group.startLine + lineAt(rowStart) });
        rowStart = context.bytes;
        return null;
      },
      on_skip: (err: CsvError | undefined) => {
        // Only the code: the error's message and fields quote the row.
        failure ??= err?.code ?? 'CSV_ERROR';
        return undefined;
      },
    });
    // A group that is one row is that row as written; otherwise which text is which row is not known.
    const raw = rows.length === 1 && failure === undefined ? withoutEnding(group.text) : undefined;
    for (const row of rows) this.rows.textRow(row.fields[0] ?? '', row.fields.length > 1, row.line, raw, false);
    if (failure === undefined) return undefined;
    const badRow = lineAt(rowStart);
    this.rows.unparseable(group.startLine + badRow);
    if (failure === 'CSV_QUOTE_NOT_CLOSED') return group.startLine + badRow;
    return this.replay(splitLines(group.text).slice(badRow + 1), group.startLine + badRow + 1);
  }

  /** Reads lines again after a bad row, in order and at once (the batch is already being flushed). */
  private replay(lines: readonly { text: string; ending: Ending }[], firstLine: number): number | undefined {
    let sub: QuotedGroup | undefined;
    for (let i = 0; i < lines.length; i++) {
      const { text, ending } = lines[i] as { text: string; ending: Ending };
      const lineNo = firstLine + i;
      if (sub) {
        sub.text += text + ENDING_TEXT[ending];
        sub.quotes += countQuotes(text);
      } else if (!this.quickLine(text, lineNo)) {
        sub = { text: text + ENDING_TEXT[ending], startLine: lineNo, quotes: countQuotes(text) };
      }
      if (sub && sub.quotes % 2 === 0) {
        this.parseGroup(sub);
        sub = undefined;
      }
    }
    return sub ? this.parseGroup(sub) : undefined;
  }
}
