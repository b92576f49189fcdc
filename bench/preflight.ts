// Benchmark: the pre-flight scan's speed (MB/s on one core) and peak memory by file size, plain and gzip, and the trigger memory size it calls for.
//
// Every measurement runs in a fresh process (the scanner bundled like a Lambda function), so one case's
// peak resident memory (VmHWM) is not another's. Speed is reported from the process's own CPU time, so
// it is one core's rate whatever else the machine runs; wall time is reported beside it.
//
// `runPreflightBench` is for `npm run bench`; `tsx bench/preflight.ts [--runs n] [--sizes a,b,c] [--out f]`
// runs it alone and prints the table.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_MAX_FILE_BYTES } from '../lambdas/shared/contract.js';
import { S3RVER_CLIENT_SETTINGS } from '../local/local-account.js';
import { startS3rver } from '../local/s3rver.js';
import { bundleLikeNodeFunction } from './bundle.js';
import type { ChildArgs, ChildResult } from './preflight-child.js';
import {
  computeMemoryBreakdown,
  computeSizing,
  LARGEST_VARIANTS,
  PREFLIGHT_TARGETS,
  type PreflightBenchCase,
  type PreflightBenchOptions,
  type PreflightBenchResult,
  renderPreflightTable,
  sizeLabel,
  VARIANT_WORDS,
  type Variant,
} from './preflight-figures.js';
import { ATTRIBUTE, gzipFile, LIST_WORDS, type ListKind, writeList } from './preflight-lists.js';
import type { S3ChildArgs } from './preflight-s3-child.js';
import { machineInfo, median, round, roundRate } from './support.js';

export {
  computeSizing,
  LAMBDA_MB_PER_VCPU,
  PREFLIGHT_TARGETS,
  type PreflightBenchCase,
  type PreflightBenchResult,
  renderPreflightTable,
} from './preflight-figures.js';
export type { ListKind } from './preflight-lists.js';

const KB = 1024;
const MB = 1024 * 1024;

export const DEFAULT_PREFLIGHT_BENCH_OPTIONS: PreflightBenchOptions = {
  sizes: [KB, 5 * MB, 50 * MB],
  runs: 3,
  lists: ['email', 'phone', 'export'],
  gzip: true,
  comparisonBytes: 5 * MB,
  maxFileBytes: DEFAULT_MAX_FILE_BYTES,
};

const execFileAsync = promisify(execFile);

/** Runs a child without blocking this process, which may be serving it S3 (s3rver). */
async function runChild(bundle: string, args: ChildArgs | S3ChildArgs, nodeFlags: string[]): Promise<ChildResult> {
  try {
    const { stdout } = await execFileAsync(process.execPath, [...nodeFlags, bundle, JSON.stringify(args)], { encoding: 'utf8', timeout: 600_000, maxBuffer: MB });
    return JSON.parse(stdout.trim()) as ChildResult;
  } catch (error) {
    const { code, signal, stderr } = error as { code?: unknown; signal?: unknown; stderr?: string };
    throw new Error(`The pre-flight child failed (${String(code ?? signal)}): ${(stderr ?? '').trim().slice(0, 500)}`);
  }
}

/** s3rver in this process, with a drop and a copy bucket: the child's GetObject and Upload talk to it over loopback. */
async function startS3(): Promise<{ endpoint: string; client: S3Client; stop: () => Promise<void> }> {
  const server = await startS3rver({ buckets: [S3_BUCKET, S3_COPY_BUCKET] });
  const client = new S3Client({ ...S3RVER_CLIENT_SETTINGS, endpoint: server.endpoint });
  const stop = async () => {
    client.destroy();
    await server.stop();
  };
  return { endpoint: server.endpoint, client, stop };
}
const S3_BUCKET = 'drop';
const S3_COPY_BUCKET = 'prepared';

export async function runPreflightBench(
  overrides: Partial<PreflightBenchOptions> = {},
  progress: (line: string) => void = () => {},
): Promise<PreflightBenchResult> {
  const options: PreflightBenchOptions = { ...DEFAULT_PREFLIGHT_BENCH_OPTIONS, ...overrides };
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const started = Date.now();
  const machine = machineInfo();
  const ownDir = options.workDir === undefined;
  const dir = options.workDir ?? mkdtempSync(join(tmpdir(), 'fps-preflight-bench-'));
  mkdirSync(dir, { recursive: true });
  let s3: Awaited<ReturnType<typeof startS3>> | undefined;
  try {
    progress('Bundling the scanner like a Lambda function…');
    const built = await bundleLikeNodeFunction('bench/preflight-child.ts', join(dir, 'bundle'));
    const bundle = join(built.dir, 'index.mjs');
    // The S3 child has a bundle of its own, so the SDK it loads is in no other case's memory.
    const s3Bundle = join((await bundleLikeNodeFunction('bench/preflight-s3-child.ts', join(dir, 's3-bundle'))).dir, 'index.mjs');
    const cases: PreflightBenchCase[] = [];

    const measure = async (list: ListKind, file: string, size: number, bytes: number, gzip: boolean, variant: Variant) => {
      progress(`  ${LIST_WORDS[list]}, ${sizeLabel(bytes)}${gzip ? ', gzip' : ''}${VARIANT_WORDS[variant]}: ${options.runs} run(s)…`);
      const mode: ChildArgs['mode'] = variant === 'csvParseOnly' || variant === 'csvParseRaw' || variant === 'readOnly' ? variant : 'preflight';
      const args: ChildArgs = {
        file,
        // An attribute with no known format: the values are not checked.
        attributeName: variant === 'noChecks' ? 'custom_id' : ATTRIBUTE[list],
        gzip,
        mode,
        maxBytes: Math.max(options.maxFileBytes, bytes) + MB,
        maxTrackedValues: variant === 'noDuplicateCheck' || variant === 'noChecks' ? 0 : undefined,
        gcPacing: variant === 'noGcPacing' ? false : undefined,
      };
      const nodeFlags = variant === 'smallYoungGeneration' ? ['--max-semi-space-size=1'] : variant === 'noOptimizer' ? ['--no-opt'] : [];
      const runs: ChildResult[] = [];
      if (variant === 'viaS3') {
        s3 ??= await startS3();
        const key = `${list}-${size}.csv`;
        await s3.client.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: key, Body: readFileSync(file) }));
        const s3Args: S3ChildArgs = { endpoint: s3.endpoint, bucket: S3_BUCKET, key, copyBucket: S3_COPY_BUCKET, attributeName: args.attributeName, maxBytes: args.maxBytes };
        for (let i = 0; i < options.runs; i++) runs.push(await runChild(s3Bundle, s3Args, []));
      } else {
        for (let i = 0; i < options.runs; i++) runs.push(await runChild(bundle, args, nodeFlags));
      }
      const cpuMs = median(runs.map((r) => r.cpuMs));
      const wallMs = median(runs.map((r) => r.wallMs));
      const first = runs[0] as ChildResult;
      const rate = (ms: number) => roundRate(bytes / MB / (ms / 1000));
      cases.push({
        list,
        size,
        bytes,
        gzip,
        variant,
        runs: runs.length,
        wallMs: round(wallMs, 1),
        cpuMs: round(cpuMs, 1),
        cpuMBps: rate(cpuMs),
        bestCpuMBps: rate(Math.min(...runs.map((r) => r.cpuMs))),
        wallMBps: rate(wallMs),
        peakRssMb: round(median(runs.map((r) => r.peakRssBytes)) / MB, 1),
        loadedPeakRssMb: round(median(runs.map((r) => r.loadedPeakRssBytes)) / MB, 1),
        verdict: first.verdict,
        values: first.values,
        changed: first.changed,
      });
    };

    const largest = sizes.at(-1) ?? 0;
    for (const list of options.lists) {
      for (const size of sizes) {
        const file = join(dir, `${list}-${size}.csv`);
        progress(`Writing a ${sizeLabel(size)} ${LIST_WORDS[list]}…`);
        const bytes = writeList(file, list, size, size ^ list.length);
        await measure(list, file, size, bytes, false, 'trigger');
        if (options.gzip) {
          await gzipFile(file, `${file}.gz`);
          await measure(list, `${file}.gz`, size, bytes, true, 'trigger');
        }
        if (list === 'email' && size === largest && sizes.length > 1) {
          // Where the time and the memory go, at the largest size.
          for (const variant of LARGEST_VARIANTS) await measure(list, file, size, bytes, false, variant);
        }
        if (list === 'email' && size === options.comparisonBytes) {
          await measure(list, file, size, bytes, false, 'csvParseOnly');
          await measure(list, file, size, bytes, false, 'csvParseRaw');
        }
        rmSync(file, { force: true });
        rmSync(`${file}.gz`, { force: true });
      }
    }

    const memoryRatios: PreflightBenchResult['memoryRatios'] = [];
    for (const list of options.lists) {
      for (const gzip of options.gzip ? [false, true] : [false]) {
        const rows = cases.filter((c) => c.list === list && c.gzip === gzip && c.variant === 'trigger').sort((a, b) => a.size - b.size);
        const small = rows[0];
        const large = rows.at(-1);
        const middle = rows.length > 2 ? rows.at(-2) : undefined;
        if (small && large && large !== small) {
          memoryRatios.push({
            list,
            gzip,
            smallMb: small.peakRssMb,
            middleMb: middle?.peakRssMb ?? null,
            largeMb: large.peakRssMb,
            ratio: round(large.peakRssMb / small.peakRssMb, 2),
            ratioFromMiddle: middle ? round(large.peakRssMb / middle.peakRssMb, 2) : null,
          });
        }
      }
    }
    // At the largest size: what the 10 s budget is about (small files are done in a fraction of a second, warm-up included).
    const plain = cases.filter((c) => c.variant === 'trigger' && !c.gzip && c.list !== 'export' && c.size === largest);
    const plainMBps = plain.length ? Math.min(...plain.map((c) => c.cpuMBps)) : null;
    const worstRatio = memoryRatios.length ? Math.max(...memoryRatios.map((r) => r.ratio)) : null;
    return {
      startedAt: new Date(started).toISOString(),
      durationSeconds: round((Date.now() - started) / 1000, 1),
      machine: { ...machine, loadAverageEnd: round(loadavg()[0] ?? 0, 2) },
      options: { sizes, runs: options.runs, lists: options.lists, gzip: options.gzip, comparisonBytes: options.comparisonBytes, maxFileBytes: options.maxFileBytes },
      bundleBytes: built.bytes,
      cases,
      memoryRatios,
      plainMBps,
      targetsMet: {
        plainMBps: plainMBps === null ? null : plainMBps >= PREFLIGHT_TARGETS.plainMBps,
        memoryRatio: worstRatio === null ? null : worstRatio <= PREFLIGHT_TARGETS.memoryRatio,
      },
      memoryBreakdown: computeMemoryBreakdown(cases),
      sizing: computeSizing(cases, options.maxFileBytes),
    };
  } finally {
    await s3?.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

const USAGE = `Usage: tsx bench/preflight.ts [--runs n] [--sizes 1024,5242880,52428800] [--lists email,phone,export] [--no-gzip] [--out file]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      sizes: { type: 'string' },
      lists: { type: 'string' },
      'no-gzip': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const overrides: Partial<PreflightBenchOptions> = {};
  if (values.runs !== undefined) overrides.runs = Number(values.runs);
  if (values.sizes !== undefined) overrides.sizes = values.sizes.split(',').map(Number);
  if (values.lists !== undefined) overrides.lists = values.lists.split(',') as ListKind[];
  if (values['no-gzip']) overrides.gzip = false;
  const result = await runPreflightBench(overrides, (line) => console.error(line));
  console.log(renderPreflightTable(result));
  if (values.out !== undefined) {
    const out = resolve(values.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.error(`Wrote ${out} (${statSync(out).size} bytes)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
