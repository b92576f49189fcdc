// The pre-flight benchmark's figures: the cases measured, the targets, the Lambda memory arithmetic, where peak memory goes, and the printed table.
import { LIST_WORDS, type ListKind } from './preflight-lists.js';
import { type MachineInfo, round } from './support.js';
import { textTable } from '../local/text-table.js';

const KB = 1024;
const MB = 1024 * 1024;

export interface PreflightBenchOptions {
  /** File sizes, smallest first: the smallest is the memory baseline. */
  sizes: number[];
  /** Fresh processes per case; medians are reported. */
  runs: number;
  lists: ListKind[];
  gzip: boolean;
  /** Size at which the scanner with every line through csv-parse, and csv-parse's stream parser alone, are measured too (0: not). */
  comparisonBytes: number;
  /** The size limit: the file size the memory size is computed for. */
  maxFileBytes: number;
  /** Where files and the bundle go (a temporary folder, removed after). */
  workDir?: string | undefined;
}

/** The issue's targets and the Lambda facts the memory size is computed from. */
export const PREFLIGHT_TARGETS = {
  /** Plain files, one core. */
  plainMBps: 100,
  /** Peak memory for the largest file ÷ that for the smallest. */
  memoryRatio: 1.2,
  /** A file at the size limit is checked within this many seconds in Lambda. */
  checkSeconds: 10,
} as const;
/** Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU (AWS Lambda docs, "Memory and computing power"). */
export const LAMBDA_MB_PER_VCPU = 1769;
/**
 * Headroom over the measured rate, S3 transfer included: TLS (s3rver speaks plain HTTP), the SDK's
 * checksums (left out against s3rver), and a shared machine's and Lambda's CPU varying from run to run.
 */
export const SIZING_HEADROOM = 1.5;

/** How a case runs besides the file: the scanner as the trigger runs it, or a variant that shows where time or memory goes. */
export type Variant =
  | 'trigger'
  | 'noDuplicateCheck'
  | 'noChecks'
  | 'smallYoungGeneration'
  | 'noGcPacing'
  | 'noOptimizer'
  | 'readOnly'
  | 'viaS3'
  | 'csvParseOnly'
  | 'csvParseRaw';
export const VARIANT_WORDS: Record<Variant, string> = {
  trigger: '',
  noDuplicateCheck: ' — no duplicate check',
  noChecks: ' — no duplicate or format check',
  smallYoungGeneration: ' — node --max-semi-space-size=1',
  noGcPacing: ' — no GC pacing',
  noOptimizer: ' — node --no-opt (no optimizing compiler)',
  readOnly: ' — the file read through the stream, no scan',
  viaS3: ' — GetObject, scan, multipart upload of the copy (s3rver, no TLS)',
  csvParseOnly: ' — every line through csv-parse',
  csvParseRaw: " — csv-parse's stream parser alone",
};
/** Variants run on the email list at the largest size: where the time and the memory go. */
export const LARGEST_VARIANTS: readonly Variant[] = ['noDuplicateCheck', 'noChecks', 'smallYoungGeneration', 'noGcPacing', 'noOptimizer', 'readOnly', 'viaS3'];

export interface PreflightBenchCase {
  list: ListKind;
  /** The size asked for; `bytes` is what whole lines came to. */
  size: number;
  /** Decompressed bytes. */
  bytes: number;
  gzip: boolean;
  variant: Variant;
  runs: number;
  /** Medians over the runs. */
  wallMs: number;
  cpuMs: number;
  /** MB (2^20 bytes) of decompressed file per second of CPU time: one core's rate (median run). */
  cpuMBps: number;
  /** The same for the fastest run: noise on a shared machine only ever adds time. */
  bestCpuMBps: number;
  wallMBps: number;
  peakRssMb: number;
  /** Peak RSS once the code was loaded, before the file was read. */
  loadedPeakRssMb: number;
  verdict: string;
  values: number;
  changed: boolean;
}

export interface PreflightSizing {
  /** The case the size is computed from: the slowest at the largest size, as the trigger runs the scan (median run). */
  basis: string;
  /** Its rate on one core (CPU time). */
  singleCoreMBps: number;
  /** CPU of GetObject + scan + multipart upload of the copy ÷ CPU of the scan alone (email list, largest size); 1 when not measured. */
  s3Factor: number;
  /** Share of a vCPU needed to scan `maxFileBytes` within the target seconds. */
  vcpuNeeded: number;
  /** The memory that buys that share (1,769 MB per vCPU). */
  minimumMemoryMb: number;
  /** With headroom, rounded up to 64 MB, and never below the trigger's 256 MB. */
  recommendedMemoryMb: number;
  /** At the recommended size: seconds for a file at the limit, from the measured rate. */
  expectedSeconds: number;
  arithmetic: string;
}

/**
 * The peak memory of the largest plain email list, taken apart with the variants (medians of runs, so
 * the parts are estimates to about a MB): what it adds over the smallest file's peak, how much of that
 * the duplicate table and the optimizing compiler account for, what GC pacing saves, and the peak of
 * reading the file through the same stream with no scan at all.
 */
export interface MemoryBreakdown {
  smallMb: number;
  largeMb: number;
  /** Trigger − no duplicate check. */
  duplicateTableMb: number;
  /** Trigger − `node --no-opt`: the optimized code and the memory compiling it takes. */
  optimizerMb: number;
  /** No GC pacing − trigger. */
  gcPacingSavesMb: number;
  readOnlyMb: number;
  /** `readOnlyMb` ÷ `smallMb`: what reading alone costs against the issue's ratio. */
  readOnlyRatio: number;
}

export function computeMemoryBreakdown(cases: readonly PreflightBenchCase[]): MemoryBreakdown | null {
  const largest = Math.max(...cases.map((c) => c.size));
  const smallest = Math.min(...cases.map((c) => c.size));
  const find = (variant: Variant, size = largest) => cases.find((c) => c.list === 'email' && !c.gzip && c.variant === variant && c.size === size);
  const small = find('trigger', smallest);
  const large = find('trigger');
  const noTable = find('noDuplicateCheck');
  const noOptimizer = find('noOptimizer');
  const noPacing = find('noGcPacing');
  const readOnly = find('readOnly');
  if (!small || !large || large === small || !noTable || !noOptimizer || !noPacing || !readOnly) return null;
  return {
    smallMb: small.peakRssMb,
    largeMb: large.peakRssMb,
    duplicateTableMb: round(large.peakRssMb - noTable.peakRssMb, 1),
    optimizerMb: round(large.peakRssMb - noOptimizer.peakRssMb, 1),
    gcPacingSavesMb: round(noPacing.peakRssMb - large.peakRssMb, 1),
    readOnlyMb: readOnly.peakRssMb,
    readOnlyRatio: round(readOnly.peakRssMb / small.peakRssMb, 2),
  };
}

export interface PreflightBenchResult {
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  options: Omit<PreflightBenchOptions, 'workDir'>;
  /** Bytes of the bundled scanner the child processes run. */
  bundleBytes: number;
  cases: PreflightBenchCase[];
  /**
   * Per list and compression: peak RSS for the largest size ÷ the smallest (the issue's target), and ÷ the
   * next largest (whether memory still grows with the file once the runtime has warmed up).
   */
  memoryRatios: { list: ListKind; gzip: boolean; smallMb: number; middleMb: number | null; largeMb: number; ratio: number; ratioFromMiddle: number | null }[];
  /** The slowest plain-file rate on one core (median run) among the trigger cases of the email and phone lists at the largest size. */
  plainMBps: number | null;
  targetsMet: { plainMBps: boolean | null; memoryRatio: boolean | null };
  /** Where the peak memory of the largest plain email list goes; null without the variants. */
  memoryBreakdown: MemoryBreakdown | null;
  sizing: PreflightSizing | null;
}

export const sizeLabel = (bytes: number) => (bytes >= MB ? `${round(bytes / MB, 1)} MB` : `${round(bytes / KB, 1)} KB`);

export function computeSizing(cases: readonly PreflightBenchCase[], maxFileBytes: number): PreflightSizing | null {
  const largest = Math.max(...cases.map((c) => c.size));
  const candidates = cases.filter((c) => c.variant === 'trigger' && c.size === largest && c.cpuMBps > 0);
  const slowest = candidates.sort((a, b) => a.cpuMBps - b.cpuMBps)[0];
  if (!slowest) return null;
  // What reading the object from S3 and uploading the copy add to the scan, where measured.
  const viaS3 = cases.find((c) => c.variant === 'viaS3' && c.size === largest);
  const direct = viaS3 && cases.find((c) => c.variant === 'trigger' && c.list === viaS3.list && !c.gzip && c.size === largest);
  const s3Factor = viaS3 && direct && direct.cpuMs > 0 ? round(viaS3.cpuMs / direct.cpuMs, 2) : 1;
  const fileMb = maxFileBytes / MB;
  const needMBps = fileMb / PREFLIGHT_TARGETS.checkSeconds;
  const effectiveMBps = slowest.cpuMBps / s3Factor;
  const vcpuNeeded = needMBps / effectiveMBps;
  const minimumMemoryMb = Math.ceil(vcpuNeeded * LAMBDA_MB_PER_VCPU);
  const recommendedMemoryMb = Math.max(256, Math.ceil((minimumMemoryMb * SIZING_HEADROOM) / 64) * 64);
  const expectedSeconds = round(fileMb / (effectiveMBps * (recommendedMemoryMb / LAMBDA_MB_PER_VCPU)), 1);
  const basis = `${LIST_WORDS[slowest.list]}, ${sizeLabel(slowest.bytes)}${slowest.gzip ? ', gzip' : ''}`;
  const withS3 =
    s3Factor === 1
      ? ''
      : `; with the S3 download and the copy's upload, which take ${s3Factor}× the scan's CPU (the ${viaS3?.list} list through s3rver), ${round(effectiveMBps, 1)} MB/s`;
  const arithmetic =
    `${round(fileMb, 0)} MB in ${PREFLIGHT_TARGETS.checkSeconds} s needs ${round(needMBps, 2)} MB/s; the slowest case (${basis}) scans ${slowest.cpuMBps} MB/s on one core${withS3}, ` +
    `so ${round(needMBps, 2)} ÷ ${round(effectiveMBps, 1)} = ${round(vcpuNeeded, 3)} vCPU = ${round(vcpuNeeded, 3)} × ${LAMBDA_MB_PER_VCPU} MB = ${minimumMemoryMb} MB at least; ` +
    `× ${SIZING_HEADROOM} headroom, rounded up to 64 MB: ${recommendedMemoryMb} MB (${round(recommendedMemoryMb / LAMBDA_MB_PER_VCPU, 3)} vCPU, ${expectedSeconds} s for ${round(fileMb, 0)} MB)`;
  return {
    basis,
    singleCoreMBps: slowest.cpuMBps,
    s3Factor,
    vcpuNeeded: round(vcpuNeeded, 3),
    minimumMemoryMb,
    recommendedMemoryMb,
    expectedSeconds,
    arithmetic,
  };
}

export function renderPreflightTable(result: PreflightBenchResult): string {
  const mark = (ok: boolean | null) => (ok === null ? '' : ok ? ' ✓' : ' ✗');
  const header = ['file', 'size', 'gzip', 'MB/s 1 core', 'best', 'MB/s wall', 'peak RSS', 'loaded RSS', 'verdict', 'values'];
  const rows = result.cases.map((c) => [
    `${c.list}${VARIANT_WORDS[c.variant]}`,
    sizeLabel(c.bytes),
    c.gzip ? 'yes' : 'no',
    String(c.cpuMBps),
    String(c.bestCpuMBps),
    String(c.wallMBps),
    `${c.peakRssMb} MB`,
    `${c.loadedPeakRssMb} MB`,
    c.verdict,
    String(c.values),
  ]);
  const m = result.machine;
  const out = [
    `Pre-flight scan: ${m.nproc} × ${m.cpuModel}, Node ${m.node}; load average ${m.loadAverageStart} → ${m.loadAverageEnd ?? '?'}; medians of ${result.options.runs} fresh process(es) per case; bundle ${round(result.bundleBytes / KB, 0)} KB`,
    textTable(header, rows, { indent: '  ', align: header.map((_, i) => (i === 0 ? 'left' : 'right')) }),
    `  lists: ${result.options.lists.map((l) => `${l} = ${LIST_WORDS[l]}`).join('; ')}`,
    `  slowest plain email/phone rate on one core at ${sizeLabel(result.options.sizes.at(-1) ?? 0)}: ${result.plainMBps ?? '—'} MB/s (target ≥ ${PREFLIGHT_TARGETS.plainMBps}${mark(result.targetsMet.plainMBps)})`,
    ...result.memoryRatios.map(
      (r) =>
        `  peak memory, largest ÷ smallest, ${r.list}${r.gzip ? ' gzip' : ''}: ${r.largeMb} ÷ ${r.smallMb} MB = ${r.ratio}× (target ≤ ${PREFLIGHT_TARGETS.memoryRatio}${mark(r.ratio <= PREFLIGHT_TARGETS.memoryRatio)})` +
        (r.ratioFromMiddle === null ? '' : `; ÷ the next size (${r.middleMb} MB): ${r.ratioFromMiddle}×`),
    ),
  ];
  const b = result.memoryBreakdown;
  if (b) {
    const over = round(b.largeMb - b.smallMb, 1);
    out.push(
      `  where the largest email list's peak goes: ${over} MB over the smallest file's ${b.smallMb} MB, of which the duplicate table ${b.duplicateTableMb} MB ` +
        `and the optimizing compiler ${b.optimizerMb} MB; GC pacing saves ${b.gcPacingSavesMb} MB; reading the file alone through the same stream, ` +
        `with no scan, peaks at ${b.readOnlyMb} MB (${b.readOnlyRatio}× the smallest file's peak)`,
    );
  }
  const sizing = result.sizing;
  if (sizing) {
    out.push(`  trigger memory size: ${sizing.recommendedMemoryMb} MB. ${sizing.arithmetic}`);
    const csvOnly = result.cases.find((c) => c.variant === 'csvParseOnly');
    if (csvOnly) {
      const fileMb = result.options.maxFileBytes / MB;
      const seconds = round(fileMb / ((csvOnly.cpuMBps / sizing.s3Factor) * (sizing.recommendedMemoryMb / LAMBDA_MB_PER_VCPU)), 0);
      out.push(
        `  not covered by that size: a file whose every line needs csv-parse (a quote inside a value) scans at ${csvOnly.cpuMBps} MB/s ` +
          `(every line through csv-parse, ${sizeLabel(csvOnly.bytes)}); ${round(fileMb, 0)} MB of it would take about ${seconds} s at ${sizing.recommendedMemoryMb} MB`,
      );
    }
  }
  return out.join('\n');
}
