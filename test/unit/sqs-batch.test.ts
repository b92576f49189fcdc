// Unit tests of the trigger's SQS side with fakes: what each message's uploads make of it (deleted, handed back with a wait, sent to the failure queue), and what throws.
import { beforeEach, describe, expect, it } from 'vitest';
import type { EventQueue } from '../../lambdas/core/ports.js';
import type { ObjectCreated, TriggerOutcome } from '../../lambdas/core/trigger-types.js';
import { type BatchLog, handleSqsBatch, NotAnSqsBatchError } from '../../lambdas/trigger/sqs-batch.js';

class RecordingQueue implements EventQueue {
  readonly calls: [receiptHandle: string, seconds: number][] = [];
  failWith: Error | undefined;
  async deliverAgainIn(receiptHandle: string, seconds: number) {
    this.calls.push([receiptHandle, seconds]);
    if (this.failWith) throw this.failWith;
  }
}

const lines: { level: string; message: string }[] = [];
const log: BatchLog = {
  info: (message) => void lines.push({ level: 'info', message }),
  warn: (message) => void lines.push({ level: 'warn', message }),
  error: (message) => void lines.push({ level: 'error', message }),
  addKeys: () => {},
  resetKeys: () => {},
};

const s3Event = (key: string) =>
  JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'drops' }, object: { key, size: 5, sequencer: '0A' } } }] });
const message = (id: string, body: string, receiveCount = 1) => ({
  messageId: id,
  receiptHandle: `handle-${id}`,
  body,
  attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '1' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:events',
  awsRegion: 'us-east-1',
});

let queue: RecordingQueue;
let seen: { object: ObjectCreated; attempt: number }[];
/** What the use case answers for each key. */
let answers: Record<string, TriggerOutcome | Error>;
const upload = async (object: ObjectCreated, attempt: number) => {
  seen.push({ object, attempt });
  const answer = answers[object.key];
  if (answer instanceof Error) throw answer;
  if (!answer) throw new Error(`no answer for ${object.key}`);
  return answer;
};

beforeEach(() => {
  queue = new RecordingQueue();
  seen = [];
  answers = {};
  lines.length = 0;
});

describe('handleSqsBatch', () => {
  it('runs the use case with the decoded key and the receive count as the attempt, and deletes a recorded upload', async () => {
    answers['em/VIP customers (ü).csv'] = { uploadId: 'u', action: 'recorded', status: 'submitted' };
    const response = await handleSqsBatch({ Records: [message('m1', s3Event('em/VIP+customers+%28%C3%BC%29.csv'), 2)] }, { queue, log, upload });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([{ object: { bucket: 'drops', key: 'em/VIP customers (ü).csv', size: 5, sequencer: '0A' }, attempt: 2 }]);
    expect(queue.calls).toEqual([]);
  });

  it("passes the S3 event's time to the use case (a template's {date} renders it), and leaves out one it cannot read", async () => {
    answers['em/a.csv'] = { uploadId: 'u', action: 'recorded', status: 'submitted' };
    const withTime = (eventTime: string) =>
      JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', eventTime, s3: { bucket: { name: 'drops' }, object: { key: 'em/a.csv', size: 5, sequencer: '0A' } } }] });
    await handleSqsBatch({ Records: [message('m1', withTime('2026-11-29T22:30:00.123Z')), message('m2', withTime('yesterday'))] }, { queue, log, upload });
    expect(seen.map((s) => s.object.eventTime?.toISOString())).toEqual(['2026-11-29T22:30:00.123Z', undefined]);
  });

  it('deletes the message of an ignored object (a folder placeholder, .DS_Store)', async () => {
    answers['em/'] = { uploadId: 'u', action: 'ignored', reason: '"em/" is a folder placeholder, not a file: the pipeline ignores it.' };
    expect(await handleSqsBatch({ Records: [message('m1', s3Event('em/'))] }, { queue, log, upload })).toEqual({ batchItemFailures: [] });
    expect(queue.calls).toEqual([]);
  });

  it('ignores the s3:TestEvent S3 sends when notifications are configured', async () => {
    const body = JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'drops' });
    expect(await handleSqsBatch({ Records: [message('t', body)] }, { queue, log, upload })).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([]);
  });

  it('hands a message back with the wait the use case asked for, and reports it', async () => {
    answers['em/a.csv'] = { uploadId: 'u', action: 'retry', status: 'received', retryAfterSeconds: 120 };
    const response = await handleSqsBatch({ Records: [message('m1', s3Event('em/a.csv'))] }, { queue, log, upload });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(queue.calls).toEqual([['handle-m1', 120]]);
  });

  it('makes the message of a failed last attempt visible at once, for SQS to move it to the failure queue', async () => {
    answers['em/a.csv'] = { uploadId: 'u', action: 'gaveUp', status: 'failed' };
    const response = await handleSqsBatch({ Records: [message('m1', s3Event('em/a.csv'), 3)] }, { queue, log, upload });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(queue.calls).toEqual([['handle-m1', 0]]);
  });

  it.each([
    ['not JSON', 'hello'],
    ['JSON without records', '{"Records":[]}'],
    ['another service\'s event', '{"detail-type":"Scheduled Event"}'],
  ])('sends a message that is %s towards the failure queue, with a warning', async (_what, body) => {
    const response = await handleSqsBatch({ Records: [message('m1', body)] }, { queue, log, upload });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(queue.calls).toEqual([['handle-m1', 0]]);
    expect(lines).toContainEqual({ level: 'warn', message: 'the message is not an S3 event notification: it goes to the failure queue' });
  });

  it('still reports a message whose visibility could not be changed (it comes back after the queue\'s own timeout)', async () => {
    answers['em/a.csv'] = { uploadId: 'u', action: 'retry', status: 'received', retryAfterSeconds: 60 };
    queue.failWith = new Error('MessageNotInflight');
    const response = await handleSqsBatch({ Records: [message('m1', s3Event('em/a.csv'))] }, { queue, log, upload });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['could not set when the message comes back']);
  });

  it('handles the rest of the batch, then throws an unexpected error so that Errors counts it', async () => {
    answers['em/broken.csv'] = new Error('DynamoDB unreachable');
    answers['em/fine.csv'] = { uploadId: 'u', action: 'retry', status: 'received', retryAfterSeconds: 60 };
    const batch = { Records: [message('m1', s3Event('em/broken.csv')), message('m2', s3Event('em/fine.csv'))] };
    await expect(handleSqsBatch(batch, { queue, log, upload })).rejects.toThrow('DynamoDB unreachable');
    expect(queue.calls).toEqual([['handle-m2', 60]]);
  });

  it.each([
    ['an S3 event handed over directly', JSON.parse(s3Event('em/a.csv'))],
    ['a record without a receive count', { Records: [{ ...message('m1', '{}'), attributes: {} }] }],
  ])('refuses %s: not a batch the event source mapping sends', async (_what, event) => {
    await expect(handleSqsBatch(event, { queue, log, upload })).rejects.toBeInstanceOf(NotAnSqsBatchError);
    expect(seen).toEqual([]);
  });
});
