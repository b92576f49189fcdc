// End-to-end: the synthesized bundles on the local stack — S3 drop, real presigned download, FPS simulator, HTTP callback, DynamoDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

let stack: LocalStack;
const MAX_FILE_BYTES = 2048;

/** Insider's answers for particular segment names, so each documented status can be exercised. */
const SCRIPTED: Record<string, { status: number; body: unknown }> = {
  'Scripted 405': { status: 405, body: { error: 'Invalid Payload.' } },
  'Scripted 400 size': { status: 400, body: { statusMessage: 'file size is more than the limit' } },
  'Scripted 503': { status: 503, body: { statusMessage: 'Service Unavailable' } },
  'Scripted 429': { status: 429, body: { statusMessage: 'Too Many Requests' } },
};

beforeAll(async () => {
  stack = await startLocalStack({
    context: { maxFileBytes: MAX_FILE_BYTES, tokenCacheSeconds: 0 },
  });
  stack.simulator.setScript((payload) => (payload.segmentName ? SCRIPTED[payload.segmentName] : undefined));
});

// Every AWS call the functions and the platform made here must be allowed by the template's IAM.
afterAll(() => stopAfterCheckingCalls(stack));

const emails = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`).join('\n');
const requestsFor = (segment: string) => stack.simulator.requests.filter((r) => r.segmentName === segment);
async function only(key: string): Promise<UploadRecord> {
  const [record, ...rest] = await stack.waitForFinal([key]);
  expect(rest).toEqual([]);
  if (!record) throw new Error(`no record for ${key}`);
  return record;
}

describe('the pipeline on the local stack', () => {
  it('turns a dropped CSV into a completed record with Insider\'s counts', async () => {
    const key = 'Email Address/VIP customers.csv';
    await stack.put(key, `${emails(3)}\nnot-an-email\n`);
    const record = await only(key);
    expect(record).toMatchObject({
      status: 'completed',
      segmentName: 'VIP customers',
      attributeName: 'Email Address',
      bucket: stack.bucket,
      fpsHttpStatus: 200,
      fpsMessage: 'OK',
      validValuesCount: 3,
      invalidValuesCount: 1,
      totalEnteredValues: 4,
      matchRate: 0.75,
    });
    for (const field of ['receivedAt', 'submittedAt', 'completedAt', 'updatedAt'] as const) {
      expect(record[field]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const [request] = requestsFor('VIP customers');
    expect(request?.fileUrl).toContain('.csv');
    expect(request?.fileUrl).toContain('X-Amz-Signature=');
    expect(request?.callbackUrl?.startsWith(`${stack.api.url}/callbacks/${record.uploadId}/`)).toBe(true);
  });

  it('downloads exactly the dropped object for keys with spaces, +, %, unicode and parentheses', async () => {
    const keys = ['em/a b c.csv', 'em/1+1=2.csv', 'em/100% (final).csv', 'em/Müşteri listesi ü.csv', 'Email Address/VIP (copy) + more.csv'];
    // A different number of values in each file: the counts prove which object Insider read.
    await Promise.all(keys.map((key, i) => stack.put(key, emails(i + 1, `k${i}-`))));
    const records = await stack.waitForFinal(keys);
    for (const [i, key] of keys.entries()) {
      const record = records.find((r) => r.key === key);
      expect(record, key).toMatchObject({ status: 'completed', totalEnteredValues: i + 1, validValuesCount: i + 1 });
      expect(record?.segmentName).toBe(key.slice(key.indexOf('/') + 1, -4));
    }
  });

  it('calls Insider once when S3 delivers the same event twice', async () => {
    stack.setDuplicateEventRate(1);
    try {
      const key = 'em/Delivered twice.csv';
      await stack.put(key, emails(2));
      const record = await only(key);
      await stack.idle();
      expect(record.status).toBe('completed');
      expect(stack.deliveredEvents.filter((e) => e.key === key)).toHaveLength(2);
      expect(requestsFor('Delivered twice')).toHaveLength(1);
      expect((await stack.records()).filter((r) => r.key === key)).toHaveLength(1);
    } finally {
      stack.setDuplicateEventRate(0);
    }
  });

  it('takes names from metadata when it is set', async () => {
    const key = 'whatever/file.csv';
    await stack.put(key, emails(1), { 'segment-name': 'From metadata', 'attribute-name': 'email' });
    expect(await only(key)).toMatchObject({ status: 'completed', segmentName: 'From metadata', attributeName: 'email' });
  });

  it.each([
    ['no folder', 'No folder.csv', emails(1), {}, /No attribute name.*Put the file in a folder/],
    ['a name over 40 characters', `em/${'n'.repeat(41)}.csv`, emails(1), {}, /41 characters; Insider allows at most 40/],
    ['an empty file', 'em/Empty.csv', '', {}, /file is empty/],
    ['a file over the size limit', 'em/Too big.csv', 'x'.repeat(MAX_FILE_BYTES + 1), {}, /at most 2 KB/],
    ['a file of blank lines (the pre-flight check)', 'em/Blank.csv', '\r\n\r\n', {}, /^The file has no values: it holds only 2 blank lines/],
    ['an empty segment-name override', 'em/Meta.csv', emails(1), { 'segment-name': ' ' }, /metadata "segment-name" is empty/],
  ])('rejects %s with a reason and no call to Insider', async (_name, key, body, metadata, reason) => {
    const before = stack.simulator.requests.length;
    await stack.put(key, body, metadata);
    const record = await only(key);
    expect(record.status).toBe('rejected');
    expect(record.reason).toMatch(reason);
    expect(record.fpsHttpStatus).toBeUndefined();
    expect(stack.simulator.requests.length).toBe(before);
  });

  it('records Insider\'s "segment name already in use" as a rejection', async () => {
    await stack.put('em/Taken.csv', emails(1));
    expect((await only('em/Taken.csv')).status).toBe('completed');
    await stack.put('phone_number/Taken.csv', '+905321234567');
    const second = await only('phone_number/Taken.csv');
    expect(second).toMatchObject({ status: 'rejected', fpsHttpStatus: 400, fpsMessage: 'segment name already in use' });
    // Our own table knows which upload created the name, and that it was for another attribute: {attribute}, not a date, tells them apart.
    expect(second.reason).toMatch(/^Insider says the segment name "Taken" is already in use: "Taken" was already created by the upload of s3:\/\/[^ ]+\/em\/Taken\.csv at /);
    expect(second.reason).toMatch(/That upload was for the attribute "em", this one is for "phone_number".*put \{attribute\} in the segment name template/);
    expect(second.reason).not.toMatch(/a file dropped again/);
  });

  it.each([
    ['405', 'Scripted 405', { status: 'rejected', fpsHttpStatus: 405, reason: expect.stringMatching(/^Invalid Payload/) }, 1],
    ['400 (file size)', 'Scripted 400 size', { status: 'rejected', fpsHttpStatus: 400, reason: expect.stringContaining('file size is more than the limit') }, 1],
  ])('records Insider\'s %s as a rejection', async (_name, segment, expected, calls) => {
    await stack.put(`em/${segment}.csv`, emails(1));
    expect(await only(`em/${segment}.csv`)).toMatchObject(expected);
    expect(requestsFor(segment)).toHaveLength(calls);
  });

  it.each([
    ['503', 'Scripted 503', /Insider could not be reached \(HTTP 503/],
    ['429', 'Scripted 429', /rate-limiting/],
  ])('retries %s inside and across deliveries, then fails and leaves the event in the failure queue', { timeout: 200_000 }, async (_name, segment, reason) => {
    const key = `em/${segment}.csv`;
    await stack.put(key, emails(1));
    // Three deliveries of up to 21 requests each with jittered backoff: about 26 s of sleep alone, more under load.
    const record = await stack.waitForFinal([key], { timeoutMs: 150_000 }).then((r) => r[0]);
    expect(record).toMatchObject({ status: 'failed', invocations: 3, reason: expect.stringMatching(reason) });
    expect(record?.reason).toMatch(/Gave up after 3 attempts/);
    expect(requestsFor(segment).length).toBe(record?.fpsRequests);
    expect(requestsFor(segment).length).toBeGreaterThan(3);
    await stack.idle();
    const queued = stack.failures().filter((f) => f.key === key);
    expect(queued).toHaveLength(1);
    expect(queued[0]?.receiveCount).toBe(3);
  });

  it('fails with "check the token secret" when Insider answers 401', async () => {
    stack.secrets.setSecret(stack.synth.secrets[0] as string, 'wrong-token');
    try {
      const key = 'em/Unauthorized.csv';
      await stack.put(key, emails(1));
      const record = (await stack.waitForFinal([key], { timeoutMs: 30_000 }))[0];
      expect(record).toMatchObject({ status: 'failed', fpsHttpStatus: 401, reason: expect.stringMatching(/Unauthorized: check the token secret/) });
    } finally {
      stack.secrets.setSecret(stack.synth.secrets[0] as string, stack.token);
    }
  });
});

describe('callbacks', () => {
  async function completedUpload(segment: string) {
    const key = `em/${segment}.csv`;
    await stack.put(key, emails(2));
    const record = await only(key);
    await stack.idle();
    const callback = stack.simulator.callbacks.find((c) => c.body.segment_name === segment);
    if (!callback) throw new Error('no callback seen');
    return { record, callback };
  }
  const post = (url: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('rejects a forged callback (wrong token, unknown upload) and leaves the record as it was', async () => {
    const { record, callback } = await completedUpload('Forgery target');
    const forged = { ...callback.body, valid_values_count: 0 };
    const wrongToken = await post(`${stack.api.url}/callbacks/${record.uploadId}/guessed-token`, forged);
    expect(wrongToken.status).toBe(403);
    const unknown = await post(`${stack.api.url}/callbacks/${'0'.repeat(32)}/guessed-token`, forged);
    expect(unknown.status).toBe(404);
    const after = (await stack.records()).find((r) => r.uploadId === record.uploadId);
    expect(after).toEqual(record);
  });

  it('answers a replayed callback with 200 and changes nothing; different counts get 409', async () => {
    const { record, callback } = await completedUpload('Replay target');
    const replay = await post(callback.url, callback.body);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ message: 'Already recorded.' });
    const conflicting = await post(callback.url, { ...callback.body, valid_values_count: 1 });
    expect(conflicting.status).toBe(409);
    const malformed = await post(callback.url, '{"segment_name": 1}');
    expect(malformed.status).toBe(400);
    const after = (await stack.records()).find((r) => r.uploadId === record.uploadId);
    expect(after).toEqual(record);
  });

  it('only accepts POST on the callback route', async () => {
    const { callback } = await completedUpload('Method target');
    const get = await fetch(callback.url);
    expect(get.status).toBe(404);
  });
});
