// Benchmark 4: genuine callbacks posted through the HTTP API shim to the callback function and the local DynamoDB.
import { randomBytes } from 'node:crypto';
import { systemClock } from '../lambdas/adapters/clock.js';
import { DynamoDbUploadsStore } from '../lambdas/adapters/dynamodb-uploads-store.js';
import { callbackTokens } from '../lambdas/adapters/tokens.js';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { callbackUrlFor } from '../lambdas/core/submit-upload.js';
import { UploadStatus } from '../lambdas/shared/contract.js';
import type { LocalStack } from '../local/stack.js';
import { mapLimit, median, percentile, type ReportCollector, round, within } from './support.js';

export interface CallbackOptions {
  /** Callbacks posted with `concurrency` in flight. */
  count: number;
  concurrency: number;
  /** Callbacks posted one at a time first, for the latency of an idle system. */
  unloadedCount: number;
  timeoutMs: number;
}

export interface CallbackPhase {
  concurrency: number;
  callbacks: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 200. */
  non200: number;
}

export interface CallbackResult {
  unloaded: CallbackPhase;
  loaded: CallbackPhase;
  /** Environments the callback function ran in at once (its reserved concurrency, or the local stack's default for unreserved functions). */
  functionConcurrency: number;
  functionDurationP50Ms: number;
  /** Records seeded (warm-up included) and how many the callbacks completed, checked in the table afterwards. */
  recordsSeeded: number;
  recordsCompleted: number;
  errors: string[];
}

interface Seeded {
  url: string;
  body: string;
  uploadId: string;
}

/**
 * Seeds `submitted` records the way the trigger leaves them (the token's SHA-256 in
 * callbackTokenHashes), so every callback is genuine and takes the full path: read, verify, update.
 */
async function seed(stack: LocalStack, count: number, runId: string): Promise<Seeded[]> {
  const store = new DynamoDbUploadsStore(stack.dynamodb, stack.tableName, systemClock);
  const now = new Date().toISOString();
  const items = Array.from({ length: count }, (_, i) => {
    const uploadId = randomBytes(16).toString('hex');
    const token = callbackTokens.token();
    const segmentName = `callback ${runId} ${i}`;
    const record: UploadRecord = {
      uploadId,
      bucket: stack.bucket,
      key: `email/${segmentName}.csv`,
      size: 64,
      segmentName,
      attributeName: 'email',
      status: UploadStatus.Submitted,
      receivedAt: now,
      updatedAt: now,
      submittedAt: now,
      invocations: 1,
      fpsRequests: 1,
      callbackTokenHashes: [callbackTokens.hash(token)],
    };
    const body = JSON.stringify({ segment_name: segmentName, valid_values_count: 3, invalid_values_count: 1, total_entered_values: 4 });
    return { record, seeded: { url: callbackUrlFor(stack.api.url, uploadId, token), body, uploadId } };
  });
  await mapLimit(items, 16, async ({ record }) => {
    const claim = await store.create(record);
    if (!claim.claimed) throw new Error(`Seeding callback records: ${record.uploadId} already exists`);
  });
  return items.map((i) => i.seeded);
}

async function post(items: Seeded[], concurrency: number): Promise<CallbackPhase> {
  const latencies: number[] = [];
  let non200 = 0;
  const started = performance.now();
  await mapLimit(items, concurrency, async (item) => {
    const t = performance.now();
    const res = await fetch(item.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: item.body });
    await res.arrayBuffer();
    latencies.push(performance.now() - t);
    if (res.status !== 200) non200++;
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    concurrency,
    callbacks: items.length,
    perSecond: round(items.length / seconds, 0),
    p50Ms: round(median(latencies), 1),
    p99Ms: round(percentile(latencies, 0.99), 1),
    non200,
  };
}

export async function runCallbacks(stack: LocalStack, reports: ReportCollector, options: CallbackOptions): Promise<CallbackResult> {
  const fn = stack.functions.callback;
  const runId = Date.now().toString(36);
  const warmCount = options.concurrency * 2;
  const seeded = await seed(stack, warmCount + options.unloadedCount + options.count, runId);
  const warmItems = seeded.slice(0, warmCount);
  const unloadedItems = seeded.slice(warmCount, warmCount + options.unloadedCount);
  const loadedItems = seeded.slice(warmCount + options.unloadedCount);
  let mark = reports.mark();
  const result = await within(
    (async () => {
      // Callbacks of their own start every environment the function may use: cold starts are measured elsewhere.
      await post(warmItems, options.concurrency);
      mark = reports.mark();
      const unloaded = await post(unloadedItems, 1);
      const loaded = await post(loadedItems, options.concurrency);
      return { unloaded, loaded };
    })(),
    options.timeoutMs,
    'The callback benchmark',
  );
  const durations = reports.since(mark, fn.name).map((r) => r.durationMs);
  const ids = new Set(seeded.map((s) => s.uploadId));
  const completed = (await stack.records()).filter((r) => ids.has(r.uploadId) && r.status === UploadStatus.Completed).length;
  const errors = reports.errors.slice(-5);
  reports.errors.length = 0;
  return {
    ...result,
    functionConcurrency: fn.stats.maxConcurrentSeen,
    functionDurationP50Ms: round(median(durations), 1),
    recordsSeeded: seeded.length,
    recordsCompleted: completed,
    errors,
  };
}
