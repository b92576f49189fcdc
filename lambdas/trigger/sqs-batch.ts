// The trigger's side of the SQS event source mapping: validates a batch, runs the use case per S3 record, and settles each message (delete, hand back for later, or send to the failure queue).
import type { SQSBatchResponse } from 'aws-lambda';
import * as v from 'valibot';
import { decodeS3EventKey } from '../core/naming.js';
import type { EventQueue, Log } from '../core/ports.js';
import { type MessageRequest, settleMessage } from '../core/redelivery.js';
import type { ObjectCreated, TriggerOutcome } from '../core/trigger-types.js';

const SqsEventSchema = v.object({
  Records: v.array(
    v.object({
      messageId: v.pipe(v.string(), v.nonEmpty()),
      receiptHandle: v.pipe(v.string(), v.nonEmpty()),
      body: v.string(),
      attributes: v.object({
        // SQS counts every receive of the message, across the queue and its dead-letter queue.
        ApproximateReceiveCount: v.pipe(v.string(), v.transform(Number), v.number(), v.integer(), v.minValue(1)),
      }),
    }),
  ),
});

/** What S3 sends once when a notification configuration is written: nothing to do. */
const S3TestEventSchema = v.object({ Event: v.literal('s3:TestEvent') });

const S3EventSchema = v.object({
  Records: v.pipe(
    v.array(
      v.object({
        eventName: v.optional(v.string()),
        // When S3 saw the object: a segment name template's `{date}` and `{time}` render it.
        eventTime: v.optional(v.string()),
        s3: v.object({
          bucket: v.object({ name: v.string() }),
          object: v.object({
            key: v.string(),
            size: v.optional(v.number()),
            versionId: v.optional(v.string()),
            sequencer: v.optional(v.string()),
            eTag: v.optional(v.string()),
          }),
        }),
      }),
    ),
    v.nonEmpty(),
  ),
});

/** The invocation's log: the use case's, plus errors and a reset between messages. */
export interface BatchLog extends Log {
  error(message: string, error: unknown): void;
  /** Drops the keys added for the previous message. */
  resetKeys(): void;
}

export interface BatchDeps {
  queue: EventQueue;
  log: BatchLog;
  /** Runs the use case for one S3 record; `attempt` is the message's receive count. */
  upload(object: ObjectCreated, attempt: number): Promise<TriggerOutcome>;
}

/** A batch the event source mapping would never send: a bug in the wiring, not a retry. */
export class NotAnSqsBatchError extends Error {
  override readonly name = 'NotAnSqsBatchError';
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** S3's ISO-8601 event time; an unreadable one is left out (the trigger then uses when it first saw the event). */
function eventTimeOf(text: string | undefined): Date | undefined {
  const time = text === undefined ? Number.NaN : Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** The uploads in one message, each settled by the use case, or why the message carries none. */
async function handleMessage(body: string, attempt: number, deps: BatchDeps): Promise<MessageRequest[]> {
  const json = parseBody(body);
  if (v.is(S3TestEventSchema, json)) {
    deps.log.info('ignored the s3:TestEvent S3 sends when notifications are configured');
    return [];
  }
  const parsed = v.safeParse(S3EventSchema, json);
  if (!parsed.success) {
    // Only S3 may send to this queue; keep whatever else arrives for a person to look at.
    deps.log.warn('the message is not an S3 event notification: it goes to the failure queue', { issue: parsed.issues[0]?.message });
    return [{ action: 'gaveUp' }];
  }
  const requests: MessageRequest[] = [];
  for (const record of parsed.output.Records) {
    const object = record.s3.object;
    requests.push(
      await deps.upload(
        {
          bucket: record.s3.bucket.name,
          key: decodeS3EventKey(object.key),
          size: object.size ?? 0,
          versionId: object.versionId || undefined,
          sequencer: object.sequencer,
          eTag: object.eTag,
          eventTime: eventTimeOf(record.eventTime),
        },
        attempt,
      ),
    );
  }
  return requests;
}

/**
 * Handles every message of the batch and answers with the ones SQS must keep (ReportBatchItemFailures).
 * A message to retry is handed back with the wait the use case asked for as its visibility timeout;
 * one whose last attempt failed gets visibility 0, so SQS moves it to the failure queue at its next
 * receive. Expected retries never throw. An unexpected error (AWS unreachable, a bug) leaves its
 * message for the queue's own visibility timeout, and is thrown once the whole batch was handled, so
 * the function's Errors metric counts it.
 */
export async function handleSqsBatch(event: unknown, deps: BatchDeps): Promise<SQSBatchResponse> {
  const batch = v.safeParse(SqsEventSchema, event);
  if (!batch.success) throw new NotAnSqsBatchError(`Not an SQS batch from the event source mapping: ${batch.issues[0]?.message}`);
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  const unexpected: unknown[] = [];
  for (const message of batch.output.Records) {
    deps.log.resetKeys();
    const attempt = message.attributes.ApproximateReceiveCount;
    deps.log.addKeys({ messageId: message.messageId });
    try {
      const settlement = settleMessage(await handleMessage(message.body, attempt, deps));
      if (settlement.done) continue;
      batchItemFailures.push({ itemIdentifier: message.messageId });
      try {
        await deps.queue.deliverAgainIn(message.receiptHandle, settlement.visibilityTimeoutSeconds);
      } catch (error) {
        // The message still comes back, after the queue's own visibility timeout.
        deps.log.error('could not set when the message comes back', error);
      }
    } catch (error) {
      deps.log.error('message not handled', error);
      unexpected.push(error);
    }
  }
  if (unexpected.length > 0) throw unexpected[0];
  return { batchItemFailures };
}
