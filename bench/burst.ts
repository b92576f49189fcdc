// Benchmark 1: a burst of files dropped at once, submitted to the FPS simulator at its per-token rate limit.
import { availableParallelism } from 'node:os';
import type { LocalStack } from '../local/stack.js';
import { acceptanceStats, type BurstFigures, childCpuSeconds, emailCsv, machineCpuTimes, mapLimit, median, percentile, type ReportCollector, round, within } from './support.js';

export interface BurstOptions {
  files: number;
  /** How many PutObject calls are in flight while dropping. */
  putConcurrency: number;
  /** Upper bound on the whole burst, drop to last callback. */
  timeoutMs: number;
}

export interface BurstResult extends BurstFigures {
  rateLimitPerSecond: number;
  latencyMs: number;
  triggerConcurrency: number;
  /** From the first PutObject to the last one answered. */
  dropSeconds: number;
  /** Accepted uploads per second from the first PutObject (cold starts and drop included). */
  overallPerSecond: number;
  /** Files whose callback had been recorded when the run ended. */
  completed: number;
  /** From the first PutObject until every callback was recorded. */
  endToEndSeconds: number | null;
  statuses: Record<string, number>;
  trigger: {
    invocations: number;
    coldStarts: number;
    maxConcurrentSeen: number;
    errors: number;
    durationP50Ms: number;
    durationP90Ms: number;
    /** The mapping's maximum concurrency ÷ median duration: the most invocations per second it could run. */
    capacityPerSecond: number;
  };
  cpu: {
    /** From the first PutObject to the last callback. CPU time of the benchmark process (S3, DynamoDB, the API shim and the simulator all live in it) per second of wall time. */
    hostProcessCores: number;
    /** CPU time of the functions' environments (trigger and callback) per second of wall time. */
    functionCores: number | null;
    /** CPU milliseconds each file cost, in the host process and in the functions. */
    hostMsPerFile: number;
    functionMsPerFile: number | null;
    /** Files per second the machine's cores could carry at that cost, if nothing else ran on them. */
    cpuBoundFilesPerSecond: number | null;
    /** Busy share of every core on the machine over the burst (other work on the box included). */
    machineBusyFraction: number | null;
  };
  timedOut: boolean;
  errors: string[];
}

export async function runBurst(stack: LocalStack, reports: ReportCollector, options: BurstOptions, settings: { rateLimit: number; latencyMs: number }): Promise<BurstResult> {
  const trigger = stack.functions.trigger;
  stack.simulator.reset();
  const runId = Date.now().toString(36);
  // The folder names the attribute and the file name the segment (at most 40 characters).
  const keys = Array.from({ length: options.files }, (_, i) => `email/burst ${runId} ${String(i).padStart(5, '0')}.csv`);
  const segments = new Set(keys.map((k) => k.slice('email/'.length, -'.csv'.length)));
  const body = emailCsv({ rows: 3, prefix: 'burst' });
  const triggerSpec = stack.synth.functions.find((f) => f.role === 'trigger');
  const source = stack.eventSources[stack.synth.eventSourceMappings.findIndex((m) => m.functionLogicalId === triggerSpec?.logicalId)];
  if (!source) throw new Error('The trigger has no event source mapping');
  const before = { stats: trigger.stats, invocations: source.stats().invocations, mark: reports.mark() };
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineCpuTimes();
  const childrenBefore = childCpuSeconds();

  const started = Date.now();
  let timedOut = false;
  const errors: string[] = [];
  const deadline = started + options.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  try {
    await within(
      mapLimit(keys, options.putConcurrency, (key) => stack.put(key, body)),
      remaining(),
      'Dropping the files',
    );
  } catch (error) {
    timedOut = true;
    errors.push((error as Error).message);
  }
  const dropped = Date.now();
  try {
    // The events queue is empty: nothing waiting, running or due back for a retry.
    if (!timedOut) await within(stack.drainEvents(), remaining(), 'The burst');
  } catch (error) {
    timedOut = true;
    errors.push((error as Error).message);
  }
  let endToEnd: number | null = null;
  if (!timedOut) {
    try {
      await within(stack.idle(), remaining(), 'The callbacks of the burst');
      endToEnd = (Date.now() - started) / 1000;
    } catch (error) {
      timedOut = true;
      errors.push((error as Error).message);
    }
  }
  // CPU over the whole burst, callbacks included.
  const finished = Date.now();
  const cpuAfter = process.cpuUsage(cpuBefore);
  const machineAfter = machineCpuTimes();
  const childrenAfter = childCpuSeconds();

  const requests = stack.simulator.requests.filter((r) => r.segmentName !== undefined && segments.has(r.segmentName));
  const { accepted, last, sustained, perSecond, acceptedAt, lateRequests } = acceptanceStats(requests, started);
  const requestedSegments = new Set(requests.map((r) => r.segmentName));

  const keySet = new Set(keys);
  const records = (await stack.records()).filter((r) => keySet.has(r.key));
  const statuses: Record<string, number> = {};
  for (const r of records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const extraRecords = records.length - new Set(records.map((r) => r.key)).size;
  const good = records.filter((r) => r.status === 'submitted' || r.status === 'completed').length;
  const failureQueueMessages = stack.failures().filter((f) => f.key !== undefined && keySet.has(f.key)).length;

  const durations = reports.since(before.mark, trigger.name).map((r) => r.durationMs);
  const after = trigger.stats;
  const p50 = median(durations);
  const wallSeconds = (finished - started) / 1000;
  const hostSeconds = (cpuAfter.user + cpuAfter.system) / 1e6;
  const functionSeconds = childrenBefore === undefined || childrenAfter === undefined ? null : childrenAfter - childrenBefore;
  const cores = availableParallelism();
  const triggerConcurrency = source.maximumConcurrency;
  errors.push(...reports.errors.slice(-5));
  reports.errors.length = 0;
  return {
    files: options.files,
    rateLimitPerSecond: settings.rateLimit,
    latencyMs: settings.latencyMs,
    triggerConcurrency,
    dropSeconds: round((dropped - started) / 1000, 2),
    timeToAllSubmittedSeconds: round((last - started) / 1000, 2),
    sustainedPerSecond: round(sustained, 1),
    fractionOfLimit: round(sustained / settings.rateLimit, 3),
    overallPerSecond: round(accepted.length / Math.max(0.001, (last - started) / 1000), 1),
    acceptedPerSecond: perSecond.map((n) => n ?? 0),
    accepted: acceptedAt.size,
    fpsRequests: requests.length,
    rateLimited429: requests.filter((r) => r.status === 429).length,
    retries: requests.length - requestedSegments.size,
    // One message per file, one file per invocation: every invocation beyond the files is a redelivery.
    redeliveries: Math.max(0, source.stats().invocations - before.invocations - options.files),
    failures: options.files - good + failureQueueMessages,
    duplicates: lateRequests + (accepted.length - acceptedAt.size) + Math.max(0, extraRecords),
    completed: records.filter((r) => r.status === 'completed').length,
    endToEndSeconds: endToEnd === null ? null : round(endToEnd, 2),
    statuses,
    trigger: {
      invocations: after.invocations - before.stats.invocations,
      coldStarts: after.coldStarts - before.stats.coldStarts,
      maxConcurrentSeen: after.maxConcurrentSeen,
      errors: after.errors - before.stats.errors,
      durationP50Ms: round(p50, 1),
      durationP90Ms: round(percentile(durations, 0.9), 1),
      capacityPerSecond: round((triggerConcurrency / p50) * 1000, 1),
    },
    cpu: {
      hostProcessCores: round(hostSeconds / wallSeconds, 2),
      functionCores: functionSeconds === null ? null : round(functionSeconds / wallSeconds, 2),
      hostMsPerFile: round((hostSeconds * 1000) / options.files, 1),
      functionMsPerFile: functionSeconds === null ? null : round((functionSeconds * 1000) / options.files, 1),
      cpuBoundFilesPerSecond: functionSeconds === null ? null : round((cores * options.files) / (hostSeconds + functionSeconds), 0),
      machineBusyFraction:
        machineBefore && machineAfter ? round((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total), 2) : null,
    },
    timedOut,
    errors,
  };
}

