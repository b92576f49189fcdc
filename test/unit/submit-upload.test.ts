// Unit tests of the trigger's use case with in-memory fakes: claim, checks, verdicts, retries across deliveries, re-attempts, segment lock.
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY } from '../../lambdas/core/fps-submission.js';
import { handleObjectCreated, uploadIdFor } from '../../lambdas/core/submit-upload.js';
import type { ObjectCreated, TriggerSettings } from '../../lambdas/core/trigger-types.js';
import { FAKE_CSV, FakeClock, FakeObjects, fakeTokens, MemoryStore, ok, RecordingTelemetry, refused, ScriptedApi, silentLog, status, timeout } from '../../local/fakes.js';

const settings: TriggerSettings = {
  callbackBaseUrl: 'https://api.test/',
  maxFileBytes: 1000,
  presignExpiresSeconds: 3600,
  maxReceives: 3,
  retryPolicy: { ...DEFAULT_RETRY_POLICY, maxRetries: 1, requestTimeoutMs: 100 },
  preparedBucket: 'prepared',
};

let store: MemoryStore;
let objects: FakeObjects;
let clock: FakeClock;
let telemetry: RecordingTelemetry;

beforeEach(() => {
  store = new MemoryStore();
  objects = new FakeObjects();
  clock = new FakeClock();
  telemetry = new RecordingTelemetry();
});

function drop(key: string, extra: Partial<ObjectCreated> = {}, info = {}): ObjectCreated {
  objects.put('drops', key, info);
  return { bucket: 'drops', key, size: 100, sequencer: '01', ...extra };
}

/** One delivery of the event: `attempt` is the message's receive count. */
const run = (object: ObjectCreated, api: ScriptedApi, attempt = 1) =>
  handleObjectCreated(
    object,
    settings,
    { store, objects, api, clock, tokens: fakeTokens, telemetry, log: silentLog, random: () => 1 },
    { attempt, deadline: clock.ms + 30_000 },
  );

describe('handleObjectCreated', () => {
  it('submits a well-named file once and records it as submitted', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop('Email Address/VIP customers.csv'), api);
    expect(outcome).toMatchObject({ action: 'recorded', status: 'submitted' });
    expect(api.requests).toHaveLength(1);
    const request = api.requests[0];
    expect(request).toMatchObject({ segmentName: 'VIP customers', attributeName: 'Email Address' });
    expect(request?.fileUrl).toContain('.csv');
    expect(request?.callbackUrl).toMatch(new RegExp(`^https://api.test/callbacks/${outcome.uploadId}/token-\\d+$`));
    const record = await store.get(outcome.uploadId);
    expect(record).toMatchObject({ status: 'submitted', fpsHttpStatus: 200, fpsMessage: 'OK', fpsRequests: 1, segmentName: 'VIP customers', size: FAKE_CSV.length });
    expect(record?.callbackTokenHashes).toHaveLength(1);
    expect(record?.fileUrlExpiresAt).toBeDefined();
  });

  it('calls Insider once for a repeated event of the same object version', async () => {
    const api = new ScriptedApi([ok]);
    const object = drop('em/a.csv');
    await run(object, api);
    const again = await run(object, api);
    expect(again.action).toBe('duplicate');
    expect(api.requests).toHaveLength(1);
    expect(store.records.size).toBe(1);
  });

  it('treats a new version of the same key as a new upload', async () => {
    expect(uploadIdFor({ bucket: 'b', key: 'k', sequencer: '01' })).not.toBe(uploadIdFor({ bucket: 'b', key: 'k', sequencer: '02' }));
    expect(uploadIdFor({ bucket: 'b', key: 'k', versionId: 'v1', sequencer: '01' })).toBe(uploadIdFor({ bucket: 'b', key: 'k', versionId: 'v1', sequencer: '99' }));
  });

  it('records a local rejection without calling Insider', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop('noFolder.csv'), api);
    expect(outcome.status).toBe('rejected');
    expect(api.requests).toHaveLength(0);
    expect((await store.get(outcome.uploadId))?.reason).toMatch(/No attribute name/);
    expect(telemetry.finals.map((r) => r.status)).toEqual(['rejected']);
  });

  it('records a deleted object as rejected', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run({ bucket: 'drops', key: 'em/gone.csv', size: 5 }, api);
    expect((await store.get(outcome.uploadId))?.reason).toMatch(/deleted/);
  });

  it('records Insider\'s 400 as a rejection with its message', async () => {
    const api = new ScriptedApi([status(400, 'segment name already in use')]);
    const outcome = await run(drop('em/taken.csv'), api);
    expect(await store.get(outcome.uploadId)).toMatchObject({ status: 'rejected', fpsHttpStatus: 400, fpsMessage: 'segment name already in use' });
  });

  it('hands a transient failure back to the queue with a growing wait, then fails on the last attempt', async () => {
    const api = new ScriptedApi([status(401, 'Unauthorized')]);
    const object = drop('em/auth.csv');
    const id = uploadIdFor(object);
    expect(await run(object, api, 1)).toEqual({ uploadId: id, action: 'retry', status: 'received', retryAfterSeconds: 60 });
    expect(await store.get(id)).toMatchObject({
      status: 'received',
      invocations: 1,
      reason: expect.stringMatching(/^Attempt 1 of 3 failed: Unauthorized: check the token secret.*The next attempt comes in about 60 s\.$/),
    });
    expect(await run(object, api, 2)).toMatchObject({ action: 'retry', retryAfterSeconds: 120 });
    expect(await run(object, api, 3)).toEqual({ uploadId: id, action: 'gaveUp', status: 'failed' });
    expect(await store.get(id)).toMatchObject({ status: 'failed', invocations: 3, fpsHttpStatus: 401, reason: expect.stringMatching(/Gave up after 3 attempts/) });
    expect(telemetry.finals.map((r) => r.status)).toEqual(['failed']);
  });

  it('submits at once on the next attempt after the token secret was fixed, without waiting for the token cache', async () => {
    const api = new ScriptedApi([(_req, token) => (token === 'right' ? ok : status(401, 'Unauthorized'))]);
    api.secret = 'wrong';
    const object = drop('em/fixed token.csv');
    const id = uploadIdFor(object);
    expect(await run(object, api, 1)).toMatchObject({ action: 'retry' });
    expect(await store.get(id)).toMatchObject({ fpsRequests: 1, reason: expect.stringMatching(/Unauthorized: check the token secret/) });
    api.secret = 'right';
    expect(await run(object, api, 2)).toEqual({ uploadId: id, action: 'recorded', status: 'submitted' });
    expect(await store.get(id)).toMatchObject({ status: 'submitted', fpsHttpStatus: 200, fpsRequests: 3, invocations: 2 });
    expect(api.tokensSent).toEqual(['wrong', 'wrong', 'right']);
  });

  it('hands back a Retry-After longer than the invocation may sleep, without sleeping', async () => {
    const api = new ScriptedApi([status(429, 'Too Many Requests', 120_000), ok]);
    const outcome = await run(drop('em/slow down.csv'), api);
    expect(outcome).toMatchObject({ action: 'retry', retryAfterSeconds: 120 });
    expect(api.requests).toHaveLength(1);
    expect(clock.slept).toEqual([]);
    expect((await store.get(outcome.uploadId))?.reason).toMatch(/rate-limiting.*The next attempt comes in about 120 s\./);
  });

  it('re-attempts a failed upload when its event is delivered again, keeping its counters', async () => {
    const object = drop('em/redriven.csv');
    const failing = new ScriptedApi([status(503, 'Service Unavailable')]);
    for (const attempt of [1, 2, 3]) await run(object, failing, attempt);
    const failed = await store.get(uploadIdFor(object));
    expect(failed).toMatchObject({ status: 'failed', invocations: 3 });

    // A redriven message is a new message: its receive count starts again.
    const working = new ScriptedApi([ok]);
    const outcome = await run(object, working, 1);

    expect(outcome).toMatchObject({ action: 'recorded', status: 'submitted' });
    expect(working.requests).toHaveLength(1);
    expect(await store.get(outcome.uploadId)).toMatchObject({
      status: 'submitted',
      invocations: 4,
      fpsRequests: (failed?.fpsRequests ?? 0) + 1,
      receivedAt: failed?.receivedAt,
      note: expect.stringMatching(/^Re-attempted after it had failed/),
    });
    expect(store.records.size).toBe(1);
  });

  it('ends a re-attempted failed upload rejected when its object is gone', async () => {
    const object = drop('em/expired.csv');
    for (const attempt of [1, 2, 3]) await run(object, new ScriptedApi([status(503)]), attempt);
    objects.objects.clear();
    const api = new ScriptedApi([ok]);

    const outcome = await run(object, api, 1);

    expect(outcome).toMatchObject({ action: 'recorded', status: 'rejected' });
    expect(await store.get(outcome.uploadId)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/deleted/), invocations: 4 });
    expect(api.requests).toHaveLength(0);
  });

  it('leaves a finished upload alone when its event comes again', async () => {
    const object = drop('em/done.csv');
    await run(object, new ScriptedApi([ok]));
    const api = new ScriptedApi([ok]);
    expect(await run(object, api, 1)).toMatchObject({ action: 'duplicate', status: 'submitted' });
    expect(api.requests).toHaveLength(0);
  });

  it('fails a possibly accepted upload with a reason that warns against dropping it again', async () => {
    const api = new ScriptedApi([status(502, '<html>502 Bad Gateway</html>'), status(503, 'Service Unavailable')]);
    const object = drop('em/lost.csv');
    expect(await run(object, api, 1)).toMatchObject({ action: 'retry' });
    expect(await run(object, api, 2)).toMatchObject({ action: 'retry' });
    expect(await run(object, api, 3)).toMatchObject({ action: 'gaveUp', status: 'failed' });
    const record = await store.get(uploadIdFor(object));
    expect(record).toMatchObject({ status: 'failed', possiblyAccepted: true, reason: expect.stringMatching(/Gave up after 3 attempts\. An earlier request may have reached Insider: look for the segment in Insider's panel before dropping the file again\.$/) });
    expect(record?.reason).not.toMatch(/Redrive/);
  });

  it('still points a failure that never reached Insider to the redrive', async () => {
    const api = new ScriptedApi([refused]);
    const object = drop('em/refused.csv');
    expect(await run(object, api, 1)).toMatchObject({ action: 'retry' });
    expect(await run(object, api, 2)).toMatchObject({ action: 'retry' });
    expect(await run(object, api, 3)).toMatchObject({ action: 'gaveUp', status: 'failed' });
    const record = await store.get(uploadIdFor(object));
    expect(record?.possiblyAccepted).toBeUndefined();
    expect(record?.reason).toMatch(/network error: ECONNREFUSED.*see README "Redrive"/);
  });

  it('records "already in use" after a lost reply (502, 504, reset) as submitted, waiting for the callback', async () => {
    for (const [i, first] of [status(502, 'Bad Gateway'), status(504, 'Gateway Timeout'), { kind: 'network', error: 'UND_ERR_SOCKET', timedOut: false, possiblySent: true } as const].entries()) {
      const api = new ScriptedApi([first, status(400, 'segment name already in use')]);
      const outcome = await run(drop(`em/lost ${i}.csv`), api);
      expect(outcome.status).toBe('submitted');
      expect(await store.get(outcome.uploadId)).toMatchObject({ possiblyAccepted: true, fpsHttpStatus: 400, note: expect.stringMatching(/probably succeeded/) });
    }
  });

  it('does not take over an upload whose lease is still held', async () => {
    const object = drop('em/busy.csv');
    const id = uploadIdFor(object);
    store.records.set(id, { uploadId: id, bucket: 'drops', key: 'em/busy.csv', size: 1, status: 'received', receivedAt: '', updatedAt: '', invocations: 1, leaseUntil: new Date(clock.ms + 10_000).toISOString() });
    const api = new ScriptedApi([ok]);
    expect(await run(object, api)).toMatchObject({ action: 'duplicate', status: 'received' });
    expect(api.requests).toHaveLength(0);
  });

  it('remembers a timed-out request across invocations and accepts "already in use" afterwards', async () => {
    const object = drop('em/ambiguous.csv');
    const api = new ScriptedApi([timeout, timeout, status(400, 'segment name already in use')]);
    expect(await run(object, api, 1)).toMatchObject({ action: 'retry' });
    const outcome = await run(object, api, 2);
    expect(outcome.status).toBe('submitted');
    expect(await store.get(outcome.uploadId)).toMatchObject({ possiblyAccepted: true, note: expect.stringMatching(/probably succeeded/) });
  });

  it('rejects a second file for a segment that is in flight, naming the first', async () => {
    const api = new ScriptedApi([ok]);
    const first = await run(drop('em/Same.csv'), api);
    const second = await run(drop('phone/Same.csv'), api);
    expect(second.status).toBe('rejected');
    expect((await store.get(second.uploadId))?.reason).toContain(first.uploadId);
    expect(api.requests).toHaveLength(1);
  });

  it('tells an immediate overwrite of the key that dropping it again only helps if the first upload fails', async () => {
    const api = new ScriptedApi([ok]);
    const first = await run(drop('em/Overwrite.csv'), api);
    const second = await run(drop('em/Overwrite.csv', { sequencer: '02' }), api);
    expect((await store.get(second.uploadId))?.reason).toBe(
      `Another upload of segment "Overwrite" is in flight (upload ${first.uploadId}, s3://drops/em/Overwrite.csv, submitted). If it succeeds, the name is taken for good: to send this file too, rename it or use a segment name template with {n} (e.g. metadata segment-name-template "{name} {n}"). If it fails, drop this file again.`,
    );
    expect(api.requests).toHaveLength(1);
  });

  it('lets the segment name go to Insider again once the first upload has ended', async () => {
    const api = new ScriptedApi([status(400, 'Invalid something'), ok]);
    await run(drop('em/Again.csv'), api);
    const second = await run(drop('phone/Again.csv'), api);
    expect(second.status).toBe('submitted');
    expect(api.requests).toHaveLength(2);
  });

  it('does not overwrite a record a callback completed while Insider was answering', async () => {
    const object = drop('em/fast.csv');
    const id = uploadIdFor(object);
    const api = new ScriptedApi([
      async () => {
        await store.update(id, { status: 'completed' }, { from: ['received'] });
        return ok;
      },
    ]);
    const outcome = await run(object, api);
    expect(outcome).toMatchObject({ action: 'duplicate', status: 'completed' });
    expect((await store.get(id))?.status).toBe('completed');
  });

  it('turns an unexpected error into a retry, then a failure, never a stuck record', async () => {
    const object = drop('em/broken.csv');
    objects.presignGet = async () => {
      throw new Error('credentials unavailable');
    };
    const api = new ScriptedApi([ok]);
    expect(await run(object, api, 1)).toMatchObject({ action: 'retry' });
    const id = uploadIdFor(object);
    const record = await store.get(id);
    expect(record).toMatchObject({ status: 'received', lastError: 'Internal error (Error: credentials unavailable).' });
    expect(record?.leaseUntil).toBe(clock.now().toISOString());
    expect(await run(object, api, 2)).toMatchObject({ action: 'retry' });
    expect(await run(object, api, 3)).toMatchObject({ action: 'gaveUp' });
    expect(await store.get(id)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/credentials unavailable.*Gave up after 3 attempts/) });
    expect(api.requests).toHaveLength(0);
  });
});
