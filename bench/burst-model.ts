// Benchmark 1, at full scale: the trigger's use case in-process against the FPS simulator, so the rate limit (not this machine's CPU) is the bottleneck.
import type { ObjectInfo, UploadRecord } from '../lambdas/core/ports.js';
import { type ObjectCreated, handleObjectCreated, type TriggerSettings } from '../lambdas/core/submit-upload.js';
import { systemClock } from '../lambdas/adapters/clock.js';
import { FpsHttpApi } from '../lambdas/adapters/fps-http-api.js';
import { callbackTokens } from '../lambdas/adapters/tokens.js';
import { invocationDeadline } from '../lambdas/trigger/settings.js';
import { FakeObjects, MemoryStore, noTelemetry, silentLog } from '../local/fakes.js';
import { startFpsSimulator } from '../local/fps-simulator.js';
import { acceptanceStats, type BurstFigures, sleep, within } from './support.js';

export interface BurstModelOptions {
  files: number;
  /** Environments working at once: the trigger's reserved concurrency. */
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
  /** Delays between Lambda's async retries (the cloud waits about 1 and 2 minutes). */
  asyncRetryDelaysMs: number[];
  timeoutMs: number;
}

export interface BurstModelResult extends BurstFigures {
  concurrency: number;
  awsCallMs: number;
  presignCalls: number;
  /** Median time one invocation held an environment. */
  invocationP50Ms: number;
  timedOut: boolean;
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
  override async presignGet(bucket: string, key: string, versionId: string | undefined, expiresInSeconds: number) {
    for (let i = 0; i < this.presignCalls; i++) await sleep(this.callMs);
    const signed = await super.presignGet(bucket, key, versionId, expiresInSeconds);
    // The simulator only fetches loopback URLs; this one is never fetched (see downloadDelayMs).
    return { ...signed, url: `http://127.0.0.1:9/${bucket}/${encodeURIComponent(key)}?X-Amz-Signature=model` };
  }
}

/**
 * Runs `concurrency` virtual environments, each taking S3 events from one queue and running the
 * trigger's real use case (naming, claim, lock, FPS submission with DEFAULT_RETRY_POLICY, verdict)
 * with the real HTTP adapter against the real FPS simulator; only DynamoDB and S3 are in-memory
 * fakes with a fixed latency. A thrown error is retried like Lambda's async invocation.
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
  const api = new FpsHttpApi({ endpointUrl: simulator.url, partnerName: 'modelbrand', token: async () => token });
  const bucket = 'model-bucket';
  const events: { object: ObjectCreated; attempt: number; notBefore: number }[] = Array.from({ length: options.files }, (_, i) => {
    const key = `email/model ${String(i).padStart(5, '0')}.csv`;
    objects.put(bucket, key, { size: 64 });
    return { object: { bucket, key, size: 64, sequencer: `seq${i}` }, attempt: 0, notBefore: 0 };
  });
  const queue = [...events];
  let inFlight = 0;
  let lambdaRetries = 0;
  let failures = 0;
  const durations: number[] = [];
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let timedOut = false;

  const worker = async () => {
    for (;;) {
      if (Date.now() > deadline) {
        timedOut = true;
        return;
      }
      const now = Date.now();
      const index = queue.findIndex((e) => e.notBefore <= now);
      if (index < 0) {
        if (queue.length === 0 && inFlight === 0) return;
        // Nothing ready: an event is waiting for its retry, or another environment may yet requeue one.
        await sleep(5);
        continue;
      }
      const [event] = queue.splice(index, 1);
      if (!event) continue;
      inFlight++;
      const t = performance.now();
      try {
        await handleObjectCreated(
          event.object,
          options.settings,
          { store, objects, api, clock: systemClock, tokens: callbackTokens, telemetry: noTelemetry, log: silentLog },
          invocationDeadline(Date.now(), options.timeoutSeconds * 1000),
        );
      } catch {
        event.attempt++;
        if (event.attempt < options.settings.maxInvocations) {
          lambdaRetries++;
          const delays = options.asyncRetryDelaysMs;
          event.notBefore = Date.now() + (delays[Math.min(event.attempt - 1, delays.length - 1)] ?? 0);
          queue.push(event);
        } else {
          failures++;
        }
      } finally {
        durations.push(performance.now() - t);
        inFlight--;
      }
    }
  };

  try {
    await within(Promise.all(Array.from({ length: options.concurrency }, worker)), options.timeoutMs + 30_000, 'The burst model');
    const { accepted, last, sustained, perSecond, acceptedAt, lateRequests: late } = acceptanceStats(simulator.requests, started);
    const submitted = [...store.records.values()].filter((r) => r.status === 'submitted').length;
    const sorted = [...durations].sort((a, b) => a - b);
    return {
      files: options.files,
      concurrency: options.concurrency,
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
      lambdaRetries,
      failures: Math.max(failures, options.files - submitted),
      duplicates: late + (accepted.length - acceptedAt.size),
      invocationP50Ms: Number((sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(1)),
      timedOut,
    };
  } finally {
    await simulator.stop();
  }
}
