// Line splitting and the byte path: lines are found in the file's bytes, and the ASCII ones without a quote inside a field are read there, with no string made.
//
// The bytes are held in one work Buffer: the partial line carried over from the last chunk, then the new
// chunk. Line ends, quotes and delimiters (commas, or the file's semicolons or tabs) are found with `Buffer.indexOf` (memchr) over the whole chunk, so
// a line costs a few native searches and a pass over its value by the checks, and the clean copy of
// unchanged lines is a range of the same bytes. A line goes to the text path (preflight-csv.ts) when it
// holds a character past ASCII, a quote anywhere but around whole fields, or when csv-parse is forced or
// normalization is on; so does every line while a quoted value spans lines. Both paths count alike (the
// unit tests compare them on random files).
import { isAscii } from 'node:buffer';
import type { CsvFallback } from './preflight-csv.js';
import type { CleanCopyWriter } from './preflight-output.js';
import type { ByteRow, RowReader } from './preflight-rows.js';
import type { PreflightTally } from './preflight-tally.js';

export const Ending = { None: 0, Lf: 1, CrLf: 2, Cr: 3 } as const;
export type Ending = (typeof Ending)[keyof typeof Ending];
export const ENDING_TEXT = ['', '\n', '\r\n', '\r'] as const;

/** Enough for a 64 KB chunk and a long carried line; grows (doubling) only for longer lines. */
const INITIAL_WORK_BYTES = 256 * 1024;

/** Line breaks in `[start, end)` the way lines are counted: CRLF once, a lone CR or LF once (nothing is read past `end`). */
export function lineBreaks(bytes: Uint8Array, start: number, end: number): number {
  let breaks = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === 0x0a) breaks++;
    else if (b === 0x0d && (i + 1 === end || bytes[i + 1] !== 0x0a)) breaks++;
  }
  return breaks;
}

/** Length of the prefix of `buf` that ends on a whole UTF-8 sequence (the rest waits for the next chunk). */
export function completeUtf8Length(buf: Uint8Array): number {
  const n = buf.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = buf[n - back] as number;
    if (b < 0x80) return n;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return back < need ? n - back : n;
    }
  }
  return n;
}

/** UTF-16 code units of the valid UTF-8 `[start, end)`: what `String.length` gives once decoded. */
function utf16Length(bytes: Uint8Array, start: number, end: number): number {
  let units = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if ((b & 0xc0) !== 0x80) units += b >= 0xf0 ? 2 : 1;
  }
  return units;
}

function asciiOnly(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((bytes[i] as number) > 0x7f) return false;
  return true;
}

/** Tab, VT, FF and space only: what `trim` leaves nothing of (a line holds no CR or LF). */
function spacesOnly(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0b && b !== 0x0c) return false;
  }
  return true;
}

export interface LineSplitterSettings {
  /** Longest line, in characters (UTF-16 units, as `String.length` counts). */
  maxLine: number;
  /** Lines may be read from the bytes (false: every line as text). */
  bytePath: boolean;
  /** The byte between fields: a comma, semicolon or tab (preflight-delimiter.ts). */
  delimiter: number;
}

export class LineSplitter {
  private work = Buffer.allocUnsafeSlow(INITIAL_WORK_BYTES);
  private view = new DataView(this.work.buffer, this.work.byteOffset, this.work.byteLength);
  /** Bytes held: the carried line, then bytes not yet checked. */
  private length = 0;
  /** The leading bytes already checked (the carried partial line). */
  private checked = 0;
  private carryAscii = true;
  private readonly row: ByteRow;
  private readonly maxLine: number;
  private readonly bytePath: boolean;
  private readonly delimiter: number;
  // While a chunk is split: its bytes, and the next quote and delimiter at or after the line being read.
  private text: Buffer = this.work;
  private nextQuote = -1;
  private nextDelimiter = -1;
  /** Lines went to the text path since the last row read here: it may hold a batch or an open quoted value. */
  private textLines = false;

  constructor(
    private readonly tally: PreflightTally,
    private readonly rows: RowReader,
    private readonly csv: CsvFallback,
    private readonly writer: CleanCopyWriter,
    settings: LineSplitterSettings,
  ) {
    this.maxLine = settings.maxLine;
    this.bytePath = settings.bytePath;
    this.delimiter = settings.delimiter;
    this.row = { bytes: this.work, view: this.view, start: 0, end: 0, quoted: false, multiColumn: false, lf: false, line: 0 };
  }

  /** Holds `bytes` after the bytes already held. */
  append(bytes: Uint8Array): void {
    const length = this.length + bytes.length;
    if (length > this.work.length) {
      const work = Buffer.allocUnsafeSlow(Math.max(2 * this.work.length, length));
      this.work.copy(work, 0, 0, this.length);
      this.work = work;
      this.view = new DataView(work.buffer, work.byteOffset, work.byteLength);
      this.row.bytes = work;
      this.row.view = this.view;
    }
    this.work.set(bytes, this.length);
    this.length = length;
  }

  /** The bytes held that were not checked yet (an incomplete character from the last chunk, then the new chunk). */
  unchecked(): Buffer {
    return this.work.subarray(this.checked, this.length);
  }

  /**
   * Reads the lines in the held bytes up to `valid` unchecked bytes (checked by the caller: UTF-8, no
   * NUL; `ascii` when all of them are ASCII). The last, partial line waits for more unless `final`.
   */
  split(valid: number, ascii: boolean, final: boolean): void {
    const end = this.checked + valid;
    const text = this.work.subarray(0, end);
    const allAscii = ascii && this.carryAscii;
    this.text = text;
    this.nextQuote = text.indexOf(0x22);
    this.nextDelimiter = text.indexOf(this.delimiter);
    let pos = 0;
    let nl = text.indexOf(0x0a);
    let cr = text.indexOf(0x0d);
    for (;;) {
      let at: number;
      let ending: Ending;
      if (cr !== -1 && (nl === -1 || cr < nl)) {
        if (cr + 1 < end) ending = text[cr + 1] === 0x0a ? Ending.CrLf : Ending.Cr;
        else if (final) ending = Ending.Cr;
        else break; // a CR at the very end: the next chunk says whether an LF follows
        at = cr;
      } else if (nl !== -1) {
        at = nl;
        ending = Ending.Lf;
      } else {
        break;
      }
      this.line(pos, at, ending, allAscii);
      if (this.tally.problem) return;
      pos = at + (ending === Ending.CrLf ? 2 : 1);
      if (cr !== -1 && cr < pos) cr = text.indexOf(0x0d, pos);
      if (nl !== -1 && nl < pos) nl = text.indexOf(0x0a, pos);
    }
    if (final && pos < end) {
      this.line(pos, end, Ending.None, allAscii);
      pos = end;
    }
    // The copy's pending run points into `work`, which is about to move.
    this.writer.flushRun();
    if (!final && end - pos > this.maxLine && utf16Length(text, pos, end) > this.maxLine) {
      this.tally.stop('lineTooLong', this.csv.groupStartLine ?? this.tally.nextLine);
      return;
    }
    this.carryAscii = allAscii || isAscii(text.subarray(pos, end));
    this.work.copyWithin(0, pos, this.length);
    this.length -= pos;
    this.checked = end - pos;
  }

  /** One line, `[start, end)` of `text` without its line end. */
  private line(start: number, end: number, ending: Ending, ascii: boolean): void {
    const t = this.tally;
    const text = this.text;
    const lineNo = t.nextLine++;
    if (ending === Ending.Lf) t.lf++;
    else if (ending === Ending.CrLf) t.crlf++;
    else if (ending === Ending.Cr) t.cr++;
    if (this.textLines && this.csv.inGroup) {
      this.csv.continueGroup(text.toString('utf8', start, end), ending);
      return;
    }
    if (end - start > this.maxLine && utf16Length(text, start, end) > this.maxLine) {
      t.stop('lineTooLong', lineNo);
      return;
    }
    if (this.bytePath && (ascii || asciiOnly(text, start, end))) {
      let quote = this.nextQuote;
      if (quote !== -1 && quote < start) this.nextQuote = quote = text.indexOf(0x22, start);
      if (quote === -1 || quote >= end) {
        this.plainLine(start, end, ending === Ending.Lf, lineNo);
        return;
      }
      if (this.quotedLine(start, end, lineNo)) return;
    }
    this.textLines = true;
    this.csv.line(text.toString('utf8', start, end), ending, lineNo);
  }

  /** Rows batched on the text path come before a row read here. */
  private flushText(): void {
    if (!this.textLines) return;
    this.csv.flushBatch();
    this.textLines = false;
  }

  /** An ASCII line without a quote: blank, or a row whose first field ends at the first delimiter. */
  private plainLine(start: number, end: number, lf: boolean, lineNo: number): void {
    const text = this.text;
    const first = text[start] as number;
    if (start === end || (!(first > 0x20 && first < 0x7f) && spacesOnly(text, start, end))) {
      this.tally.blankLines.add(lineNo);
      return;
    }
    this.flushText();
    let next = this.nextDelimiter;
    if (next !== -1 && next < start) this.nextDelimiter = next = text.indexOf(this.delimiter, start);
    const multiColumn = next !== -1 && next < end;
    const row = this.row;
    row.start = start;
    row.end = multiColumn ? next : end;
    row.quoted = false;
    row.multiColumn = multiColumn;
    row.lf = lf;
    row.line = lineNo;
    this.rows.bytesRow(row);
  }

  /**
   * An ASCII line whose every field is unquoted without a quote, or quoted with no quote inside
   * (`"a@b.com","Ann",2026-01-01`: warehouse exports quote every field): its fields are the bytes between
   * the delimiters, less the wrapping quotes, which is what csv-parse returns for it. False for any other
   * line with a quote (an escaped `""`, a stray quote, a value running on to the next line).
   */
  private quotedLine(start: number, end: number, lineNo: number): boolean {
    const text = this.text;
    const delimiter = this.delimiter;
    let fieldStart = -1;
    let fieldEnd = -1;
    let i = start;
    for (;;) {
      const from = i;
      if (i < end && text[i] === 0x22) {
        i++;
        while (i < end && text[i] !== 0x22) i++;
        if (i === end) return false; // the quote runs on past the line
        i++;
        if (fieldStart === -1) {
          fieldStart = from + 1;
          fieldEnd = i - 1;
        }
        if (i < end && text[i] !== delimiter) return false;
      } else {
        while (i < end && text[i] !== delimiter) {
          if (text[i] === 0x22) return false;
          i++;
        }
        if (fieldStart === -1) {
          fieldStart = from;
          fieldEnd = i;
        }
      }
      if (i === end) break;
      i++; // the delimiter
    }
    this.flushText();
    const row = this.row;
    const quoted = text[start] === 0x22;
    row.start = fieldStart;
    row.end = fieldEnd;
    row.quoted = quoted;
    row.multiColumn = fieldEnd + (quoted ? 1 : 0) < end;
    row.lf = false;
    row.line = lineNo;
    this.rows.bytesRow(row);
    return true;
  }
}
