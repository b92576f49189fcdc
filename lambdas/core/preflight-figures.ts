// The pre-flight report as an upload record keeps it (counts and line numbers, never a value), and the sentences made from it.
import type { CleanupKind, LineSample, PreflightReport } from './preflight.js';
import { DELIMITER_WORDS } from './preflight-delimiter.js';

/**
 * What the record keeps of a pre-flight report. Picked field by field, so that whatever the scanner
 * adds to its report reaches a record only when added here: every field is a count, a line number, a
 * kind or a flag.
 */
export interface PreflightFigures {
  verdict: PreflightReport['verdict'];
  rejection?: PreflightReport['rejection'];
  problem?: { kind: string; line?: number | undefined } | undefined;
  /** Insider was (or would be) sent the cleaned copy rather than the file. */
  changed: boolean;
  changes: CleanupKind[];
  format: string | null;
  gzip: boolean;
  /** Bytes read from S3 (compressed for gzip). */
  bytesRead: number;
  /** Bytes scanned (decompressed). */
  bytes: number;
  /** False when reading stopped early (too large, not text). */
  complete: boolean;
  bom: boolean;
  /** `comma`, `semicolon` or `tab`. Absent on records written before it was told. */
  delimiter?: string | undefined;
  /** Line 1 was Excel's separator line (`sep=;`). Absent on records written before it was recognized. */
  separatorLine?: boolean | undefined;
  lineEndings: string;
  lines: number;
  rows: number;
  values: number;
  cleanValues: number;
  cleanBytes: number;
  blankLines: LineSample;
  header: { line: number; matches: string } | null;
  emptyValues: LineSample;
  paddedValues: LineSample;
  duplicates: LineSample;
  multiColumnRows: LineSample;
  unparseableRows: LineSample;
  /** Of `unparseableRows`, those whose value holds a line break. Absent on records written before it was counted. */
  lineBreakValues?: LineSample | undefined;
  /** Values with a quote inside an unquoted field, quoted in the copy. Absent on records written before. */
  bareQuotes?: LineSample | undefined;
  invalidValues: LineSample;
  normalizedValues: LineSample | null;
  durationMs: number;
}

const sample = (s: LineSample): LineSample => ({ count: s.count, lines: [...s.lines] });

export function figuresOf(report: PreflightReport): PreflightFigures {
  return {
    verdict: report.verdict,
    ...(report.rejection ? { rejection: report.rejection } : {}),
    ...(report.problem ? { problem: { kind: report.problem.kind, ...(report.problem.line === undefined ? {} : { line: report.problem.line }) } } : {}),
    changed: report.changed,
    changes: [...report.changes],
    format: report.format,
    gzip: report.gzip,
    bytesRead: report.bytesRead,
    bytes: report.bytes,
    complete: report.complete,
    bom: report.bom,
    delimiter: report.delimiter,
    separatorLine: report.separatorLine,
    lineEndings: report.lineEndings.kind,
    lines: report.lines,
    rows: report.rows,
    values: report.values,
    cleanValues: report.cleanValues,
    cleanBytes: report.cleanBytes,
    blankLines: sample(report.blankLines),
    header: report.header ? { line: report.header.line, matches: report.header.matches } : null,
    emptyValues: sample(report.emptyValues),
    paddedValues: sample(report.paddedValues),
    duplicates: sample(report.duplicates),
    multiColumnRows: sample(report.multiColumnRows),
    unparseableRows: sample(report.unparseableRows),
    lineBreakValues: sample(report.lineBreakValues),
    bareQuotes: sample(report.bareQuotes),
    invalidValues: sample(report.invalidValues),
    normalizedValues: report.normalizedValues ? sample(report.normalizedValues) : null,
    durationMs: Math.round(report.durationMs),
  };
}

const number = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;
const lines = (s: LineSample) => (s.lines.length === 0 ? '' : ` (line${s.lines.length > 1 ? 's' : ''} ${s.lines.join(', ')}${s.count > s.lines.length ? ', …' : ''})`);

/** A value format as a reason names it: `email`, `E.164 phone`. */
const formatWords = (format: string) => (format === 'e164' ? 'E.164 phone' : format);

/** "a, b and c". */
function listed(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * "2 rows with text after the closing quote of their value, where even a space counts (lines 3, 7)",
 * saying which of them hold a line break (the other kind of unreadable row).
 */
function unreadable(f: PreflightFigures): string {
  const all = f.unparseableRows;
  const breaks = f.lineBreakValues?.count ?? 0;
  const withBreak = 'with a line break inside a quoted value';
  // Records from before line breaks were counted cannot tell the two kinds apart.
  if (f.lineBreakValues === undefined) return `${plural(all.count, 'row')} that could not be read${lines(all)}`;
  if (breaks === 0) return `${plural(all.count, 'row')} with text after the closing quote of ${all.count === 1 ? 'its' : 'their'} value, where even a space counts${lines(all)}`;
  if (breaks === all.count) return `${plural(all.count, 'row')} ${withBreak}${lines(all)}`;
  return `${plural(all.count, 'row')} that could not be read${lines(all)}, ${number(breaks)} of them ${withBreak}${lines(f.lineBreakValues as LineSample)}`;
}

/**
 * What the clean copy does to the file, in words: "decompressed it, removed the byte order mark,
 * dropped the header row (line 1), 3 blank lines and 2 duplicates (lines 5, 9), …". Empty when
 * nothing changed.
 */
export function describeCleanup(f: PreflightFigures): string {
  const has = (kind: CleanupKind) => f.changes.includes(kind);
  const dropped: string[] = [];
  if (has('separatorLine')) dropped.push(`Excel's separator line (line 1)`);
  if (has('header') && f.header) dropped.push(`the header row (line ${f.header.line})`);
  if (has('blankLines')) dropped.push(plural(f.blankLines.count, 'blank line'));
  if (has('emptyValues')) dropped.push(`${plural(f.emptyValues.count, 'row')} with an empty first column${lines(f.emptyValues)}`);
  if (has('unparseableRows')) dropped.push(unreadable(f));
  if (has('duplicates')) dropped.push(`${plural(f.duplicates.count, 'duplicate')}${lines(f.duplicates)}`);
  const done: string[] = [];
  if (has('gzip')) done.push('decompressed it');
  if (has('bom')) done.push('removed the byte order mark');
  if (dropped.length > 0) done.push(`dropped ${listed(dropped)}`);
  if (has('paddedValues')) done.push(`trimmed ${plural(f.paddedValues.count, 'padded value')}`);
  if (has('extraColumns')) {
    const separated = f.delimiter === 'semicolon' || f.delimiter === 'tab' ? ` (its fields are separated by ${DELIMITER_WORDS[f.delimiter]})` : '';
    done.push(`kept only the first column of ${plural(f.multiColumnRows.count, 'row')}${separated}`);
  }
  if (has('quoting')) done.push('removed quotes the values did not need');
  if (has('bareQuotes') && f.bareQuotes) done.push(`put quotes around ${plural(f.bareQuotes.count, 'value')} with a quote mark inside${lines(f.bareQuotes)}`);
  if (has('normalized') && f.normalizedValues) done.push(`normalized ${plural(f.normalizedValues.count, 'value')}`);
  if (has('lineEndings')) done.push(`wrote "\\n" line ends (the file had ${f.lineEndings === 'crlf' ? 'CRLF' : f.lineEndings === 'cr' ? 'CR' : 'mixed'})`);
  // Items hold "and" themselves: separate the steps with semicolons then.
  return done.length > 1 && dropped.length > 1 ? `${done.slice(0, -1).join('; ')}; and ${done.at(-1)}` : listed(done);
}

/**
 * For the note of an accepted file whose values partly fail the format (fewer than `maxInvalidShare`):
 * "2 values fail the email format (lines 1, 3) and were sent as they are: Insider will likely count
 * them invalid." A title or header below line 1, a footer, or an invisible character in a value shows
 * up here. Empty when none fails.
 */
export function describeInvalidSent(f: PreflightFigures): string {
  const n = f.invalidValues.count;
  if (n === 0 || !f.format) return '';
  const format = formatWords(f.format);
  return `${plural(n, 'value')} ${n === 1 ? 'fails' : 'fail'} the ${format} format${lines(f.invalidValues)} and ${n === 1 ? 'was' : 'were'} sent as ${n === 1 ? 'it is' : 'they are'}: Insider will likely count ${n === 1 ? 'it' : 'them'} invalid.`;
}

/** "1,000 values (2 fail the email format)", "(1 fails …)" for a reason or a note. */
export function describeValues(f: PreflightFigures): string {
  const count = f.invalidValues.count;
  const fail = count === 1 ? 'fails' : 'fail';
  const invalid = count > 0 && f.format ? ` (${number(count)} ${fail} the ${formatWords(f.format)} format${lines(f.invalidValues)})` : '';
  return `${plural(f.cleanValues, 'value')}${invalid}`;
}
