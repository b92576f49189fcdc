// Argument parsing and the records table for `npm start` (kept apart from main so they can be tested).
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, type WriteStream } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { META_ATTRIBUTE_NAME, META_SEGMENT_NAME } from '../lambdas/shared/contract.js';
import { textTable, truncate } from './text-table.js';

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
/** S3 listens on the port base; the other endpoints on the next ports, in this order (README "Local stack you can live in"). */
export const SERVE_PORT_OFFSETS = { s3: 0, dynamodb: 1, secretsManager: 2, sns: 3, sts: 4, sqs: 5, api: 6, fpsSimulator: 7, tableBrowser: 8 } as const;
export type ServedEndpoint = keyof typeof SERVE_PORT_OFFSETS;
/** Clear of LocalStack's 4510–4566, so both can run at once. */
export const DEFAULT_PORT_BASE = 4600;
export const USAGE = `Usage:
  npm start                                   drop the sample files in examples/
  npm start -- <file.csv> [<file.csv> …]      drop your own files; the key is "<parent folder>/<file name>"
Options:
  --attribute <name>   the Insider attribute for every file given (sets metadata "${META_ATTRIBUTE_NAME}")
  --segment <name>     the segment name (only with a single file; sets metadata "${META_SEGMENT_NAME}")
  --timeout <seconds>  how long to wait for every file to reach a final status (default 60)
  --help

Serve mode: keep the local stack running until Ctrl-C, on fixed ports, and print the aws commands to use it
  npm start -- --serve [<file.csv> …] [--examples]   drops the files given (or with --examples the samples) first
  --port-base <port>   S3 on this port and the other endpoints on the next ones (default ${DEFAULT_PORT_BASE}; 0: free ports)
  --time-scale <n>     multiplies SQS's waits (default 1, real time; 0.01 makes a 60 s retry wait last 0.6 s)
  --sweep-every <s>    run the sweeper every <s> seconds instead of the template's schedule
  -c, --context <key=value>   CDK context for the synthesized app, as with cdk -c (repeatable), e.g. -c tokenCacheSeconds=5
  --out-dir <dir>      where function logs and status notifications go (default .local)`;

/** Context the local stack sets itself: the simulator's partner and URL. */
const RESERVED_CONTEXT = ['partnerName', 'fpsEndpointUrl'];

/** What `--serve` asks for. */
export interface ServeSettings {
  /** 0: every endpoint on a free port. */
  portBase: number;
  timeScale: number;
  /** Overrides the template's schedule interval; undefined keeps the template's. */
  sweepEverySeconds: number | undefined;
  context: Record<string, string>;
  outDir: string;
}

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

const SERVE_ONLY = ['port-base', 'time-scale', 'sweep-every', 'context', 'examples', 'out-dir'] as const;

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, not "${value}"`);
  return n;
}

function serveSettings(values: Partial<Record<(typeof SERVE_ONLY)[number], string | string[] | boolean>>): ServeSettings {
  const base = values['port-base'] === undefined ? DEFAULT_PORT_BASE : Number(values['port-base']);
  const top = base + Math.max(...Object.values(SERVE_PORT_OFFSETS));
  if (!Number.isInteger(base) || (base !== 0 && (base < 1024 || top > 65_535))) {
    throw new Error(`--port-base must be 0 (free ports) or a port from 1024 to ${65_535 - Math.max(...Object.values(SERVE_PORT_OFFSETS))}, not "${values['port-base']}"`);
  }
  const context: Record<string, string> = {};
  for (const entry of (values.context as string[] | undefined) ?? []) {
    const eq = entry.indexOf('=');
    const key = entry.slice(0, eq).trim();
    if (eq < 1 || key === '') throw new Error(`-c takes key=value, not "${entry}"`);
    if (RESERVED_CONTEXT.includes(key)) throw new Error(`-c ${key} is set by the local stack (the FPS simulator's partner and URL)`);
    context[key] = entry.slice(eq + 1);
  }
  return {
    portBase: base,
    timeScale: values['time-scale'] === undefined ? 1 : positiveNumber('--time-scale', values['time-scale'] as string),
    sweepEverySeconds: values['sweep-every'] === undefined ? undefined : positiveNumber('--sweep-every', values['sweep-every'] as string),
    context,
    outDir: resolve((values['out-dir'] as string | undefined) ?? join(ROOT, '.local')),
  };
}

export function plan(argv: string[], examplesDir = join(ROOT, 'examples')): { drops: Drop[]; timeoutSeconds: number; help: boolean; serve?: ServeSettings } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      attribute: { type: 'string' },
      segment: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean' },
      serve: { type: 'boolean' },
      'port-base': { type: 'string' },
      'time-scale': { type: 'string' },
      'sweep-every': { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true },
      examples: { type: 'boolean' },
      'out-dir': { type: 'string' },
    },
  });
  if (values.help) return { drops: [], timeoutSeconds: 0, help: true };
  if (!values.serve) {
    const misplaced = SERVE_ONLY.filter((flag) => values[flag] !== undefined);
    if (misplaced.length > 0) throw new Error(`${misplaced.map((f) => `--${f}`).join(', ')} ${misplaced.length === 1 ? 'goes' : 'go'} only with --serve`);
  } else if (values.timeout !== undefined) {
    throw new Error('--timeout does not go with --serve: serve mode waits for Ctrl-C');
  }
  const serve = values.serve ? serveSettings(values) : undefined;
  if (serve && positionals.length === 0) {
    const drops = values.examples ? findCsvFiles(examplesDir).map((path) => ({ path, key: relative(examplesDir, path), metadata: {} })) : [];
    if (values.segment !== undefined || values.attribute !== undefined) throw new Error('--segment and --attribute name the files given: give the files too');
    return { timeoutSeconds: 0, help: false, drops, serve };
  }
  if (serve && values.examples) throw new Error('--examples drops the samples: give files or --examples, not both');
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
  return serve ? { timeoutSeconds: 0, drops, help: false, serve } : { timeoutSeconds, drops, help: false };
}

/** One log file per function in `dir` (`<function>.log`, started afresh), for the stack's `logSink`. */
export function functionLogFiles(dir: string): { sink: (line: string, fn: string) => void; close(): Promise<void> } {
  mkdirSync(dir, { recursive: true });
  const logs = new Map<string, WriteStream>();
  return {
    sink(line, fn) {
      let stream = logs.get(fn);
      if (!stream) {
        stream = createWriteStream(join(dir, `${fn}.log`), { flags: 'w' });
        logs.set(fn, stream);
      }
      stream.write(`${line}\n`);
    },
    close: () => Promise.all([...logs.values()].map((stream) => new Promise<void>((resolve) => stream.end(resolve)))).then(() => undefined),
  };
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
  return textTable(header, rows);
}

