// The verdict and its reasons, what the clean copy changes, and the report assembled from the tally: counts and line numbers only.
import type { ValueFormat } from '../shared/contract.js';
import { DELIMITER_WORDS } from './preflight-delimiter.js';
import type { CleanupKind, LineEndingKind, PreflightRejection, PreflightReport } from './preflight-types.js';
import type { PreflightTally } from './preflight-tally.js';
import { EXCEL_SCIENTIFIC_WORDS, FORMAT_FAILURE_WORDS, FORMAT_NOUNS } from './value-formats.js';
import { formatBytes } from './wording.js';

/** What the report needs besides the tally. */
export interface ReportContext {
  format: ValueFormat | undefined;
  gzip: boolean;
  maxBytes: number;
  maxLine: number;
  maxInvalidShare: number;
  /** Bytes handed to the sink. */
  cleanBytes: number;
  /** The duplicate check remembered every value (false when it is off or reached its cap). */
  duplicatesComplete: boolean;
  durationMs: number;
}

const number = (n: number): string => n.toLocaleString('en-US');

function linesText(lines: readonly number[], count: number): string {
  if (lines.length === 0) return '';
  const list = lines.length === 1 ? String(lines[0]) : `${lines.slice(0, -1).join(', ')} and ${lines.at(-1)}`;
  const noun = lines.length === 1 ? 'line' : 'lines';
  return count > lines.length ? `first at ${noun} ${list}` : `${noun} ${list}`;
}

function changes(t: PreflightTally, gzip: boolean): CleanupKind[] {
  const changes: CleanupKind[] = [];
  if (gzip) changes.push('gzip');
  if (t.bom) changes.push('bom');
  if (t.crlf + t.cr > 0) changes.push('lineEndings');
  if (t.blankLines.count > 0) changes.push('blankLines');
  if (t.separatorLine) changes.push('separatorLine');
  if (t.header) changes.push('header');
  if (t.paddedValues.count > 0) changes.push('paddedValues');
  if (t.emptyValues.count > 0) changes.push('emptyValues');
  if (t.multiColumnRows.count > 0) changes.push('extraColumns');
  if (t.unneededQuotes.count > 0) changes.push('quoting');
  if (t.bareQuotes.count > 0) changes.push('bareQuotes');
  if (t.duplicates.count > 0) changes.push('duplicates');
  if (t.unparseableRows.count > 0) changes.push('unparseableRows');
  if ((t.normalizedValues?.count ?? 0) > 0) changes.push('normalized');
  return changes;
}

function lineEndingKind(t: PreflightTally): LineEndingKind {
  const kinds = [t.lf > 0, t.crlf > 0, t.cr > 0].filter(Boolean).length;
  if (kinds === 0) return 'none';
  if (kinds > 1) return 'mixed';
  return t.lf > 0 ? 'lf' : t.crlf > 0 ? 'crlf' : 'cr';
}

function verdict(t: PreflightTally, c: ReportContext): Pick<PreflightReport, 'verdict' | 'rejection' | 'reason'> {
  const reject = (rejection: PreflightRejection, reason: string) => ({ verdict: 'reject' as const, rejection, reason });
  const problem = t.problem;
  if (problem) {
    const at = problem.line === undefined ? '' : `line ${number(problem.line)}`;
    switch (problem.kind) {
      case 'tooLarge': {
        const limit = formatBytes(c.maxBytes);
        const what = c.gzip ? `The file is over ${limit} once decompressed (reading stopped there)` : `The file is over ${limit}`;
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
          c.gzip
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
        return reject('notCsv', `The file is not a list of values: ${at} is longer than ${formatBytes(c.maxLine)}. Export one value per line.`);
      case 'unterminatedQuote':
        return reject('notCsv', `The file is not valid CSV: the quote opened on ${at} is never closed.`);
    }
  }
  if (t.values === 0) return reject('empty', emptyReason(t));
  const across = t.acrossRows;
  if (across && c.format !== undefined) {
    const rows = across.rows === 1 ? 'row holds' : `${number(across.rows)} rows hold`;
    return reject(
      'notCsv',
      `Most of the file's ${FORMAT_NOUNS[c.format]} would not reach Insider: its first ${rows} ${number(across.total)}, separated by ${DELIMITER_WORDS[across.separator]}, and only each row's first value is sent (here ${across.sent === 0 ? 'none' : number(across.sent)}). Put one value per line. If the file is a table of several columns, give it a header row.`,
    );
  }
  const parsedRows = t.rows - (t.header ? 1 : 0);
  const bad = t.unparseableRows;
  if (bad.count > c.maxInvalidShare * parsedRows) {
    return reject('notCsv', `The file is not valid CSV: ${number(bad.count)} of ${number(parsedRows)} rows cannot be read (${linesText(bad.lines, bad.count)}): ${unreadableWhy(t)}.`);
  }
  const invalid = t.invalidValues;
  if (c.format !== undefined && invalid.count > c.maxInvalidShare * t.values) {
    let reason = `${number(invalid.count)} of ${number(t.values)} values ${FORMAT_FAILURE_WORDS[c.format]} (${linesText(invalid.lines, invalid.count)}).`;
    // What most of them look like instead, and Excel's rounded numbers even when only a quarter: the rest may be fixed by hand, they cannot.
    const [misfit, count] = [...t.misfits.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
    const most = misfit !== undefined && count !== undefined && count * 2 > invalid.count;
    if (most) reason += ` ${number(count)} of them ${misfit}.`;
    const rounded = t.misfits.get(EXCEL_SCIENTIFIC_WORDS) ?? 0;
    if (rounded * 4 >= invalid.count && !(most && misfit === EXCEL_SCIENTIFIC_WORDS)) reason += ` ${number(rounded)} of them ${EXCEL_SCIENTIFIC_WORDS}.`;
    return reject('invalidValues', reason);
  }
  return { verdict: 'accept', rejection: undefined, reason: undefined };
}

const LINE_BREAK_WORDS = 'a line break inside a quoted value (Insider reads one value per line)';
const AFTER_QUOTE_WORDS = 'text after the closing quote of a value, even a space';

/** What makes the unreadable rows unreadable (an unclosed quote stops the scan, so it is no row here). */
function unreadableWhy(t: PreflightTally): string {
  const lineBreaks = t.lineBreakValues.count;
  const others = t.unparseableRows.count - lineBreaks;
  if (others === 0) return LINE_BREAK_WORDS;
  if (lineBreaks === 0) return AFTER_QUOTE_WORDS;
  return `${number(lineBreaks)} with ${LINE_BREAK_WORDS}, ${number(others)} with ${AFTER_QUOTE_WORDS}`;
}

function emptyReason(t: PreflightTally): string {
  if (t.bytes === 0) return 'The file is empty: there are no values to build a segment from.';
  const held: string[] = [];
  if (t.bom) held.push('a byte-order mark');
  if (t.blankLines.count > 0) held.push(`${number(t.blankLines.count)} blank ${t.blankLines.count === 1 ? 'line' : 'lines'}`);
  if (t.separatorLine) held.push(`Excel's separator line (line 1)`);
  if (t.header) held.push(`a header row (line ${t.header.line})`);
  if (t.emptyValues.count > 0) held.push(`${number(t.emptyValues.count)} ${t.emptyValues.count === 1 ? 'row' : 'rows'} with an empty first column`);
  if (t.unparseableRows.count > 0) held.push(`${number(t.unparseableRows.count)} unreadable ${t.unparseableRows.count === 1 ? 'row' : 'rows'} (${unreadableWhy(t)})`);
  const list = held.length <= 1 ? (held[0] ?? 'nothing') : `${held.slice(0, -1).join(', ')} and ${held.at(-1)}`;
  return `The file has no values: it holds only ${list}. Put one value per line in the first column.`;
}

export function buildReport(t: PreflightTally, c: ReportContext): PreflightReport {
  const changed = changes(t, c.gzip);
  return {
    ...verdict(t, c),
    problem: t.problem,
    changed: changed.length > 0,
    changes: changed,
    format: c.format ?? null,
    gzip: c.gzip,
    bytesRead: t.bytesRead,
    bytes: t.bytes,
    complete: t.problem === undefined || t.problem.kind === 'unterminatedQuote',
    bom: t.bom,
    delimiter: t.delimiter,
    separatorLine: t.separatorLine,
    lineEndings: { kind: lineEndingKind(t), lf: t.lf, crlf: t.crlf, cr: t.cr },
    lines: t.nextLine - 1,
    rows: t.rows,
    values: t.values,
    cleanValues: t.cleanValues,
    cleanBytes: c.cleanBytes,
    blankLines: t.blankLines.toJSON(),
    header: t.header,
    emptyValues: t.emptyValues.toJSON(),
    paddedValues: t.paddedValues.toJSON(),
    duplicates: { ...t.duplicates.toJSON(), complete: c.duplicatesComplete },
    multiColumnRows: t.multiColumnRows.toJSON(),
    unneededQuotes: t.unneededQuotes.toJSON(),
    unparseableRows: t.unparseableRows.toJSON(),
    lineBreakValues: t.lineBreakValues.toJSON(),
    bareQuotes: t.bareQuotes.toJSON(),
    invalidValues: t.invalidValues.toJSON(),
    normalizedValues: t.normalizedValues?.toJSON() ?? null,
    durationMs: c.durationMs,
  };
}
