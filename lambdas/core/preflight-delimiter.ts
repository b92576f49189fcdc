// Which character separates a file's fields: commas, or the semicolons or tabs some exports use instead, told from the file's first rows.
//
// Excel saves "CSV" with the list separator of the computer's language: a semicolon in Turkish, German,
// French and most of Europe. Tab-separated text comes from Excel's "Unicode Text", database clients and
// spreadsheets copied as text. Insider reads one value per line, so `ann@example.com;Ann` would reach it
// as one value that matches nobody; the scanner takes the first field whatever the separator, as it does
// for commas, and the clean copy holds that field alone.
//
// Cutting a value that really holds a semicolon would send Insider something else for good, so the rule
// is strict: the file's first bytes (a fixed prefix, whatever the chunks) must show a table: at least two
// rows with the same number of semicolons (or tabs) each, and either a header (the attribute's name or a
// header word first) or, for an attribute with a known format, first fields that pass it while second
// fields do not (so `ann@example.com;bob@example.com`, a list written across a row, is not cut). Anything
// else stays comma-separated, as before.
//
// The same rows tell a list written across rows (`ann@example.com,bob@example.com,…` on one line, as a
// list pasted from a mail client comes): a row of three or more values and little else that is no row
// of a table, with at least twice as many of the sample's values lost past each row's first value as
// sent. The scanner refuses the file instead (`acrossRows`, see listAcrossRows).

export type Delimiter = 'comma' | 'semicolon' | 'tab';

export const DELIMITER_CHAR: Readonly<Record<Delimiter, string>> = { comma: ',', semicolon: ';', tab: '\t' };
/** The delimiters named in a reason or a note: "separated by semicolons". */
export const DELIMITER_WORDS: Readonly<Record<Delimiter, string>> = { comma: 'commas', semicolon: 'semicolons', tab: 'tabs' };

/** Non-blank rows looked at from the start of the file (after a BOM). */
export const DELIMITER_SAMPLE_ROWS = 20;
/** The prefix of the file (after a BOM) the rows are taken from: the same bytes whatever the chunks. */
export const DELIMITER_SAMPLE_BYTES = 64 * 1024;

const KINDS: readonly Delimiter[] = ['comma', 'semicolon', 'tab'];
/** A field's characters kept for judging it: more than any header word, email address or phone number holds. */
const FIELD_CHARS = 320;
const CHARS: readonly string[] = KINDS.map((kind) => DELIMITER_CHAR[kind]);

/**
 * The first field of Excel's separator line, `sep=;` (or `sep=,`, or a tab) on the first line, which
 * some exports write so that Excel opens the file right: it names the delimiter, and it is no row of the
 * file (RowReader skips it).
 */
export const SEPARATOR_LINE_FIELD = 'sep=';

/** What the scanner knows about the attribute, to judge whether a split gives values. */
export interface DelimiterJudge {
  /** The field is a header: the attribute's name or a header word. */
  isHeader(field: string): boolean;
  /** The field passes the attribute's format; undefined when it has none. */
  isValue?: ((field: string) => boolean) | undefined;
}

export interface SniffResult {
  delimiter: Delimiter;
  /** Line 1 is Excel's separator line. */
  separatorLine: boolean;
  /** A list written across rows in the sample (see listAcrossRows), if there is one. */
  acrossRows?: AcrossRows | undefined;
}

/** A list written across rows, as seen in the sample's `rows` rows: `total` values, of which `sent` would reach Insider. */
export interface AcrossRows {
  /** The separator most of the lost values follow. */
  separator: Delimiter;
  rows: number;
  sent: number;
  total: number;
}

/** The delimiter Excel's separator line names, if the text starts with one. */
function separatorHint(text: string): Delimiter | undefined {
  const start = text.slice(0, 6).toLowerCase();
  if (!start.startsWith(SEPARATOR_LINE_FIELD)) return undefined;
  const k = CHARS.indexOf(start.charAt(4));
  const after = start.charAt(5);
  return k !== -1 && (after === '\n' || after === '\r' || after === '') ? KINDS[k] : undefined;
}

/**
 * A sampled row, split on each candidate (comma, semicolon, tab, in that order) as csv-parse reads it: a
 * quote opens a value only at the start of a field. `counts`: the delimiters outside quotes.
 */
interface SampleRow {
  counts: number[];
  split: string[][];
  /** Cut off by the end of the sample (only ever the first row): its last field is partial. */
  cut?: boolean;
}

/**
 * The sample's whole rows (non-blank), each split on every candidate delimiter. A row cut off by the
 * end of the sample is left out unless `final` (the sample is the whole file).
 */
function sampleRows(text: string, final: boolean): SampleRow[] {
  const rows: SampleRow[] = [];
  let i = 0;
  while (i < text.length && rows.length < DELIMITER_SAMPLE_ROWS) {
    // One row: fields per candidate, quotes opening only at a field's start for that candidate.
    const split: string[][] = CHARS.map(() => []);
    const field: string[] = CHARS.map(() => '');
    const counts = [0, 0, 0];
    const atStart = [true, true, true];
    const quoted = [false, false, false];
    let inQuotes = false; // for the row's extent: a quote that opens at a field's start for any candidate
    let end = -1;
    let j = i;
    for (; j < text.length; j++) {
      const c = text.charAt(j);
      if (!inQuotes && (c === '\n' || c === '\r')) {
        end = j;
        break;
      }
      for (let k = 0; k < 3; k++) {
        if (quoted[k]) {
          if (c === '"') quoted[k] = false;
          else if ((field[k] as string).length < FIELD_CHARS) field[k] += c;
          continue;
        }
        if (c === CHARS[k] && !(k === 2 && (field[k] as string).trim() === '' && (split[k] as string[]).length === 0)) {
          // A tab before anything else in the row is padding, not a delimiter.
          (split[k] as string[]).push(field[k] as string);
          field[k] = '';
          counts[k] = (counts[k] as number) + 1;
          atStart[k] = true;
          continue;
        }
        if (c === '"' && atStart[k] && (field[k] as string).trim() === '') {
          quoted[k] = true;
          field[k] = '';
        } else if ((field[k] as string).length < FIELD_CHARS) {
          field[k] += c;
        }
        if (c !== ' ' && c !== '\t') atStart[k] = false;
      }
      // The row goes on past a line end only while a quote opened at a field's start for the comma (the
      // reading the file gets unless another delimiter is chosen) is open.
      inQuotes = quoted[0] as boolean;
    }
    // A row cut off by the end of the sample is left out, but for the first: a list across one long line.
    if (end === -1 && !final && rows.length > 0) break;
    for (let k = 0; k < 3; k++) (split[k] as string[]).push(field[k] as string);
    const content = (split[0] as string[]).join(',').trim() !== '';
    if (content) rows.push(end === -1 && !final ? { counts, split, cut: true } : { counts, split });
    i = end === -1 ? text.length : end + (text.charAt(end) === '\r' && text.charAt(end + 1) === '\n' ? 2 : 1);
  }
  return rows;
}

/**
 * The delimiter of the file whose first bytes are `sample` (after a BOM), and whether line 1 is Excel's
 * separator line. Commas unless the sample shows a semicolon (or tab) table, as the module comment says.
 * `final`: the sample is the whole file.
 */
export function sniffDelimiter(sample: Uint8Array, final: boolean, judge: DelimiterJudge): SniffResult {
  const text = Buffer.from(sample.buffer, sample.byteOffset, Math.min(sample.byteLength, DELIMITER_SAMPLE_BYTES)).toString('utf8');
  const whole = final && sample.byteLength <= DELIMITER_SAMPLE_BYTES;
  const hinted = separatorHint(text);
  if (hinted) return { delimiter: hinted, separatorLine: true };
  const rows = sampleRows(text, whole);
  const delimiter = chooseDelimiter(rows, judge);
  return { delimiter, separatorLine: false, acrossRows: listAcrossRows(rows, judge, KINDS.indexOf(delimiter)) };
}

function chooseDelimiter(rows: SampleRow[], judge: DelimiterJudge): Delimiter {
  if (rows.length < 2) return 'comma';
  for (const k of [1, 2]) {
    const n = rows[0]?.counts[k] ?? 0;
    if (n === 0 || rows.some((r) => r.counts[k] !== n)) continue;
    // Every row splits the same way: a table, if its first fields are what the attribute holds.
    const firsts = rows.map((r) => ((r.split[k] as string[])[0] ?? '').trim());
    const seconds = rows.map((r) => ((r.split[k] as string[])[1] ?? '').trim());
    const header = judge.isHeader(firsts[0] as string);
    const isValue = judge.isValue;
    const data = header ? 1 : 0;
    const valuesPass = isValue !== undefined && firsts.slice(data).filter((f) => isValue(f)).length * 2 > rows.length - data;
    const secondsPass = isValue !== undefined && seconds.slice(data).filter((f) => isValue(f)).length * 2 > rows.length - data;
    // Second fields that are values too make a headerless list across rows (not cut); under a header, a table of them.
    if (secondsPass && !header) continue;
    if (header || valuesPass) return KINDS[k] as Delimiter;
  }
  return 'comma';
}

/** A pasted list: at least this many values on one row, */
const PASTED_LIST_VALUES = 3;
/** and at most one other entry (a typo, `etc`) for every this many values. */
const PASTED_LIST_VALUES_PER_OTHER = 4;

/**
 * A list written across rows, for an attribute with a format, in rows read on `read` (the delimiter's
 * index). It takes a row that is a pasted list (at least three values and little else, on the delimiter
 * or inside the one field the row is read as) that is no row of a table: the sample has fewer than
 * three rows, or the row holds two or more values past the width most rows have (trailing empty fields
 * aside). And at least twice as many values lost (past each row's first field, or inside a first field
 * that is no value) as sent, at least one a row. So a table is never refused for its other columns,
 * however many hold addresses (owner, manager, second email), nor for an odd row with one more cell,
 * nor is a daily list for one stray line. A header row of several names makes a short sample a table.
 */
function listAcrossRows(rows: SampleRow[], judge: DelimiterJudge, read: number): AcrossRows | undefined {
  const isValue = judge.isValue;
  if (isValue === undefined || rows.length === 0) return undefined;
  const head = rows[0] as SampleRow;
  const knownHeader = head.split.some((fields) => judge.isHeader((fields[0] ?? '').trim()));
  // A header row of several names, on any of the separators, none of them a value: the rows are a table.
  const names = head.split.map((fields) => fields.map((f) => f.trim()).filter((f) => f !== ''));
  if ((knownHeader || rows.length > 1) && names.some((n) => n.length > 1 && n.every((f) => !isValue(f)))) return undefined;
  const data = (knownHeader ? rows.slice(1) : rows).map((row) => {
    const fields = (row.split[read] as string[]).map((f) => f.trim());
    if (row.cut && fields.length > 1) fields.pop(); // cut off by the sample's end: only whole fields
    while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop(); // a trailing delimiter adds no cell
    return fields;
  });
  if (data.length === 0) return undefined;
  const widths = new Map<number, number>();
  for (const fields of data) widths.set(fields.length, (widths.get(fields.length) ?? 0) + 1);
  const usual = [...widths.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 1;
  let sent = 0;
  let lost = 0;
  let pasted = false;
  const lostAfter = [0, 0, 0];
  for (const fields of data) {
    const first = fields[0] as string;
    let values = 0;
    let others = 0;
    if (isValue(first)) {
      sent++;
      values++;
    } else {
      // `a@x.com; b@x.com` in a comma file is one field, sent whole: every address in it is lost.
      const inside = CHARS.map((c) => (first.includes(c) ? first.split(c).filter((f) => isValue(f.trim())).length : 0));
      const most = Math.max(...inside);
      if (most > 1) {
        lost += most;
        values += most;
        const k = inside.indexOf(most);
        lostAfter[k] = (lostAfter[k] as number) + most;
      } else if (first !== '') {
        others++;
      }
    }
    let beyond = 0;
    for (let f = 1; f < fields.length; f++) {
      const field = fields[f] as string;
      if (field === '') continue;
      if (!isValue(field)) {
        others++;
        continue;
      }
      lost++;
      values++;
      if (f >= usual) beyond++;
      lostAfter[read] = (lostAfter[read] as number) + 1;
    }
    const list = values >= PASTED_LIST_VALUES && values >= PASTED_LIST_VALUES_PER_OTHER * others;
    if (list && (data.length < 3 || beyond >= 2)) pasted = true;
  }
  if (!pasted || lost < 2 * sent || lost < data.length) return undefined;
  const k = lostAfter.indexOf(Math.max(...lostAfter));
  return { separator: KINDS[k] as Delimiter, rows: data.length, sent, total: sent + lost };
}
