// Argument parsing and the records table for `npm start` (kept apart from main so they can be tested).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { META_ATTRIBUTE_NAME, META_SEGMENT_NAME } from '../lambdas/shared/contract.js';

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
export const USAGE = `Usage:
  npm start                                   drop the sample files in examples/
  npm start -- <file.csv> [<file.csv> …]      drop your own files; the key is "<parent folder>/<file name>"
Options:
  --attribute <name>   the Insider attribute for every file given (sets metadata "${META_ATTRIBUTE_NAME}")
  --segment <name>     the segment name (only with a single file; sets metadata "${META_SEGMENT_NAME}")
  --timeout <seconds>  how long to wait for every file to reach a final status (default 60)
  --help`;

export interface Drop {
  path: string;
  key: string;
  metadata: Record<string, string>;
}

function findCsvFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? findCsvFiles(join(dir, entry.name)) : /\.csv$/i.test(entry.name) ? [join(dir, entry.name)] : []))
    .sort();
}

export function plan(argv: string[], examplesDir = join(ROOT, 'examples')): { drops: Drop[]; timeoutSeconds: number; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { attribute: { type: 'string' }, segment: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return { drops: [], timeoutSeconds: 0, help: true };
  const timeoutSeconds = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new Error(`--timeout must be a positive number of seconds, not "${values.timeout}"`);
  if (values.segment !== undefined && positionals.length !== 1) throw new Error('--segment names one segment: give exactly one file with it');
  if (positionals.length === 0) {
    return { timeoutSeconds, help: false, drops: findCsvFiles(examplesDir).map((path) => ({ path, key: relative(examplesDir, path), metadata: {} })) };
  }
  const drops = positionals.map((file) => {
    const path = resolve(file);
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`No such file: ${file}`);
    const folder = basename(dirname(path));
    const metadata: Record<string, string> = {};
    if (values.attribute !== undefined) metadata[META_ATTRIBUTE_NAME] = values.attribute;
    if (values.segment !== undefined) metadata[META_SEGMENT_NAME] = values.segment;
    // A file given from the current folder has no folder of its own to name the attribute.
    const key = dirname(file) === '.' || folder === '' ? basename(path) : `${folder}/${basename(path)}`;
    return { path, key, metadata };
  });
  return { timeoutSeconds, drops, help: false };
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export function table(records: UploadRecord[]): string {
  const rows = records.map((r) => [
    r.segmentName ?? '',
    r.attributeName ?? '',
    r.status,
    r.validValuesCount?.toString() ?? '',
    r.invalidValuesCount?.toString() ?? '',
    r.totalEnteredValues?.toString() ?? '',
    r.matchRate === undefined ? '' : `${(r.matchRate * 100).toFixed(1)}%`,
    r.fpsHttpStatus?.toString() ?? '',
    truncate(r.reason ?? '', 90),
  ]);
  const header = ['segment', 'attribute', 'status', 'valid', 'invalid', 'total', 'match', 'http', 'reason'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => [...(row[i] ?? '')].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

