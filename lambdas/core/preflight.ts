// Pre-flight: reads a dropped CSV once, as a stream, counts what is wrong with it, decides whether Insider should see it, and writes the clean copy.
//
// Pure apart from node:zlib and the sink it is handed: the caller streams the object in (an S3
// GetObject body) and, when the report says `changed`, hands Insider the copy the sink received.
//
// How the CSV is read. csv-parse is the parser, but it walks the input a byte at a time in JavaScript,
// with several calls per byte: alone, without counting anything, it reads a list a quarter as fast as
// this whole scan does (and a third as fast again with its `info` option, which gives line numbers; see
// the pre-flight benchmark, bench/preflight.ts). So lines go to it only when they need a CSV parser. A line without a quote has no CSV syntax other than the comma,
// so its fields are what `split(',')` gives, which is what csv-parse returns for it too; so has a line
// whose quotes only wrap whole fields with no quote inside (`"a@b.com","Ann"`, what warehouse exports
// write on every line; see PLAIN_QUOTED_LINE). Every other line with a quote goes to csv-parse, together
// with the lines a quoted value runs on to. The unit tests run both ways (`csvParseOnly`) over the same
// files, valid and malformed, and compare every figure and the copy.
import { isUtf8 } from 'node:buffer';
import type { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { CsvError, Options as CsvOptions } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import {
  DEFAULT_ATTRIBUTE_FORMATS,
  DEFAULT_MAX_INVALID_SHARE,
  PREFLIGHT_HEADER_WORDS,
  PREFLIGHT_MAX_LINE_BYTES,
  PREFLIGHT_MAX_TRACKED_VALUES,
  PREFLIGHT_SAMPLE_LINES,
  type ValueFormat,
} from '../shared/contract.js';
import { FingerprintSet } from './fingerprints.js';
import {
  checkFormat,
  FORMAT_FAILURE_WORDS,
  formatForAttribute,
  looksLike,
  type NormalizeOptions,
  normalizeValue,
} from './value-formats.js';

/**
 * Where the clean copy goes, in chunks of about 64 KB, in order. A function may return a promise: the
 * next chunk waits for it. A Writable (e.g. the PassThrough an `@aws-sdk/lib-storage` Upload reads its
 * Body from) is written with backpressure: when `write` returns false, reading waits for `drain`. The
 * scanner never ends or destroys it: the caller completes the upload when the report says `accept` and
 * `changed`, and aborts it otherwise (whether anything changed is known only at the end of the file).
 */
export type CleanCopySink = Writable | ((chunk: Buffer) => void | Promise<void>);

export interface PreflightOptions {
  /** The Insider attribute (from the folder or metadata): picks the value format and is a header word. */
  attributeName: string;
  /** The object is gzip (`.csv.gz`): decompressed while streaming. */
  gzip?: boolean | undefined;
  /** Largest decompressed size; reading stops as soon as the file passes it. */
  maxBytes: number;
  /** Attribute → value format. Default `DEFAULT_ATTRIBUTE_FORMATS` (email: `Email Address`, `email`, `em`; E.164: `Phone Number`, `phone_number`, `pn`). */
  formats?: Readonly<Record<string, ValueFormat>> | undefined;
  /** Reject when more than this share of values fail the format, or of rows fail to parse. Default 0.5. */
  maxInvalidShare?: number | undefined;
  /** Off (default) or on with these settings: lower-case emails, E.164 phones. The copy holds normalized values. */
  normalize?: false | NormalizeOptions | undefined;
  /** Receives the clean copy. Without it, the file is only checked. */
  sink?: CleanCopySink | undefined;
  /** Words that make the first row a header besides the attribute name. Default `PREFLIGHT_HEADER_WORDS`. */
  headerWords?: readonly string[] | undefined;
  /** Distinct values the duplicate check remembers (4.5 MB for the default `PREFLIGHT_MAX_TRACKED_VALUES`); 0 turns it off. */
  maxTrackedValues?: number | undefined;
  /** Line numbers kept per kind of problem. Default `PREFLIGHT_SAMPLE_LINES`. */
  sampleLines?: number | undefined;
  /** Longest line, in characters, held in memory. Default `PREFLIGHT_MAX_LINE_BYTES`. */
  maxLineLength?: number | undefined;
  /** Send every line through csv-parse instead of only quoted ones (for tests that compare the two, and the benchmark). */
  csvParseOnly?: boolean | undefined;
}

/** How many rows (or values) had a problem, and the first line numbers where it happened. Never the values. */
export interface LineSample {
  count: number;
  lines: number[];
}

/** Why reading stopped before the end, or what makes the file unreadable as a whole. */
export type PreflightProblem =
  | 'tooLarge'
  | 'nulByte'
  | 'invalidUtf8'
  | 'utf16'
  | 'gzipNotNamedGz'
  | 'zip'
  | 'notGzip'
  | 'gzipTruncated'
  | 'lineTooLong'
  | 'unterminatedQuote';

export type PreflightRejection = 'empty' | 'tooLarge' | 'notText' | 'notCsv' | 'invalidValues';

/** What the clean copy fixes. Any of these makes `changed` true. */
export type CleanupKind =
  | 'gzip'
  | 'bom'
  | 'lineEndings'
  | 'blankLines'
  | 'header'
  | 'paddedValues'
  | 'emptyValues'
  | 'extraColumns'
  | 'quoting'
  | 'duplicates'
  | 'unparseableRows'
  | 'normalized';

export type LineEndingKind = 'none' | 'lf' | 'crlf' | 'cr' | 'mixed';

/**
 * The figures for the record: counts and line numbers (1-based, as an editor shows them) only. No
 * field holds a value from the file, so the whole report may go into a record, a log line or a
 * notification.
 */
export interface PreflightReport {
  verdict: 'accept' | 'reject';
  /** Set when rejected. */
  rejection?: PreflightRejection | undefined;
  /** Set when rejected: what is wrong and what to do, with counts in words. */
  reason?: string | undefined;
  /** What stopped the scan or makes the file unreadable, and where. */
  problem?: { kind: PreflightProblem; line?: number | undefined } | undefined;
  /** The clean copy differs from the file: hand Insider the copy. False: presign the original. */
  changed: boolean;
  changes: CleanupKind[];
  /** The format values were checked against; null for attributes without one. */
  format: ValueFormat | null;
  gzip: boolean;
  /** Bytes taken from the source (compressed bytes for gzip). */
  bytesRead: number;
  /** Bytes scanned (after decompression). */
  bytes: number;
  /** False when reading stopped before the end of the file (the figures cover what was read). */
  complete: boolean;
  bom: boolean;
  lineEndings: { kind: LineEndingKind; lf: number; crlf: number; cr: number };
  /** Physical lines (a quoted value spanning lines counts each). */
  lines: number;
  /** Non-blank CSV rows, header and unparseable rows included. */
  rows: number;
  /** Non-empty first-column values, duplicates included, header excluded. */
  values: number;
  /** Values in the clean copy (one per line). */
  cleanValues: number;
  /** Bytes handed to the sink. */
  cleanBytes: number;
  blankLines: LineSample;
  header: { line: number; matches: 'attribute' | 'word' } | null;
  /** Rows whose first column is empty (`,x` or `""`). */
  emptyValues: LineSample;
  /** Values with whitespace around them. */
  paddedValues: LineSample;
  duplicates: LineSample & { complete: boolean };
  multiColumnRows: LineSample;
  /** Values whose quoting the copy changes (quotes that were not needed). */
  unneededQuotes: LineSample;
  unparseableRows: LineSample;
  /** Values failing the format (after normalization, when on). */
  invalidValues: LineSample;
  /** Values normalization rewrote; null when it is off. */
  normalizedValues: LineSample | null;
  durationMs: number;
}

const CHUNK_TARGET_CHARS = 64 * 1024;
const CSV_BATCH_CHARS = 64 * 1024;

const Ending = { None: 0, Lf: 1, CrLf: 2, Cr: 3 } as const;
type Ending = (typeof Ending)[keyof typeof Ending];
const ENDING_TEXT = ['', '\n', '\r\n', '\r'] as const;

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

const QUOTE_NEEDED = /[",\r\n]/;

/**
 * A line whose every field is either unquoted without a quote in it, or quoted with no quote inside
 * (`"a@b.com","Ann",2026-01-01`: warehouse exports quote every field). Its fields are the text between
 * the commas, less the wrapping quotes; csv-parse returns the same, only 5–10 times slower. Anything
 * else with a quote (an escaped `""`, a quoted line end, a stray quote) goes to csv-parse.
 */
const PLAIN_QUOTED_LINE = /^(?:"[^"]*"|[^",]*)(?:,(?:"[^"]*"|[^",]*))*$/;

class Sample implements LineSample {
  count = 0;
  lines: number[] = [];
  constructor(private readonly keep: number) {}
  add(line: number): void {
    this.count++;
    if (this.lines.length < this.keep) this.lines.push(line);
  }
  toJSON(): LineSample {
    return { count: this.count, lines: [...this.lines] };
  }
}

/** Lower case, and runs of spaces, `_`, `-` and `.` as one space: `E-Mail_Address` → `e mail address`. */
export function headerKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_.-]+/g, ' ').trim();
}

/** Line breaks the way lines are counted: CRLF once, a lone CR or LF once. */
function lineBreaks(bytes: Uint8Array, end: number): number {
  let breaks = 0;
  for (let i = 0; i < end; i++) {
    const b = bytes[i];
    if (b === 0x0a) breaks++;
    else if (b === 0x0d && bytes[i + 1] !== 0x0a) breaks++;
  }
  return breaks;
}

/** Length of the prefix of `buf` that ends on a whole UTF-8 sequence (the rest waits for the next chunk). */
function completeUtf8Length(buf: Uint8Array): number {
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

/** `text` without surrounding whitespace; most values have none, and looking at both ends is cheaper than `trim`. */
function trimmed(text: string): string {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f ? text : text.trim();
}

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  if (c > 0x20 && c < 0x7f) return false;
  return line.trim().length === 0;
}

const number = (n: number): string => n.toLocaleString('en-US');

function linesText(lines: readonly number[], count: number): string {
  if (lines.length === 0) return '';
  const list = lines.length === 1 ? String(lines[0]) : `${lines.slice(0, -1).join(', ')} and ${lines.at(-1)}`;
  const noun = lines.length === 1 ? 'line' : 'lines';
  return count > lines.length ? `first at ${noun} ${list}` : `${noun} ${list}`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${bytes} bytes`;
}

interface QuotedGroup {
  /** The lines with their original line ends: what csv-parse reads. */
  text: string;
  startLine: number;
  /** Quote characters so far, odd while a quoted value is open. */
  quotes: number;
}

/**
 * The synchronous core: feed it decompressed chunks with `push`, take the clean copy with `takeOutput`,
 * and call `finish` once. `preflight()` drives it from a stream; tests may drive it directly.
 */
export class PreflightScanner {
  private readonly format: ValueFormat | undefined;
  private readonly maxInvalidShare: number;
  private readonly normalize: NormalizeOptions | undefined;
  private readonly headerWords: ReadonlySet<string>;
  private readonly attributeKey: string;
  private readonly maxLine: number;
  private readonly csvParseOnly: boolean;
  private readonly started = performance.now();

  private bytesRead = 0;
  private bytes = 0;
  private problem: { kind: PreflightProblem; line?: number | undefined } | undefined;
  private finished = false;

  // Byte stage.
  private head: Buffer | undefined;
  private headDone = false;
  private bom = false;
  private pendingUtf8: Buffer | undefined;

  // Line stage.
  private carry = '';
  private line = 1;
  private lf = 0;
  private crlf = 0;
  private cr = 0;
  private group: QuotedGroup | undefined;
  private batch: QuotedGroup[] = [];
  private batchText = '';

  // Record stage.
  private rows = 0;
  private values = 0;
  private cleanValues = 0;
  private seenFirstRow = false;
  private header: PreflightReport['header'] = null;
  /** Undefined when the duplicate check is off (`maxTrackedValues: 0`). */
  private readonly fingerprints: FingerprintSet | undefined;
  private readonly blankLines: Sample;
  private readonly emptyValues: Sample;
  private readonly paddedValues: Sample;
  private readonly duplicates: Sample;
  private readonly multiColumnRows: Sample;
  private readonly unneededQuotes: Sample;
  private readonly unparseableRows: Sample;
  private readonly invalidValues: Sample;
  private readonly normalizedValues: Sample | undefined;
  private readonly misfits = new Map<string, number>();

  // Output. A run of rows copied unchanged is kept as offsets into `current` (the text being split)
  // and appended as one slice: building the copy row by row was a fifth of the time.
  private current = '';
  // Whether `current` holds any quote or comma at all: most lists have neither, and then no line is searched for them.
  private currentHasQuote = false;
  private currentHasComma = false;
  // The bytes of `current` from `currentByteBase` on, when they are all ASCII (else undefined): values are hashed from them.
  private currentBytes: Buffer | undefined;
  private currentView: DataView | undefined;
  private currentByteBase = 0;
  private runStart = -1;
  private runEnd = -1;
  private output = '';
  private outputLength = 0;
  private outputChunks: Buffer[] = [];
  private cleanBytes = 0;

  constructor(private readonly options: PreflightOptions) {
    this.format = formatForAttribute(options.attributeName, options.formats ?? DEFAULT_ATTRIBUTE_FORMATS);
    this.maxInvalidShare = options.maxInvalidShare ?? DEFAULT_MAX_INVALID_SHARE;
    this.normalize = options.normalize || undefined;
    this.headerWords = new Set((options.headerWords ?? PREFLIGHT_HEADER_WORDS).map(headerKey));
    this.attributeKey = headerKey(options.attributeName);
    this.maxLine = options.maxLineLength ?? PREFLIGHT_MAX_LINE_BYTES;
    this.csvParseOnly = options.csvParseOnly === true;
    const tracked = options.maxTrackedValues ?? PREFLIGHT_MAX_TRACKED_VALUES;
    this.fingerprints = tracked > 0 ? new FingerprintSet(tracked) : undefined;
    const keep = options.sampleLines ?? PREFLIGHT_SAMPLE_LINES;
    this.blankLines = new Sample(keep);
    this.emptyValues = new Sample(keep);
    this.paddedValues = new Sample(keep);
    this.duplicates = new Sample(keep);
    this.multiColumnRows = new Sample(keep);
    this.unneededQuotes = new Sample(keep);
    this.unparseableRows = new Sample(keep);
    this.invalidValues = new Sample(keep);
    this.normalizedValues = this.normalize ? new Sample(keep) : undefined;
  }

  /** The verdict is already certain (too large, not text, not CSV): stop reading. */
  get stopped(): boolean {
    return this.problem !== undefined;
  }

  /** Counts compressed bytes taken from the source (the driver calls it for gzip). */
  countRead(bytes: number): void {
    this.bytesRead += bytes;
  }

  /** Feeds the next decompressed chunk. Returns false once reading should stop. */
  push(chunk: Uint8Array): boolean {
    if (this.problem || this.finished) return false;
    if (!this.options.gzip) this.bytesRead += chunk.length;
    this.bytes += chunk.length;
    if (this.bytes > this.options.maxBytes) {
      this.stop('tooLarge', undefined);
      return false;
    }
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.headDone) {
      // The first four bytes say BOM, gzip, ZIP or UTF-16; wait for them.
      this.head = this.head ? Buffer.concat([this.head, buf]) : Buffer.from(buf);
      if (this.head.length < 4) return true;
      buf = this.takeHead();
      if (this.problem) return false;
    }
    this.decode(buf, false);
    return this.problem === undefined;
  }

  /** Reading failed in a way that says what the file is (bad gzip data). */
  fail(kind: 'notGzip' | 'gzipTruncated'): void {
    if (!this.problem) this.stop(kind, undefined);
  }

  /** The clean copy produced since the last call, if any. */
  takeOutput(): Buffer | undefined {
    if (this.outputChunks.length === 0) return undefined;
    const out = this.outputChunks.length === 1 ? (this.outputChunks[0] as Buffer) : Buffer.concat(this.outputChunks);
    this.outputChunks = [];
    return out;
  }

  /** Ends the file: the last line, the verdict and the figures. Take the rest of the copy with `takeOutput` after it. */
  finish(): PreflightReport {
    if (!this.finished && !this.problem) {
      if (!this.headDone) {
        const buf = this.takeHead();
        if (!this.problem) this.decode(buf, true);
      } else {
        this.decode(Buffer.alloc(0), true);
      }
      if (!this.problem) this.endOfText();
    }
    this.finished = true;
    this.flushOutput();
    return this.report();
  }

  private stop(kind: PreflightProblem, line: number | undefined): void {
    this.problem = { kind, line };
  }

  private takeHead(): Buffer {
    const head = this.head ?? Buffer.alloc(0);
    this.head = undefined;
    this.headDone = true;
    if (head[0] === 0x1f && head[1] === 0x8b) this.stop('gzipNotNamedGz', undefined);
    else if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) this.stop('zip', undefined);
    else if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) this.stop('utf16', undefined);
    else if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      this.bom = true;
      return head.subarray(3);
    }
    return head;
  }

  private decode(input: Buffer, final: boolean): void {
    let buf = input;
    if (this.pendingUtf8) {
      buf = Buffer.concat([this.pendingUtf8, buf]);
      this.pendingUtf8 = undefined;
    }
    const end = final ? buf.length : completeUtf8Length(buf);
    if (end < buf.length) this.pendingUtf8 = Buffer.from(buf.subarray(end));
    const part = end === buf.length ? buf : buf.subarray(0, end);
    if (part.length > 0) {
      const nul = part.indexOf(0);
      if (nul !== -1) {
        this.stop('nulByte', this.line + lineBreaks(part, nul));
        return;
      }
      if (!isUtf8(part)) {
        this.stop('invalidUtf8', this.line + this.firstInvalidUtf8Line(part));
        return;
      }
      const text = part.toString('utf8');
      // As many characters as bytes: all ASCII, so a character's offset is its byte's.
      this.text(text, final, text.length === part.length ? part : undefined);
    } else if (final) {
      this.text('', true, undefined);
    }
  }

  /** Line breaks before the first line holding invalid UTF-8 (lines end in ASCII, so each line checks alone). */
  private firstInvalidUtf8Line(part: Buffer): number {
    let start = 0;
    for (;;) {
      const nl = part.indexOf(0x0a, start);
      const end = nl === -1 ? part.length : nl;
      if (!isUtf8(part.subarray(start, end))) return lineBreaks(part, start);
      if (nl === -1) return lineBreaks(part, start);
      start = nl + 1;
    }
  }

  /** Splits `chunk` (after what was carried over) into lines; `bytes` is the chunk's bytes when it is all ASCII. */
  private text(chunk: string, final: boolean, bytes: Buffer | undefined): void {
    const s = this.carry.length > 0 ? this.carry + chunk : chunk;
    this.current = s;
    this.currentBytes = bytes;
    this.currentView = bytes ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
    this.currentByteBase = this.carry.length;
    this.currentHasQuote = s.indexOf('"') !== -1;
    this.currentHasComma = s.indexOf(',') !== -1;
    const length = s.length;
    let pos = 0;
    if (s.indexOf('\r') === -1) {
      for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', pos)) {
        this.onLine(s.slice(pos, nl), Ending.Lf, pos);
        pos = nl + 1;
        if (this.problem) return;
      }
    } else {
      let nl = s.indexOf('\n');
      let cr = s.indexOf('\r');
      for (;;) {
        let at: number;
        let ending: Ending;
        if (cr !== -1 && (nl === -1 || cr < nl)) {
          if (cr + 1 < length) ending = s.charCodeAt(cr + 1) === 0x0a ? Ending.CrLf : Ending.Cr;
          else if (final) ending = Ending.Cr;
          else break; // a CR at the very end: the next chunk says whether an LF follows
          at = cr;
        } else if (nl !== -1) {
          at = nl;
          ending = Ending.Lf;
        } else {
          break;
        }
        this.onLine(s.slice(pos, at), ending, pos);
        if (this.problem) return;
        pos = at + (ending === Ending.CrLf ? 2 : 1);
        if (cr !== -1 && cr < pos) cr = s.indexOf('\r', pos);
        if (nl !== -1 && nl < pos) nl = s.indexOf('\n', pos);
      }
    }
    this.carry = pos === 0 ? s : s.slice(pos);
    if (final) {
      const last = this.carry;
      this.carry = '';
      if (last.length > 0) this.onLine(last, Ending.None, pos);
    }
    this.flushRun();
    if (!final && this.carry.length > this.maxLine) {
      this.stop('lineTooLong', this.group?.startLine ?? this.line);
    }
  }

  /** One line without its line end; `start` is where it begins in `current`. */
  private onLine(line: string, ending: Ending, start: number): void {
    const lineNo = this.line++;
    if (ending === Ending.Lf) this.lf++;
    else if (ending === Ending.CrLf) this.crlf++;
    else if (ending === Ending.Cr) this.cr++;

    if (this.group) {
      this.group.text += line + ENDING_TEXT[ending];
      this.group.quotes += countQuotes(line);
      if (this.group.quotes % 2 === 0) this.closeGroup();
      else if (this.group.text.length > this.maxLine) this.parseOpenGroup();
      return;
    }
    if (line.length > this.maxLine) {
      this.stop('lineTooLong', lineNo);
      return;
    }
    if (this.quickLine(line, ending, lineNo, start)) return;
    this.group = { text: line + ENDING_TEXT[ending], startLine: lineNo, quotes: countQuotes(line) };
    if (this.group.quotes % 2 === 0) this.closeGroup();
  }

  /**
   * A line that needs no CSV parser (blank, no quote, or one whole quoted field): handled here. False: it
   * needs csv-parse. `start` is where it begins in `current`, or -1 for a line from elsewhere (a replay).
   */
  private quickLine(line: string, ending: Ending, lineNo: number, start: number): boolean {
    if (isBlank(line)) {
      this.blankLines.add(lineNo);
      return true;
    }
    if (this.csvParseOnly) return false;
    const inCurrent = start >= 0;
    const quote = inCurrent && !this.currentHasQuote ? -1 : line.indexOf('"');
    if (quote === -1) {
      if (this.batch.length > 0) this.flushBatch();
      const comma = inCurrent && !this.currentHasComma ? -1 : line.indexOf(',');
      // No quote, no comma in the first field, no line end: the value never needs quoting.
      const lf = ending === Ending.Lf;
      if (comma === -1) this.record(line, false, lineNo, line, start, true, lf);
      else this.record(line.slice(0, comma), true, lineNo, line, start, true, lf);
      return true;
    }
    if (PLAIN_QUOTED_LINE.test(line)) {
      if (this.batch.length > 0) this.flushBatch();
      const close = quote === 0 ? line.indexOf('"', 1) : -1;
      const first = close === -1 ? line.slice(0, line.indexOf(',')) : line.slice(1, close);
      const end = close === -1 ? first.length : close + 1;
      this.record(first, end < line.length, lineNo, line, -1, false, false);
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
    if (unclosedAt !== undefined) this.stop('unterminatedQuote', unclosedAt);
  }

  private flushBatch(): void {
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
        this.record(fields[0] ?? '', fields.length > 1, group.startLine, withoutEnding(group.text), -1, false, false);
      }
      return;
    }
    // Some row is malformed: parse group by group to learn which lines.
    for (const group of batch) this.parseGroup(group);
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
      linesBefore += lineBreaks(bytes.subarray(counted, offset), offset - counted);
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
    for (const row of rows) this.record(row.fields[0] ?? '', row.fields.length > 1, row.line, raw, -1, false, false);
    if (failure === undefined) return undefined;
    const badRow = lineAt(rowStart);
    this.rows++;
    this.seenFirstRow = true;
    this.unparseableRows.add(group.startLine + badRow);
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
      } else if (!this.quickLine(text, ending, lineNo, -1)) {
        sub = { text: text + ENDING_TEXT[ending], startLine: lineNo, quotes: countQuotes(text) };
      }
      if (sub && sub.quotes % 2 === 0) {
        this.parseGroup(sub);
        sub = undefined;
      }
    }
    return sub ? this.parseGroup(sub) : undefined;
  }

  private endOfText(): void {
    if (this.group) this.parseOpenGroup();
    if (!this.problem) this.flushBatch();
  }

  private headerMatch(value: string): 'attribute' | 'word' | undefined {
    const key = headerKey(value);
    if (key === this.attributeKey) return 'attribute';
    return this.headerWords.has(key) ? 'word' : undefined;
  }

  /**
   * One row. `first` is its first field as parsed; `raw` the row as written when known (one line), to
   * tell whether the copy rewrites it; `start` where it (and `first`) begins in `current`, or -1;
   * `plain` when the value cannot need quoting; `endsInLf` when `raw` is followed by LF in `current`.
   */
  private record(
    first: string,
    multiColumn: boolean,
    line: number,
    raw: string | undefined,
    start: number,
    plain: boolean,
    endsInLf: boolean,
  ): void {
    this.rows++;
    if (multiColumn) this.multiColumnRows.add(line);
    let value = trimmed(first);
    if (!this.seenFirstRow) {
      this.seenFirstRow = true;
      const matches = this.headerMatch(value);
      if (matches) {
        this.header = { line, matches };
        return;
      }
    }
    if (value.length === 0) {
      this.emptyValues.add(line);
      return;
    }
    const padded = value.length !== first.length;
    if (padded) this.paddedValues.add(line);
    let normalized = false;
    if (this.normalize) {
      const n = normalizeValue(this.format, value, this.normalize);
      if (n !== value) {
        normalized = true;
        this.normalizedValues?.add(line);
        value = n;
      }
    }
    this.values++;
    if (this.format !== undefined && !checkFormat(this.format, value)) {
      this.invalidValues.add(line);
      const misfit = looksLike(this.format, value);
      if (misfit) this.misfits.set(misfit, (this.misfits.get(misfit) ?? 0) + 1);
    }
    const fingerprints = this.fingerprints;
    if (fingerprints) {
      // An untrimmed, unnormalized value read from an ASCII chunk is hashed from its bytes.
      const at = start - this.currentByteBase;
      const bytes = this.currentBytes;
      const seen =
        bytes !== undefined && start >= 0 && at >= 0 && value === first
          ? fingerprints.addBytes(bytes, this.currentView as DataView, at, at + value.length)
          : fingerprints.add(value);
      if (seen === 'seen') {
        this.duplicates.add(line);
        return;
      }
    }
    const out = plain || !QUOTE_NEEDED.test(value) ? value : `"${value.replace(/"/g, '""')}"`;
    this.cleanValues++;
    this.outputLength += out.length + 1;
    if (out === raw && start >= 0 && endsInLf) {
      // Written as it was: extend the run of unchanged rows (or start one).
      if (this.runEnd !== start) {
        this.flushRun();
        this.runStart = start;
      }
      this.runEnd = start + raw.length + 1;
    } else {
      if (raw !== undefined && out !== raw && !padded && !multiColumn && !normalized) this.unneededQuotes.add(line);
      this.flushRun();
      this.output += `${out}\n`;
    }
    if (this.outputLength >= CHUNK_TARGET_CHARS) this.flushOutput();
  }

  private flushRun(): void {
    if (this.runStart < 0) return;
    this.output += this.current.slice(this.runStart, this.runEnd);
    this.runStart = -1;
    this.runEnd = -1;
  }

  private flushOutput(): void {
    this.flushRun();
    if (this.output.length === 0) return;
    const chunk = Buffer.from(this.output, 'utf8');
    this.output = '';
    this.outputLength = 0;
    this.cleanBytes += chunk.length;
    this.outputChunks.push(chunk);
  }

  private changes(): CleanupKind[] {
    const changes: CleanupKind[] = [];
    if (this.options.gzip) changes.push('gzip');
    if (this.bom) changes.push('bom');
    if (this.crlf + this.cr > 0) changes.push('lineEndings');
    if (this.blankLines.count > 0) changes.push('blankLines');
    if (this.header) changes.push('header');
    if (this.paddedValues.count > 0) changes.push('paddedValues');
    if (this.emptyValues.count > 0) changes.push('emptyValues');
    if (this.multiColumnRows.count > 0) changes.push('extraColumns');
    if (this.unneededQuotes.count > 0) changes.push('quoting');
    if (this.duplicates.count > 0) changes.push('duplicates');
    if (this.unparseableRows.count > 0) changes.push('unparseableRows');
    if ((this.normalizedValues?.count ?? 0) > 0) changes.push('normalized');
    return changes;
  }

  private lineEndingKind(): LineEndingKind {
    const kinds = [this.lf > 0, this.crlf > 0, this.cr > 0].filter(Boolean).length;
    if (kinds === 0) return 'none';
    if (kinds > 1) return 'mixed';
    return this.lf > 0 ? 'lf' : this.crlf > 0 ? 'crlf' : 'cr';
  }

  private verdict(): Pick<PreflightReport, 'verdict' | 'rejection' | 'reason'> {
    const reject = (rejection: PreflightRejection, reason: string) => ({ verdict: 'reject' as const, rejection, reason });
    const problem = this.problem;
    if (problem) {
      const at = problem.line === undefined ? '' : `line ${number(problem.line)}`;
      switch (problem.kind) {
        case 'tooLarge': {
          const limit = formatBytes(this.options.maxBytes);
          const what = this.options.gzip ? `The file is over ${limit} once decompressed (reading stopped there)` : `The file is over ${limit}`;
          return reject('tooLarge', `${what}; Insider accepts at most ${limit}. Split it into smaller files.`);
        }
        case 'nulByte':
          return reject('notText', `The file is not text: ${at} holds a NUL byte. Export the list as a UTF-8 CSV file.`);
        case 'invalidUtf8':
          return reject('notText', `The file is not UTF-8 text: ${at} holds bytes that are not valid UTF-8. Save it as "CSV UTF-8".`);
        case 'utf16':
          return reject('notText', 'The file is UTF-16 text; Insider reads UTF-8. Save it as "CSV UTF-8".');
        case 'gzipNotNamedGz':
          return reject(
            'notText',
            this.options.gzip
              ? 'The file is compressed twice (gzip inside gzip): compress the CSV once.'
              : 'The file is gzip-compressed but its name does not end in ".gz": name it "<segment>.csv.gz", or upload it uncompressed.',
          );
        case 'zip':
          return reject('notText', 'The file is a ZIP archive (an Excel .xlsx file is one), not a CSV: export the list as CSV.');
        case 'notGzip':
          return reject('notText', 'The file name ends in ".gz" but the file is not valid gzip data: compress it again with gzip, or upload the .csv.');
        case 'gzipTruncated':
          return reject('notText', 'The gzip data ends early: the file is cut short. Upload it again.');
        case 'lineTooLong':
          return reject(
            'notCsv',
            `The file is not a list of values: ${at} is longer than ${formatBytes(this.maxLine)}. Export one value per line.`,
          );
        case 'unterminatedQuote':
          return reject('notCsv', `The file is not valid CSV: the quote opened on ${at} is never closed.`);
      }
    }
    if (this.values === 0) return reject('empty', this.emptyReason());
    const parsedRows = this.rows - (this.header ? 1 : 0);
    const bad = this.unparseableRows;
    if (bad.count > this.maxInvalidShare * parsedRows) {
      return reject(
        'notCsv',
        `The file is not valid CSV: ${number(bad.count)} of ${number(parsedRows)} rows cannot be read (${linesText(bad.lines, bad.count)}), for example a quote in the middle of a value.`,
      );
    }
    const invalid = this.invalidValues;
    if (this.format !== undefined && invalid.count > this.maxInvalidShare * this.values) {
      let reason = `${number(invalid.count)} of ${number(this.values)} values ${FORMAT_FAILURE_WORDS[this.format]} (${linesText(invalid.lines, invalid.count)}).`;
      const [misfit, count] = [...this.misfits.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
      if (misfit && count !== undefined && count * 2 > invalid.count) reason += ` ${number(count)} of them ${misfit}.`;
      return reject('invalidValues', reason);
    }
    return { verdict: 'accept', rejection: undefined, reason: undefined };
  }

  private emptyReason(): string {
    if (this.bytes === 0) return 'The file is empty: there are no values to build a segment from.';
    const held: string[] = [];
    if (this.bom) held.push('a byte-order mark');
    if (this.blankLines.count > 0) held.push(`${number(this.blankLines.count)} blank ${this.blankLines.count === 1 ? 'line' : 'lines'}`);
    if (this.header) held.push(`a header row (line ${this.header.line})`);
    if (this.emptyValues.count > 0) {
      held.push(`${number(this.emptyValues.count)} ${this.emptyValues.count === 1 ? 'row' : 'rows'} with an empty first column`);
    }
    if (this.unparseableRows.count > 0) {
      held.push(`${number(this.unparseableRows.count)} unreadable ${this.unparseableRows.count === 1 ? 'row' : 'rows'}`);
    }
    const list = held.length <= 1 ? (held[0] ?? 'nothing') : `${held.slice(0, -1).join(', ')} and ${held.at(-1)}`;
    return `The file has no values: it holds only ${list}. Put one value per line in the first column.`;
  }

  private report(): PreflightReport {
    const changes = this.changes();
    return {
      ...this.verdict(),
      problem: this.problem,
      changed: changes.length > 0,
      changes,
      format: this.format ?? null,
      gzip: this.options.gzip === true,
      bytesRead: this.bytesRead,
      bytes: this.bytes,
      complete: this.problem === undefined || this.problem.kind === 'unterminatedQuote',
      bom: this.bom,
      lineEndings: { kind: this.lineEndingKind(), lf: this.lf, crlf: this.crlf, cr: this.cr },
      lines: this.line - 1,
      rows: this.rows,
      values: this.values,
      cleanValues: this.cleanValues,
      cleanBytes: this.cleanBytes,
      blankLines: this.blankLines.toJSON(),
      header: this.header,
      emptyValues: this.emptyValues.toJSON(),
      paddedValues: this.paddedValues.toJSON(),
      duplicates: { ...this.duplicates.toJSON(), complete: this.fingerprints?.complete ?? false },
      multiColumnRows: this.multiColumnRows.toJSON(),
      unneededQuotes: this.unneededQuotes.toJSON(),
      unparseableRows: this.unparseableRows.toJSON(),
      invalidValues: this.invalidValues.toJSON(),
      normalizedValues: this.normalizedValues?.toJSON() ?? null,
      durationMs: Math.round(performance.now() - this.started),
    };
  }
}

/** A zlib error that says the data is not gzip, or ends early; anything else (the network) is thrown on. */
class GzipDataError extends Error {
  override readonly name = 'GzipDataError';
  constructor(readonly kind: 'notGzip' | 'gzipTruncated') {
    super(kind);
  }
}

/** Decompresses `body` as it is read, with backpressure; stopping the loop early closes both streams. */
async function* gunzip(body: AsyncIterable<Uint8Array>, scanner: PreflightScanner): AsyncGenerator<Buffer> {
  const source = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        scanner.countRead(chunk.length);
        yield chunk;
      }
    })(),
  );
  const inflate = createGunzip({ chunkSize: 64 * 1024 });
  source.on('error', (err) => inflate.destroy(err));
  source.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'Z_BUF_ERROR') throw new GzipDataError('gzipTruncated');
    if (typeof code === 'string' && code.startsWith('Z_')) throw new GzipDataError('notGzip');
    throw err;
  } finally {
    source.unpipe(inflate);
    source.destroy();
    inflate.destroy();
  }
}

function waitForDrain(sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sink.off('drain', onDrain);
      sink.off('error', onError);
      sink.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('The clean-copy sink closed before the copy was complete'));
    sink.on('drain', onDrain);
    sink.on('error', onError);
    sink.on('close', onClose);
  });
}

async function writeToSink(sink: CleanCopySink, chunk: Buffer): Promise<void> {
  if (typeof sink === 'function') {
    await sink(chunk);
    return;
  }
  if (!sink.write(chunk)) await waitForDrain(sink);
}

/**
 * Reads `body` once and returns the figures and the verdict. Memory stays bounded whatever the file:
 * a chunk, the current line (at most `maxLineLength`), a batch of quoted lines (64 KB), the duplicate
 * table (at most `maxTrackedValues` fingerprints) and 64 KB of copy waiting for the sink. Reading stops
 * as soon as the verdict is certain (too large, not text, not CSV), which closes `body`.
 *
 * Throws only when reading `body` or writing to the sink fails (network, S3): the caller retries then.
 *
 * The copy goes to the sink from the first row, because whether anything changes is known only at the
 * end. With an `@aws-sdk/lib-storage` Upload, a copy under one part (5 MB) is sent only when the Body
 * ends, so aborting costs nothing; a larger one has sent parts, which the abort deletes. The Upload
 * holds `queueSize × partSize` in memory (4 × 5 MB by default).
 *
 * @example
 * const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
 * const copy = new PassThrough();
 * const upload = new Upload({ client: s3, params: { Bucket: preparedBucket, Key: `${uploadId}.csv`, Body: copy, ContentType: 'text/csv' } });
 * const uploaded = upload.done();
 * uploaded.catch(() => {}); // rejected by abort() below; awaited when it counts
 * const report = await preflight(object.Body as Readable, { attributeName, gzip: key.endsWith('.gz'), maxBytes: maxFileBytes, sink: copy });
 * if (report.verdict === 'accept' && report.changed) {
 *   copy.end();
 *   await uploaded; // presign the prepared copy
 * } else {
 *   await upload.abort(); // rejected, or unchanged: presign the original
 *   copy.destroy();
 * }
 */
export async function preflight(body: AsyncIterable<Uint8Array>, options: PreflightOptions): Promise<PreflightReport> {
  const scanner = new PreflightScanner(options);
  const sink = options.sink;
  const source = options.gzip ? gunzip(body, scanner) : body;
  try {
    for await (const chunk of source) {
      const more = scanner.push(chunk);
      const out = scanner.takeOutput();
      if (out && sink && more) await writeToSink(sink, out);
      if (!more) break;
    }
  } catch (err) {
    if (!(err instanceof GzipDataError)) throw err;
    scanner.fail(err.kind);
  }
  const report = scanner.finish();
  const rest = scanner.takeOutput();
  if (rest && sink && !scanner.stopped) await writeToSink(sink, rest);
  return report;
}
