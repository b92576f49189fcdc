// Checks the local SQS endpoint with the real SDK v3 client (JSON protocol) and with raw Query-protocol requests as the AWS CLI sends them.
import { createHash } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidAttributeName,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  MessageNotInflight,
  PurgeQueueCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  ResourceNotFoundException,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
  UnsupportedOperation,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../local/sqs.js';
import { md5OfMessageAttributes } from '../../local/sqs-rules.js';

const SCALE = 0.01;
const KEY = 'AKIDJSONCALLER';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number }; Code?: string }> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: Error) => e,
  );
}

let sqs: LocalSqs;
let client: SQSClient;
let names = 0;
/**
 * A fresh queue per test, so tests do not see each other's messages. Unless a test sets its own, received messages stay
 * hidden for an hour (36 s at this file's scale): SQS's 30 s would be 300 ms, and a loaded machine can take that long
 * between two steps of a test that is not about messages coming back.
 */
const fresh = async (attributes: Record<string, string> = {}) => {
  const name = `q${++names}-${Date.now()}`;
  const url = (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '3600', ...attributes } }))).QueueUrl as string;
  return { name, url, arn: sqs.queueArn(name) };
};
const receive = async (url: string, extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {}) =>
  (await client.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'], ...extra })))
    .Messages ?? [];
const attributes = async (url: string, names: string[] = ['All']) =>
  (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names as never }))).Attributes ?? {};

beforeAll(async () => {
  sqs = await startLocalSqs({ timeScale: SCALE });
  client = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: KEY, secretAccessKey: 'x' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await sqs.stop();
});

describe('md5OfMessageAttributes', () => {
  it('matches published values computed by SQS clients', () => {
    expect(md5OfMessageAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } })).toBe('cd28f3b68aeee4b2eac9c66f2f694b58');
    expect(
      md5OfMessageAttributes({ ordinal: { DataType: 'Number', StringValue: '1' }, category: { DataType: 'String', StringValue: 'test' } }),
    ).toBe('d21ae90c49061e927f57df5f5d72be1f');
    expect(md5OfMessageAttributes({})).toBeUndefined();
  });
});

describe('local SQS with the SDK (JSON protocol)', () => {
  it('listens on loopback; queue URLs and ARNs have the AWS shape', async () => {
    expect(sqs.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const q = await fresh();
    expect(q.url).toBe(`${sqs.endpoint}/000000000000/${q.name}`);
    expect((await attributes(q.url, ['QueueArn'])).QueueArn).toBe(`arn:aws:sqs:us-east-1:000000000000:${q.name}`);
  });

  it('CreateQueue is idempotent for the same attributes and refuses different ones, bad names and unknown attributes', async () => {
    const q = await fresh({ VisibilityTimeout: '45' });
    const again = await client.send(new CreateQueueCommand({ QueueName: q.name, Attributes: { VisibilityTimeout: '45' } }));
    expect(again.QueueUrl).toBe(q.url);
    const clash = await rejection(client.send(new CreateQueueCommand({ QueueName: q.name, Attributes: { VisibilityTimeout: '10' } })));
    expect(clash).toBeInstanceOf(QueueNameExists);
    expect(clash.name).toBe('QueueNameExists');
    const badName = await rejection(client.send(new CreateQueueCommand({ QueueName: 'has space' })));
    expect(badName.name).toBe('InvalidParameterValue');
    const badAttr = await rejection(client.send(new CreateQueueCommand({ QueueName: 'x-unknown-attr', Attributes: { Colour: 'blue' } as never })));
    expect(badAttr).toBeInstanceOf(InvalidAttributeName);
    const badRange = await rejection(client.send(new CreateQueueCommand({ QueueName: 'x-bad-vt', Attributes: { VisibilityTimeout: '43201' } })));
    expect(badRange.name).toBe('InvalidAttributeValue');
  });

  it('refuses a RedrivePolicy whose dead-letter queue does not exist', async () => {
    const err = await rejection(
      client.send(
        new CreateQueueCommand({
          QueueName: 'x-no-dlq',
          Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: sqs.queueArn('nowhere'), maxReceiveCount: 3 }) },
        }),
      ),
    );
    expect(err.name).toBe('InvalidAttributeValue');
    expect(err.message).toMatch(/Dead letter target does not exist/);
  });

  it('GetQueueUrl and ListQueues find queues; an unknown queue is QueueDoesNotExist with the Query code', async () => {
    const a = await fresh();
    expect((await client.send(new GetQueueUrlCommand({ QueueName: a.name }))).QueueUrl).toBe(a.url);
    const listed = await client.send(new ListQueuesCommand({ QueueNamePrefix: a.name }));
    expect(listed.QueueUrls).toEqual([a.url]);
    expect((await client.send(new ListQueuesCommand({ QueueNamePrefix: 'no-such-prefix' }))).QueueUrls).toBeUndefined();
    const err = await rejection(client.send(new GetQueueUrlCommand({ QueueName: 'missing' })));
    expect(err).toBeInstanceOf(QueueDoesNotExist);
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect(err.Code).toBe('AWS.SimpleQueueService.NonExistentQueue');
    const onReceive = await rejection(receive(`${sqs.endpoint}/000000000000/missing`));
    expect(onReceive).toBeInstanceOf(QueueDoesNotExist);
  });

  it('gives receipt handles a person can paste after --receipt-handle: none begins with "-" (the AWS CLI reads that as an option)', async () => {
    // Hidden for an hour (fresh's default): the 21 receives must not see a message come back.
    const q = await fresh();
    // A random base64url handle begins with "-" one time in 64: 200 receipts make a miss unlikely to hide.
    for (let batch = 0; batch < 20; batch++) {
      await client.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `${batch}-${i}` })) }));
    }
    const handles: string[] = [];
    for (let got = await receive(q.url, { MaxNumberOfMessages: 10 }); got.length > 0; got = await receive(q.url, { MaxNumberOfMessages: 10 })) {
      handles.push(...got.map((m) => m.ReceiptHandle ?? ''));
    }
    expect(handles).toHaveLength(200);
    expect(handles.filter((h) => !/^[A-Za-z0-9]/.test(h))).toEqual([]);
  });

  it('GetQueueAttributes answers All or the names asked, with the counts', async () => {
    const dlq = await fresh();
    const policy = JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 4 });
    const q = await fresh({ VisibilityTimeout: '60', RedrivePolicy: policy });
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'a' }));
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'b' }));
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'later', DelaySeconds: 600 }));
    await receive(q.url);
    const all = await attributes(q.url);
    expect(all).toMatchObject({
      QueueArn: q.arn,
      VisibilityTimeout: '60',
      RedrivePolicy: policy,
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
      ApproximateNumberOfMessagesDelayed: '1',
      DelaySeconds: '0',
      MessageRetentionPeriod: '345600',
    });
    expect(Number(all.CreatedTimestamp)).toBeCloseTo(Date.now() / 1000, -1);
    expect(await attributes(q.url, ['ApproximateNumberOfMessages', 'QueueArn'])).toEqual({ ApproximateNumberOfMessages: '1', QueueArn: q.arn });
    expect(await rejection(attributes(q.url, ['Nope']))).toBeInstanceOf(InvalidAttributeName);
    await client.send(new SetQueueAttributesCommand({ QueueUrl: q.url, Attributes: { VisibilityTimeout: '5' } }));
    expect((await attributes(q.url, ['VisibilityTimeout'])).VisibilityTimeout).toBe('5');
  });

  it('SendMessage answers the MD5s; ReceiveMessage returns the body, system attributes and message attributes as sent', async () => {
    const q = await fresh();
    const body = '{"Records":[{"s3":{"object":{"key":"Email+Address/VIP+customers.csv"}}}]} <&> é 🙂';
    const messageAttributes = {
      kind: { DataType: 'String', StringValue: 's3' },
      size: { DataType: 'Number', StringValue: '42' },
      blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
    };
    const before = Date.now();
    const sent = await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body, MessageAttributes: messageAttributes }));
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MD5OfMessageAttributes).toBe(md5OfMessageAttributes(messageAttributes));
    const [m] = await receive(q.url);
    expect(m?.MessageId).toBe(sent.MessageId);
    expect(m?.Body).toBe(body);
    expect(m?.MD5OfBody).toBe(md5(body));
    expect(m?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(m?.MessageAttributes?.kind).toEqual({ DataType: 'String', StringValue: 's3' });
    expect(m?.MessageAttributes?.size).toEqual({ DataType: 'Number', StringValue: '42' });
    expect(m?.MessageAttributes?.blob?.DataType).toBe('Binary');
    expect([...(m?.MessageAttributes?.blob?.BinaryValue ?? [])]).toEqual([1, 2, 3]);
    expect(Object.keys(m?.Attributes ?? {}).sort()).toEqual(['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
    expect(m?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(m?.Attributes?.SenderId).toBe(KEY);
    expect(Number(m?.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(m?.Attributes?.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(m?.Attributes?.SentTimestamp));
  });

  it('returns only the attributes asked for', async () => {
    const q = await fresh();
    await client.send(
      new SendMessageCommand({
        QueueUrl: q.url,
        MessageBody: 'x',
        MessageAttributes: { 'app.kind': { DataType: 'String', StringValue: 'a' }, other: { DataType: 'String', StringValue: 'b' } },
      }),
    );
    const [m] = await receive(q.url, { MessageSystemAttributeNames: ['ApproximateReceiveCount'], MessageAttributeNames: ['app.*'] });
    expect(m?.Attributes).toEqual({ ApproximateReceiveCount: '1' });
    expect(Object.keys(m?.MessageAttributes ?? {})).toEqual(['app.kind']);
    const bare = await client.send(new ReceiveMessageCommand({ QueueUrl: q.url, VisibilityTimeout: 0 }));
    expect(bare.Messages?.[0]?.Attributes).toBeUndefined();
    expect(bare.Messages?.[0]?.MessageAttributes).toBeUndefined();
  });

  it('refuses bad message attributes and bodies', async () => {
    const q = await fresh();
    const send = (input: Partial<ConstructorParameters<typeof SendMessageCommand>[0]>) =>
      rejection(client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'x', ...input })));
    expect((await send({ MessageAttributes: { n: { DataType: 'Number', StringValue: 'abc' } } })).name).toBe('InvalidParameterValue');
    expect((await send({ MessageAttributes: { n: { DataType: 'Text', StringValue: 'abc' } } })).name).toBe('InvalidParameterValue');
    expect((await send({ MessageBody: 'bell\u0007' })).name).toBe('InvalidMessageContents');
    expect((await send({ DelaySeconds: 901 })).name).toBe('InvalidParameterValue');
  });

  it('a received message is hidden for its visibility timeout, then comes back with a higher ApproximateReceiveCount', async () => {
    // 100 s at time scale 0.01: 1 s, room for a loaded machine between the steps that must fall inside it.
    const q = await fresh({ VisibilityTimeout: '100' });
    const { MessageId } = await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'retry me' }));
    const [first] = await receive(q.url);
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(await receive(q.url)).toEqual([]);
    expect((await attributes(q.url, ['ApproximateNumberOfMessagesNotVisible'])).ApproximateNumberOfMessagesNotVisible).toBe('1');
    await sleep(1200);
    const [second] = await receive(q.url);
    expect(second?.MessageId).toBe(MessageId);
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second?.Attributes?.ApproximateFirstReceiveTimestamp).toBe(first?.Attributes?.ApproximateFirstReceiveTimestamp);
    expect(second?.Attributes?.SentTimestamp).toBe(first?.Attributes?.SentTimestamp);
    await sleep(1200);
    const [third] = await receive(q.url);
    expect(third?.Attributes?.ApproximateReceiveCount).toBe('3');
  });

  it('ReceiveMessage VisibilityTimeout overrides the queue; ChangeMessageVisibility shortens or extends it', async () => {
    // The queue's 100 s is 1 s here.
    const q = await fresh({ VisibilityTimeout: '100' });
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'v' }));
    const [m] = await receive(q.url, { VisibilityTimeout: 0 });
    const [again] = await receive(q.url, { VisibilityTimeout: 3600 });
    expect(again?.MessageId).toBe(m?.MessageId);
    expect(await receive(q.url)).toEqual([]);
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: again?.ReceiptHandle, VisibilityTimeout: 0 }));
    const [third] = await receive(q.url);
    expect(third?.Attributes?.ApproximateReceiveCount).toBe('3');
    // Extended to 300 s (3 s here): still hidden after the queue's 100 s would have run out.
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: third?.ReceiptHandle, VisibilityTimeout: 300 }));
    await sleep(1500);
    expect(await receive(q.url)).toEqual([]);
    await sleep(1700);
    expect(await receive(q.url, { VisibilityTimeout: 0 })).toHaveLength(1);
  });

  it('ChangeMessageVisibility refuses a message not in flight, a stale handle and a made-up one', async () => {
    const q = await fresh();
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'v' }));
    const [m] = await receive(q.url, { VisibilityTimeout: 0 });
    const notInFlight = await rejection(client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m?.ReceiptHandle, VisibilityTimeout: 10 })));
    expect(notInFlight).toBeInstanceOf(MessageNotInflight);
    await receive(q.url);
    const stale = await rejection(client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m?.ReceiptHandle, VisibilityTimeout: 10 })));
    expect(stale).toBeInstanceOf(MessageNotInflight);
    const bogus = await rejection(client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: 'made-up', VisibilityTimeout: 10 })));
    expect(bogus).toBeInstanceOf(ReceiptHandleIsInvalid);
    expect(bogus.$metadata?.httpStatusCode).toBe(404);
  });

  it('DeleteMessage deletes with the latest handle; a stale handle succeeds but deletes nothing, as SQS documents', async () => {
    const q = await fresh();
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'd' }));
    const [first] = await receive(q.url, { VisibilityTimeout: 0 });
    const [second] = await receive(q.url);
    await client.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: first?.ReceiptHandle }));
    expect(sqs.snapshot(q.name).messages).toHaveLength(1);
    await client.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: second?.ReceiptHandle }));
    expect(sqs.snapshot(q.name).messages).toHaveLength(0);
    // Deleting again is harmless; a handle SQS never gave is not.
    await client.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: second?.ReceiptHandle }));
    expect(await rejection(client.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: 'made-up' })))).toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('SendMessageBatch and DeleteMessageBatch answer per entry', async () => {
    const q = await fresh();
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: q.url,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          { Id: 'b', MessageBody: 'two', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
          { Id: 'c', MessageBody: 'three', DelaySeconds: 901 },
        ],
      }),
    );
    expect(sent.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    expect(sent.Successful?.[1]?.MD5OfMessageBody).toBe(md5('two'));
    expect(sent.Failed).toEqual([expect.objectContaining({ Id: 'c', SenderFault: true, Code: 'InvalidParameterValue' })]);
    const messages = await receive(q.url, { MaxNumberOfMessages: 10 });
    expect(messages.map((m) => m.Body)).toEqual(['one', 'two']);
    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: q.url,
        Entries: [
          { Id: 'x', ReceiptHandle: messages[0]?.ReceiptHandle },
          { Id: 'y', ReceiptHandle: 'made-up' },
        ],
      }),
    );
    expect(deleted.Successful).toEqual([{ Id: 'x' }]);
    expect(deleted.Failed).toEqual([expect.objectContaining({ Id: 'y', Code: 'ReceiptHandleIsInvalid', SenderFault: true })]);
    expect(sqs.snapshot(q.name).messages.map((m) => m.body)).toEqual(['two']);
    expect(await rejection(client.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: [] })))).toBeInstanceOf(EmptyBatchRequest);
    const dup = await rejection(
      client.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: 'z', ReceiptHandle: 'h' }, { Id: 'z', ReceiptHandle: 'h' }] })),
    );
    expect(dup.name).toBe('BatchEntryIdsNotDistinct');
  });

  it('MaxNumberOfMessages caps a receive and is checked', async () => {
    const q = await fresh();
    for (let i = 0; i < 12; i++) await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: `m${i}` }));
    expect(await receive(q.url)).toHaveLength(1);
    const ten = await receive(q.url, { MaxNumberOfMessages: 10 });
    expect(ten.map((m) => m.Body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    expect((await rejection(receive(q.url, { MaxNumberOfMessages: 11 }))).name).toBe('InvalidParameterValue');
  });

  it('DelaySeconds, the message\'s or the queue\'s, hides a new message for that long (scaled)', async () => {
    // 100 s is 1 s here: room for a loaded machine to send and receive before it is over.
    const q = await fresh({ DelaySeconds: '100' });
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'queue delay' }));
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'no delay', DelaySeconds: 0 }));
    expect((await receive(q.url, { MaxNumberOfMessages: 10 })).map((m) => m.Body)).toEqual(['no delay']);
    expect(sqs.snapshot(q.name).delayed).toBe(1);
    await sleep(1300);
    expect((await receive(q.url, { MaxNumberOfMessages: 10 })).map((m) => m.Body)).toEqual(['queue delay']);
  });

  it('PurgeQueue deletes every message, in flight or not', async () => {
    const q = await fresh();
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '1' }));
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '2' }));
    await receive(q.url);
    await client.send(new PurgeQueueCommand({ QueueUrl: q.url }));
    expect(sqs.snapshot(q.name)).toMatchObject({ visible: 0, inFlight: 0, delayed: 0 });
  });

  describe('long polling', () => {
    it('answers as soon as a message arrives', async () => {
      const q = await fresh();
      const started = Date.now();
      const polling = receive(q.url, { WaitTimeSeconds: 10 });
      await sleep(150);
      await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'late' }));
      const got = await polling;
      expect(got.map((m) => m.Body)).toEqual(['late']);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('answers when a hidden message becomes visible during the wait', async () => {
      const q = await fresh({ VisibilityTimeout: '30' });
      await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'comes back' }));
      await receive(q.url);
      const started = Date.now();
      const got = await receive(q.url, { WaitTimeSeconds: 10 });
      expect(got.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['2']);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('answers empty when the wait is over (WaitTimeSeconds is not scaled), and uses the queue\'s ReceiveMessageWaitTimeSeconds', async () => {
      const q = await fresh({ ReceiveMessageWaitTimeSeconds: '2' });
      const started = Date.now();
      expect(await receive(q.url)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1950);
      const quick = Date.now();
      expect(await receive(q.url, { WaitTimeSeconds: 0 })).toEqual([]);
      expect(Date.now() - quick).toBeLessThan(1000);
    });
  });

  describe('time scale', () => {
    it('at 1, a visibility timeout lasts real seconds', async () => {
      const real = await startLocalSqs({ queues: [{ name: 'real', attributes: { VisibilityTimeout: '2' } }] });
      const c = new SQSClient({ endpoint: real.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 'x' }, maxAttempts: 1 });
      try {
        const url = real.queueUrl('real');
        await c.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'slow' }));
        await c.send(new ReceiveMessageCommand({ QueueUrl: url }));
        await sleep(1000);
        expect((await c.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();
        await sleep(1300);
        expect((await c.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toHaveLength(1);
      } finally {
        c.destroy();
        await real.stop();
      }
    });

    it('is refused when not positive, and the refused endpoint leaves its port free', async () => {
      const probe = createServer();
      const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      await expect(startLocalSqs({ port, timeScale: 0 })).rejects.toThrow(/timeScale/);
      const again = await startLocalSqs({ port });
      await again.stop();
    });
  });

  describe('dead-letter queue', () => {
    it('the receive that would exceed maxReceiveCount moves the message to the DLQ, which keeps its id and count', async () => {
      const dlq = await fresh();
      const q = await fresh({ VisibilityTimeout: '20', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: '2' }) });
      const { MessageId } = await client.send(
        new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'poison', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }),
      );
      expect((await receive(q.url, { VisibilityTimeout: 0 }))[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
      expect((await receive(q.url, { VisibilityTimeout: 0 }))[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
      expect(await receive(q.url)).toEqual([]);
      expect(sqs.snapshot(q.name).messages).toHaveLength(0);
      const [dead] = await receive(dlq.url);
      expect(dead?.MessageId).toBe(MessageId);
      expect(dead?.Body).toBe('poison');
      expect(dead?.MessageAttributes?.k?.StringValue).toBe('v');
      expect(dead?.Attributes?.ApproximateReceiveCount).toBe('3');
      expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(q.arn);
    });

    it('StartMessageMoveTask sends DLQ messages back to their source as new messages, attributes kept', async () => {
      const dlq = await fresh();
      const q = await fresh({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }) });
      const { MessageId } = await client.send(
        new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'again', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }),
      );
      await receive(q.url, { VisibilityTimeout: 0 });
      await receive(q.url);
      expect(sqs.snapshot(dlq.name).messages.map((m) => m.messageId)).toEqual([MessageId]);
      const { TaskHandle } = await client.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }));
      expect(TaskHandle).toBeTruthy();
      expect(sqs.snapshot(dlq.name).messages).toHaveLength(0);
      const [back] = await receive(q.url);
      expect(back?.Body).toBe('again');
      expect(back?.MessageAttributes?.k?.StringValue).toBe('v');
      expect(back?.MessageId).not.toBe(MessageId);
      expect(back?.Attributes?.ApproximateReceiveCount).toBe('1');
      expect(back?.Attributes?.DeadLetterQueueSourceArn).toBeUndefined();
      const tasks = await client.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn }));
      expect(tasks.Results?.[0]).toMatchObject({ TaskHandle, Status: 'COMPLETED', SourceArn: dlq.arn, ApproximateNumberOfMessagesMoved: 1 });
    });

    it('StartMessageMoveTask moves to a DestinationArn when given, and refuses a queue that is no DLQ or does not exist', async () => {
      const dlq = await fresh();
      await fresh({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }) });
      const other = await fresh();
      await client.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'parked' }));
      await client.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: other.arn }));
      expect(sqs.snapshot(other.name).messages.map((m) => m.body)).toEqual(['parked']);
      expect(await rejection(client.send(new StartMessageMoveTaskCommand({ SourceArn: other.arn })))).toBeInstanceOf(UnsupportedOperation);
      expect(await rejection(client.send(new StartMessageMoveTaskCommand({ SourceArn: sqs.queueArn('gone') })))).toBeInstanceOf(ResourceNotFoundException);
    });

    it('a message sent straight to the DLQ has no source to go back to: the task says so and leaves it', async () => {
      const dlq = await fresh();
      await fresh({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }) });
      await client.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'orphan' }));
      await client.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }));
      const [task] = (await client.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn }))).Results ?? [];
      expect(task).toMatchObject({ Status: 'FAILED', ApproximateNumberOfMessagesMoved: 0, ApproximateNumberOfMessagesToMove: 1 });
      expect(task?.FailureReason).toMatch(/DestinationArn/);
      expect(sqs.snapshot(dlq.name).messages).toHaveLength(1);
    });
  });

  it('records every call with its action, IAM action, queue ARN and the caller\'s access key id', async () => {
    const q = await fresh();
    const from = sqs.calls.length;
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'r' }));
    const [m] = await receive(q.url);
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: '1', ReceiptHandle: m?.ReceiptHandle }] }));
    await rejection(receive(`${sqs.endpoint}/000000000000/not-there`));
    await client.send(new ListQueuesCommand({}));
    const recorded = sqs.calls.slice(from).map(({ action, iamAction, queueArn, accessKeyId, protocol, error }) => ({
      action,
      iamAction,
      queueArn,
      accessKeyId,
      protocol,
      error,
    }));
    expect(recorded).toEqual([
      { action: 'SendMessage', iamAction: 'sqs:SendMessage', queueArn: q.arn, accessKeyId: KEY, protocol: 'json', error: undefined },
      { action: 'ReceiveMessage', iamAction: 'sqs:ReceiveMessage', queueArn: q.arn, accessKeyId: KEY, protocol: 'json', error: undefined },
      { action: 'DeleteMessageBatch', iamAction: 'sqs:DeleteMessage', queueArn: q.arn, accessKeyId: KEY, protocol: 'json', error: undefined },
      {
        action: 'ReceiveMessage',
        iamAction: 'sqs:ReceiveMessage',
        queueArn: sqs.queueArn('not-there'),
        accessKeyId: KEY,
        protocol: 'json',
        error: 'QueueDoesNotExist',
      },
      { action: 'ListQueues', iamAction: 'sqs:ListQueues', queueArn: undefined, accessKeyId: KEY, protocol: 'json', error: undefined },
    ]);
  });

  it('in-process helpers create, send and look without recording a call', async () => {
    const from = sqs.calls.length;
    const url = sqs.createQueue('in-process', { VisibilityTimeout: '10' });
    expect(url).toBe(sqs.queueUrl('in-process'));
    const sent = sqs.sendMessage('in-process', 'from s3', { senderId: 'AIDAS3SERVICE' });
    expect(sent.MD5OfMessageBody).toBe(md5('from s3'));
    expect(sqs.snapshot('in-process')).toMatchObject({ visible: 1, inFlight: 0, delayed: 0, messages: [{ body: 'from s3', receiveCount: 0, state: 'visible' }] });
    expect(sqs.calls.length).toBe(from);
    const [m] = await receive(url);
    expect(m?.Attributes?.SenderId).toBe('AIDAS3SERVICE');
  });
});

describe('local SQS with Query-protocol requests (as the AWS CLI v2.9 sends them)', () => {
  const QUERY_KEY = 'AKIDQUERYCALLER';
  const post = async (params: Record<string, string>) => {
    const res = await fetch(`${sqs.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        authorization: `AWS4-HMAC-SHA256 Credential=${QUERY_KEY}/20261129/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00`,
      },
      body: new URLSearchParams({ Version: '2012-11-05', ...params }).toString(),
    });
    return { status: res.status, xml: await res.text() };
  };
  /** Text of every <tag>…</tag>, unescaped. */
  const values = (xml: string, tag: string) =>
    [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) =>
      (m[1] as string).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'),
    );
  const attribute = (xml: string, name: string) =>
    values(xml, 'Attribute')
      .map((a) => ({ name: values(a, 'Name')[0], value: values(a, 'Value')[0] }))
      .find((a) => a.name === name)?.value;

  it('send-message, receive-message, delete-message, get-queue-attributes', async () => {
    const q = await fresh();
    const body = 'key=Email Address/VIP <customers> & "friends".csv';
    const sent = await post({
      Action: 'SendMessage',
      QueueUrl: q.url,
      MessageBody: body,
      'MessageAttribute.1.Name': 'kind',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 's3',
    });
    expect(sent.status).toBe(200);
    expect(sent.xml).toMatch(/^<\?xml version="1.0"\?><SendMessageResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><SendMessageResult>/);
    expect(values(sent.xml, 'MD5OfMessageBody')).toEqual([md5(body)]);
    expect(values(sent.xml, 'MD5OfMessageAttributes')).toEqual([md5OfMessageAttributes({ kind: { DataType: 'String', StringValue: 's3' } })]);
    const [messageId] = values(sent.xml, 'MessageId');

    const got = await post({
      Action: 'ReceiveMessage',
      QueueUrl: q.url,
      'AttributeName.1': 'All',
      'MessageAttributeName.1': 'All',
      MaxNumberOfMessages: '10',
    });
    expect(got.status).toBe(200);
    const [message] = values(got.xml, 'Message');
    expect(values(message as string, 'MessageId')).toEqual([messageId]);
    expect(values(message as string, 'Body')).toEqual([body]);
    expect(values(message as string, 'MD5OfBody')).toEqual([md5(body)]);
    expect(attribute(message as string, 'ApproximateReceiveCount')).toBe('1');
    expect(attribute(message as string, 'SenderId')).toBe(QUERY_KEY);
    expect(values(message as string, 'MessageAttribute')).toEqual(['<Name>kind</Name><Value><StringValue>s3</StringValue><DataType>String</DataType></Value>']);

    const counts = await post({ Action: 'GetQueueAttributes', QueueUrl: q.url, 'AttributeName.1': 'All' });
    expect(attribute(counts.xml, 'ApproximateNumberOfMessagesNotVisible')).toBe('1');
    expect(attribute(counts.xml, 'QueueArn')).toBe(q.arn);
    const some = await post({ Action: 'GetQueueAttributes', QueueUrl: q.url, 'AttributeName.1': 'ApproximateNumberOfMessages', 'AttributeName.2': 'VisibilityTimeout' });
    expect(values(some.xml, 'Name')).toEqual(['ApproximateNumberOfMessages', 'VisibilityTimeout']);

    const deleted = await post({ Action: 'DeleteMessage', QueueUrl: q.url, ReceiptHandle: values(message as string, 'ReceiptHandle')[0] as string });
    expect(deleted.status).toBe(200);
    expect(deleted.xml).toMatch(/^<\?xml version="1.0"\?><DeleteMessageResponse xmlns="[^"]+"><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DeleteMessageResponse>$/);
    expect(sqs.snapshot(q.name).messages).toHaveLength(0);
  });

  it('start-message-move-task redrives the DLQ', async () => {
    const dlq = await fresh();
    const q = await fresh({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }) });
    await post({ Action: 'SendMessage', QueueUrl: q.url, MessageBody: 'to and fro' });
    await post({ Action: 'ReceiveMessage', QueueUrl: q.url, VisibilityTimeout: '0' });
    await post({ Action: 'ReceiveMessage', QueueUrl: q.url });
    expect(sqs.snapshot(dlq.name).messages).toHaveLength(1);
    const task = await post({ Action: 'StartMessageMoveTask', SourceArn: dlq.arn });
    expect(task.status).toBe(200);
    expect(values(task.xml, 'TaskHandle')[0]).toBeTruthy();
    expect(sqs.snapshot(q.name).messages).toMatchObject([{ body: 'to and fro', receiveCount: 0 }]);
  });

  it('answers errors as an ErrorResponse with the Query code', async () => {
    const missing = await post({ Action: 'ReceiveMessage', QueueUrl: `${sqs.endpoint}/000000000000/missing` });
    expect(missing.status).toBe(400);
    expect(values(missing.xml, 'Type')).toEqual(['Sender']);
    expect(values(missing.xml, 'Code')).toEqual(['AWS.SimpleQueueService.NonExistentQueue']);
    expect(values(missing.xml, 'Message')).toEqual(['The specified queue does not exist.']);
    const q = await fresh();
    const bad = await post({ Action: 'DeleteMessage', QueueUrl: q.url, ReceiptHandle: 'made-up' });
    expect(bad.status).toBe(404);
    expect(values(bad.xml, 'Code')).toEqual(['ReceiptHandleIsInvalid']);
    const unknown = await post({ Action: 'FlyToTheMoon' });
    expect(unknown.status).toBe(400);
    expect(values(unknown.xml, 'Code')).toEqual(['InvalidAction']);
    const noParam = await post({ Action: 'DeleteMessage', QueueUrl: q.url });
    expect(values(noParam.xml, 'Code')).toEqual(['MissingParameter']);
  });

  it('records Query calls with the caller\'s key', async () => {
    const q = await fresh();
    const from = sqs.calls.length;
    await post({ Action: 'SendMessage', QueueUrl: q.url, MessageBody: 'x' });
    expect(sqs.calls.slice(from)).toEqual([
      expect.objectContaining({ action: 'SendMessage', iamAction: 'sqs:SendMessage', queueArn: q.arn, accessKeyId: QUERY_KEY, protocol: 'query' }),
    ]);
  });
});
