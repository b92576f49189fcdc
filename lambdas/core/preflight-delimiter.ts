// Which character separates a file's fields: commas, or the semicolons or tabs some exports use instead, told from the file's first rows.
//
// Excel saves "CSV" with the list separator of the computer's language: a semicolon in Turkish, German,
// French and most of Europe. Tab-separated text comes from Excel's "Unicode Text", database clients and
// spreadsheets copied as text. Insider reads one value per line, so `ann@example.com;Ann` would reach it
// as one value that matches nobody; the scanner takes the first field whatever the separator, as it does
// for commas, and the clean copy holds that field alone.

export type Delimiter = 'comma' | 'semicolon' | 'tab';

export const DELIMITER_CHAR: Readonly<Record<Delimiter, string>> = { comma: ',', semicolon: ';', tab: '\t' };

/** Non-blank rows looked at from the start of the file (after a BOM). */
export const DELIMITER_SAMPLE_ROWS = 20;
/** Bytes looked at, at most: a file whose first rows are longer is judged on the rows in them. */
export const DELIMITER_SAMPLE_BYTES = 64 * 1024;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const KINDS: readonly Delimiter[] = ['comma', 'semicolon', 'tab'];
const BYTES: readonly number[] = [0x2c, 0x3b, 0x09];

/**
 * The first field of Excel's separator line, `sep=;` (or `sep=,`, or a tab) on the first line, which
 * some exports write so that Excel opens the file right: it names the delimiter, and it is no row of the
 * file (RowReader skips it).
 */
export const SEPARATOR_LINE_FIELD = 'sep=';

/** The delimiter Excel's separator line names, if the sample starts with one. */
function separatorHint(sample: Uint8Array): Delimiter | undefined {
  const start = Buffer.from(sample.buffer, sample.byteOffset, Math.min(sample.byteLength, 6)).toString('latin1').toLowerCase();
  if (!start.startsWith(SEPARATOR_LINE_FIELD)) return undefined;
  const k = BYTES.indexOf(start.charCodeAt(4));
  const after = start.charCodeAt(5);
  return k !== -1 && (after === LF || after === CR || Number.isNaN(after)) ? KINDS[k] : undefined;
}

/**
 * The delimiter of the sampled rows (outside quotes): the one that every row holds the same number of
 * times, else the one every row holds at least once, else commas. When two qualify, the one that comes
 * first in the first row (`ann@example.com;Smith, Ann`: Excel does not quote a comma in a semicolon
 * file). So a one-column list, and a list only some of whose values hold a semicolon, stay as they are:
 * a value is never cut unless every sampled row shows the pattern. `final`: the sample is the whole file
 * (its last row counts even without a line end).
 */
export function sniffDelimiter(sample: Uint8Array, final: boolean): Delimiter {
  const hinted = separatorHint(sample);
  if (hinted) return hinted;
  let rows = 0;
  const firstRowCount = [0, 0, 0];
  const firstRowAt = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  const sameCount = [true, true, true];
  const inEveryRow = [true, true, true];
  // The row being read.
  const count = [0, 0, 0];
  let rowStart = 0;
  let inQuotes = false;
  let content = false;
  const endRow = () => {
    if (content) {
      for (let k = 0; k < 3; k++) {
        const n = count[k] as number;
        if (rows === 0) firstRowCount[k] = n;
        else if (n !== firstRowCount[k]) sameCount[k] = false;
        if (n === 0) inEveryRow[k] = false;
      }
      rows++;
    }
    count.fill(0);
    content = false;
  };
  for (let i = 0; i < sample.length && rows < DELIMITER_SAMPLE_ROWS; i++) {
    const b = sample[i] as number;
    if (b === QUOTE) {
      inQuotes = !inQuotes;
      content = true;
    } else if (inQuotes) {
      // A delimiter or line end inside quotes belongs to the value.
    } else if (b === LF || b === CR) {
      endRow();
      rowStart = i + 1;
    } else {
      const k = BYTES.indexOf(b);
      if (k !== -1) {
        count[k] = (count[k] as number) + 1;
        if (rows === 0 && firstRowAt[k] === Number.POSITIVE_INFINITY) firstRowAt[k] = i - rowStart;
        if (k !== 2) content = true;
      } else if (b !== 0x20 && b !== 0x0b && b !== 0x0c) {
        content = true;
      }
    }
  }
  // The last row counts only when the file ends there: otherwise it may go on past the sample.
  if (final && rows < DELIMITER_SAMPLE_ROWS && !inQuotes) endRow();
  if (rows === 0) return 'comma';
  const earliest = (ok: readonly boolean[]) => {
    let best = -1;
    for (let k = 0; k < 3; k++) {
      if (ok[k] && inEveryRow[k] && (best === -1 || (firstRowAt[k] as number) < (firstRowAt[best] as number))) best = k;
    }
    return best;
  };
  const k = earliest(sameCount);
  const chosen = k !== -1 ? k : earliest([true, true, true]);
  return chosen === -1 ? 'comma' : (KINDS[chosen] as Delimiter);
}
