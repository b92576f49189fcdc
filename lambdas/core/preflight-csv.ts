// The text path and the CSV fallback: lines that need a real CSV parser (quotes beyond whole plain fields, values spanning lines) go to csv-parse in batches, one row per group of lines.
//
// Lines reach this module as text when the byte path in preflight-lines.ts cannot take them: a quote
// other than around a whole field, a character past ASCII, csv-parse forced (`csvParseOnly`) or
// normalization on. A line without a quote, or whose quotes only wrap whole fields, is still read here
// without csv-parse; the rest is batched for it. Where each row ends is found here (`readQuotes`), the
// way csv-parse finds it, so a row never swallows the next; csv-parse then gives the fields. What stays
// unreadable: a first field with text after its closing quote (readers disagree on its value), and a
// quoted value never closed (the file cannot be read past it).
import type { Options as CsvOptions } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import { Ending, ENDING_TEXT } from './preflight-lines.js';
import type { RowReader } from './preflight-rows.js';
import type { PreflightTally } from './preflight-tally.js';

const CSV_BATCH_CHARS = 64 * 1024;

// What csv-parse is asked for (with the file's delimiter): RFC 4180 quoting, except that a quote inside
// an unquoted field is a character like any other (`O"Brien`), as Excel, Python's csv module and the
// FPS simulator read it; any of the three line ends (mixed files exist); every row whatever its number
// of columns.
const CSV_OPTIONS: CsvOptions = {
  quote: '"',
  escape: '"',
  record_delimiter: ['\r\n', '\n', '\r'],
  relax_column_count: true,
  relax_quotes: true,
  skip_empty_lines: false,
  skip_records_with_error: true,
  bom: false,
  trim: false,
  cast: false,
};

/**
 * A line whose every field is either unquoted without a quote in it, or quoted with no quote inside
 * (`"a@b.com","Ann",2026-01-01`: warehouse exports quote every field). Its fields are the text between
 * the delimiters, less the wrapping quotes; csv-parse returns the same, only 5–10 times slower. Anything
 * else with a quote (an escaped `""`, a quoted line end, a quote inside a field) goes to csv-parse.
 */
const PLAIN_QUOTED_LINE: Readonly<Record<string, RegExp>> = {
  ',': /^(?:"[^"]*"|[^",]*)(?:,(?:"[^"]*"|[^",]*))*$/,
  ';': /^(?:"[^"]*"|[^";]*)(?:;(?:"[^"]*"|[^";]*))*$/,
  '\t': /^(?:"[^"]*"|[^"\t]*)(?:\t(?:"[^"]*"|[^"\t]*))*$/,
};

// Where a row stands after each character, the way csv-parse with `relax_quotes` (and Python's csv)
// reads it: a quote opens a value only at the start of a field; anywhere else it is a character.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** A quote inside a quoted field: it closes the field, or a second one follows (`""`, an escaped quote). */
const QUOTE_IN_QUOTED = 3;
type QuoteState = typeof FIELD_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED;

/** One row: a line, and the lines a quoted value runs on to. */
interface RowGroup {
  /** The lines with their original line ends: what csv-parse reads. */
  text: string;
  startLine: number;
  state: QuoteState;
  /** Still in the first field (the value). */
  inFirst: boolean;
  /** The first field is unquoted and holds a quote (`O"Brien`): read as written, and quoted in the copy. */
  bareQuote: boolean;
  /**
   * The first field's closing quote is followed by more of the field (`"a"b`, `"a" `). Readers
   * disagree on that value (csv-parse keeps every character, Python drops the quotes), so the row is
   * counted as unreadable rather than guessed at.
   */
  textAfterQuote: boolean;
}

/** Reads `line` (no line end) into the row's state; a row whose state is QUOTED at the end goes on to the next line. */
function readQuotes(group: RowGroup, line: string, delimiter: number): void {
  let state = group.state;
  let inFirst = group.inFirst;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (state === QUOTED) {
      // Jump to the next quote: nothing else matters inside a quoted field.
      const next = line.indexOf('"', i);
      if (next === -1) break;
      i = next;
      state = QUOTE_IN_QUOTED;
    } else if (c === delimiter) {
      state = FIELD_START;
      inFirst = false;
    } else if (state === FIELD_START) {
      state = c === 0x22 ? QUOTED : UNQUOTED;
    } else if (state === QUOTE_IN_QUOTED) {
      if (c === 0x22) {
        state = QUOTED;
      } else {
        state = UNQUOTED;
        if (inFirst) group.textAfterQuote = true;
      }
    } else if (c === 0x22 && inFirst) {
      group.bareQuote = true;
    }
  }
  group.state = state;
  group.inFirst = inFirst;
}

function withoutEnding(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') || text.endsWith('\r') ? text.slice(0, -1) : text;
}

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  if (c > 0x20 && c < 0x7f) return false;
  return line.trim().length === 0;
}

export class CsvFallback {
  private group: RowGroup | undefined;
  private batch: RowGroup[] = [];
  private batchText = '';
  private readonly options: CsvOptions;
  private readonly plainQuotedLine: RegExp;
  private readonly delimiterCode: number;

  constructor(
    private readonly tally: PreflightTally,
    private readonly rows: RowReader,
    private readonly maxLine: number,
    private readonly csvParseOnly: boolean,
    /** `,`, `;` or a tab (preflight-delimiter.ts). */
    private readonly delimiter: string,
  ) {
    this.options = { ...CSV_OPTIONS, delimiter };
    this.plainQuotedLine = PLAIN_QUOTED_LINE[delimiter] as RegExp;
    this.delimiterCode = delimiter.charCodeAt(0);
  }

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
    const group = this.group as RowGroup;
    group.text += line + ENDING_TEXT[ending];
    readQuotes(group, line, this.delimiterCode);
    if (group.state !== QUOTED) {
      this.closeGroup();
      return;
    }
    // The line end is inside the value, not one of the file's line ends: the copy never writes it
    // (the row is dropped), so it must not make the report claim line ends were rewritten.
    const t = this.tally;
    if (ending === Ending.Lf) t.lf--;
    else if (ending === Ending.CrLf) t.crlf--;
    else if (ending === Ending.Cr) t.cr--;
    if (group.text.length > this.maxLine) this.stopOpenGroup();
  }

  /** A line (not inside a quoted value) as text. */
  line(line: string, ending: Ending, lineNo: number): void {
    if (this.quickLine(line, lineNo)) return;
    this.group = { text: '', startLine: lineNo, state: FIELD_START, inFirst: true, bareQuote: false, textAfterQuote: false };
    this.continueGroup(line, ending);
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
      ...this.options,
      on_skip: () => {
        failed = true;
        return undefined;
      },
    });
    if (!failed && records.length === batch.length) {
      // Each group is one row, as csv-parse reads it too: one record per group, in order.
      for (let i = 0; i < batch.length; i++) this.readRow(batch[i] as RowGroup, records[i] as string[]);
      return;
    }
    // csv-parse reads the rows otherwise than `readQuotes` (it should not): each group alone, and a
    // group that is not exactly one record is a row that cannot be read.
    for (const group of batch) {
      let alone = false;
      const own = parseCsv(group.text, {
        ...this.options,
        on_skip: () => {
          alone = true;
          return undefined;
        },
      });
      if (alone || own.length !== 1) this.rows.unparseable(group.startLine, false);
      else this.readRow(group, own[0] as string[]);
    }
  }

  /** The end of the file: the batch is read; a quoted value still open is never closed. */
  end(): void {
    if (this.group) this.stopOpenGroup();
    else this.flushBatch();
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
      const next = line.indexOf(this.delimiter);
      const first = next === -1 ? line : line.slice(0, next);
      // No quote, no line end, and no comma (the copy's delimiter) in the value: it never needs quoting.
      // In a semicolon or tab file a value may hold a comma: the copy quotes it.
      this.rows.textRow(first, next !== -1, lineNo, line, this.delimiter === ',' || !first.includes(','), false);
      return true;
    }
    if (this.plainQuotedLine.test(line)) {
      this.flushBatch();
      const close = quote === 0 ? line.indexOf('"', 1) : -1;
      const first = close === -1 ? line.slice(0, line.indexOf(this.delimiter)) : line.slice(1, close);
      const end = close === -1 ? first.length : close + 1;
      this.rows.textRow(first, end < line.length, lineNo, line, false, false);
      return true;
    }
    return false;
  }

  private closeGroup(): void {
    const group = this.group as RowGroup;
    this.group = undefined;
    this.batch.push(group);
    this.batchText += group.text;
    if (this.batchText.length >= CSV_BATCH_CHARS) this.flushBatch();
  }

  /** One row as csv-parse read it. */
  private readRow(group: RowGroup, fields: string[]): void {
    if (group.textAfterQuote) this.rows.unparseable(group.startLine, false);
    else this.rows.textRow(fields[0] ?? '', fields.length > 1, group.startLine, withoutEnding(group.text), false, group.bareQuote);
  }

  /**
   * A quoted value is still open after `maxLineLength`, or at the end of the file: its quote opened a
   * field (a quote anywhere else is a character), so the file cannot be read past it. The rows before
   * it are counted, and it is an unreadable row.
   */
  private stopOpenGroup(): void {
    const group = this.group as RowGroup;
    this.group = undefined;
    this.flushBatch();
    this.rows.unparseable(group.startLine, false);
    this.tally.stop('unterminatedQuote', group.startLine);
  }
}
