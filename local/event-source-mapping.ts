// A local Lambda event source mapping for SQS: polls a queue as Lambda's poller does, invokes a function with SQS events, deletes what succeeded.
import { DeleteMessageCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { setMaxListeners } from 'node:events';
import type { SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { LOCAL_REGION } from './local-account.js';

export interface SqsEventSourceOptions {
  /** The SQS endpoint, e.g. LocalSqs.endpoint. */
  endpoint: string;
  queueUrl: string;
  /**
   * The function's execution role's credentials: Lambda's poller calls SQS with that role, so the
   * endpoint records ReceiveMessage, DeleteMessage and GetQueueAttributes under its access key id.
   */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  /** Messages per invocation, 1–10 (Lambda's default for SQS is 10; more needs a batching window, not emulated). */
  batchSize?: number;
  /**
   * Invocations in flight at most (ScalingConfig.MaximumConcurrency, 2–1000 in AWS; 1 is accepted
   * here for tests). Default 5: Lambda starts an SQS mapping with five concurrent pollers.
   */
  maximumConcurrency?: number;
  /** FunctionResponseTypes includes ReportBatchItemFailures. */
  reportBatchItemFailures?: boolean;
  /**
   * The function's timeout. When given, start fails as CreateEventSourceMapping does if the queue's
   * visibility timeout is shorter (a message would reappear while its invocation still runs).
   */
  functionTimeoutSeconds?: number;
  /** ReceiveMessage's long poll; Lambda uses 20. stop() does not wait for it. */
  waitTimeSeconds?: number;
  /**
   * Sent as ReceiveMessage's VisibilityTimeout. Lambda sends none (the queue's own applies), and so
   * does this by default. For an emulator that scales time (LocalSqs's timeScale), where the queue's
   * scaled visibility timeout could run out while an unscaled invocation still runs, give at least
   * the function's timeout divided by the scale: what AWS's "at least the function timeout" rule keeps.
   */
  receiveVisibilityTimeoutSeconds?: number;
  /** Runs the function; a rejection is a function error. */
  invoke: (event: SQSEvent) => Promise<unknown>;
  /** Poller-side trouble (a failed receive or delete), which Lambda would retry on its own. */
  onError?: (error: unknown) => void;
}

export interface SqsEventSourceStats {
  invocations: number;
  /** Invocations that threw, or whose batch response Lambda would treat as a complete failure. */
  failedInvocations: number;
  /** Messages left on the queue to reappear: the whole batch of a failed invocation, or the reported items. */
  failedMessages: number;
  deletedMessages: number;
  /** The most invocations seen in flight at once. */
  maxInFlight: number;
}

export interface SqsEventSource {
  /** The queue's ARN, as records carry it in eventSourceARN. */
  eventSourceArn: string;
  /** Invocations it runs at most at once. */
  maximumConcurrency: number;
  /** Invocations running now. */
  inFlight(): number;
  stats(): SqsEventSourceStats;
  /** Stops polling and waits for the invocations in flight (and their deletes) to finish. */
  stop(): Promise<void>;
}

/** After a failed ReceiveMessage, so an endpoint that is down is not hammered. */
const RECEIVE_ERROR_BACKOFF_MS = 200;
/** With waitTimeSeconds 0 an empty receive returns at once; wait this long before the next one. */
const SHORT_POLL_IDLE_MS = 50;

function toRecord(m: Message, eventSourceArn: string, awsRegion: string): SQSRecord {
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: v.DataType as string,
    };
  }
  return {
    messageId: m.MessageId as string,
    receiptHandle: m.ReceiptHandle as string,
    body: m.Body ?? '',
    attributes: { ...m.Attributes } as unknown as SQSRecordAttributes,
    messageAttributes,
    md5OfBody: m.MD5OfBody as string,
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: eventSourceArn,
    awsRegion,
  };
}

/**
 * The message IDs to leave on the queue, per Lambda's "Success and failure conditions" for partial
 * batch responses (Lambda Developer Guide, "Handling errors for an SQS event source"): no response,
 * no list or an empty list is a complete success; a response that is not an object, a list entry
 * without a non-empty string itemIdentifier, or an itemIdentifier that names no message of the batch
 * is a complete failure.
 */
export function failedItems(response: unknown, messageIds: string[]): { all: true } | { all: false; ids: Set<string> } {
  if (response === undefined || response === null) return { all: false, ids: new Set() };
  if (typeof response !== 'object' || Array.isArray(response)) return { all: true };
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return { all: false, ids: new Set() };
  if (!Array.isArray(list)) return { all: true };
  const ids = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !messageIds.includes(id)) return { all: true };
    ids.add(id);
  }
  return { all: false, ids };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export async function startSqsEventSource(options: SqsEventSourceOptions): Promise<SqsEventSource> {
  const batchSize = options.batchSize ?? 10;
  const maximumConcurrency = options.maximumConcurrency ?? 5;
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const region = options.region ?? LOCAL_REGION;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) throw new Error(`batchSize must be 1–10, got ${batchSize}`);
  if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 1 || maximumConcurrency > 1000) {
    throw new Error(`maximumConcurrency must be 1–1000, got ${maximumConcurrency}`);
  }
  if (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) throw new Error(`waitTimeSeconds must be 0–20, got ${waitTimeSeconds}`);

  const client = new SQSClient({ endpoint: options.endpoint, region, credentials: options.credentials });
  // Lambda reads the queue's attributes when the mapping is created, and checks the timeout against them.
  let attributes: Record<string, string>;
  try {
    attributes =
      (await client.send(new GetQueueAttributesCommand({ QueueUrl: options.queueUrl, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }))).Attributes ?? {};
  } catch (error) {
    client.destroy();
    throw error;
  }
  const eventSourceArn = attributes.QueueArn as string;
  const visibilityTimeout = Number(attributes.VisibilityTimeout);
  if (options.functionTimeoutSeconds !== undefined && visibilityTimeout < options.functionTimeoutSeconds) {
    client.destroy();
    throw new Error(`Queue visibility timeout: ${visibilityTimeout} seconds is less than Function timeout: ${options.functionTimeoutSeconds} seconds`);
  }

  const stopping = new AbortController();
  // Every poller's receive and idle wait listen on it: more than Node's default of 10 warns.
  setMaxListeners(2 * maximumConcurrency + 10, stopping.signal);
  const stats: SqsEventSourceStats = { invocations: 0, failedInvocations: 0, failedMessages: 0, deletedMessages: 0, maxInFlight: 0 };
  let inFlight = 0;
  const report = (error: unknown) => options.onError?.(error);

  async function settle(messages: Message[]): Promise<void> {
    const ids = messages.map((m) => m.MessageId as string);
    let failed: ReturnType<typeof failedItems>;
    inFlight++;
    stats.invocations++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    try {
      const response = await options.invoke({ Records: messages.map((m) => toRecord(m, eventSourceArn, region)) });
      // Without ReportBatchItemFailures Lambda ignores the response: any completed invocation is a success.
      failed = options.reportBatchItemFailures ? failedItems(response, ids) : { all: false, ids: new Set() };
    } catch {
      failed = { all: true };
    } finally {
      inFlight--;
    }
    if (failed.all) {
      stats.failedInvocations++;
      stats.failedMessages += messages.length;
      return;
    }
    stats.failedMessages += failed.ids.size;
    // Failed items are left alone: they reappear when their visibility timeout runs out.
    const done = messages.filter((m) => !failed.ids.has(m.MessageId as string));
    await Promise.all(
      done.map(async (m) => {
        try {
          await client.send(new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: m.ReceiptHandle }));
          stats.deletedMessages++;
        } catch (error) {
          report(error);
        }
      }),
    );
  }

  /** One poller: a receive, then its invocation, so at most maximumConcurrency invocations run at once. */
  async function poll(): Promise<void> {
    while (!stopping.signal.aborted) {
      let messages: Message[];
      try {
        const out = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: options.receiveVisibilityTimeoutSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        );
        messages = out.Messages ?? [];
      } catch (error) {
        if (stopping.signal.aborted) return;
        report(error);
        await sleep(RECEIVE_ERROR_BACKOFF_MS, stopping.signal);
        continue;
      }
      if (messages.length === 0) {
        if (waitTimeSeconds === 0) await sleep(SHORT_POLL_IDLE_MS, stopping.signal);
        continue;
      }
      // Received messages are processed even if stop() came meanwhile: they are in flight already.
      await settle(messages);
    }
  }

  const pollers = Array.from({ length: maximumConcurrency }, () => poll());

  return {
    eventSourceArn,
    maximumConcurrency,
    inFlight: () => inFlight,
    stats: () => ({ ...stats }),
    stop: async () => {
      stopping.abort();
      await Promise.all(pollers);
      client.destroy();
    },
  };
}
