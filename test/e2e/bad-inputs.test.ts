// The README's bad-input table, row by row, through the local stack: what a user sees for each bad drop or callback.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig } from '../../infra/config.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

const MAX_FILE_BYTES = 1024;
let stack: LocalStack;

beforeAll(async () => {
  // Insider never calls back here, so each upload stays submitted and its callback URL can be probed.
  stack = await startLocalStack({ context: { maxFileBytes: MAX_FILE_BYTES }, simulator: { faults: { callbackDropped: 1 } } });
});

// Every AWS call the functions and the platform made here must be allowed by the template's IAM.
afterAll(() => stopAfterCheckingCalls(stack));

interface DropCase {
  /** The row's first cell in the README table, verbatim. */
  row: string;
  key: string;
  body?: string;
  metadata?: Record<string, string>;
  expect: Partial<UploadRecord> | 'no record';
  reason?: RegExp;
}

const rfc2047 = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

const DROPS: DropCase[] = [
  { row: 'File not in a folder, no default attribute', key: 'VIP.csv', expect: { status: 'rejected' }, reason: /No attribute name.*"Email Address\/VIP.csv"/ },
  { row: 'Segment name over 40 characters', key: `em/${'x'.repeat(41)}.csv`, expect: { status: 'rejected' }, reason: /41 characters; Insider allows at most 40/ },
  { row: 'Empty segment name (`em/.csv`)', key: 'em/.csv', expect: { status: 'rejected' }, reason: /Segment name from the file name is empty/ },
  { row: 'Empty file (0 bytes)', key: 'em/Empty.csv', body: '', expect: { status: 'rejected' }, reason: /The file is empty/ },
  { row: 'File over the size limit', key: 'em/Big.csv', body: 'x'.repeat(MAX_FILE_BYTES + 1), expect: { status: 'rejected' }, reason: /Insider accepts at most 1 KB\. Split it/ },
  { row: 'Upper-case extension `.CSV`', key: 'em/Upper.CSV', expect: { status: 'rejected' }, reason: /rename it to end in lower-case "\.csv"/ },
  { row: 'Not a CSV (`.txt`)', key: 'em/notes.txt', expect: { status: 'rejected' }, reason: /File name "notes\.txt" does not end in "\.csv" \(it ends in "\.txt"\); only \.csv files are sent to Insider/ },
  { row: 'Metadata `segment-name` blank', key: 'em/m1.csv', metadata: { 'segment-name': ' ' }, expect: { status: 'rejected' }, reason: /metadata "segment-name" is empty/ },
  { row: 'Metadata `segment-name` over 40 characters', key: 'em/m2.csv', metadata: { 'segment-name': 'y'.repeat(45) }, expect: { status: 'rejected' }, reason: /from metadata "segment-name" has 45 characters/ },
  { row: 'Metadata `attribute-name` blank', key: 'em/m3.csv', metadata: { 'attribute-name': '' }, expect: { status: 'rejected' }, reason: /metadata "attribute-name" is empty/ },
  { row: 'Key with `+` and `=` (`em/1+1=2.csv`)', key: 'em/1+1=2.csv', expect: { status: 'submitted', segmentName: '1+1=2' } },
  { row: 'Key with `%` and parentheses (`em/100% (v2).csv`)', key: 'em/100% (v2).csv', expect: { status: 'submitted', segmentName: '100% (v2)' } },
  { row: 'Key with unicode (`em/Müşteri ü.csv`)', key: 'em/Müşteri ü.csv', expect: { status: 'submitted', segmentName: 'Müşteri ü' } },
  { row: 'Metadata `segment-name` with unicode (RFC 2047)', key: 'em/m4.csv', metadata: { 'segment-name': rfc2047('Sadık müşteriler') }, expect: { status: 'submitted', segmentName: 'Sadık müşteriler' } },
];

describe('bad drops', () => {
  it.each(DROPS)('$row', async (c) => {
    await stack.put(c.key, c.body ?? 'someone@example.com\n', c.metadata);
    if (c.expect === 'no record') {
      await stack.idle();
      expect((await stack.records()).filter((r) => r.key === c.key)).toEqual([]);
      return;
    }
    const [record] = await stack.waitForFinal([c.key], { acceptSubmitted: true });
    expect(record).toMatchObject(c.expect);
    if (c.reason) expect(record?.reason).toMatch(c.reason);
  });

  it('Upper-case partner name (`-c partnerName=MyBrand`)', () => {
    expect(() => parsePipelineConfig({ partnerName: 'MyBrand' })).toThrow(ConfigError);
    expect(() => parsePipelineConfig({ partnerName: 'MyBrand' })).toThrow(/partnerName must be lowercase/);
  });
});

describe('bad callbacks', () => {
  let url = '';
  let uploadId = '';
  const body = { segment_name: 'Callback target', valid_values_count: 1, invalid_values_count: 0, total_entered_values: 1 };
  const post = (target: string, payload: unknown) =>
    fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  beforeAll(async () => {
    await stack.put('em/Callback target.csv', 'someone@example.com\n');
    const [record] = await stack.waitForFinal(['em/Callback target.csv'], { acceptSubmitted: true });
    uploadId = record?.uploadId ?? '';
    url = stack.simulator.requests.find((q) => q.segmentName === 'Callback target' && q.accepted)?.callbackUrl ?? '';
    expect(url).toContain(uploadId);
  });

  const status = async () => (await stack.records()).find((r) => r.uploadId === uploadId)?.status;

  it.each([
    ['Body is not JSON', () => post(url, '{not json'), 400, /not valid JSON/],
    ['Empty body', () => post(url, ''), 400, /body is empty/],
    ['Negative count', () => post(url, { ...body, valid_values_count: -1 }), 400, /valid_values_count must not be negative/],
    ['Non-integer count (`1.5`)', () => post(url, { ...body, total_entered_values: 1.5 }), 400, /total_entered_values must be a whole number/],
    ['Count as a string (`"7"`)', () => post(url, { ...body, invalid_values_count: '7' }), 400, /invalid_values_count must be a number/],
    ['Missing field', () => post(url, { segment_name: 'Callback target' }), 400, /valid_values_count/],
    ['Wrong token', () => post(url.replace(/[^/]+$/, 'guessed'), body), 403, /Invalid callback token/],
    ['Unknown upload id', () => post(url.replace(uploadId, 'f'.repeat(32)), body), 404, /Unknown upload/],
    ['Body over 4 KB', () => post(url, { ...body, padding: 'p'.repeat(5000) }), 413, /larger than 4096 bytes/],
    ['Body over 10 MB', () => post(url, 'p'.repeat(10 * 1024 * 1024 + 1)), 413, /Request Entity Too Large/],
    ['`segment_name` of another segment', () => post(url, { ...body, segment_name: 'Someone else' }), 409, /does not match/],
    // Today's DynamoDB marshalling would throw on it (a 500); it must be refused before anything is written.
    ['Count above 2^53−1 (`9007199254740992`)', () => post(url, { ...body, valid_values_count: 2 ** 53 }), 400, /valid_values_count must be at most 9007199254740991/],
  ])('%s', async (_row, send, code, message) => {
    const before = (await stack.records()).find((r) => r.uploadId === uploadId);
    const response = await send();
    expect(response.status).toBe(code);
    expect(JSON.stringify(await response.json())).toMatch(message);
    expect(before?.status).toBe('submitted');
    expect((await stack.records()).find((r) => r.uploadId === uploadId)).toEqual(before);
  });

  it('GET instead of POST', async () => {
    expect((await fetch(url)).status).toBe(404);
    expect(await status()).toBe('submitted');
  });

  it('Extra fields', async () => {
    const response = await post(url, { ...body, insider_extra: 'ignored' });
    expect(response.status).toBe(200);
    expect(await status()).toBe('completed');
  });

  it('Different counts for a completed upload', async () => {
    const response = await post(url, { ...body, valid_values_count: 0 });
    expect(response.status).toBe(409);
    expect((await stack.records()).find((r) => r.uploadId === uploadId)?.validValuesCount).toBe(1);
  });
});

const post = (target: string, payload: unknown) =>
  fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
const acceptedRequest = (segment: string) => stack.simulator.requests.find((q) => q.segmentName === segment && q.accepted);

describe('counts that do not add up', () => {
  it.each([
    ['valid > total', 'Odd counts A', { valid_values_count: 5, invalid_values_count: 0, total_entered_values: 3 }, 1, /valid \(5\) is more than the total \(3\)/],
    ['valid + invalid ≠ total', 'Odd counts B', { valid_values_count: 2, invalid_values_count: 1, total_entered_values: 5 }, 0.4, /= 3, not the total \(5\)/],
  ])('Counts that don\'t add up: %s', async (_case, segment, counts, rate, note) => {
    const key = `em/${segment}.csv`;
    await stack.put(key, 'someone@example.com\n');
    const [submitted] = await stack.waitForFinal([key], { acceptSubmitted: true });
    expect(submitted?.status).toBe('submitted');
    const response = await post(acceptedRequest(segment)?.callbackUrl ?? '', { segment_name: segment, ...counts });
    expect(response.status).toBe(200);
    const record = (await stack.records()).find((r) => r.key === key);
    expect(record).toMatchObject({
      status: 'completed',
      validValuesCount: counts.valid_values_count,
      invalidValuesCount: counts.invalid_values_count,
      totalEnteredValues: counts.total_entered_values,
      matchRate: rate,
    });
    expect(record?.note).toMatch(/Insider's counts don't add up/);
    expect(record?.note).toMatch(note);
  });
});

describe('a genuine callback for a rejected upload', () => {
  afterAll(() => stack.simulator.setScript(undefined));

  it('Genuine callback for a `rejected` upload', async () => {
    const segment = 'Rejected then called';
    stack.simulator.setScript((payload) => (payload.segmentName === segment ? { status: 405, body: { error: 'Invalid Payload.' } } : undefined));
    const key = `em/${segment}.csv`;
    await stack.put(key, 'someone@example.com\n');
    const [rejected] = await stack.waitForFinal([key]);
    expect(rejected).toMatchObject({ status: 'rejected', fpsHttpStatus: 405 });
    // The token handed to Insider with the refused request: only Insider could call back with it.
    const callbackUrl = stack.simulator.requests.find((q) => q.segmentName === segment)?.callbackUrl ?? '';
    expect(callbackUrl).toContain(rejected?.uploadId);
    const response = await post(callbackUrl, { segment_name: segment, valid_values_count: 3, invalid_values_count: 1, total_entered_values: 4 });
    expect(response.status).toBe(200);
    const record = (await stack.records()).find((r) => r.key === key);
    expect(record).toMatchObject({ status: 'completed', validValuesCount: 3, invalidValuesCount: 1, totalEnteredValues: 4, matchRate: 0.75 });
    expect(record?.note).toMatch(/recorded rejected after Insider answered HTTP 405 "Invalid Payload\.": Insider did accept the file/);
    // A replay changes nothing.
    expect((await post(callbackUrl, { segment_name: segment, valid_values_count: 3, invalid_values_count: 1, total_entered_values: 4 })).status).toBe(200);
    expect((await stack.records()).find((r) => r.key === key)).toEqual(record);
  });
});

describe('lost replies', () => {
  // Insider accepts, then its answer is lost; the callback comes after the trigger's retry (replyLostCallbackDelayMs).
  afterAll(() => stack.simulator.setFaults({ callbackDropped: 1 }));

  it.each([
    ['Insider accepted, reply lost as a gateway `502`', 'acceptedReplyLost502', 'Lost reply 502', 502],
    ['Insider accepted, reply lost as a gateway `504`', 'acceptedReplyLost504', 'Lost reply 504', 504],
    ['Insider accepted, connection reset before the reply', 'acceptedReplyLostReset', 'Lost reply reset', null],
  ] as const)('%s', async (_row, fault, segment, lostStatus) => {
    stack.simulator.setFaults({ [fault]: 1 });
    const key = `em/${segment}.csv`;
    await stack.put(key, 'a@example.com\nb@example.com\nnot-an-email\n');
    const [record] = await stack.waitForFinal([key], { timeoutMs: 20_000 });
    await stack.idle();

    const requests = stack.simulator.requests.filter((q) => q.segmentName === segment);
    const [first, retry] = requests;
    expect(first).toMatchObject({ accepted: true, fault, status: lostStatus });
    expect(retry).toMatchObject({ accepted: false, status: 400 });
    expect(record).toMatchObject({
      status: 'completed',
      possiblyAccepted: true,
      fpsHttpStatus: 400,
      fpsMessage: 'segment name already in use',
      validValuesCount: first?.counts?.valid,
      invalidValuesCount: first?.counts?.invalid,
      totalEnteredValues: first?.counts?.total,
    });
    expect([record?.validValuesCount, record?.invalidValuesCount, record?.totalEnteredValues]).toEqual([2, 1, 3]);
    expect(record?.note).toMatch(/probably succeeded/);
    // Never rejected on the way: a completion from `rejected` would have said so in the note.
    expect(record?.note).not.toMatch(/rejected/);
    const callbacks = stack.simulator.callbacks.filter((c) => c.url === first?.callbackUrl);
    expect(callbacks.length).toBeGreaterThan(0);
    expect(callbacks.map((c) => c.status)).toEqual(callbacks.map(() => 200));
    // The callback came after the retry had been answered, as the defect needs.
    expect(Math.min(...callbacks.map((c) => c.time))).toBeGreaterThan(retry?.time ?? Number.POSITIVE_INFINITY);
  });
});

describe('the README', () => {
  it('lists every row tested here in its bad-input table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Bad input'));
    const rows = [
      ...DROPS.map((c) => c.row),
      'Upper-case partner name (`-c partnerName=MyBrand`)',
      'Body is not JSON', 'Empty body', 'Negative count', 'Non-integer count (`1.5`)', 'Count as a string (`"7"`)', 'Missing field',
      'Wrong token', 'Unknown upload id', 'Body over 4 KB', 'Body over 10 MB', '`segment_name` of another segment',
      'GET instead of POST', 'Extra fields', 'Different counts for a completed upload',
      'Count above 2^53−1 (`9007199254740992`)', 'Counts that don\'t add up', 'Genuine callback for a `rejected` upload',
      'Insider accepted, reply lost as a gateway `502`', 'Insider accepted, reply lost as a gateway `504`',
      'Insider accepted, connection reset before the reply',
    ];
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) expect(section, row).toContain(`| ${row} |`);
  });
});
