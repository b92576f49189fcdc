// The pre-flight figures while they are counted: counts, the first line numbers of each problem, and what stopped the scan; never a value.
import type { AcrossRows, Delimiter } from './preflight-delimiter.js';
import type { LineSample, PreflightProblem, PreflightReport } from './preflight-types.js';

/** A count and the first `keep` line numbers. */
export class Sample implements LineSample {
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

/** Every figure the report is built from. The scanner's stages write it; `buildReport` reads it. */
export class PreflightTally {
  /** Bytes taken from the source (compressed bytes for gzip). */
  bytesRead = 0;
  /** Bytes scanned (after decompression). */
  bytes = 0;
  problem: { kind: PreflightProblem; line?: number | undefined } | undefined;
  bom = false;
  /** What separates fields: told from the first rows (preflight-delimiter.ts) before any row is read. */
  delimiter: Delimiter = 'comma';
  /** Line 1 was Excel's separator line (`sep=;`): no row, and left out of the copy. */
  separatorLine = false;
  /** A list written across rows in the first rows, if there is one (preflight-delimiter.ts). */
  acrossRows: AcrossRows | undefined;
  /** The number the next physical line gets (1-based). */
  nextLine = 1;
  /** Line ends between rows, by kind (one inside a quoted value is part of the value: see CsvFallback). */
  lf = 0;
  crlf = 0;
  cr = 0;
  rows = 0;
  values = 0;
  cleanValues = 0;
  header: PreflightReport['header'] = null;
  readonly blankLines: Sample;
  readonly emptyValues: Sample;
  readonly paddedValues: Sample;
  readonly duplicates: Sample;
  readonly multiColumnRows: Sample;
  readonly unneededQuotes: Sample;
  /** Every row that cannot be read, those in `lineBreakValues` included. */
  readonly unparseableRows: Sample;
  /** Rows dropped because their value holds a line break. */
  readonly lineBreakValues: Sample;
  /** Values with a quote inside an unquoted field, quoted in the copy. */
  readonly bareQuotes: Sample;
  readonly invalidValues: Sample;
  /** Undefined when normalization is off. */
  readonly normalizedValues: Sample | undefined;
  /** What invalid values look like instead (the words of a reason) → how many. */
  readonly misfits = new Map<string, number>();

  constructor(keep: number, normalizing: boolean) {
    this.blankLines = new Sample(keep);
    this.emptyValues = new Sample(keep);
    this.paddedValues = new Sample(keep);
    this.duplicates = new Sample(keep);
    this.multiColumnRows = new Sample(keep);
    this.unneededQuotes = new Sample(keep);
    this.unparseableRows = new Sample(keep);
    this.lineBreakValues = new Sample(keep);
    this.bareQuotes = new Sample(keep);
    this.invalidValues = new Sample(keep);
    this.normalizedValues = normalizing ? new Sample(keep) : undefined;
  }

  /** The verdict is certain: reading stops. */
  stop(kind: PreflightProblem, line: number | undefined): void {
    this.problem = { kind, line };
  }

  misfit(words: string | undefined): void {
    if (words) this.misfits.set(words, (this.misfits.get(words) ?? 0) + 1);
  }
}
