// Benchmark 2: the trigger hands Insider a URL, so its cost must not grow with the file; Insider's download does.
import type { LocalStack } from '../local/stack.js';
import { mulberry32 } from '../local/prng.js';
import { emailCsv, median, type ReportCollector, round, sleep, within } from './support.js';

const SETTLE_MS = 250;

export interface HandoffOptions {
  /** Invocations per size (and as many small ones first for the memory baseline), after up to three warm-ups. */
  runs: number;
  smallBytes: number;
  largeBytes: number;
  /** Upper bound on each file's round trip (trigger, download, callback). */
  timeoutMs: number;
}

export interface HandoffSample {
  bytes: number;
  triggerMs: number;
  maxMemoryMb: number | null;
  downloadMs: number | null;
}

export interface HandoffSize {
  bytes: number;
  runs: number;
  triggerDurationP50Ms: number;
  /** Lambda's Max Memory Used: the environment's peak RSS (for the small file, before any large one ran). */
  triggerMaxMemoryP50Mb: number | null;
  downloadP50Ms: number | null;
  downloadMBps: number | null;
  samples: HandoffSample[];
}

export interface HandoffResult {
  small: HandoffSize;
  large: HandoffSize;
  /** Large ÷ small medians. */
  durationRatio: number;
  memoryRatio: number | null;
  downloadRatio: number | null;
  errors: string[];
}

/** Durations and downloads from `samples`; Max Memory Used from `memorySamples`. */
function summarise(bytes: number, samples: HandoffSample[], memorySamples: HandoffSample[]): HandoffSize {
  const memory = memorySamples.map((s) => s.maxMemoryMb).filter((m): m is number => m !== null);
  const downloads = samples.map((s) => s.downloadMs).filter((m): m is number => m !== null);
  const downloadP50 = downloads.length ? median(downloads) : null;
  return {
    bytes,
    runs: samples.length,
    triggerDurationP50Ms: round(median(samples.map((s) => s.triggerMs)), 1),
    triggerMaxMemoryP50Mb: memory.length ? round(median(memory), 0) : null,
    downloadP50Ms: downloadP50 === null ? null : round(downloadP50, 1),
    downloadMBps: downloadP50 === null ? null : round(bytes / 1_048_576 / (downloadP50 / 1000), 0),
    samples,
  };
}

/**
 * Drops one file at a time and waits for it to be fully handled (trigger, Insider's download, the
 * callback) before the next, so each trigger invocation runs alone in a warm environment. Max Memory
 * Used only ever grows, so the small files' figure is taken before any large file ran: a large file
 * that pushed it up shows.
 */
export async function runHandoff(stack: LocalStack, reports: ReportCollector, options: HandoffOptions): Promise<HandoffResult> {
  const trigger = stack.functions.trigger;
  stack.simulator.reset();
  const runId = Date.now().toString(36);
  const small = emailCsv({ bytes: options.smallBytes, prefix: 'small' });
  const large = emailCsv({ bytes: options.largeBytes, prefix: 'large' });
  const errors: string[] = [];

  const once = async (label: string, i: number, body: Buffer): Promise<HandoffSample | undefined> => {
    const segment = `handoff ${runId} ${label} ${i}`;
    const mark = reports.mark();
    await stack.put(`email/${segment}.csv`, body);
    await within(trigger.drain(), options.timeoutMs, `The trigger for ${segment}`);
    await within(stack.idle(), options.timeoutMs, `Insider's download and callback for ${segment}`);
    // A moment for the host process to collect what a large file left behind before the next run.
    await sleep(SETTLE_MS);
    const runs = reports.since(mark, trigger.name);
    const request = stack.simulator.requests.find((r) => r.segmentName === segment && r.accepted);
    if (runs.length !== 1 || !request) {
      errors.push(`${segment}: ${runs.length} trigger invocations, ${request ? 'accepted' : 'not accepted'} by the simulator`);
      return undefined;
    }
    const report = runs[0] as (typeof runs)[number];
    return { bytes: body.length, triggerMs: report.durationMs, maxMemoryMb: report.maxMemoryMb ?? null, downloadMs: request.download?.ms ?? null };
  };

  // Warm-up: the environment's cold start, the token fetch and the JIT's first passes are not the hand-off.
  for (let i = 0; i < Math.min(3, options.runs + 1); i++) await once('warmup', i, small);
  // Small files only first: the environment's Max Memory Used before it ever saw a large file.
  const baseline: HandoffSample[] = [];
  for (let i = 0; i < options.runs; i++) {
    const s = await once('baseline', i, small);
    if (s) baseline.push(s);
  }
  // Then a small and a large file each round, in random order, so that drift on a shared machine and the
  // simulator's clean-up after a large file fall on both sizes alike.
  const random = mulberry32(options.runs);
  const samples = { small: [] as HandoffSample[], large: [] as HandoffSample[] };
  for (let i = 0; i < options.runs; i++) {
    const order = random() < 0.5 ? (['small', 'large'] as const) : (['large', 'small'] as const);
    for (const size of order) {
      const s = await once(size, i, size === 'small' ? small : large);
      if (s) samples[size].push(s);
    }
  }
  const smallSummary = summarise(small.length, samples.small, baseline);
  const largeSummary = summarise(large.length, samples.large, samples.large);
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round(a / b, 2));
  return {
    small: smallSummary,
    large: largeSummary,
    durationRatio: ratio(largeSummary.triggerDurationP50Ms, smallSummary.triggerDurationP50Ms) ?? Number.NaN,
    memoryRatio: ratio(largeSummary.triggerMaxMemoryP50Mb, smallSummary.triggerMaxMemoryP50Mb),
    downloadRatio: ratio(largeSummary.downloadP50Ms, smallSummary.downloadP50Ms),
    errors,
  };
}
