// Pure rules that read an S3 object key: what kind of file it is, its folders, and keys the pipeline must refuse.
import { DRY_RUN_FOLDER } from '../shared/contract.js';
import { normalizeName } from './unicode-names.js';

/**
 * - `folder`: a folder placeholder (the S3 console's "Create folder" writes `name/`): no record.
 * - `ignored`: a file the pipeline leaves alone by rule (see {@link isIgnoredFileName}): no record.
 * - `csv`, `csv.gz`: what the pipeline takes (the extension in any case; see `lowerCaseExtension`).
 * - `other`: anything else; rejected with a reason saying what the pipeline takes.
 */
export type KeyKind = 'folder' | 'ignored' | 'csv' | 'csv.gz' | 'other';

export interface KeyClassification {
  kind: KeyKind;
  /** The last path segment, as written. */
  fileName: string;
  /** For `csv` and `csv.gz`: the file name without its extension, as written (not trimmed or normalized). */
  stem: string;
  /** For `csv` and `csv.gz`: the extension as written (`.csv`, `.CSV`, `.Csv.GZ`); otherwise ''. */
  extension: string;
  /**
   * For `csv` and `csv.gz`: whether the `.csv` part is lower case. Insider only accepts file URLs
   * that contain `.csv`, so a `.CSV` object can be sent only as a copy named `.csv`.
   */
  lowerCaseExtension: boolean;
  /** For `folder`, `ignored` and `other`: what the file is, in a sentence for the record or a log. */
  description?: string;
}

/** Windows' thumbnail cache and folder settings, dropped along with whole folders. */
const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini']);
/** A name that is only an extension is a CSV whose name is missing (rejected as empty), not a hidden file. */
const ONLY_EXTENSION = /^\.csv(\.gz)?$/i;

/**
 * The ignore rule: names starting with `.` (macOS `.DS_Store` and `._name` AppleDouble files, which
 * Finder writes next to every file it copies to some volumes; LibreOffice `.~lock.name#`) or `~$`
 * (Office lock files), and `Thumbs.db` / `desktop.ini` in any case. They are never segments, and
 * a record for each would bury the real ones.
 */
export function isIgnoredFileName(fileName: string): boolean {
  if (ONLY_EXTENSION.test(fileName)) return false;
  return fileName.startsWith('.') || fileName.startsWith('~$') || SYSTEM_FILES.has(fileName.toLowerCase());
}

function describeOther(fileName: string): string {
  if (!fileName.includes('.')) return 'it has no extension';
  if (/\.csv\s+$/i.test(fileName)) return 'it has white space after ".csv": remove it';
  const ext = /\.[^.]*$/.exec(fileName)?.[0] ?? '';
  if (/\.csv\.[^.]+$/i.test(fileName)) return `it ends in "${ext}" after ".csv": remove "${ext}"`;
  if (/^\.(xlsx|xlsm|xls|numbers|ods)$/i.test(ext)) return `"${ext}" is a spreadsheet: save it as CSV, one value per line`;
  if (/^\.(zip|gz|bz2|7z|tar|tgz)$/i.test(ext)) return `"${ext}" is an archive`;
  return `it ends in "${ext}"`;
}

export function classifyKey(key: string): KeyClassification {
  const fileName = key.slice(key.lastIndexOf('/') + 1);
  const none = { fileName, stem: '', extension: '', lowerCaseExtension: false };
  if (key.endsWith('/')) return { ...none, kind: 'folder', description: `"${key}" is a folder placeholder, not a file` };
  if (isIgnoredFileName(fileName)) {
    return { ...none, kind: 'ignored', description: `"${fileName}" is a hidden or system file (its name starts with "." or "~$", or it is Thumbs.db or desktop.ini)` };
  }
  const gz = /\.csv\.gz$/i.exec(fileName);
  if (gz) {
    const extension = gz[0];
    return { kind: 'csv.gz', fileName, stem: fileName.slice(0, -extension.length), extension, lowerCaseExtension: extension.startsWith('.csv') };
  }
  const csv = /\.csv$/i.exec(fileName);
  if (csv) {
    const extension = csv[0];
    return { kind: 'csv', fileName, stem: fileName.slice(0, -extension.length), extension, lowerCaseExtension: extension === '.csv' };
  }
  return { ...none, kind: 'other', description: describeOther(fileName) };
}

/**
 * A `.` or `..` folder: HTTP clients (Node's fetch, browsers, most libraries) resolve dot segments
 * in a URL's path before sending it, so the presigned URL would ask for another object and fail.
 */
export function hasDotSegment(key: string): boolean {
  return key.split('/').some((segment) => segment === '.' || segment === '..');
}

export interface KeyFolders {
  /** The top folder was `dry-run/` (any case); it was taken off before the folders below were read. */
  dryRun: boolean;
  /** The folders above the file, outermost first, as written (the dry-run folder taken off). */
  folders: string[];
  /** The innermost folder whose name is not blank, NFC and trimmed; undefined when there is none. */
  attribute: string | undefined;
  /** The folder right above the file has a blank name (`em//x.csv`, `   /x.csv`, `/x.csv`). */
  innermostBlank: boolean;
}

/** Blank folder names are skipped: `em//x.csv` is read as `em/x.csv` (empty path parts come from joining paths). */
export function readFolders(key: string): KeyFolders {
  const parts = key.split('/').slice(0, -1);
  const dryRun = parts.length > 0 && (parts[0] as string).toLowerCase() === DRY_RUN_FOLDER;
  const folders = dryRun ? parts.slice(1) : parts;
  const named = folders.map(normalizeName).filter((name) => name !== '');
  const innermost = folders[folders.length - 1];
  return { dryRun, folders, attribute: named[named.length - 1], innermostBlank: innermost !== undefined && normalizeName(innermost) === '' };
}
