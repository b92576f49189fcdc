// The benchmark's result document and its console table.
import type { BurstResult } from './burst.js';
import type { BurstModelSummary } from './burst-model.js';
import type { CallbackResult } from './callbacks.js';
import type { ColdStartResult, ColdStartRow } from './cold-start.js';
import { LAMBDA_MB_PER_VCPU, PREFLIGHT_TARGETS, type PreflightBenchResult, renderPreflightTable } from './preflight.js';
import type { RuntimeOverhead } from './runtime-overhead.js';
import type { MachineInfo } from './support.js';
import { textTable } from '../local/text-table.js';

export const TARGETS = {
  burstFractionOfLimit: 0.9,
  triggerColdStartRatio: 1.8,
} as const;

/** The trigger as deployed against the pre-flight figures: a file at the size limit, at the slowest measured rate with the S3 download and copy upload's share. */
export interface TriggerFit {
  /** The trigger's memory size in the template. */
  memoryMb: number;
  /** Its share of a vCPU (memory ÷ 1,769 MB). */
  vcpu: number;
  /** Seconds to check a file at the size limit: the slowest rate measured at the largest size, less the S3 work's share (`s3Factor`). */
  expectedSeconds: number | null;
  /** Within the issue's 10 s. */
  fits: boolean | null;
}

/** How long the trigger, at `memoryMb`, takes to scan a file at the size limit, from the slowest case the bench measured. */
export function triggerFit(bench: Pick<PreflightBenchResult, 'sizing'>, memoryMb: number, maxFileBytes: number): TriggerFit {
  const vcpu = memoryMb / LAMBDA_MB_PER_VCPU;
  const sizing = bench.sizing;
  const rate = sizing ? sizing.singleCoreMBps / sizing.s3Factor : undefined;
  if (!rate || vcpu <= 0) return { memoryMb, vcpu: round3(vcpu), expectedSeconds: null, fits: null };
  const expectedSeconds = Math.round((maxFileBytes / 1_048_576 / (rate * vcpu)) * 10) / 10;
  return { memoryMb, vcpu: round3(vcpu), expectedSeconds, fits: expectedSeconds <= PREFLIGHT_TARGETS.checkSeconds };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export interface BenchResult {
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  options: Record<string, unknown>;
  /** The trigger's use case at full scale, in-process (rate limit bound). */
  burstModel?: BurstModelSummary;
  /** The same burst on the local stack (this machine's CPU bound). */
  burst?: BurstResult & { runtimeOverhead?: RuntimeOverhead };
  /** The pre-flight scan (fresh processes, the scanner bundled like the trigger) and what the trigger's memory makes of it. */
  preflight?: PreflightBenchResult & { trigger: TriggerFit };
  coldStart?: ColdStartResult;
  callbacks?: CallbackResult;
  /** Whether each target was met; absent for a section that did not run. */
  targetsMet: { burst?: boolean; preflight?: boolean; coldStart?: boolean };
  /** Sections that failed to run, with why. */
  errors: Record<string, string>;
}

export function targetsMet(result: Pick<BenchResult, 'burstModel' | 'burst' | 'preflight' | 'coldStart'>): BenchResult['targetsMet'] {
  const met: BenchResult['targetsMet'] = {};
  const { burstModel, burst, preflight, coldStart } = result;
  // The rate (and redeliveries) are judged where the rate limit is the bottleneck; failures and duplicates everywhere.
  if (burstModel) {
    met.burst =
      burstModel.fractionOfLimit >= TARGETS.burstFractionOfLimit &&
      burstModel.redeliveries === 0 &&
      burstModel.failures === 0 &&
      burstModel.duplicates === 0 &&
      !burstModel.timedOut &&
      (burst === undefined || (burst.failures === 0 && burst.duplicates === 0 && !burst.timedOut));
  }
  if (preflight) {
    // The rate, the memory ratio and the 10 s budget at the deployed memory size; each is null at toy sizes that do not measure it.
    met.preflight = [preflight.targetsMet.plainMBps, preflight.targetsMet.memoryRatio, preflight.trigger.fits].every((ok) => ok !== false);
  }
  const trigger = coldStart?.functions.find((f) => f.name === 'trigger');
  if (trigger) met.coldStart = trigger.ratio <= TARGETS.triggerColdStartRatio;
  return met;
}

type Row = [label: string, value: string, target?: string];

const mark = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? '  ✓' : '  ✗');
const kb = (bytes: number | null) => (bytes === null ? '—' : `${(bytes / 1024).toFixed(0)} KB`);
const num = (n: number | null | undefined, unit = '') => (n === null || n === undefined || Number.isNaN(n) ? '—' : `${n}${unit}`);

function block(title: string, rows: Row[]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return [title, ...rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}${c ? `   ${c}` : ''}`.trimEnd())].join('\n');
}

/** The first column left, the figures right. */
function grid(header: string[], rows: string[][]): string {
  return textTable(header, rows, { indent: '  ', align: header.map((_, i) => (i === 0 ? 'left' : 'right')) });
}

function coldRow(r: ColdStartRow): string[] {
  return [r.name, kb(r.bundleBytes), `${r.ms} ms`, `${r.minMs} ms`, `${r.importMs} ms`, `${r.peakRssMb} MB`, `${r.ratio}×`, `${r.peakRssRatio}×`];
}

export function renderTable(result: BenchResult): string {
  const m = result.machine;
  const out: string[] = [
    `FPS pipeline benchmark: ${m.nproc} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node} (${m.platform}); load average ${m.loadAverageStart} → ${m.loadAverageEnd ?? '?'}; ${result.durationSeconds} s`,
  ];
  const met = result.targetsMet;

  const bm = result.burstModel;
  const b = result.burst;
  const settings = (result.options as { files?: number; rateLimit?: number; latencyMs?: number; triggerConcurrency?: number }) ?? {};
  if (bm || b) {
    out.push(
      `\n1. Burst: ${settings.files} files dropped at once; FPS limit ${settings.rateLimit} req/s per token, latency ${settings.latencyMs} ms; trigger maximum concurrency ${settings.triggerConcurrency} (target ≥ ${TARGETS.burstFractionOfLimit} of the limit, no redeliveries, no failures, no duplicates${mark(met.burst)})`,
    );
  }
  if (bm) {
    out.push(
      block(`  a. the trigger's use case at full scale: in-process pollers of a modelled events queue${bm.ramp ? " (started as Lambda's ramp does)" : ''}, real HTTP to the simulator; DynamoDB/S3${bm.presignCalls ? '/STS' : ''} fakes at ${bm.awsCallMs} ms a call`, [
        ['runs (median run shown; redeliveries, failures, duplicates: the worst)', `${bm.runs}`, `fraction of the limit ${bm.fractionOfLimitRange[0]}–${bm.fractionOfLimitRange[1]}`],
        ['time until every file was submitted', `${bm.timeToAllSubmittedSeconds} s`],
        ['sustained submissions per second', `${bm.sustainedPerSecond}`, `${bm.fractionOfLimit} of the limit`],
        ['429 answers received', `${bm.rateLimited429}`, `${bm.rateLimited429Range[0]}–${bm.rateLimited429Range[1]} over the runs`],
        ['throttling backoff in the invocation', `${bm.throttle.maxRetries} retries`, `${bm.throttle.baseDelayMs} ms base, ${bm.throttle.maxDelayMs} ms cap, full jitter`],
        ['retries (extra FPS requests)', `${bm.retries}`, `SQS redeliveries: ${bm.redeliveries}`],
        ['failures / duplicates', `${bm.failures} / ${bm.duplicates}`],
        ['invocation p50', `${bm.invocationP50Ms} ms`, `the limit needs ≥ ${Math.ceil(((settings.rateLimit ?? 100) * bm.invocationP50Ms) / 1000)} environments at this duration`],
      ]).replace(/^/gm, '  '),
      `    acceptances in each second: ${bm.acceptedPerSecond.join(' ')}`,
    );
  }
  if (b) {
    const o = b.runtimeOverhead;
    out.push(
      block('  b. on the local stack: real bundles in child processes, embedded S3/DynamoDB, API shim, callbacks; bounded by this machine', [
        ['time until every file was submitted', `${b.timeToAllSubmittedSeconds} s`, `(drop took ${b.dropSeconds} s)`],
        ['sustained submissions per second', `${b.sustainedPerSecond}`, `${b.fractionOfLimit} of the limit`],
        ['429 answers received', `${b.rateLimited429}`],
        ['retries (extra FPS requests)', `${b.retries}`, `SQS redeliveries: ${b.redeliveries}`],
        ['failures / duplicates', `${b.failures} / ${b.duplicates}`],
        ['callbacks recorded', `${b.completed}/${b.files}`, b.endToEndSeconds === null ? '' : `all in ${b.endToEndSeconds} s`],
        ['trigger duration p50 / p90', `${b.trigger.durationP50Ms} / ${b.trigger.durationP90Ms} ms`, `capacity ${b.trigger.capacityPerSecond}/s at concurrency ${b.triggerConcurrency}`],
        ['trigger invocations / cold starts', `${b.trigger.invocations} / ${b.trigger.coldStarts}`, `max concurrent ${b.trigger.maxConcurrentSeen}`],
        ['CPU per file: emulators / functions', `${b.cpu.hostMsPerFile} / ${num(b.cpu.functionMsPerFile)} ms`, `${num(b.cpu.cpuBoundFilesPerSecond)} files/s would fill ${m.nproc} cores`],
        ['CPU in use: emulators / functions / machine', `${b.cpu.hostProcessCores} / ${num(b.cpu.functionCores)} cores / ${num(b.cpu.machineBusyFraction === null ? null : Math.round(b.cpu.machineBusyFraction * 100), '%')}`],
        ...(o
          ? ([['local runtime overhead (no-op handler)', `${o.sequentialP50Ms} ms p50`, `${o.parallelPerSecond} invocations/s with ${o.concurrency} environments`]] as Row[])
          : []),
      ]).replace(/^/gm, '  '),
      `    acceptances in each second: ${b.acceptedPerSecond.join(' ')}`,
    );
  }

  const p = result.preflight;
  if (p) {
    const t = p.trigger;
    out.push(
      `\n2. Pre-flight: the trigger reads each file once before calling Insider (targets: ≥ ${PREFLIGHT_TARGETS.plainMBps} MB/s on one core for plain files, peak memory at the largest size ≤ ${PREFLIGHT_TARGETS.memoryRatio}× the smallest, a file at the size limit checked in < ${PREFLIGHT_TARGETS.checkSeconds} s${mark(met.preflight)})`,
      renderPreflightTable(p).replace(/^/gm, '  '),
      `  the trigger as deployed: ${t.memoryMb} MB = ${t.vcpu} vCPU → a file at the size limit in ${num(t.expectedSeconds, ' s')}${mark(t.fits ?? undefined)}`,
    );
  }

  const c = result.coldStart;
  if (c) {
    const header = ['bundle', 'size', 'start', 'fastest', 'import', 'peak RSS', 'time ×', 'RSS ×'];
    out.push(
      `\n3. Cold start: spawn to handler loaded, medians of ${c.runs} runs in shuffled order; × is the median against the bare start in the same runs (target for the trigger ≤ ${TARGETS.triggerColdStartRatio}×${mark(met.coldStart)})`,
      grid(header, [coldRow(c.bare), ...c.functions.map(coldRow)]),
      '  trigger variants:',
      grid(header, c.triggerVariants.map(coldRow)),
      `  trigger: V8 compile alone ${c.triggerCompileMs} ms; bytes by group: ${Object.entries(c.triggerBytesByGroup)
        .sort((x, y) => y[1] - x[1])
        .map(([g, n]) => `${g} ${kb(n)}`)
        .join(', ')}; replica − synthesized = ${c.replicaBytesDelta} bytes`,
    );
  }

  const cb = result.callbacks;
  if (cb) {
    out.push(
      `\n4. Callbacks through the HTTP API shim to the local DynamoDB (function concurrency ${cb.functionConcurrency}, duration p50 ${cb.functionDurationP50Ms} ms)`,
      grid(
        ['', 'callbacks', 'per second', 'p50', 'p99', 'non-200'],
        [cb.unloaded, cb.loaded].map((p) => [`${p.concurrency} in flight`, `${p.callbacks}`, `${p.perSecond}`, `${p.p50Ms} ms`, `${p.p99Ms} ms`, `${p.non200}`]),
      ),
      `  records completed by their callback: ${cb.recordsCompleted} of ${cb.recordsSeeded} seeded (warm-up included)`,
    );
  }

  for (const [section, message] of Object.entries(result.errors)) out.push(`\n${section} failed: ${message}`);
  return out.join('\n');
}
