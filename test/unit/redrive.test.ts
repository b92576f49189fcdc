// The redrive command against the emulators: s3rver, dynalite with the template's own table, and the local SQS endpoint.
import type { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbUploadsStore } from '../../lambdas/adapters/dynamodb-uploads-store.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { UploadsTable } from '../../lambdas/shared/contract.js';
import { type CfnTableProperties, createTableFromTemplate, type LocalDynamoDb, startDynalite } from '../../local/dynamodb.js';
import { FakeClock } from '../../local/fakes.js';
import { ExitCode, type RedriveClients, type RedriveResult, redrive } from '../../local/redrive.js';
import { type RedriveChoice, type RedriveOptions, UsageError } from '../../local/redrive-args.js';
import { encodeS3EventKey, type S3rverEvent } from '../../local/s3-events.js';
import { type LocalSqs, startLocalSqs } from '../../local/sqs.js';
import { synth } from '../infra/synth.js';
import { LOCAL_CREDENTIALS, S3RVER_CLIENT_SETTINGS } from '../../local/local-account.js';
import { type S3rverOnLoopback, startS3rver } from '../../local/s3rver.js';

const REGION = 'us-east-1';
const BUCKET = 'fps-drop-redrive';
const SCAN = { visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 };

let table: CfnTableProperties;
let db: LocalDynamoDb;
let s3rver: S3rverOnLoopback;
let sqs: LocalSqs;
let clients: RedriveClients & { s3: S3Client; sqs: SQSClient; dynamodb: DynamoDBClient };
const s3Events: S3rverEvent[] = [];
let tables = 0;

beforeAll(async () => {
  // The uploads table exactly as the stack defines it (keys and the byStatus index).
  const synthesized = synth({ partnerName: 'redrive' }, { bundle: false });
  try {
    const resources = Object.values(synthesized.resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(resources).toHaveLength(1);
    table = resources[0]?.Properties as unknown as CfnTableProperties;
    expect(table.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toContain(UploadsTable.byStatusIndex);
  } finally {
    synthesized.cleanUp();
  }
  db = await startDynalite();
  s3rver = await startS3rver({ buckets: [BUCKET], beforeStart: (server) => server.on('event', (event: S3rverEvent) => s3Events.push(event)) });
  sqs = await startLocalSqs();
  const config = { region: REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  clients = {
    dynamodb: new DynamoDBClient({ ...config, endpoint: db.endpoint }),
    s3: new S3Client({ ...S3RVER_CLIENT_SETTINGS, ...config, endpoint: s3rver.endpoint }),
    sqs: new SQSClient({ ...config, endpoint: sqs.endpoint }),
  };
});

afterAll(async () => {
  for (const client of [clients?.dynamodb, clients?.s3, clients?.sqs]) client?.destroy();
  await sqs?.stop();
  await s3rver?.stop();
  await db?.stop();
});

/** A fresh table and failure queue per test. */
async function freshNames() {
  const n = ++tables;
  const name = `uploads-${n}`;
  const queue = `FailedUploadsQueue-${n}`;
  await createTableFromTemplate(db.endpoint, name, table);
  return {
    table: name,
    queueUrl: sqs.createQueue(queue),
    store: new DynamoDbUploadsStore(clients.dynamodb, name, new FakeClock()),
    /** Sends as S3 or Lambda would. */
    send: (body: unknown) => sqs.sendMessage(queue, JSON.stringify(body)),
  };
}

function failedRecord(uploadId: string, key: string, sequencer: string, fields: Partial<UploadRecord> = {}): UploadRecord {
  const at = new Date().toISOString();
  return {
    uploadId,
    bucket: BUCKET,
    key,
    // The bucket keeps no versions (s3rver has none): the trigger records the event's sequencer.
    versionId: sequencer,
    sequencer,
    size: 0,
    status: 'failed',
    reason: 'Unauthorized: check the token secret',
    lastError: '401 Unauthorized',
    receivedAt: at,
    updatedAt: at,
    ...fields,
  };
}

function s3Event(key: string, sequencer: string) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: REGION,
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        s3: { s3SchemaVersion: '1.0', bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` }, object: { key: encodeS3EventKey(key), size: 14, sequencer } },
      },
    ],
  };
}

/** Lambda's on-failure destination record, as the asynchronous transport sends it to the queue. */
function destinationRecord(key: string, sequencer: string) {
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Trigger:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: s3Event(key, sequencer),
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'UploadFailedError', errorMessage: 'Unauthorized: check the token secret' },
  };
}

function options(names: { table: string; queueUrl: string }, choice: RedriveChoice, extra: Partial<RedriveOptions> = {}): RedriveOptions {
  return { names: { table: names.table, bucket: BUCKET, queueUrl: names.queueUrl }, statuses: ['failed'], choice, yes: true, ...extra };
}

async function run(opts: RedriveOptions, confirm?: (question: string) => Promise<boolean>): Promise<{ result: RedriveResult; out: string[] }> {
  const out: string[] = [];
  const result = await redrive(opts, clients, { info: (line) => out.push(line), warn: (line) => out.push(`WARN ${line}`), confirm }, SCAN);
  return { result, out };
}

async function receiveAll(queueUrl: string): Promise<{ id: string; body: string }[]> {
  const got = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }));
  return (got.Messages ?? []).map((m) => ({ id: m.MessageId ?? '', body: m.Body ?? '' }));
}

const copiesOf = (key: string) => s3Events.filter((e) => e.Records[0]?.eventName === 'ObjectCreated:Copy' && e.Records[0]?.s3.object.key === key);

describe('redrive on the emulators', () => {
  it('copies a metadata-named failed upload with its metadata and content type, deletes its message, leaves the others, and skips a missing object', async () => {
    const names = await freshNames();
    const key = 'Email Address/export 2026-11 (all).csv';
    const body = 'a@example.com\n';
    const metadata = { 'segment-name': 'Gold', 'attribute-name': 'email', 'segment-note': '=?UTF-8?B?w7xiZXJzaWNodA==?=' };
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: body,
        Metadata: metadata,
        ContentType: 'text/csv; charset=utf-8',
        CacheControl: 'no-store',
        ContentDisposition: 'attachment; filename="export.csv"',
      }),
    );
    const before = await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const gold = failedRecord('gold', key, '0000000000000000A1', { size: Buffer.byteLength(body), segmentName: 'Gold', attributeName: 'email' });
    const gone = failedRecord('gone', 'em/gone.csv', '0000000000000000B1', { segmentName: 'gone', updatedAt: '2026-11-01T00:00:00.000Z' });
    const rejected = failedRecord('rejected', key, '0000000000000000C1', { status: 'rejected', reason: 'Segment name in use' });
    for (const r of [gold, gone, rejected]) await names.store.create(r);

    const goldMessage = names.send(destinationRecord(key, gold.sequencer as string));
    const keep = [
      // The same key's later version failed too: a different upload.
      s3Event(key, '0000000000000000A2'),
      destinationRecord('em/gone.csv', '0000000000000000B1'),
      { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: BUCKET },
    ];
    for (const message of keep) names.send(message);

    const { result, out } = await run(options(names, { kind: 'all' }));

    expect(result.exitCode).toBe(ExitCode.notAllRedriven);
    expect(result.listed.map((r) => r.uploadId)).toEqual(['gold', 'gone']);
    expect(result.redriven).toEqual([{ uploadId: 'gold', bucket: BUCKET, key, sourceVersionId: undefined, newVersionId: undefined }]);
    expect(result.notRedriven).toEqual([{ uploadId: 'gone', reason: `s3://${BUCKET}/em/gone.csv no longer exists (deleted or expired); nothing to copy` }]);
    expect(out.join('\n')).toMatch(/WARN \[2\/2\] gone s3:\/\/fps-drop-redrive\/em\/gone\.csv: skipped, .* no longer exists/);
    expect(out.join('\n')).toMatch(/\[1\/2\] gold .*: the bucket keeps no versions/);
    expect(out.join('\n')).toMatch(/metadata segment-name=Gold, attribute-name=email, segment-note=.*; content type text\/csv; charset=utf-8/);

    // The copy is a new object event with everything the user set kept, and the same bytes.
    expect(copiesOf(key)).toHaveLength(1);
    const after = await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    // Everything the user set, and which upload the copy redrives (its name keeps that upload's time).
    expect(after.Metadata).toEqual({ ...metadata, 'redrive-of': 'gold' });
    expect(after.ContentType).toBe('text/csv; charset=utf-8');
    expect(after.CacheControl).toBe('no-store');
    expect(after.ContentDisposition).toBe('attachment; filename="export.csv"');
    expect(after.ETag).toBe(before.ETag);
    // The old record stays as it was, but for the mark that keeps it from being redriven twice (s3rver
    // keeps no versions, so the new upload's id cannot be known here: no redrivenAs).
    expect(await names.store.get('gold')).toEqual({ ...gold, redrivenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });

    expect(result.deletedMessages).toEqual([{ messageId: goldMessage.MessageId, uploadIds: ['gold'] }]);
    expect(result.keptMessages).toBe(3);
    // The others are visible again at once, untouched.
    const left = await receiveAll(names.queueUrl);
    expect(left.map((m) => m.body).sort()).toEqual(keep.map((m) => JSON.stringify(m)).sort());
  });

  it('only lists without a choice: newest first, nothing copied, the queue untouched', async () => {
    const names = await freshNames();
    const key = 'em/listed.csv';
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x\n', ContentType: 'text/csv' }));
    await names.store.create(failedRecord('older', key, '0000000000000000D1', { updatedAt: '2026-11-02T00:00:00.000Z', segmentName: 'listed' }));
    await names.store.create(failedRecord('newer', key, '0000000000000000D2', { updatedAt: '2026-11-03T00:00:00.000Z', segmentName: 'listed' }));
    await names.store.create(failedRecord('timed', key, '0000000000000000D3', { status: 'timed_out', updatedAt: '2026-11-04T00:00:00.000Z' }));
    await names.store.create(failedRecord('early', key, '0000000000000000D4', { updatedAt: '2026-10-01T00:00:00.000Z' }));
    names.send(destinationRecord(key, '0000000000000000D1'));

    const { result, out } = await run(options(names, { kind: 'list' }, { statuses: ['failed', 'timed_out'], since: '2026-11-01T00:00:00.000Z' }));

    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.listed.map((r) => r.uploadId)).toEqual(['timed', 'newer', 'older']);
    const text = out.join('\n');
    expect(text).toContain('3 failed or timed_out uploads updated since 2026-11-01T00:00:00.000Z, newest first:');
    expect(text.indexOf('newer ')).toBeLessThan(text.indexOf('older '));
    expect(text).toContain('Nothing changed. To redrive, add --all or --upload-id <id>');
    expect(copiesOf(key)).toHaveLength(0);
    expect(await receiveAll(names.queueUrl)).toHaveLength(1);
  });

  it('redrives only the chosen id, reports an id that is not listed, and asks first', async () => {
    const names = await freshNames();
    const key = 'em/chosen.csv';
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'y\n', ContentType: 'text/csv', Metadata: { 'segment-name': 'Chosen' } }));
    const chosen = failedRecord('chosen', key, '0000000000000000E1', { size: 2 });
    await names.store.create(chosen);
    await names.store.create(failedRecord('other', 'em/other.csv', '0000000000000000E2'));
    const choice: RedriveChoice = { kind: 'ids', uploadIds: ['chosen', 'completed-one'] };

    // Nobody can confirm (stdin is not a terminal) and no --yes: refused.
    const refused = await run(options(names, choice, { yes: false }));
    expect(refused.result.exitCode).toBe(ExitCode.usage);
    expect(refused.out.join('\n')).toContain('Add --yes');
    // Declined at the prompt.
    const questions: string[] = [];
    const declined = await run(options(names, choice, { yes: false }), async (q) => {
      questions.push(q);
      return false;
    });
    expect(declined.out).toContain('Nothing redriven.');
    expect(questions).toEqual([expect.stringMatching(/^Redrive 1 upload\? .* \[y\/N\] $/)]);
    expect(copiesOf(key)).toHaveLength(0);

    const { result, out } = await run(options(names, choice, { yes: false }), async () => true);
    expect(result.redriven.map((r) => r.uploadId)).toEqual(['chosen']);
    expect(result.notRedriven).toEqual([{ uploadId: 'completed-one', reason: 'not among the failed uploads listed above' }]);
    expect(result.exitCode).toBe(ExitCode.notAllRedriven);
    expect(out.join('\n')).toContain('had none (rejected and timed-out uploads never have one;');
    expect(copiesOf(key)).toHaveLength(1);
    expect(copiesOf('em/other.csv')).toHaveLength(0);
    expect((await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).Metadata).toEqual({ 'segment-name': 'Chosen', 'redrive-of': 'chosen' });
  });

  it('never redrives an upload twice: a second run lists it apart and copies nothing; --all holds back one Insider may have', async () => {
    const names = await freshNames();
    const key = 'em/twice.csv';
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'w\n', ContentType: 'text/csv', Metadata: { 'segment-name-template': '{name} {n}' } }));
    await names.store.create(failedRecord('twice', key, '0000000000000000H1', { size: 2 }));
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'em/maybe.csv', Body: 'm\n', ContentType: 'text/csv' }));
    await names.store.create(failedRecord('maybe', 'em/maybe.csv', '0000000000000000H2', { size: 2, possiblyAccepted: true }));

    const first = await run(options(names, { kind: 'all' }));
    expect(first.result.redriven.map((r) => r.uploadId)).toEqual(['twice']);
    expect(first.result.notRedriven).toEqual([{ uploadId: 'maybe', reason: expect.stringMatching(/^Insider may already have it \(possiblyAccepted\)/) }]);
    expect(copiesOf(key)).toHaveLength(1);
    expect(copiesOf('em/maybe.csv')).toHaveLength(0);

    // The same command again, as the hostile run did after another upload failed.
    const second = await run(options(names, { kind: 'all' }));
    expect(second.result.listed.map((r) => r.uploadId)).toEqual(['maybe']);
    expect(second.result.alreadyRedriven.map((r) => r.uploadId)).toEqual(['twice']);
    expect(second.result.redriven).toEqual([]);
    expect(second.out.join('\n')).toContain('Not listed: 1 upload that an earlier run redrove already (redrivenAt on the record; the new upload has its own record): twice.');
    expect(copiesOf(key)).toHaveLength(1);

    // Asked for by its id: refused, and told why.
    const byId = await run(options(names, { kind: 'ids', uploadIds: ['twice'] }));
    expect(byId.result.notRedriven).toEqual([{ uploadId: 'twice', reason: expect.stringMatching(/^redriven already at \d{4}-.*: follow that upload instead$/) }]);
    expect(copiesOf(key)).toHaveLength(1);

    // A person who looked in Insider's panel chooses the held one by its id.
    const maybe = await run(options(names, { kind: 'ids', uploadIds: ['maybe'] }));
    expect(maybe.result.redriven.map((r) => r.uploadId)).toEqual(['maybe']);
    expect(copiesOf('em/maybe.csv')).toHaveLength(1);
  });

  it('still reports the copies when the failure queue cannot be read, and exits non-zero', async () => {
    const names = await freshNames();
    const key = 'em/queue-gone.csv';
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'z\n', ContentType: 'text/csv' }));
    await names.store.create(failedRecord('queue-gone', key, '0000000000000000G1', { size: 2 }));

    const { result, out } = await run(options({ table: names.table, queueUrl: `${sqs.endpoint}/000000000000/NoSuchQueue` }, { kind: 'all' }));

    expect(result.redriven.map((r) => r.uploadId)).toEqual(['queue-gone']);
    expect(copiesOf(key)).toHaveLength(1);
    expect(result.exitCode).toBe(ExitCode.notAllRedriven);
    expect(out).toContain(
      'WARN   could not go through the failed-uploads queue (QueueDoesNotExist: The specified queue does not exist.). The uploads above were redriven: delete their messages by hand.',
    );
  });

  it('reads the names from a stack\'s outputs, and needs the bucket and queue only to redrive', async () => {
    const names = await freshNames();
    await names.store.create(failedRecord('from-stack', 'em/stack.csv', '0000000000000000F1'));
    const asked: unknown[] = [];
    // No CloudFormation emulator: a stand-in answers DescribeStacks as CloudFormation would.
    const cloudformation = {
      send: async (command: DescribeStacksCommand) => {
        asked.push(command.input);
        const outputs = { TableName: names.table, BucketName: BUCKET, FailedUploadsQueueUrl: names.queueUrl, CallbackBaseUrl: 'https://x' };
        return { Stacks: [{ StackName: 'FpsPipeline', Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }] };
      },
    } as unknown as CloudFormationClient;
    const out: string[] = [];
    const output = { info: (line: string) => out.push(line), warn: (line: string) => out.push(line) };

    const result = await redrive({ names: { stack: 'FpsPipeline' }, statuses: ['failed'], choice: { kind: 'list' }, yes: false }, { ...clients, cloudformation }, output);

    expect(asked).toEqual([{ StackName: 'FpsPipeline' }]);
    expect(out[0]).toBe(`Uploads table ${names.table}, drop bucket ${BUCKET}, failed-uploads queue ${names.queueUrl}`);
    expect(result.listed.map((r) => r.uploadId)).toEqual(['from-stack']);
    const tableOnly = { names: { table: names.table }, statuses: ['failed' as const], yes: true };
    expect((await redrive({ ...tableOnly, choice: { kind: 'list' } }, clients, output)).listed).toHaveLength(1);
    await expect(redrive({ ...tableOnly, choice: { kind: 'all' } }, clients, output)).rejects.toThrow(UsageError);
  });
});
