// Checks the local SQS event source mapping against the local SQS endpoint: event shape, deletes, retries, partial batch failures, concurrency, stop.
import { createHash } from 'node:crypto';
import { DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SqsEventSource, type SqsEventSourceOptions, failedItems, startSqsEventSource } from '../../local/event-source-mapping.js';
import { type LocalSqs, startLocalSqs } from '../../local/sqs.js';
import { md5OfMessageAttributes } from '../../local/sqs-rules.js';

/** Visibility timeouts last a hundredth: the queues' default 100 s is 1 s, room for a loaded machine to receive, invoke and delete. */
const SCALE = 0.01;
const ROLE = { accessKeyId: 'AKIDTRIGGERROLE', secretAccessKey: 'x' };
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let sqs: LocalSqs;
let names = 0;
const running: SqsEventSource[] = [];

/** A queue with its own DLQ (maxReceiveCount 3), so tests do not see each other's messages. */
function queues(visibilityTimeout = '100') {
  const name = `esm${++names}`;
  sqs.createQueue(`${name}-dlq`);
  const url = sqs.createQueue(name, {
    VisibilityTimeout: visibilityTimeout,
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: sqs.queueArn(`${name}-dlq`), maxReceiveCount: 3 }),
  });
  return { name, url, arn: sqs.queueArn(name), dlq: `${name}-dlq` };
}

async function start(options: Partial<SqsEventSourceOptions> & Pick<SqsEventSourceOptions, 'queueUrl' | 'invoke'>): Promise<SqsEventSource> {
  const source = await startSqsEventSource({ endpoint: sqs.endpoint, credentials: ROLE, batchSize: 1, maximumConcurrency: 2, ...options });
  running.push(source);
  return source;
}

beforeAll(async () => {
  sqs = await startLocalSqs({ timeScale: SCALE });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await sqs.stop();
});

describe('failedItems (Lambda\'s partial batch response rules)', () => {
  const ids = ['a', 'b'];
  it.each([
    ['no response', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('%s is a complete success', (_label, response) => {
    expect(failedItems(response, ids)).toEqual({ all: false, ids: new Set() });
  });

  it('the listed message IDs fail, the rest succeed', () => {
    expect(failedItems({ batchItemFailures: [{ itemIdentifier: 'b' }] }, ids)).toEqual({ all: false, ids: new Set(['b']) });
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a bad key name', { batchItemFailures: [{ messageId: 'a' }] }],
    ['an ID not in the batch', { batchItemFailures: [{ itemIdentifier: 'zzz' }] }],
    ['a list that is not a list', { batchItemFailures: 'a' }],
    ['a response that is not an object', 'ok'],
  ])('%s is a complete failure', (_label, response) => {
    expect(failedItems(response, ids)).toEqual({ all: true });
  });
});

describe('local SQS event source mapping', () => {
  it('invokes with the Lambda SQS event shape and deletes the message on success', async () => {
    const q = queues();
    const sent = sqs.sendMessage(q.name, '{"Records":[]}', {
      senderId: 'AIDAS3',
      messageAttributes: { kind: { DataType: 'String', StringValue: 's3' }, size: { DataType: 'Number', StringValue: '7' } },
    });
    const events: SQSEvent[] = [];
    const source = await start({ queueUrl: q.url, region: 'eu-west-1', invoke: async (e) => void events.push(e) });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    expect(source.eventSourceArn).toBe(q.arn);
    expect(events).toHaveLength(1);
    const record = events[0]?.Records[0] as SQSRecord;
    expect(Object.keys(record).sort()).toEqual(
      ['attributes', 'awsRegion', 'body', 'eventSource', 'eventSourceARN', 'md5OfBody', 'md5OfMessageAttributes', 'messageAttributes', 'messageId', 'receiptHandle'].sort(),
    );
    expect(record).toMatchObject({
      messageId: sent.MessageId,
      body: '{"Records":[]}',
      md5OfBody: md5('{"Records":[]}'),
      md5OfMessageAttributes: md5OfMessageAttributes({ kind: { DataType: 'String', StringValue: 's3' }, size: { DataType: 'Number', StringValue: '7' } }),
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: 'eu-west-1',
    });
    expect(record.receiptHandle).toMatch(/^\S{20,}$/);
    expect(Object.keys(record.attributes).sort()).toEqual(['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
    expect(record.attributes).toMatchObject({ ApproximateReceiveCount: '1', SenderId: 'AIDAS3' });
    expect(Number(record.attributes.SentTimestamp)).toBeLessThanOrEqual(Number(record.attributes.ApproximateFirstReceiveTimestamp));
    expect(record.messageAttributes).toEqual({
      kind: { stringValue: 's3', stringListValues: [], binaryListValues: [], dataType: 'String' },
      size: { stringValue: '7', stringListValues: [], binaryListValues: [], dataType: 'Number' },
    });
    expect(sqs.snapshot(q.name).messages).toHaveLength(0);
  });

  it('a record without message attributes has an empty map and no md5OfMessageAttributes', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'plain');
    const records: SQSRecord[] = [];
    const source = await start({ queueUrl: q.url, invoke: async (e) => void records.push(...e.Records) });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    expect(records[0]?.messageAttributes).toEqual({});
    expect(records[0]).not.toHaveProperty('md5OfMessageAttributes');
  });

  it('a thrown error leaves the message to reappear after the visibility timeout, then the DLQ takes it', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'always fails');
    const seen: { count: string; at: number }[] = [];
    const source = await start({
      queueUrl: q.url,
      invoke: async (e) => {
        seen.push({ count: e.Records[0]?.attributes.ApproximateReceiveCount as string, at: Date.now() });
        throw new Error('boom');
      },
    });
    await waitFor('the DLQ', () => sqs.snapshot(q.dlq).messages.length === 1);
    expect(seen.map((s) => s.count)).toEqual(['1', '2', '3']);
    // Each retry waited out the (scaled) 100 s visibility timeout, 1 s here; an invocation can start a little later after
    // its receive than the one before it did, so allow 300 ms of that.
    for (let i = 1; i < seen.length; i++) expect((seen[i]?.at as number) - (seen[i - 1]?.at as number)).toBeGreaterThanOrEqual(700);
    expect(source.stats()).toMatchObject({ invocations: 3, failedInvocations: 3, failedMessages: 3, deletedMessages: 0 });
    expect(sqs.snapshot(q.name).messages).toHaveLength(0);
  });

  it('a message that fails once is retried and then deleted', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'flaky');
    let calls = 0;
    const source = await start({
      queueUrl: q.url,
      invoke: async () => {
        if (++calls === 1) throw new Error('transient');
      },
    });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    expect(calls).toBe(2);
    expect(sqs.snapshot(q.name).messages).toHaveLength(0);
    expect(sqs.snapshot(q.dlq).messages).toHaveLength(0);
  });

  it('with ReportBatchItemFailures, only the reported items reappear; the others are deleted', async () => {
    const q = queues();
    for (const body of ['ok-1', 'bad-1', 'ok-2', 'bad-2']) sqs.sendMessage(q.name, body);
    const batches: string[][] = [];
    const source = await start({
      queueUrl: q.url,
      batchSize: 10,
      maximumConcurrency: 1,
      reportBatchItemFailures: true,
      invoke: async (e) => {
        batches.push(e.Records.map((r) => `${r.body}#${r.attributes.ApproximateReceiveCount}`));
        if (batches.length > 1) return { batchItemFailures: [] };
        return { batchItemFailures: e.Records.filter((r) => r.body.startsWith('bad')).map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    await waitFor('all deleted', () => source.stats().deletedMessages === 4);
    expect(batches).toEqual([
      ['ok-1#1', 'bad-1#1', 'ok-2#1', 'bad-2#1'],
      ['bad-1#2', 'bad-2#2'],
    ]);
    expect(source.stats()).toMatchObject({ invocations: 2, failedInvocations: 0, failedMessages: 2 });
  });

  it('an invalid batch response fails the whole batch', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'x');
    let calls = 0;
    const source = await start({
      queueUrl: q.url,
      reportBatchItemFailures: true,
      invoke: async () => (++calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] } : undefined),
    });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    expect(calls).toBe(2);
    expect(source.stats().failedInvocations).toBe(1);
  });

  it('without ReportBatchItemFailures, a batchItemFailures response is ignored and everything is deleted', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'x');
    const source = await start({
      queueUrl: q.url,
      invoke: async (e) => ({ batchItemFailures: [{ itemIdentifier: e.Records[0]?.messageId }] }),
    });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    // Longer than the visibility timeout: a message left undeleted would have come back by now.
    await sleep(1300);
    expect(source.stats().invocations).toBe(1);
  });

  it('maximumConcurrency bounds the invocations in flight, and is reached', async () => {
    const q = queues('300');
    for (let i = 0; i < 15; i++) sqs.sendMessage(q.name, `m${i}`);
    let now = 0;
    let peak = 0;
    const source = await start({
      queueUrl: q.url,
      maximumConcurrency: 3,
      invoke: async () => {
        peak = Math.max(peak, ++now);
        await sleep(40);
        now--;
      },
    });
    await waitFor('all deleted', () => source.stats().deletedMessages === 15);
    expect(peak).toBe(3);
    expect(source.stats().maxInFlight).toBe(3);
    expect(source.stats().invocations).toBe(15);
  });

  it('batchSize caps the records per invocation', async () => {
    const q = queues();
    for (let i = 0; i < 5; i++) sqs.sendMessage(q.name, `m${i}`);
    const sizes: number[] = [];
    const source = await start({ queueUrl: q.url, batchSize: 2, maximumConcurrency: 1, invoke: async (e) => void sizes.push(e.Records.length) });
    await waitFor('all deleted', () => source.stats().deletedMessages === 5);
    expect(Math.max(...sizes)).toBe(2);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('stop() waits for the invocation in flight, deletes its message, and polls no more', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'slow');
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const source = await start({ queueUrl: q.url, invoke: () => gate });
    await waitFor('the invocation', () => source.inFlight() === 1);
    let stopped = false;
    const stopping = source.stop().then(() => {
      stopped = true;
    });
    await sleep(100);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(source.inFlight()).toBe(0);
    expect(source.stats().deletedMessages).toBe(1);
    sqs.sendMessage(q.name, 'after stop');
    await sleep(300);
    expect(source.stats().invocations).toBe(1);
    expect(sqs.snapshot(q.name).visible).toBe(1);
  });

  it('stop() on an idle mapping ends its long polls at once', async () => {
    const q = queues();
    const source = await start({ queueUrl: q.url, waitTimeSeconds: 20, invoke: async () => {} });
    await sleep(100);
    const started = Date.now();
    await source.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    // The endpoint drops a long poll whose client went away (once it sees the socket close), so
    // a message sent afterwards is not taken into flight for nobody.
    await sleep(50);
    sqs.sendMessage(q.name, 'untouched');
    await sleep(50);
    expect(sqs.snapshot(q.name).visible).toBe(1);
  });

  it('does not spin on an empty queue: one long poll per poller', async () => {
    const q = queues();
    const from = sqs.calls.length;
    await start({ queueUrl: q.url, maximumConcurrency: 4, invoke: async () => {} });
    const receives = () => sqs.calls.slice(from).filter((c) => c.action === 'ReceiveMessage' && c.queueArn === q.arn);
    // Each poller's first receive (a loaded machine may start them late), then nothing more while their long polls wait.
    await waitFor('four pollers', () => receives().length >= 4);
    await sleep(500);
    expect(receives()).toHaveLength(4);
  });

  it('with short polling it idles between empty receives', async () => {
    const q = queues();
    const from = sqs.calls.length;
    await start({ queueUrl: q.url, maximumConcurrency: 1, waitTimeSeconds: 0, invoke: async () => {} });
    await sleep(500);
    const receives = sqs.calls.slice(from).filter((c) => c.action === 'ReceiveMessage' && c.queueArn === q.arn).length;
    expect(receives).toBeGreaterThan(2);
    expect(receives).toBeLessThanOrEqual(12);
  });

  it('makes its SQS calls as the function\'s execution role', async () => {
    const q = queues();
    sqs.sendMessage(q.name, 'x');
    const from = sqs.calls.length;
    const source = await start({ queueUrl: q.url, invoke: async () => {} });
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
    const mine = sqs.calls.slice(from).filter((c) => c.queueArn === q.arn);
    expect(new Set(mine.map((c) => c.accessKeyId))).toEqual(new Set([ROLE.accessKeyId]));
    expect(new Set(mine.map((c) => c.iamAction))).toEqual(new Set(['sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
  });

  it('refuses to start when the function timeout exceeds the queue\'s visibility timeout, as CreateEventSourceMapping does', async () => {
    const q = queues('30');
    await expect(start({ queueUrl: q.url, functionTimeoutSeconds: 60, invoke: async () => {} })).rejects.toThrow(
      'Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds',
    );
    const ok = await start({ queueUrl: q.url, functionTimeoutSeconds: 30, invoke: async () => {} });
    expect(ok.eventSourceArn).toBe(q.arn);
  });

  it('refuses to start on a queue that does not exist, or with settings out of range', async () => {
    await expect(start({ queueUrl: sqs.queueUrl('no-such-queue'), invoke: async () => {} })).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    const q = queues();
    await expect(start({ queueUrl: q.url, batchSize: 11, invoke: async () => {} })).rejects.toThrow(/batchSize/);
    await expect(start({ queueUrl: q.url, maximumConcurrency: 0, invoke: async () => {} })).rejects.toThrow(/maximumConcurrency/);
  });

  it('reports a poller-side failure and keeps polling', async () => {
    const q = queues();
    const errors: unknown[] = [];
    const source = await start({ queueUrl: q.url, maximumConcurrency: 1, onError: (e) => errors.push(e), invoke: async () => {} });
    // The queue vanishes under the mapping: receives fail and are reported, without a tight loop.
    const from = sqs.calls.length;
    const admin = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'admin', secretAccessKey: 'x' } });
    await admin.send(new DeleteQueueCommand({ QueueUrl: q.url }));
    admin.destroy();
    await sleep(700);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect((errors[0] as Error).name).toBe('QueueDoesNotExist');
    const failedReceives = sqs.calls.slice(from).filter((c) => c.action === 'ReceiveMessage' && c.error === 'QueueDoesNotExist').length;
    expect(failedReceives).toBeLessThanOrEqual(6);
    sqs.createQueue(q.name);
    sqs.sendMessage(q.name, 'back');
    await waitFor('the delete', () => source.stats().deletedMessages === 1);
  });
});
