// End-to-end (issue 8): recurring segments named by a template, the pre-flight check and the clean copy Insider downloads, dry runs, a low match rate — on the local stack.
import { gzipSync } from 'node:zlib';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { UploadsTable } from '../../lambdas/shared/contract.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    context: { segmentNameTemplate: '{name} {date}', timeZone: 'Europe/Istanbul', minMatchRate: 0.9 },
  });
});

afterAll(() => stopAfterCheckingCalls(stack));

const emails = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);
const requestsFor = (segment: string) => stack.simulator.requests.filter((r) => r.segmentName === segment);
const at = (iso: string) => new Date(iso);

/** Drops an object and waits for its record to be final. A key dropped again is a new object version, so a new record. */
async function drop(key: string, body: string | Uint8Array, options: { metadata?: Record<string, string>; eventTime?: Date } = {}): Promise<UploadRecord> {
  const known = new Set((await stack.records()).filter((r) => r.key === key).map((r) => r.uploadId));
  await stack.put(key, body, options.metadata, { eventTime: options.eventTime });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const fresh = (await stack.waitForFinal([key], { timeoutMs: 30_000 })).filter((r) => !known.has(r.uploadId));
    if (fresh.length > 1) throw new Error(`more than one new record for ${key}`);
    if (fresh[0]) return fresh[0];
    if (Date.now() > deadline) throw new Error(`no new record for ${key}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What Insider downloaded: the file behind the URL it was given, fetched again the same way. */
async function downloaded(segment: string): Promise<string> {
  const [request] = requestsFor(segment);
  if (!request?.fileUrl) throw new Error(`Insider got no file URL for ${segment}`);
  const response = await fetch(request.fileUrl);
  expect(response.status).toBe(200);
  return response.text();
}

/** The console recipe: Query the bySegment index on the logical name, newest first. */
async function refreshesOf(logicalName: string): Promise<UploadRecord[]> {
  const out = await stack.dynamodb.send(
    new QueryCommand({
      TableName: stack.tableName,
      IndexName: UploadsTable.bySegmentIndex,
      KeyConditionExpression: '#segment = :name',
      ExpressionAttributeNames: { '#segment': UploadsTable.bySegmentPartitionKey },
      ExpressionAttributeValues: { ':name': { S: logicalName } },
      ScanIndexForward: false,
    }),
  );
  return (out.Items ?? []).map((item) => unmarshall(item) as UploadRecord);
}

describe('recurring segments', () => {
  it('gives two drops of one file on two days two segments, and one Query on the logical name lists both, newest first', async () => {
    const key = 'Email Address/VIP customers.csv';
    const first = await drop(key, `${emails(3, 'day1-').join('\n')}\n`, { eventTime: at('2026-11-28T09:00:00Z') });
    // 22:30 UTC is already the next day in Istanbul (UTC+3): the configured time zone decides the date.
    const second = await drop(key, `${emails(4, 'day2-').join('\n')}\n`, { eventTime: at('2026-11-29T22:30:00Z') });

    expect(first).toMatchObject({ status: 'completed', segmentName: 'VIP customers', insiderSegmentName: 'VIP customers 2026-11-28', segmentNameTemplate: '{name} {date}', totalEnteredValues: 3 });
    expect(second).toMatchObject({ status: 'completed', segmentName: 'VIP customers', insiderSegmentName: 'VIP customers 2026-11-30', totalEnteredValues: 4 });
    expect(second.eventTime).toBe('2026-11-29T22:30:00.000Z');
    expect(requestsFor('VIP customers 2026-11-28')).toHaveLength(1);
    expect(requestsFor('VIP customers 2026-11-30')).toHaveLength(1);

    const refreshes = await refreshesOf('VIP customers');
    expect(refreshes.map((r) => [r.insiderSegmentName, r.status, r.validValuesCount, r.totalEnteredValues])).toEqual([
      ['VIP customers 2026-11-30', 'completed', 4, 4],
      ['VIP customers 2026-11-28', 'completed', 3, 3],
    ]);
  });

  it('answers a second drop on the same day with "already in use", naming the first upload', async () => {
    const key = 'Email Address/Daily.csv';
    const first = await drop(key, `${emails(2, 'once-').join('\n')}\n`, { eventTime: at('2026-11-29T08:00:00Z') });
    expect(first).toMatchObject({ status: 'completed', insiderSegmentName: 'Daily 2026-11-29' });

    const second = await drop(key, `${emails(2, 'twice-').join('\n')}\n`, { eventTime: at('2026-11-29T15:00:00Z') });

    expect(second).toMatchObject({ status: 'rejected', insiderSegmentName: 'Daily 2026-11-29', fpsHttpStatus: 400 });
    expect(second.reason).toBe(
      `Insider says the segment name "Daily 2026-11-29" is already in use: "Daily 2026-11-29" was already created by the upload of s3://${stack.bucket}/${key} at ${first.submittedAt} (upload ${first.uploadId}, completed). The template "{name} {date}" gives one name a day: for more than one drop a day add {time} or {n}, or wait for the next day.`,
    );
  });

  it('numbers drops with {n}, issued once per upload; a dry run only peeks at the next number', async () => {
    const metadata = { 'segment-name-template': '{name} #{n}' };
    const one = await drop('em/Weekly.csv', 'a@example.com\n', { metadata });
    const two = await drop('em/Weekly.csv', 'b@example.com\n', { metadata });
    const dry = await drop('dry-run/em/Weekly.csv', 'c@example.com\n', { metadata });
    const three = await drop('em/Weekly.csv', 'd@example.com\n', { metadata });

    expect([one, two, three].map((r) => [r.insiderSegmentName, r.segmentCounter, r.status])).toEqual([
      ['Weekly #1', 1, 'completed'],
      ['Weekly #2', 2, 'completed'],
      ['Weekly #3', 3, 'completed'],
    ]);
    expect(dry).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-submit', insiderSegmentName: 'Weekly #3' });
    expect(dry.segmentCounter).toBeUndefined();
    expect(dry.reason).toMatch(/^Dry run: nothing was sent to Insider\. A real drop would send "Weekly #3" \({n} = 3, the next number; a real drop takes its own\)/);
    expect(stack.simulator.requests.filter((r) => r.segmentName?.startsWith('Weekly')).map((r) => r.segmentName)).toEqual(['Weekly #1', 'Weekly #2', 'Weekly #3']);
  });
});

describe('pre-flight and the clean copy', () => {
  it('sends a messy file as one clean value per line from the prepared bucket, and leaves the original untouched', async () => {
    const messy = '\ufeffEmail Address\r\n  ann@example.com  \r\n\r\n"bob@example.com",Bob,2026\r\nann@example.com\r\ncarl@example.com\r\n\r\n';
    const key = 'Email Address/Messy export.csv';
    const record = await drop(key, messy, { eventTime: at('2026-11-29T09:00:00Z') });

    expect(record).toMatchObject({ status: 'completed', preparedKey: `${record.uploadId}.csv`, validValuesCount: 3, invalidValuesCount: 0, totalEnteredValues: 3 });
    expect(record.preflight).toMatchObject({
      verdict: 'accept',
      changed: true,
      bom: true,
      lineEndings: 'crlf',
      header: { line: 1, matches: 'attribute' },
      values: 4,
      cleanValues: 3,
      blankLines: { count: 2, lines: [3, 7] },
      duplicates: { count: 1, lines: [5] },
      paddedValues: { count: 1, lines: [2] },
    });
    expect(record.note).toBe(
      `Insider was sent a cleaned copy (${record.uploadId}.csv in the prepared bucket): removed the byte order mark; dropped the header row (line 1), 2 blank lines and 1 duplicate (line 5); trimmed 1 padded value; kept only the first column of 1 row; and wrote "\\n" line ends (the file had CRLF).`,
    );
    const [request] = requestsFor('Messy export 2026-11-29');
    expect(new URL(request?.fileUrl ?? '').pathname).toMatch(new RegExp(`/preparedbucket[a-z0-9]*-local/${record.uploadId}\\.csv$`));
    expect(await downloaded('Messy export 2026-11-29')).toBe('ann@example.com\nbob@example.com\ncarl@example.com\n');
    const original = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key, VersionId: record.versionId }));
    expect(await original.Body?.transformToString()).toBe(messy);
  });

  it('does not send a header row', async () => {
    const record = await drop('phone_number/SMS.csv', 'phone_number\n+905321234567\n+905551234567\n', { eventTime: at('2026-11-29T09:00:00Z') });
    expect(record).toMatchObject({ status: 'completed', totalEnteredValues: 2, validValuesCount: 2 });
    expect(record.preflight?.header).toEqual({ line: 1, matches: 'attribute' });
    expect(await downloaded('SMS 2026-11-29')).toBe('+905321234567\n+905551234567\n');
  });

  it('presigns the original when nothing needs cleaning', async () => {
    const key = 'em/Clean.csv';
    const record = await drop(key, 'a@example.com\nb@example.com\n', { eventTime: at('2026-11-29T09:00:00Z') });
    expect(record).toMatchObject({ status: 'completed', preflight: { changed: false, changes: [] } });
    expect(record.preparedKey).toBeUndefined();
    expect(new URL(requestsFor('Clean 2026-11-29')[0]?.fileUrl ?? '').pathname).toBe(`/${stack.bucket}/em/Clean.csv`);
  });

  it('decompresses a .csv.gz export into the copy Insider downloads', async () => {
    const record = await drop('Email Address/Warehouse.csv.gz', gzipSync(`${emails(5, 'gz-').join('\n')}\n`), { eventTime: at('2026-11-29T09:00:00Z') });
    expect(record).toMatchObject({ status: 'completed', segmentName: 'Warehouse', totalEnteredValues: 5, validValuesCount: 5, preflight: { gzip: true, changes: ['gzip'] } });
    expect(await downloaded('Warehouse 2026-11-29')).toBe(`${emails(5, 'gz-').join('\n')}\n`);
  });

  it('sends an upper-case .CSV as a copy named .csv', async () => {
    const record = await drop('em/Upper case.CSV', 'a@example.com\n', { eventTime: at('2026-11-29T09:00:00Z') });
    expect(record).toMatchObject({ status: 'completed', segmentName: 'Upper case', preparedKey: `${record.uploadId}.csv`, preflight: { changed: false } });
    expect(record.note).toMatch(/renamed to end in "\.csv"/);
    expect(await downloaded('Upper case 2026-11-29')).toBe('a@example.com\n');
  });
});

describe('dry run', () => {
  it('checks and names a file in the dry-run/ folder without a request, a lock or a copy, and records the verdict', async () => {
    const before = stack.simulator.requests.length;
    const dry = await drop('dry-run/Email Address/Trial.csv', '\ufeffemail\na@example.com\nb@example.com\n', { eventTime: at('2026-11-29T09:00:00Z') });

    expect(stack.simulator.requests.length).toBe(before);
    expect(dry).toMatchObject({ status: 'dry_run', dryRun: true, dryRunVerdict: 'would-submit', segmentName: 'Trial', attributeName: 'Email Address', insiderSegmentName: 'Trial 2026-11-29', preflight: { values: 2, header: { line: 1 } } });
    expect(dry.preparedKey).toBeUndefined();
    expect(dry.reason).toBe(
      'Dry run: nothing was sent to Insider. A real drop would send "Trial 2026-11-29" with attribute "Email Address": 2 values, as a cleaned copy (the copy removed the byte order mark and dropped the header row (line 1)).',
    );
    // The record is written before the notification is published: wait for the invocation to end.
    await stack.idle();
    const notification = stack.notifications.find((n) => JSON.parse(n.message).uploadId === dry.uploadId);
    expect(notification?.attributes.status).toBe('dry_run');
    expect(JSON.parse(notification?.message ?? '{}')).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-submit', insiderSegmentName: 'Trial 2026-11-29', preflight: { values: 2 } });

    // The name is still free: no lock was taken, nothing reached Insider.
    const real = await drop('Email Address/Trial.csv', 'a@example.com\n', { eventTime: at('2026-11-29T10:00:00Z') });
    expect(real).toMatchObject({ status: 'completed', insiderSegmentName: 'Trial 2026-11-29' });
  });

  it('by metadata, says what a real drop would be refused for', async () => {
    const before = stack.simulator.requests.length;
    const dry = await drop('Email Address/Phones by mistake.csv', '+905321234567\n+905551234567\n+905551234568\n', { metadata: { 'dry-run': 'true' } });
    expect(stack.simulator.requests.length).toBe(before);
    expect(dry).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-reject' });
    expect(dry.reason).toMatch(/^Dry run: nothing was sent to Insider\. A real drop would be rejected: 3 of 3 values are not email addresses/);
  });
});

describe('low match rate', () => {
  it('completes an upload Insider matched too little of with a warning, in its record and its notification', async () => {
    // 3 of 10 are not addresses: under the pre-flight's 50%, so Insider gets the file, and matches 70% < minMatchRate 0.9.
    const values = [...emails(7, 'ok-'), 'n/a', 'unknown', '-'];
    const record = await drop('Email Address/Half known.csv', `${values.join('\n')}\n`, { eventTime: at('2026-11-29T09:00:00Z') });
    expect(record).toMatchObject({ status: 'completed', validValuesCount: 7, invalidValuesCount: 3, matchRate: 0.7, preflight: { invalidValues: { count: 3 } } });
    expect(record.warning).toMatch(/^Low match rate: Insider matched 70% of the values, below the 90% this deployment expects \(minMatchRate\)\. Check that the folder/);
    await stack.idle();
    const notification = stack.notifications.find((n) => JSON.parse(n.message).uploadId === record.uploadId && JSON.parse(n.message).status === 'completed');
    expect(notification?.subject).toBe('FPS upload completed (warning): Half known 2026-11-29');
    expect(JSON.parse(notification?.message ?? '{}').warning).toBe(record.warning);
    expect(stack.functions.callback.logs.some((line) => line.includes('"LowMatchRate"'))).toBe(true);
  });
});

describe('personal data', () => {
  it('never puts a CSV value in a record, a log line or a notification', async () => {
    const canaries = ['canary-ann-7f3a@example.com', 'canary-bob-7f3a@example.com', 'Canary Header 7f3a', 'canary-bad-7f3a'];
    const body = `${canaries[2]}\r\n  ${canaries[0]}  \r\n${canaries[1]}\r\n${canaries[0]}\r\n${canaries[3]}\r\n`;
    await drop('Email Address/Canary.csv', body, { eventTime: at('2026-11-29T09:00:00Z') });
    await drop('dry-run/Email Address/Canary.csv', body);
    await drop('Email Address/Canary rejected.csv', `${canaries[3]}\n${canaries[3]}x\n`);
    await stack.idle();

    const records = JSON.stringify(await stack.records());
    const logs = Object.values(stack.functions).flatMap((fn) => fn.logs);
    const notifications = JSON.stringify(stack.notifications);
    expect(logs.length).toBeGreaterThan(0);
    for (const value of canaries) {
      expect(records.includes(value), value).toBe(false);
      expect(logs.filter((line) => line.includes(value)), value).toEqual([]);
      expect(notifications.includes(value), value).toBe(false);
    }
  });
});
