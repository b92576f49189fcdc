// The synchronous scanner: takes decompressed chunks, checks what the bytes are (BOM, gzip, ZIP, UTF-16, NUL, UTF-8), and hands them to the line stage.
import { isAscii, isUtf8 } from 'node:buffer';
import { DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_MAX_INVALID_SHARE, PREFLIGHT_HEADER_WORDS, PREFLIGHT_MAX_LINE_BYTES, PREFLIGHT_MAX_TRACKED_VALUES, PREFLIGHT_SAMPLE_LINES, type ValueFormat } from '../shared/contract.js';
import { FingerprintSet } from './fingerprints.js';
import { CsvFallback } from './preflight-csv.js';
import { DELIMITER_CHAR, DELIMITER_SAMPLE_BYTES, type Delimiter, type DelimiterJudge, sniffDelimiter } from './preflight-delimiter.js';
import { HeaderMatcher } from './preflight-header.js';
import { completeUtf8Length, LineSplitter, lineBreaks } from './preflight-lines.js';
import { CleanCopyWriter } from './preflight-output.js';
import { RowReader } from './preflight-rows.js';
import { PreflightTally } from './preflight-tally.js';
import type { PreflightOptions, PreflightReport } from './preflight-types.js';
import { buildReport } from './preflight-verdict.js';
import { checkFormat, formatForAttribute } from './value-formats.js';

/**
 * The synchronous core: feed it decompressed chunks with `push`, take the clean copy with `takeOutput`,
 * and call `finish` once. `preflight()` drives it from a stream; tests may drive it directly.
 */
export class PreflightScanner {
  private readonly format: ValueFormat | undefined;
  private readonly maxLine: number;
  private readonly started = performance.now();
  private readonly tally: PreflightTally;
  private readonly fingerprints: FingerprintSet | undefined;
  private readonly writer = new CleanCopyWriter();
  private readonly rows: RowReader;
  // Made once the delimiter is known, before the first line is read.
  private csv: CsvFallback | undefined;
  private lines: LineSplitter | undefined;
  private finished = false;
  // The first bytes say BOM, gzip, ZIP or UTF-16, and the first rows which character separates fields:
  // they are gathered before anything else is read.
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private readonly judge: DelimiterJudge;
  private headDone = false;

  constructor(private readonly options: PreflightOptions) {
    this.format = formatForAttribute(options.attributeName, options.formats ?? DEFAULT_ATTRIBUTE_FORMATS);
    this.maxLine = options.maxLineLength ?? PREFLIGHT_MAX_LINE_BYTES;
    const normalize = options.normalize || undefined;
    this.tally = new PreflightTally(options.sampleLines ?? PREFLIGHT_SAMPLE_LINES, normalize !== undefined);
    const tracked = options.maxTrackedValues ?? PREFLIGHT_MAX_TRACKED_VALUES;
    this.fingerprints = tracked > 0 ? new FingerprintSet(tracked) : undefined;
    const header = new HeaderMatcher(options.attributeName, options.headerWords ?? PREFLIGHT_HEADER_WORDS);
    this.rows = new RowReader(this.tally, this.writer, { format: this.format, normalize, header, fingerprints: this.fingerprints });
    const format = this.format;
    this.judge = {
      isHeader: (field) => header.match(field) !== undefined,
      isValue: format === undefined ? undefined : (field) => checkFormat(format, field),
    };
  }

  /** Sets up the line stage for `delimiter`; `separatorLine`: line 1 is Excel's `sep=` line. */
  private startLines(delimiter: Delimiter, separatorLine: boolean): LineSplitter {
    const csvParseOnly = this.options.csvParseOnly === true;
    this.tally.delimiter = delimiter;
    this.rows.separatorLineExpected = separatorLine;
    this.rows.unquotedCommas = delimiter !== 'comma';
    this.csv = new CsvFallback(this.tally, this.rows, this.maxLine, csvParseOnly, DELIMITER_CHAR[delimiter]);
    // Normalization rewrites values as text, so with it on every line takes the text path.
    this.lines = new LineSplitter(this.tally, this.rows, this.csv, this.writer, {
      maxLine: this.maxLine,
      bytePath: !csvParseOnly && !this.options.normalize,
      delimiter: DELIMITER_CHAR[delimiter].charCodeAt(0),
    });
    return this.lines;
  }

  /** The verdict is already certain (too large, not text, not CSV): stop reading. */
  get stopped(): boolean {
    return this.tally.problem !== undefined;
  }

  /** Counts compressed bytes taken from the source (the driver calls it for gzip). */
  countRead(bytes: number): void {
    this.tally.bytesRead += bytes;
  }

  /** Feeds the next decompressed chunk. Returns false once reading should stop. */
  push(chunk: Uint8Array): boolean {
    const t = this.tally;
    if (t.problem || this.finished) return false;
    if (!this.options.gzip) t.bytesRead += chunk.length;
    t.bytes += chunk.length;
    if (t.bytes > this.options.maxBytes) {
      t.stop('tooLarge', undefined);
      return false;
    }
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.headDone) {
      if (!this.gatherHead(buf)) return true;
      buf = this.takeHead(false);
      if (t.problem) return false;
    }
    this.decode(buf, false);
    return t.problem === undefined;
  }

  /** Reading failed in a way that says what the file is (bad gzip data). */
  fail(kind: 'notGzip' | 'gzipTruncated'): void {
    if (!this.tally.problem) this.tally.stop(kind, undefined);
  }

  /** The clean copy produced since the last call, if any. */
  takeOutput(): Buffer | undefined {
    return this.writer.take();
  }

  /** Ends the file: the last line, the verdict and the figures. Take the rest of the copy with `takeOutput` after it. */
  finish(): PreflightReport {
    if (!this.finished && !this.tally.problem) {
      if (!this.headDone) {
        const buf = this.takeHead(true);
        if (!this.tally.problem) this.decode(buf, true);
      } else {
        this.decode(Buffer.alloc(0), true);
      }
      if (!this.tally.problem) this.csv?.end();
    }
    this.finished = true;
    this.writer.end();
    return buildReport(this.tally, {
      format: this.format,
      gzip: this.options.gzip === true,
      maxBytes: this.options.maxBytes,
      maxLine: this.maxLine,
      maxInvalidShare: this.options.maxInvalidShare ?? DEFAULT_MAX_INVALID_SHARE,
      cleanBytes: this.writer.bytes,
      duplicatesComplete: this.fingerprints?.complete ?? false,
      durationMs: Math.round(performance.now() - this.started),
    });
  }

  /** Keeps `chunk` (a copy: the caller may reuse its memory) with the head; true once the head says enough. */
  private gatherHead(chunk: Buffer): boolean {
    this.head.push(Buffer.from(chunk));
    this.headBytes += chunk.length;
    // The whole sample after a BOM, a delimiter given or not: the delimiter and a list across rows are
    // judged on the same bytes however the file arrives.
    return this.headBytes >= DELIMITER_SAMPLE_BYTES + 3;
  }

  /** The gathered head: what the file is, which delimiter it uses, and its bytes after a BOM. `final`: it is the whole file. */
  private takeHead(final: boolean): Buffer {
    const head = Buffer.concat(this.head);
    const t = this.tally;
    this.head.length = 0;
    this.headDone = true;
    let text = head;
    if (head[0] === 0x1f && head[1] === 0x8b) t.stop('gzipNotNamedGz', undefined);
    else if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) t.stop('zip', undefined);
    else if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) t.stop('utf16', undefined);
    else if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      t.bom = true;
      text = head.subarray(3);
    }
    if (!t.problem) {
      const sniffed = sniffDelimiter(text, final, this.judge);
      // A delimiter given (tests read a file both ways) replaces the sniffed one; a list across rows is told either way.
      const given = this.options.delimiter;
      this.startLines(given ?? sniffed.delimiter, given === undefined && sniffed.separatorLine);
      t.acrossRows = sniffed.acrossRows;
    }
    return text;
  }

  /** Checks the new bytes (up to the last whole UTF-8 character unless `final`) before any of their lines is read. */
  private decode(input: Buffer, final: boolean): void {
    const t = this.tally;
    const lines = this.lines as LineSplitter;
    lines.append(input);
    const fresh = lines.unchecked();
    const end = final ? fresh.length : completeUtf8Length(fresh);
    if (end === 0) {
      if (final) lines.split(0, true, true);
      return;
    }
    const part = end === fresh.length ? fresh : fresh.subarray(0, end);
    const nul = part.indexOf(0);
    if (nul !== -1) {
      t.stop('nulByte', t.nextLine + lineBreaks(part, 0, nul));
      return;
    }
    const ascii = isAscii(part);
    if (!ascii && !isUtf8(part)) {
      t.stop('invalidUtf8', t.nextLine + firstInvalidUtf8Line(part));
      return;
    }
    lines.split(end, ascii, final);
  }
}

/** Line breaks before the first line holding invalid UTF-8 (lines end in ASCII, so each line checks alone). */
function firstInvalidUtf8Line(part: Buffer): number {
  let start = 0;
  for (;;) {
    const nl = part.indexOf(0x0a, start);
    const end = nl === -1 ? part.length : nl;
    if (!isUtf8(part.subarray(start, end)) || nl === -1) return lineBreaks(part, 0, start);
    start = nl + 1;
  }
}
