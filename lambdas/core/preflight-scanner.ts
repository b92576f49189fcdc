// The synchronous scanner: takes decompressed chunks, checks what the bytes are (BOM, gzip, ZIP, UTF-16, NUL, UTF-8), and hands them to the line stage.
import { isAscii, isUtf8 } from 'node:buffer';
import { DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_MAX_INVALID_SHARE, PREFLIGHT_HEADER_WORDS, PREFLIGHT_MAX_LINE_BYTES, PREFLIGHT_MAX_TRACKED_VALUES, PREFLIGHT_SAMPLE_LINES, type ValueFormat } from '../shared/contract.js';
import { FingerprintSet } from './fingerprints.js';
import { CsvFallback } from './preflight-csv.js';
import { HeaderMatcher } from './preflight-header.js';
import { completeUtf8Length, LineSplitter, lineBreaks } from './preflight-lines.js';
import { CleanCopyWriter } from './preflight-output.js';
import { RowReader } from './preflight-rows.js';
import { PreflightTally } from './preflight-tally.js';
import type { PreflightOptions, PreflightReport } from './preflight-types.js';
import { buildReport } from './preflight-verdict.js';
import { formatForAttribute } from './value-formats.js';

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
  private readonly csv: CsvFallback;
  private readonly lines: LineSplitter;
  private finished = false;
  // The first four bytes say BOM, gzip, ZIP or UTF-16; they are gathered before anything else is read.
  private head: Buffer | undefined;
  private headDone = false;

  constructor(private readonly options: PreflightOptions) {
    this.format = formatForAttribute(options.attributeName, options.formats ?? DEFAULT_ATTRIBUTE_FORMATS);
    this.maxLine = options.maxLineLength ?? PREFLIGHT_MAX_LINE_BYTES;
    const normalize = options.normalize || undefined;
    this.tally = new PreflightTally(options.sampleLines ?? PREFLIGHT_SAMPLE_LINES, normalize !== undefined);
    const tracked = options.maxTrackedValues ?? PREFLIGHT_MAX_TRACKED_VALUES;
    this.fingerprints = tracked > 0 ? new FingerprintSet(tracked) : undefined;
    const header = new HeaderMatcher(options.attributeName, options.headerWords ?? PREFLIGHT_HEADER_WORDS);
    const rows = new RowReader(this.tally, this.writer, { format: this.format, normalize, header, fingerprints: this.fingerprints });
    const csvParseOnly = options.csvParseOnly === true;
    this.csv = new CsvFallback(this.tally, rows, this.maxLine, csvParseOnly);
    // Normalization rewrites values as text, so with it on every line takes the text path.
    this.lines = new LineSplitter(this.tally, rows, this.csv, this.writer, { maxLine: this.maxLine, bytePath: !csvParseOnly && normalize === undefined });
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
      this.head = this.head ? Buffer.concat([this.head, buf]) : Buffer.from(buf);
      if (this.head.length < 4) return true;
      buf = this.takeHead();
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
        const buf = this.takeHead();
        if (!this.tally.problem) this.decode(buf, true);
      } else {
        this.decode(Buffer.alloc(0), true);
      }
      if (!this.tally.problem) this.csv.end();
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

  private takeHead(): Buffer {
    const head = this.head ?? Buffer.alloc(0);
    const t = this.tally;
    this.head = undefined;
    this.headDone = true;
    if (head[0] === 0x1f && head[1] === 0x8b) t.stop('gzipNotNamedGz', undefined);
    else if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) t.stop('zip', undefined);
    else if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) t.stop('utf16', undefined);
    else if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      t.bom = true;
      return head.subarray(3);
    }
    return head;
  }

  /** Checks the new bytes (up to the last whole UTF-8 character unless `final`) before any of their lines is read. */
  private decode(input: Buffer, final: boolean): void {
    const t = this.tally;
    this.lines.append(input);
    const fresh = this.lines.unchecked();
    const end = final ? fresh.length : completeUtf8Length(fresh);
    if (end === 0) {
      if (final) this.lines.split(0, true, true);
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
    this.lines.split(end, ascii, final);
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
