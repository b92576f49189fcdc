// Benchmark 1, at full scale: the trigger's use case in-process against the FPS simulator, fed by a model of the SQS events queue and its event source mapping, so the rate limit (not this machine's CPU) is the bottleneck.
import type { Backoff } from '../lambdas/core/fps-submission.js';
import type { ObjectInfo, UploadRecord } from '../lambdas/core/ports.js';
import { handleObjectCreated } from '../lambdas/core/submit-upload.js';
import type { ObjectCreated, TriggerSettings } from '../lambdas/core/trigger-types.js';
import { UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS } from '../lambdas/shared/contract.js';
import { systemClock } from '../lambdas/adapters/clock.js';
import { FpsHttpApi } from '../lambdas/adapters/fps-http-api.js';
import { callbackTokens } from '../lambdas/adapters/tokens.js';
import { invocationDeadline } from '../lambdas/trigger/settings.js';
import { FAKE_CSV, FakeObjects, fixedToken, MemoryStore, noTelemetry, silentLog } from '../local/fakes.js';
import { startFpsSimulator } from '../local/fps-simulator.js';
import { acceptanceStats, type BurstFigures, sleep, within } from './support.js';

export interface BurstModelOptions {
  files: number;
  /** Invocations at once: the event source mapping's maximum concurrency. */
  concurrency: number;
  rateLimit: number;
  latencyMs: number;
  /** Latency of each DynamoDB, S3 or STS call the trigger makes (in-region AWS: single-digit ms). */
  awsCallMs: number;
  /** Extra AWS calls to sign one URL (1 with an assumed presign role: STS AssumeRole). */
  presignCalls: number;
  /** The trigger's settings, read from the template's environment as the handler reads them. */
  settings: TriggerSettings;
  /** The function's timeout; the handler's own safety margin is kept back from it. */
  timeoutSeconds: number;
  /**
   * Multiplies the waits before a redelivery (the visibility timeouts the trigger sets, or the
   * queue's own after a crash), as the local stack's SQS does: 0.01 turns a 60 s wait into 0.6 s.
   */
  timeScale: number;
  /**
   * Lambda's poller ramp for an SQS mapping: it starts with five concurrent invocations and adds up
   * to 300 a minute (Lambda Developer Guide, "Configuring scaling behavior for SQS event source
   * mappings"). Off: every poller works from the start, the mapping's steady state.
   */
  ramp: boolean;
  timeoutMs: number;
}

/** Lambda's SQS pollers: five at first, then up to 300 more a minute. */
const RAMP_START = 5;
const RAMP_PER_SECOND = 300 / 60;

export interface BurstModelResult extends BurstFigures {
  concurrency: number;
  /** Whether Lambda's poller ramp was modelled. */
  ramp: boolean;
  awsCallMs: number;
  presignCalls: number;
  /** Median time one invocation held an environment. */
  invocationP50Ms: number;
  timedOut: boolean;
}

/** Several model runs: the median run's rates, the worst run's redeliveries, failures and duplicates. */
export interface BurstModelSummary extends BurstModelResult {
  runs: number;
  /** The throttling backoff the runs used (429 and 403 Request Limit Exceeded). */
  throttle: Backoff;
  fractionOfLimitRange: [number, number];
  rateLimited429Range: [number, number];
  perRun: Pick<BurstModelResult, 'fractionOfLimit' | 'timeToAllSubmittedSeconds' | 'rateLimited429' | 'redeliveries' | 'failures' | 'duplicates'>[];
}

export function summarizeModelRuns(runs: readonly BurstModelResult[], throttle: Backoff): BurstModelSummary {
  if (runs.length === 0) throw new Error('No burst model runs to summarize');
  const byRate = [...runs].sort((a, b) => a.fractionOfLimit - b.fractionOfLimit);
  const median = byRate[Math.floor((byRate.length - 1) / 2)] as BurstModelResult;
  const range = (pick: (r: BurstModelResult) => number): [number, number] => [Math.min(...runs.map(pick)), Math.max(...runs.map(pick))];
  const worst = (pick: (r: BurstModelResult) => number) => Math.max(...runs.map(pick));
  return {
    ...median,
    redeliveries: worst((r) => r.redeliveries),
    failures: worst((r) => r.failures),
    duplicates: worst((r) => r.duplicates),
    timedOut: runs.some((r) => r.timedOut),
    runs: runs.length,
    throttle,
    fractionOfLimitRange: range((r) => r.fractionOfLimit),
    rateLimited429Range: range((r) => r.rateLimited429),
    perRun: runs.map(({ fractionOfLimit, timeToAllSubmittedSeconds, rateLimited429, redeliveries, failures, duplicates }) => ({
      fractionOfLimit,
      timeToAllSubmittedSeconds,
      rateLimited429,
      redeliveries,
      failures,
      duplicates,
    })),
  };
}

/** The in-memory fakes, each call taking as long as an AWS call would. */
class LatentStore extends MemoryStore {
  constructor(private readonly callMs: number) {
    super();
  }
  override async create(record: UploadRecord) {
    await sleep(this.callMs);
    return super.create(record);
  }
  override async get(uploadId: string) {
    await sleep(this.callMs);
    return super.get(uploadId);
  }
  override async update(...args: Parameters<MemoryStore['update']>) {
    await sleep(this.callMs);
    return super.update(...args);
  }
  override async takeSegmentLock(...args: Parameters<MemoryStore['takeSegmentLock']>) {
    await sleep(this.callMs);
    return super.takeSegmentLock(...args);
  }
  override async segmentLockHolder(segmentName: string) {
    await sleep(this.callMs);
    return super.segmentLockHolder(segmentName);
  }
  /** Once Insider accepted: the name's creator, for a later "already in use". */
  override async markSegmentCreated(segmentName: string, uploadId: string) {
    await sleep(this.callMs);
    return super.markSegmentCreated(segmentName, uploadId);
  }
}

class LatentObjects extends FakeObjects {
  constructor(
    private readonly callMs: number,
    private readonly presignCalls: number,
  ) {
    super();
  }
  override async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    await sleep(this.callMs);
    return super.head(bucket, key);
  }
  /** The pre-flight's GetObject: one call (the burst's files are a few lines, clean, so no copy is written). */
  override async read(bucket: string, key: string) {
    await sleep(this.callMs);
    return super.read(bucket, key);
  }
  override async presignGet(bucket: string, key: string, versionId: string | undefined, expiresInSeconds: number) {
    for (let i = 0; i < this.presignCalls; i++) await sleep(this.callMs);
    const signed = await super.presignGet(bucket, key, versionId, expiresInSeconds);
    // The simulator only fetches loopback URLs; this one is never fetched (see downloadDelayMs).
    return { ...signed, url: `http://127.0.0.1:9/${bucket}/${encodeURIComponent(key)}?X-Amz-Signature=model` };
  }
}

/** A message of the modelled events queue. */
interface Message {
  object: ObjectCreated;
  receiveCount: number;
  /** Epoch ms from which a receive may take it. */
  visibleAt: number;
}

/**
 * Runs `concurrency` virtual environments, each a poller of the event source mapping taking one
 * message at a time from a model of the events queue and running the trigger's real use case
 * (naming, claim, lock, FPS submission with the deployed retry policy, verdict) with the real HTTP
 * adapter against the real FPS simulator; only DynamoDB, S3 and STS are in-memory fakes with a fixed
 * latency. A message the use case hands back comes again after the wait it asked for (scaled), with
 * its receive count as the attempt, as SQS would; past the redrive policy's count it is a failure.
 */
export async function runBurstModel(options: BurstModelOptions): Promise<BurstModelResult> {
  const token = 'model-token';
  // Insider's downloads and callbacks are not what this measures: they are put off past the run.
  const simulator = await startFpsSimulator({
    accounts: [{ partnerName: 'modelbrand', token }],
    rateLimitPerSecond: options.rateLimit,
    latencyMs: options.latencyMs,
    downloadDelayMs: 3_600_000,
  });
  const store = new LatentStore(options.awsCallMs);
  const objects = new LatentObjects(options.awsCallMs, options.presignCalls);
  const api = new FpsHttpApi({ endpointUrl: simulator.url, partnerName: 'modelbrand', token: fixedToken(token) });
  const bucket = 'model-bucket';
  const queue: Message[] = Array.from({ length: options.files }, (_, i) => {
    const key = `email/model ${String(i).padStart(5, '0')}.csv`;
    objects.put(bucket, key);
    return { object: { bucket, key, size: FAKE_CSV.length, sequencer: `seq${i}` }, receiveCount: 0, visibleAt: 0 };
  });
  let inFlight = 0;
  let redeliveries = 0;
  let failures = 0;
  const durations: number[] = [];
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let timedOut = false;
  const later = (message: Message, seconds: number) => {
    message.visibleAt = Date.now() + seconds * 1000 * options.timeScale;
    queue.push(message);
  };

  const poller = async (index: number) => {
    for (;;) {
      if (Date.now() > deadline) {
        timedOut = true;
        return;
      }
      const now = Date.now();
      if (options.ramp && index >= RAMP_START + RAMP_PER_SECOND * Math.floor((now - started) / 1000)) {
        // Not started yet by Lambda's ramp.
        if (queue.length === 0 && inFlight === 0) return;
        await sleep(5);
        continue;
      }
      const next = queue.findIndex((m) => m.visibleAt <= now);
      if (next < 0) {
        if (queue.length === 0 && inFlight === 0) return;
        // Nothing visible: a message is waiting out its visibility timeout, or one in flight may come back.
        await sleep(5);
        continue;
      }
      const [message] = queue.splice(next, 1);
      if (!message) continue;
      // The receive that would pass maxReceiveCount moves the message to the failure queue instead.
      if (message.receiveCount >= options.settings.maxReceives) {
        failures++;
        continue;
      }
      message.receiveCount++;
      if (message.receiveCount > 1) redeliveries++;
      inFlight++;
      const t = performance.now();
      try {
        const outcome = await handleObjectCreated(
          message.object,
          options.settings,
          { store, objects, api, clock: systemClock, tokens: callbackTokens, telemetry: noTelemetry, log: silentLog },
          { attempt: message.receiveCount, deadline: invocationDeadline(Date.now(), options.timeoutSeconds * 1000) },
        );
        if (outcome.action === 'retry' || outcome.action === 'gaveUp') {
          // ChangeMessageVisibility, from inside the invocation.
          await sleep(options.awsCallMs);
          later(message, outcome.action === 'retry' ? outcome.retryAfterSeconds : 0);
        }
      } catch {
        // The invocation failed: the message comes back after the queue's visibility timeout.
        later(message, UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS);
      } finally {
        durations.push(performance.now() - t);
        inFlight--;
      }
    }
  };

  try {
    await within(Promise.all(Array.from({ length: options.concurrency }, (_, i) => poller(i))), options.timeoutMs + 30_000, 'The burst model');
    const { accepted, last, sustained, perSecond, acceptedAt, lateRequests: late } = acceptanceStats(simulator.requests, started);
    const submitted = [...store.records.values()].filter((r) => r.status === 'submitted').length;
    const sorted = [...durations].sort((a, b) => a - b);
    return {
      files: options.files,
      concurrency: options.concurrency,
      ramp: options.ramp,
      awsCallMs: options.awsCallMs,
      presignCalls: options.presignCalls,
      timeToAllSubmittedSeconds: Number(((last - started) / 1000).toFixed(2)),
      sustainedPerSecond: Number(sustained.toFixed(1)),
      fractionOfLimit: Number((sustained / options.rateLimit).toFixed(3)),
      acceptedPerSecond: perSecond.map((n) => n ?? 0),
      accepted: acceptedAt.size,
      fpsRequests: simulator.requests.length,
      rateLimited429: simulator.requests.filter((r) => r.status === 429).length,
      retries: simulator.requests.length - new Set(simulator.requests.map((r) => r.segmentName)).size,
      redeliveries,
      failures: Math.max(failures, options.files - submitted),
      duplicates: late + (accepted.length - acceptedAt.size),
      invocationP50Ms: Number((sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(1)),
      timedOut,
    };
  } finally {
    await simulator.stop();
  }
}
