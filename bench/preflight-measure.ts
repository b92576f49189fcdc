// What the pre-flight benchmark's child processes share: the figures they print, and timing one piece of work in them.
import { readFileSync } from 'node:fs';

/** What a child prints, as one JSON line. */
export interface ChildResult {
  wallMs: number;
  /** User + system CPU time of the work: one core's work, whatever else the machine was doing. */
  cpuMs: number;
  /** Linux VmHWM after loading the code, before the work. */
  loadedPeakRssBytes: number;
  /** Linux VmHWM at the end: what Lambda reports as Max Memory Used. */
  peakRssBytes: number;
  /** Bytes scanned (decompressed). */
  bytes: number;
  verdict: string;
  values: number;
  changed: boolean;
  cleanBytes: number;
}

export type WorkResult = Pick<ChildResult, 'bytes' | 'verdict' | 'values' | 'changed' | 'cleanBytes'>;

function peakRss(): number {
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** Runs `work` once, timed, and prints its figures as one JSON line; on an error prints the stack and exits 1. */
export async function printMeasurement(work: () => Promise<WorkResult>): Promise<void> {
  try {
    const loadedPeakRssBytes = peakRss();
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const result = await work();
    const used = process.cpuUsage(cpu);
    const figures: ChildResult = {
      ...result,
      wallMs: performance.now() - wall,
      cpuMs: (used.user + used.system) / 1000,
      loadedPeakRssBytes,
      peakRssBytes: peakRss(),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  }
}
