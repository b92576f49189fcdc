// One row's first field becomes a value: header, trimming, format, duplicates and the clean copy, read from the file's bytes or from text.
//
// Two entries that count alike. `bytesRow` takes the field where it lies in the file's bytes (ASCII,
// no quote inside, which is nearly every row of a real list): the checks and the fingerprint read the
// bytes, the copy copies them, and no string is made unless the value fails its format (the reason
// needs what it looks like) or is the first row (it may be a header). `textRow` takes a field csv-parse
// or the text path produced; the unit tests send the same files through both and compare everything.
import { ValueFormat } from '../shared/contract.js';
import type { FingerprintSet } from './fingerprints.js';
import type { HeaderMatcher } from './preflight-header.js';
import type { CleanCopyWriter } from './preflight-output.js';
import type { PreflightTally } from './preflight-tally.js';
import { SEPARATOR_LINE_FIELD } from './preflight-delimiter.js';
import { checkFormat, isE164Bytes, isEmailBytes, looksLike, type NormalizeOptions, normalizeValue } from './value-formats.js';

// A value holds no CR or LF by the time it is written (see `textRow`): a quote or a comma makes the copy quote it.
const QUOTE_NEEDED = /[",]/;
const LINE_BREAK = /[\r\n]/;

/**
 * A row whose first field lies in `bytes`. One object is filled in again for every line, so reading a
 * line allocates nothing.
 */
export interface ByteRow {
  bytes: Buffer;
  /** Over `bytes`, for the fingerprint's four-byte reads. */
  view: DataView;
  /** The first field, without its quotes. */
  start: number;
  end: number;
  /** The field was quoted (so the line cannot be copied as it is). */
  quoted: boolean;
  /** More fields follow. */
  multiColumn: boolean;
  /** An LF ends the line, and the field is unquoted: if it is also the whole line and unpadded, the line is copied as it is. */
  lf: boolean;
  line: number;
}

export interface RowReaderSettings {
  format: ValueFormat | undefined;
  normalize: NormalizeOptions | undefined;
  header: HeaderMatcher;
  /** Undefined when the duplicate check is off. */
  fingerprints: FingerprintSet | undefined;
}

/** What `String.prototype.trim` removes, among the bytes a line can hold (no CR or LF): tab, VT, FF, space. */
function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0b || b === 0x0c;
}

/** `text` without surrounding whitespace; most values have none, and looking at both ends is cheaper than `trim`. */
function trimmed(text: string): string {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f ? text : text.trim();
}

export class RowReader {
  private readonly format: ValueFormat | undefined;
  private readonly normalize: NormalizeOptions | undefined;
  private readonly header: HeaderMatcher;
  private readonly fingerprints: FingerprintSet | undefined;
  private seenFirstRow = false;
  /** Set before the first row for a semicolon or tab file: an unquoted value may hold a comma, which the copy must quote. */
  unquotedCommas = false;
  /** Set before the first row when the file starts with Excel's separator line (`sep=;`). */
  separatorLineExpected = false;

  constructor(
    private readonly tally: PreflightTally,
    private readonly writer: CleanCopyWriter,
    settings: RowReaderSettings,
  ) {
    this.format = settings.format;
    this.normalize = settings.normalize;
    this.header = settings.header;
    this.fingerprints = settings.fingerprints;
  }

  /**
   * A row that cannot be read, or whose value holds a line break (`lineBreak`): it counts as a row (and
   * as the first one, for the header), and nothing of it goes into the copy.
   */
  unparseable(line: number, lineBreak: boolean): void {
    this.tally.rows++;
    this.seenFirstRow = true;
    this.tally.unparseableRows.add(line);
    if (lineBreak) this.tally.lineBreakValues.add(line);
  }

  /** The first row's value; true when it is a header (then it is no value). */
  private isHeader(value: string, line: number): boolean {
    this.seenFirstRow = true;
    const matches = this.header.match(value);
    if (matches) this.tally.header = { line, matches };
    return matches !== undefined;
  }

  /** Excel's separator line (`sep=;` on line 1): it names the delimiter and is no row. */
  private separatorLine(first: string, multiColumn: boolean, line: number): boolean {
    if (line !== 1 || !this.separatorLineExpected || !multiColumn || first.toLowerCase() !== SEPARATOR_LINE_FIELD) return false;
    this.tally.separatorLine = true;
    return true;
  }

  /** A row read from the bytes (ASCII). Normalization is off here: with it on, rows go through `textRow`. */
  bytesRow(row: ByteRow): void {
    const t = this.tally;
    const { bytes, line } = row;
    if (line === 1 && row.end - row.start === SEPARATOR_LINE_FIELD.length && this.separatorLine(bytes.toString('latin1', row.start, row.end), row.multiColumn, line)) return;
    t.rows++;
    if (row.multiColumn) t.multiColumnRows.add(line);
    let start = row.start;
    let end = row.end;
    while (start < end && isSpace(bytes[start] as number)) start++;
    while (end > start && isSpace(bytes[end - 1] as number)) end--;
    if (!this.seenFirstRow && this.isHeader(bytes.toString('latin1', start, end), line)) return;
    if (start === end) {
      t.emptyValues.add(line);
      return;
    }
    const padded = end - start !== row.end - row.start;
    if (padded) t.paddedValues.add(line);
    t.values++;
    const format = this.format;
    if (format !== undefined && !(format === ValueFormat.email ? isEmailBytes(bytes, start, end) : isE164Bytes(bytes, start, end))) {
      t.invalidValues.add(line);
      t.misfit(looksLike(format, bytes.toString('latin1', start, end)));
    }
    if (this.fingerprints?.addBytes(bytes, row.view, start, end) === 'seen') {
      t.duplicates.add(line);
      return;
    }
    t.cleanValues++;
    // The copy quotes a value only if it holds a comma, the copy's delimiter (a field here holds no quote,
    // CR or LF): a quoted field may, and so may an unquoted one in a semicolon or tab file.
    let needsQuotes = false;
    if (row.quoted || this.unquotedCommas) for (let i = start; i < end && !needsQuotes; i++) needsQuotes = bytes[i] === 0x2c;
    if (row.quoted && !needsQuotes && !padded && !row.multiColumn) t.unneededQuotes.add(line);
    if (!row.quoted && !needsQuotes && row.lf && !padded && !row.multiColumn) this.writer.run(bytes, start, end + 1);
    else this.writer.value(bytes, start, end, needsQuotes);
  }

  /**
   * A row given as text: `first` is its first field as parsed; `raw` the row as written, to tell whether
   * the copy rewrites its quoting; `plain` when the value cannot need quoting; `bareQuote` when the
   * field was unquoted and holds a quote (the copy quotes it, so that a CSV reader gets it as written).
   */
  textRow(first: string, multiColumn: boolean, line: number, raw: string | undefined, plain: boolean, bareQuote: boolean): void {
    if (this.separatorLine(first, multiColumn, line)) return;
    let value = trimmed(first);
    // Insider reads one value per line: a value holding a line break (inside quotes; around it, it is
    // trimmed like a space) would reach it as two, so it is never sent.
    if (!plain && LINE_BREAK.test(value)) {
      this.unparseable(line, true);
      return;
    }
    const t = this.tally;
    t.rows++;
    if (multiColumn) t.multiColumnRows.add(line);
    if (!this.seenFirstRow && this.isHeader(value, line)) return;
    if (value.length === 0) {
      t.emptyValues.add(line);
      return;
    }
    const padded = value.length !== first.length;
    if (padded) t.paddedValues.add(line);
    let normalized = false;
    if (this.normalize) {
      const n = normalizeValue(this.format, value, this.normalize);
      if (n !== value) {
        normalized = true;
        t.normalizedValues?.add(line);
        value = n;
      }
    }
    t.values++;
    if (this.format !== undefined && !checkFormat(this.format, value)) {
      t.invalidValues.add(line);
      t.misfit(looksLike(this.format, value));
    }
    if (this.fingerprints?.add(value) === 'seen') {
      t.duplicates.add(line);
      return;
    }
    const out = plain || !QUOTE_NEEDED.test(value) ? value : `"${value.replace(/"/g, '""')}"`;
    t.cleanValues++;
    if (bareQuote && out !== value) t.bareQuotes.add(line);
    // Quotes the file had and the copy drops; not quotes the copy adds (a comma in a semicolon or tab file's value).
    else if (raw !== undefined && raw.charCodeAt(0) === 0x22 && out !== raw && !padded && !multiColumn && !normalized) t.unneededQuotes.add(line);
    this.writer.text(out);
  }
}
