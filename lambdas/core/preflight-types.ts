// The pre-flight scan's options and report: what a caller passes in and gets back (re-exported by preflight.ts).
import type { Writable } from 'node:stream';
import type { ValueFormat } from '../shared/contract.js';
import type { Delimiter } from './preflight-delimiter.js';
import type { NormalizeOptions } from './value-formats.js';

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
  /** What separates fields. Default: told from the file's first rows (commas unless every one uses semicolons, or tabs). */
  delimiter?: Delimiter | undefined;
  /** Send every line through csv-parse instead of only quoted ones (for tests that compare the two, and the benchmark). */
  csvParseOnly?: boolean | undefined;
  /** Default true: pace V8's young-generation collections so the chunks read are freed every few MB (see `paceYoungGc` in preflight.ts). False only for the benchmark that shows what it saves. */
  gcPacing?: boolean | undefined;
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
  | 'separatorLine'
  | 'paddedValues'
  | 'emptyValues'
  | 'extraColumns'
  | 'quoting'
  | 'bareQuotes'
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
  /** What separates fields: the value is the first field whatever it is. */
  delimiter: Delimiter;
  /** Line 1 was Excel's separator line (`sep=;`, naming the delimiter): no row, and left out of the copy. */
  separatorLine: boolean;
  /** The line ends between rows (a line break inside a quoted value is not one). */
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
  /** Rows that cannot be read (a value with text after its closing quote, a value holding a line break, an unclosed quote); the copy drops them. */
  unparseableRows: LineSample;
  /** Those of `unparseableRows` dropped because the value holds a line break (Insider reads one value per line). */
  lineBreakValues: LineSample;
  /** Values with a quote inside an unquoted field (`O"Brien`): kept as written, and quoted in the copy (`"O""Brien"`). */
  bareQuotes: LineSample;
  /** Values failing the format (after normalization, when on). */
  invalidValues: LineSample;
  /** Values normalization rewrote; null when it is off. */
  normalizedValues: LineSample | null;
  durationMs: number;
}
