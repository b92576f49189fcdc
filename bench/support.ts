// Shared pieces of the benchmark: statistics, the machine it ran on, Lambda REPORT lines, bounded concurrency.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { RequestLog } from '../local/fps-simulator.js';

/** The value below which `p` (0..1) of the sorted samples fall (nearest rank); NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const round = (n: number, digits = 1): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

/**
 * A rate such as MB/s: `digits` decimals, or two significant figures when that would show fewer, so a small,
 * slow case (1 KB scanned in 25 ms of CPU is 0.039 MB/s) is never reported as 0.
 */
export const roundRate = (n: number, digits = 1): number =>
  Number.isFinite(n) && n > 0 && n < 10 ** (1 - digits) ? Number(n.toPrecision(2)) : round(n, digits);

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryGb: number;
  /** 1-minute load average when the run started and ended: other work on the box skews every figure. */
  loadAverageStart: number;
  loadAverageEnd?: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: os.cpus() is what there is
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    loadAverageStart: round(loadavg()[0] ?? 0, 2),
  };
}

/** Busy and total CPU time of the whole machine (all cores), from /proc/stat; undefined elsewhere. */
export function machineCpuTimes(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by this process's child processes (the local functions' environments),
 * from /proc; undefined where /proc has no children lists. Environments that already exited are
 * not counted, so read it before the stack stops.
 */
export function childCpuSeconds(): number | undefined {
  try {
    // USER_HZ, which Linux fixes at 100 for /proc.
    const ticksPerSecond = 100;
    const pids = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    let ticks = 0;
    for (const pid of pids) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // it exited meanwhile
      }
    }
    return ticks / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** One platform REPORT line of the local Lambda runtime, as CloudWatch would show it. */
export interface LambdaReport {
  fn: string;
  durationMs: number;
  maxMemoryMb?: number;
  initMs?: number;
}

export function parseReport(line: string, fn: string): LambdaReport | undefined {
  if (!line.startsWith('REPORT RequestId:')) return undefined;
  const num = (label: string) => {
    const m = new RegExp(`${label}: ([0-9.]+)`).exec(line);
    return m ? Number(m[1]) : undefined;
  };
  const durationMs = num('\\tDuration');
  if (durationMs === undefined) return undefined;
  return { fn, durationMs, maxMemoryMb: num('Max Memory Used'), initMs: num('Init Duration') };
}

/**
 * A log sink for the local stack that keeps REPORT lines (and the last few errors) instead of every
 * line: a burst of 1,000 uploads logs tens of thousands of lines.
 */
export class ReportCollector {
  readonly reports: LambdaReport[] = [];
  readonly errors: string[] = [];
  private static readonly MAX_ERRORS = 50;

  readonly sink = (line: string, fn: string): void => {
    const report = parseReport(line, fn);
    if (report) {
      this.reports.push(report);
      return;
    }
    if (/"level":"ERROR"|\tERROR\t|Task timed out/.test(line)) {
      this.errors.push(`${fn}: ${line.slice(0, 500)}`);
      if (this.errors.length > ReportCollector.MAX_ERRORS) this.errors.shift();
    }
  };

  /** A mark to read the reports logged after it with `since`. */
  mark(): number {
    return this.reports.length;
  }

  since(mark: number, fn?: string): LambdaReport[] {
    return this.reports.slice(mark).filter((r) => fn === undefined || r.fn === fn);
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
}

/** Waits for `p`, or rejects after `ms` saying what was being waited for. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchTimeoutError(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CSV text of `rows` e-mail addresses, padded (with more rows) to exactly `bytes` when given. */
export function emailCsv(options: { rows?: number; bytes?: number; prefix?: string }): Buffer {
  const prefix = options.prefix ?? 'user';
  if (options.bytes === undefined) {
    return Buffer.from(Array.from({ length: options.rows ?? 3 }, (_, i) => `${prefix}${i}@example.com\n`).join(''));
  }
  const size = options.bytes;
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let i = 0; offset < size; i++) {
    const line = `${prefix}${i}@example.com\n`;
    if (offset + line.length > size) {
      // Pad the last row so the file is exactly at the size asked for (e.g. the size limit).
      out.write(`${'x'.repeat(Math.max(0, size - offset - 1))}\n`.slice(0, size - offset), offset);
      break;
    }
    offset += out.write(line, offset);
  }
  return out;
}

/** How the simulator saw a burst: when requests were accepted, how fast, and any accepted after their segment's first. */
export function acceptanceStats(requests: readonly RequestLog[], started: number) {
  const accepted = requests.filter((r) => r.accepted).sort((a, b) => a.time - b.time);
  const first = accepted[0]?.time ?? started;
  const last = accepted.at(-1)?.time ?? started;
  const span = (last - first) / 1000;
  const sustained = accepted.length > 1 && span > 0 ? (accepted.length - 1) / span : 0;
  const perSecond: number[] = [];
  for (const r of accepted) {
    const slot = Math.floor((r.time - first) / 1000);
    perSecond[slot] = (perSecond[slot] ?? 0) + 1;
  }
  const acceptedAt = new Map<string, number>();
  for (const r of accepted) if (!acceptedAt.has(r.segmentName as string)) acceptedAt.set(r.segmentName as string, r.time);
  const lateRequests = requests.filter((r) => {
    const at = acceptedAt.get(r.segmentName as string);
    return at !== undefined && r.time > at;
  }).length;
  return { accepted, last, sustained, perSecond, acceptedAt, lateRequests };
}

/** The figures both burst benchmarks report, whatever runs the trigger. */
export interface BurstFigures {
  files: number;
  /** From the start to the simulator accepting the last file. */
  timeToAllSubmittedSeconds: number;
  /** Accepted uploads per second between the first and the last acceptance. */
  sustainedPerSecond: number;
  fractionOfLimit: number;
  /** Acceptances in each whole second after the first one. */
  acceptedPerSecond: number[];
  accepted: number;
  fpsRequests: number;
  rateLimited429: number;
  /** FPS requests beyond the first for each file (the trigger's own backoff retries, and redeliveries'). */
  retries: number;
  /** Messages SQS delivered to the trigger again (handed back to retry, or after a failed invocation). */
  redeliveries: number;
  failures: number;
  duplicates: number;
}
