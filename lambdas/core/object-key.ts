// Pure rules that read an S3 object key: what kind of file it is, its folders, and keys the pipeline must refuse.
import { DRY_RUN_FOLDER } from '../shared/contract.js';
import { describeInvisibleCharacters, lazyRegExp, normalizeName } from './unicode-names.js';

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
 * `VIP.csv.csv`, `VIP.CSV.csv`, `VIP.csv.csv.gz`: Windows hides known extensions, so a file shown
 * as "VIP.csv" and saved as CSV gets ".csv" again. Its segment name would keep the inner ".csv" for
 * good. Returns the name the user meant (lower-case extension) and how many times ".csv" is there.
 */
export function repeatedCsvExtension(file: KeyClassification): { meant: string; times: number } | undefined {
  if (file.kind !== 'csv' && file.kind !== 'csv.gz') return undefined;
  const repeated = /(\.csv\s*)+$/i.exec(file.stem);
  if (!repeated || repeated.index === 0) return undefined;
  const times = (repeated[0].match(/\.csv/gi)?.length ?? 0) + 1;
  return { meant: `${file.stem.slice(0, repeated.index)}${file.kind === 'csv.gz' ? '.csv.gz' : '.csv'}`, times };
}

/**
 * A `.` or `..` folder: HTTP clients (Node's fetch, browsers, most libraries) resolve dot segments
 * in a URL's path before sending it, so the presigned URL would ask for another object and fail.
 */
export function hasDotSegment(key: string): boolean {
  return key.split('/').some((segment) => segment === '.' || segment === '..');
}

export interface KeyFolders {
  /** The top folder (the first whose name is not blank) is `dry-run/`, in any case and trimmed; it was taken off before the folders below were read. */
  dryRun: boolean;
  /** The folders above the file, outermost first, as written (the dry-run folder taken off). */
  folders: string[];
  /** The innermost folder whose name is not blank, NFC and trimmed; undefined when there is none. */
  attribute: string | undefined;
  /** The folder right above the file has a blank name (`em//x.csv`, `   /x.csv`, `/x.csv`). */
  innermostBlank: boolean;
  /** The first of `folders` that looks like the dry-run folder but does not make a dry run (see {@link DryRunLookalike}). */
  dryRunLookalike?: DryRunLookalike | undefined;
}

/**
 * A folder that looks like the dry-run folder: its sender probably meant a dry run, and reading it
 * as an ordinary folder would send the file to Insider and use its name for good.
 */
export interface DryRunLookalike {
  /** The folder name, as written. */
  folder: string;
  /** It is the top folder (so only its spelling is wrong: `dryrun/`, `Dry Run/`, `dry_run/`). */
  top: boolean;
  /** It is spelled `dry-run` (any case, trimmed), so only its place is wrong: `exports/dry-run/em/x.csv`. */
  exact: boolean;
}

/** The dry-run folder's name as a folder name is compared with it: trimmed, NFC, lower case. */
function isDryRunFolder(name: string): boolean {
  return normalizeName(name).toLowerCase() === DRY_RUN_FOLDER;
}

const FOLDER_SEPARATORS = lazyRegExp('[\\p{Pd}\\p{Pc}\\p{Z}\\p{Cf}\\s.]', 'gu');

/**
 * Lower case, compatibility forms folded (full-width letters), and no dashes of any kind (`-`, `‐`,
 * `–`), underscores, dots, white space or invisible format characters: `Dry_Run `, `dry.run`,
 * `dry–run` and `dry\u200Brun` all become `dryrun`.
 */
function squashFolderName(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(FOLDER_SEPARATORS(), '');
}

/** `dry-run` itself or a near miss of it: the same letters with other separators (or none), case or white space. */
export function looksLikeDryRunFolder(name: string): boolean {
  return squashFolderName(name) === squashFolderName(DRY_RUN_FOLDER);
}

/**
 * Blank folder names are skipped: `em//x.csv` is read as `em/x.csv` (empty path parts come from
 * joining paths), and `/dry-run/em/x.csv` is a dry run. Folder names are trimmed like every name, so
 * `dry-run /em/x.csv` is a dry run too; a folder that only looks like `dry-run/`, or `dry-run/` below
 * the top, is reported in `dryRunLookalike`.
 */
export function readFolders(key: string): KeyFolders {
  const parts = key.split('/').slice(0, -1);
  const top = parts.findIndex((part) => normalizeName(part) !== '');
  const dryRun = top >= 0 && isDryRunFolder(parts[top] as string);
  const folders = dryRun ? parts.slice(top + 1) : parts;
  const named = folders.map(normalizeName).filter((name) => name !== '');
  const innermost = folders[folders.length - 1];
  const lookalikeAt = folders.findIndex(looksLikeDryRunFolder);
  const lookalike = folders[lookalikeAt];
  return {
    dryRun,
    folders,
    attribute: named[named.length - 1],
    innermostBlank: innermost !== undefined && normalizeName(innermost) === '',
    dryRunLookalike: lookalike === undefined ? undefined : { folder: lookalike, top: !dryRun && lookalikeAt === top, exact: isDryRunFolder(lookalike) },
  };
}

/**
 * Why a file under a folder that looks like the dry-run folder was refused, with the key it would
 * have as a dry run (the look-alike taken out, `dry-run/` first).
 */
export function dryRunLookalikeReason(read: KeyFolders, fileName: string): string | undefined {
  const lookalike = read.dryRunLookalike;
  if (!lookalike) return undefined;
  const invisible = describeInvisibleCharacters(lookalike.folder);
  const shown = `"${lookalike.folder}"${invisible ? ` (it contains ${invisible})` : ''}`;
  const wrong = lookalike.exact ? 'is not the top folder' : lookalike.top ? `is not named exactly "${DRY_RUN_FOLDER}"` : `is neither the top folder nor named exactly "${DRY_RUN_FOLDER}"`;
  const others = read.folders.filter((folder) => folder !== lookalike.folder && normalizeName(folder) !== '');
  const example = [DRY_RUN_FOLDER, ...others, fileName].join('/');
  return (
    `The folder ${shown} looks like the dry-run folder but ${wrong}. For a dry run, put the file under the top folder "${DRY_RUN_FOLDER}/" ("${example}"); ` +
    `if ${JSON.stringify(lookalike.folder)} is really an attribute or folder name, rename it. Nothing was sent to Insider.`
  );
}
