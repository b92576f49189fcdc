// The redrive command's pass over the failure queue: deletes the messages that name the redriven uploads and hands every other message back at once.
import { ChangeMessageVisibilityCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { describeError, objectsInMessage, printable, uploadsForMessage } from './redrive-core.js';

/** How the failure queue is scanned. */
export interface QueueScanSettings {
  /** How long received messages stay hidden while the scan runs; those it keeps are made visible again at the end. @default 120 */
  visibilityTimeoutSeconds?: number;
  /** Long poll per receive, so an empty answer means an empty queue rather than an unlucky sample. @default 1 */
  waitTimeSeconds?: number;
  /** Stops after this many messages. @default 10_000 */
  maxMessages?: number;
}

export interface DeletedMessage {
  messageId: string;
  uploadIds: string[];
}

/** What the pass did, written into the command's result as it goes. */
export interface QueuePassResult {
  deletedMessages: DeletedMessage[];
  /** Messages seen and left in the queue (made visible again); set when the pass ends. */
  keptMessages: number;
}

/**
 * Deletes the failure-queue messages that name the redriven uploads. Every message received is held
 * hidden until the scan ends, so none is seen twice; those that name anything else are then made
 * visible again at once. Returns the errors met (a delete that failed leaves its message).
 */
export async function clearMessages(
  sqs: SQSClient,
  queueUrl: string,
  redriven: UploadRecord[],
  settings: QueueScanSettings,
  output: { info(line: string): void; warn(line: string): void },
  result: QueuePassResult,
): Promise<string[]> {
  const errors: string[] = [];
  const kept = new Map<string, string>();
  const seen = new Set<string>();
  const maxMessages = settings.maxMessages ?? 10_000;
  try {
    while (seen.size < maxMessages) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: settings.visibilityTimeoutSeconds ?? 120,
          WaitTimeSeconds: settings.waitTimeSeconds ?? 1,
        }),
      );
      const messages = (out.Messages ?? []).filter((m): m is Message & { MessageId: string; ReceiptHandle: string } => !!m.MessageId && !!m.ReceiptHandle);
      const fresh = messages.filter((m) => !seen.has(m.MessageId));
      // A message seen before is back: the hold ran out, so the queue has been gone through.
      for (const m of messages) if (kept.has(m.MessageId)) kept.set(m.MessageId, m.ReceiptHandle);
      if (fresh.length === 0) break;
      const matched: { message: (typeof fresh)[number]; uploads: UploadRecord[] }[] = [];
      for (const message of fresh) {
        seen.add(message.MessageId);
        const uploads = uploadsForMessage(objectsInMessage(message.Body), redriven);
        if (uploads) matched.push({ message, uploads });
        else kept.set(message.MessageId, message.ReceiptHandle);
      }
      if (matched.length === 0) continue;
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: matched.map(({ message }, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      for (const failure of deleted.Failed ?? []) {
        const entry = matched[Number(failure.Id)];
        if (!entry) continue;
        const error = `message ${entry.message.MessageId} (upload ${entry.uploads.map((u) => u.uploadId).join(', ')}) was not deleted: ${printable(`${failure.Code}: ${failure.Message ?? ''}`)}`;
        output.warn(`  ${error}`);
        errors.push(error);
        kept.set(entry.message.MessageId, entry.message.ReceiptHandle);
      }
      for (const ok of deleted.Successful ?? []) {
        const entry = matched[Number(ok.Id)];
        if (!entry) continue;
        const names = entry.uploads.map((u) => `s3://${printable(u.bucket)}/${printable(u.key)} (upload ${u.uploadId})`).join(', ');
        output.info(`  deleted message ${entry.message.MessageId}: ${names}`);
        result.deletedMessages.push({ messageId: entry.message.MessageId, uploadIds: entry.uploads.map((u) => u.uploadId) });
      }
    }
    if (seen.size >= maxMessages) output.warn(`  stopped after ${maxMessages} messages; run the command again for the rest`);
  } finally {
    for (const [messageId, receiptHandle] of kept) {
      try {
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
      } catch (error) {
        // It becomes visible by itself when the hold runs out.
        output.warn(`  message ${messageId} stays hidden until its visibility timeout ends: ${describeError(error)}`);
      }
    }
  }
  result.keptMessages = kept.size;
  return errors;
}
