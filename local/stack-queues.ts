// The local stack's queues: created from the template (each dead-letter queue first), read by Lambda's pollers as its event source mappings say, and dead-lettered S3 events read back.
import { decodeS3EventKey } from '../lambdas/core/naming.js';
import { type SqsEventSource, startSqsEventSource } from './event-source-mapping.js';
import type { LocalFunction } from './lambda-runtime.js';
import { LOCAL_REGION } from './local-account.js';
import type { LocalSqs } from './sqs.js';
import { type EventSourceMappingSpec, type QueueSpec, type SynthesizedStack, UnsupportedTemplateError } from './template.js';

/** A message in a dead-letter queue: an S3 event the trigger gave up on. */
export interface FailedEvent {
  messageId: string;
  /** The message body parsed: the S3 event notification as S3 sent it (keys URL-encoded). */
  event: unknown;
  /** The object key of its first record, decoded; undefined when the body is not an S3 event. */
  key: string | undefined;
  /** Receives across the queue and the dead-letter queue. */
  receiveCount: number;
}

/** Creates the template's queues, each dead-letter queue before the queues whose redrive policy names it. */
export function createQueues(sqs: LocalSqs, queues: readonly QueueSpec[]): void {
  const created = new Set<string>();
  let pending = [...queues];
  while (pending.length > 0) {
    const ready = pending.filter((q) => !q.redrive || created.has(q.redrive.deadLetterQueueLogicalId));
    if (ready.length === 0) throw new UnsupportedTemplateError(`Queues whose dead-letter queue is not in the template: ${pending.map((q) => q.logicalId).join(', ')}`);
    for (const q of ready) {
      const attributes = { ...q.attributes };
      if (q.redrive) {
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: sqs.queueArn(q.redrive.deadLetterQueueLogicalId), maxReceiveCount: q.redrive.maxReceiveCount });
      }
      sqs.createQueue(q.logicalId, attributes);
      created.add(q.logicalId);
    }
    pending = pending.filter((q) => !created.has(q.logicalId));
  }
}

export interface EventSourcesOptions {
  /** The local function a mapping invokes. */
  functionFor(logicalId: string): LocalFunction;
  /** A mapping's maximum concurrency (the template's, or a caller's override). */
  maximumConcurrency(mapping: EventSourceMappingSpec): number | undefined;
  /** The stack's SQS time scale (LocalStackOptions.timeScale). */
  timeScale: number;
  logSink?: ((line: string, fn: string) => void) | undefined;
}

/**
 * Starts one poller per event source mapping, calling SQS with the function's own credentials (its
 * execution role) and endpoint (with recordCalls, its role's recording proxy). Each is pushed to
 * `started` as it starts, so a failure part-way leaves the caller what to stop.
 */
export async function startEventSources(synth: SynthesizedStack, sqs: LocalSqs, options: EventSourcesOptions, started: SqsEventSource[]): Promise<void> {
  const queueSpecs = new Map(synth.queues.map((q) => [q.logicalId, q]));
  for (const mapping of synth.eventSourceMappings) {
    const spec = synth.functions.find((f) => f.logicalId === mapping.functionLogicalId);
    if (!spec) throw new UnsupportedTemplateError(`Event source mapping ${mapping.logicalId} invokes ${mapping.functionLogicalId}, which is not a pipeline function`);
    const fn = options.functionFor(mapping.functionLogicalId);
    const queueVisibility = Number(queueSpecs.get(mapping.queueLogicalId)?.attributes.VisibilityTimeout ?? 30);
    const { timeScale } = options;
    started.push(
      await startSqsEventSource({
        endpoint: fn.environment.AWS_ENDPOINT_URL_SQS ?? sqs.endpoint,
        queueUrl: sqs.queueUrl(mapping.queueLogicalId),
        credentials: { accessKeyId: fn.environment.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: fn.environment.AWS_SECRET_ACCESS_KEY ?? '' },
        region: LOCAL_REGION,
        batchSize: mapping.batchSize,
        maximumConcurrency: options.maximumConcurrency(mapping),
        reportBatchItemFailures: mapping.reportBatchItemFailures,
        functionTimeoutSeconds: spec.timeoutSeconds,
        receiveVisibilityTimeoutSeconds: timeScale < 1 ? Math.min(43_200, Math.max(queueVisibility, Math.ceil(spec.timeoutSeconds / timeScale))) : undefined,
        invoke: (event) => fn.invoke(event),
        onError: (error) => options.logSink?.(`[local] ${spec.role} poller: ${String(error)}`, spec.role),
      }),
    );
  }
}

/** The messages in these dead-letter queues now, oldest first, each read as the S3 event it should be. */
export function failedEvents(sqs: LocalSqs, deadLetterQueues: readonly string[]): FailedEvent[] {
  return deadLetterQueues.flatMap((name) =>
    sqs.snapshot(name).messages.map((m) => {
      const event = parseJson(m.body);
      const rawKey = (event as { Records?: { s3?: { object?: { key?: unknown } } }[] } | undefined)?.Records?.[0]?.s3?.object?.key;
      return { messageId: m.messageId, event, key: typeof rawKey === 'string' ? decodeS3EventKey(rawKey) : undefined, receiveCount: m.receiveCount };
    }),
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
