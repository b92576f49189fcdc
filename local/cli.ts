// `npm start`: runs the whole pipeline on the local stack, drops CSV files and prints the resulting records.
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { FINAL_STATUSES, META_ATTRIBUTE_NAME, META_SEGMENT_NAME } from '../lambdas/shared/contract.js';
import { startLocalStack } from './stack.js';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const USAGE = `Usage:
  npm start                                   drop the sample files in examples/
  npm start -- <file.csv> [<file.csv> …]      drop your own files; the key is "<parent folder>/<file name>"
Options:
  --attribute <name>   the Insider attribute for every file given (sets metadata "${META_ATTRIBUTE_NAME}")
  --segment <name>     the segment name (only with a single file; sets metadata "${META_SEGMENT_NAME}")
  --timeout <seconds>  how long to wait for every file to reach a final status (default 60)
  --help`;

interface Drop {
  path: string;
  key: string;
  metadata: Record<string, string>;
}

function findCsvFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? findCsvFiles(join(dir, entry.name)) : /\.csv$/i.test(entry.name) ? [join(dir, entry.name)] : []))
    .sort();
}

function plan(argv: string[]): { drops: Drop[]; timeoutSeconds: number } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { attribute: { type: 'string' }, segment: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const timeoutSeconds = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new Error(`--timeout must be a positive number of seconds, not "${values.timeout}"`);
  if (values.segment !== undefined && positionals.length !== 1) throw new Error('--segment names one segment: give exactly one file with it');
  if (positionals.length === 0) {
    const examples = join(ROOT, 'examples');
    return { timeoutSeconds, drops: findCsvFiles(examples).map((path) => ({ path, key: relative(examples, path), metadata: {} })) };
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
  return { timeoutSeconds, drops };
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function table(records: UploadRecord[]): string {
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

async function main(): Promise<number> {
  const { drops, timeoutSeconds } = plan(process.argv.slice(2));
  if (drops.length === 0) throw new Error('No .csv files to drop');
  const logDir = join(ROOT, '.local', 'logs');
  mkdirSync(logDir, { recursive: true });
  const logs = new Map<string, ReturnType<typeof createWriteStream>>();
  const logSink = (line: string, fn: string) => {
    let stream = logs.get(fn);
    if (!stream) {
      stream = createWriteStream(join(logDir, `${fn}.log`), { flags: 'w' });
      logs.set(fn, stream);
    }
    stream.write(`${line}\n`);
  };

  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  console.log('Starting the local stack: synthesizing the CDK app (esbuild bundles), embedded S3, DynamoDB, Secrets Manager, HTTP API and the FPS simulator…');
  const stack = await startLocalStack({ logSink });
  let code = 0;
  try {
    console.log(`Ready in ${elapsed()}: bucket ${stack.bucket}, table ${stack.tableName}, callback API ${stack.api.url}, FPS simulator ${stack.simulator.url}`);
    for (const drop of drops) {
      await stack.put(drop.key, readFileSync(drop.path), drop.metadata);
      console.log(`  dropped s3://${stack.bucket}/${drop.key}`);
    }
    const keys = drops.map((d) => d.key);
    const seen = new Map<string, string>();
    const deadline = Date.now() + timeoutSeconds * 1000;
    let records: UploadRecord[] = [];
    for (;;) {
      records = (await stack.records()).filter((r) => keys.includes(r.key));
      for (const r of records) {
        if (seen.get(r.uploadId) !== r.status) {
          seen.set(r.uploadId, r.status);
          console.log(`  [${elapsed()}] ${r.key}: ${r.status}`);
        }
      }
      const done = keys.every((k) => records.some((r) => r.key === k)) && records.every((r) => FINAL_STATUSES.includes(r.status));
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    records.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
    console.log(`\nDynamoDB table ${stack.tableName} (${records.length} records):\n${table(records)}\n`);
    const missing = keys.filter((k) => !records.some((r) => r.key === k));
    const open = records.filter((r) => !FINAL_STATUSES.includes(r.status));
    if (missing.length || open.length) {
      code = 1;
      console.error(
        `Not every file reached a final status within ${timeoutSeconds}s: ${[...missing.map((k) => `${k} (no record)`), ...open.map((r) => `${r.key} (${r.status})`)].join(', ')}. Function logs: ${logDir}`,
      );
    } else {
      console.log(`All ${keys.length} files reached a final status in ${elapsed()}. Function logs: ${relative(process.cwd(), logDir)}/`);
    }
  } finally {
    await stack.stop();
    for (const stream of logs.values()) stream.end();
  }
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
