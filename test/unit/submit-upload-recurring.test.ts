// Unit tests of the trigger's use case for issue 8 with in-memory fakes: ignored keys, templates and the {n} counter, the pre-flight and its clean copy, dry runs, "already in use" reasons.
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY } from '../../lambdas/core/fps-submission.js';
import { handleObjectCreated, uploadIdFor } from '../../lambdas/core/submit-upload.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import type { ObjectCreated, TriggerSettings } from '../../lambdas/core/trigger-types.js';
import { FakeClock, FakeObjects, fakeTokens, MemoryStore, ok, RecordingTelemetry, ScriptedApi, silentLog, status } from '../../local/fakes.js';

const base: TriggerSettings = {
  callbackBaseUrl: 'https://api.test/',
  maxFileBytes: 10_000,
  presignExpiresSeconds: 3600,
  maxReceives: 3,
  retryPolicy: { ...DEFAULT_RETRY_POLICY, maxRetries: 0, requestTimeoutMs: 100 },
  preparedBucket: 'prepared',
};

let store: MemoryStore;
let objects: FakeObjects;
let clock: FakeClock;
let telemetry: RecordingTelemetry;
let sequence = 0;

beforeEach(() => {
  store = new MemoryStore();
  objects = new FakeObjects();
  clock = new FakeClock();
  telemetry = new RecordingTelemetry();
});

/** Puts an object and returns its event; each call is a new object version. */
function drop(key: string, body = 'a@example.com\nb@example.com\n', metadata: Record<string, string> = {}, eventTime?: string): ObjectCreated {
  objects.put('drops', key, { body, metadata });
  sequence++;
  return { bucket: 'drops', key, size: Buffer.byteLength(body), sequencer: `0${sequence}`, eventTime: eventTime ? new Date(eventTime) : undefined };
}

const run = (object: ObjectCreated, api: ScriptedApi, settings: Partial<TriggerSettings> = {}, attempt = 1) =>
  handleObjectCreated(
    object,
    { ...base, ...settings },
    { store, objects, api, clock, tokens: fakeTokens, telemetry, log: silentLog, random: () => 1 },
    { attempt, deadline: clock.ms + 30_000 },
  );

describe('ignored keys', () => {
  it.each(['em/', 'em/.DS_Store', 'em/._VIP.csv', 'Thumbs.db'])('leaves %s without a record, a read or a request', async (key) => {
    const api = new ScriptedApi([ok]);
    const outcome = await run({ bucket: 'drops', key, size: 0, sequencer: '01' }, api);
    expect(outcome).toMatchObject({ action: 'ignored', reason: expect.stringMatching(/the pipeline ignores it\.$/) });
    expect(store.records.size).toBe(0);
    expect(objects.reads).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect(telemetry.metrics.FilesReceived).toBeUndefined();
  });
});

describe('segment name templates', () => {
  it('sends the rendered name, keeps the logical one as segmentName, and renders the event time in the configured zone', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop('Email Address/VIP customers.csv', undefined, {}, '2026-11-29T22:30:00Z'), api, {
      naming: { template: '{name} {date} {time}', timeZone: 'Europe/Istanbul' },
    });
    expect(api.requests[0]?.segmentName).toBe('VIP customers 2026-11-30 01:30');
    expect(await store.get(outcome.uploadId)).toMatchObject({
      status: 'submitted',
      segmentName: 'VIP customers',
      insiderSegmentName: 'VIP customers 2026-11-30 01:30',
      segmentNameTemplate: '{name} {date} {time}',
      eventTime: '2026-11-29T22:30:00.000Z',
    });
    expect(store.locks.get('VIP customers 2026-11-30 01:30')).toBe(outcome.uploadId);
    expect(store.created.get('VIP customers 2026-11-30 01:30')).toBe(outcome.uploadId);
  });

  it('shortens only {name}, and says so on the record', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop(`em/${'Loyal customers of the northern region'}.csv`, undefined, {}, '2026-11-29T10:00:00Z'), api, { naming: { template: '{name} {date}' } });
    const record = await store.get(outcome.uploadId);
    expect(record?.insiderSegmentName).toBe('Loyal customers of the north… 2026-11-29');
    expect(record?.segmentNameRule).toBe("{name} shortened from 38 to 29 characters to fit Insider's 40-character limit");
  });

  it('takes a per-file template from metadata over the configured one', async () => {
    const api = new ScriptedApi([ok]);
    await run(drop('em/Weekly.csv', undefined, { 'segment-name-template': '{attribute} {name}' }), api, { naming: { template: '{name} {date}' } });
    expect(api.requests[0]?.segmentName).toBe('em Weekly');
  });

  it('issues {n} once per upload: a retry reuses the number stored on the record', async () => {
    const api = new ScriptedApi([status(503, 'Service Unavailable'), ok]);
    const settings = { naming: { template: '{name} #{n}' } };
    const object = drop('em/Numbered.csv');
    expect(await run(object, api, settings, 1)).toMatchObject({ action: 'retry' });
    expect(await store.get(uploadIdFor(object))).toMatchObject({ segmentCounter: 1, insiderSegmentName: 'Numbered #1' });
    expect(await run(object, api, settings, 2)).toMatchObject({ action: 'recorded', status: 'submitted' });
    const next = await run(drop('em/Numbered.csv'), api, settings);
    expect(api.requests.map((r) => r.segmentName)).toEqual(['Numbered #1', 'Numbered #1', 'Numbered #2']);
    expect(await store.get(next.uploadId)).toMatchObject({ segmentCounter: 2, segmentName: 'Numbered' });
    expect(store.counters.get('Numbered')).toEqual({ n: 2, issuedTo: next.uploadId });
  });

  it('locks the name sent: the same file on two days goes to Insider twice, the same day once', async () => {
    const api = new ScriptedApi([ok]);
    const settings = { naming: { template: '{name} {date}' } };
    await run(drop('em/Daily.csv', undefined, {}, '2026-11-28T10:00:00Z'), api, settings);
    await run(drop('em/Daily.csv', undefined, {}, '2026-11-29T10:00:00Z'), api, settings);
    const sameDay = await run(drop('em/Daily.csv', undefined, {}, '2026-11-29T18:00:00Z'), api, settings);
    expect(api.requests.map((r) => r.segmentName)).toEqual(['Daily 2026-11-28', 'Daily 2026-11-29']);
    expect((await store.get(sameDay.uploadId))?.reason).toMatch(/^Another upload of segment "Daily 2026-11-29" is in flight/);
  });
});

describe('"already in use"', () => {
  it('names the upload that created the name, and says a {date} template gives one name a day', async () => {
    const settings = { naming: { template: '{name} {date}' } };
    const first = await run(drop('em/VIP.csv', undefined, {}, '2026-11-29T08:00:00Z'), new ScriptedApi([ok]), settings);
    await store.update(first.uploadId, { status: 'completed' }, { from: ['submitted'] });
    const second = await run(drop('em/VIP.csv', undefined, {}, '2026-11-29T09:00:00Z'), new ScriptedApi([status(400, 'segment name already in use')]), settings);
    const created = await store.get(first.uploadId);
    expect((await store.get(second.uploadId))?.reason).toBe(
      `Insider says the segment name "VIP 2026-11-29" is already in use: "VIP 2026-11-29" was already created by the upload of s3://drops/em/VIP.csv at ${created?.submittedAt} (upload ${first.uploadId}, completed). The template "{name} {date}" gives one name a day: for more than one drop a day add {time} or {n}, or wait for the next day.`,
    );
  });

  it('tells a user of the default {name} how to make recurring drops work, even when our table knows nothing', async () => {
    const outcome = await run(drop('em/Loyal.csv'), new ScriptedApi([status(400, 'segment name already in use')]));
    expect((await store.get(outcome.uploadId))?.reason).toBe(
      'Insider says the segment name "Loyal" is already in use. Insider cannot update or replace a segment, so a file dropped again needs a new name each time: set a segment name template with a date or a counter (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} {date}" or "{name} {n}"), or rename the file.',
    );
  });

  it('says the name was taken under another attribute, and suggests {attribute}, not a date', async () => {
    const first = await run(drop('Email Address/Weekly VIP.csv'), new ScriptedApi([ok]));
    await store.update(first.uploadId, { status: 'completed' }, { from: ['submitted'] });
    const second = await run(drop('phone_number/Weekly VIP.csv', '+905321234567\n'), new ScriptedApi([status(400, 'segment name already in use')]));
    const created = await store.get(first.uploadId);
    expect((await store.get(second.uploadId))?.reason).toBe(
      `Insider says the segment name "Weekly VIP" is already in use: "Weekly VIP" was already created by the upload of s3://drops/Email Address/Weekly VIP.csv at ${created?.submittedAt} (upload ${first.uploadId}, completed). That upload was for the attribute "Email Address", this one is for "phone_number", and Insider's segment names are unique across attributes: put {attribute} in the segment name template (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} ({attribute})"), or rename the file.`,
    );
  });

  it('says the same under a {date} template, and keeps the usual advice once the template has {attribute}', async () => {
    const dated = { naming: { template: '{name} {date}' } };
    const first = await run(drop('Email Address/Monthly.csv', undefined, {}, '2026-11-29T08:00:00Z'), new ScriptedApi([ok]), dated);
    await store.update(first.uploadId, { status: 'completed' }, { from: ['submitted'] });
    const second = await run(drop('phone_number/Monthly.csv', '+905321234567\n', {}, '2026-11-29T09:00:00Z'), new ScriptedApi([status(400, 'segment name already in use')]), dated);
    expect((await store.get(second.uploadId))?.reason).toMatch(/That upload was for the attribute "Email Address", this one is for "phone_number".*put \{attribute\} in the segment name template/);
    // A name Insider already has for some other reason: the attribute is not the cause.
    const withAttribute = { naming: { template: '{name} {attribute}' } };
    store.created.set('Yearly phone_number', first.uploadId);
    const third = await run(drop('phone_number/Yearly.csv', '+905321234567\n'), new ScriptedApi([status(400, 'segment name already in use')]), withAttribute);
    expect((await store.get(third.uploadId))?.reason).toMatch(/Rename the file, or set metadata "segment-name"/);
  });

  it('falls back on the lock\'s previous holder when the name has no creator noted', async () => {
    const first = await run(drop('em/Old.csv'), new ScriptedApi([ok]));
    store.created.clear();
    await store.update(first.uploadId, { status: 'timed_out' }, { from: ['submitted'] });
    const second = await run(drop('em/Old.csv'), new ScriptedApi([status(400, 'segment name already in use')]));
    expect((await store.get(second.uploadId))?.reason).toMatch(new RegExp(`"Old" was already created by the upload of s3://drops/em/Old\\.csv at .* \\(upload ${first.uploadId}, timed_out\\)\\.`));
  });

  it('never advises dropping again when an earlier request may have been accepted', async () => {
    const outcome = await run(drop('em/Lost.csv'), new ScriptedApi([status(502, 'Bad Gateway'), status(400, 'segment name already in use')]), { retryPolicy: { ...DEFAULT_RETRY_POLICY, maxRetries: 1 } });
    const record = await store.get(outcome.uploadId);
    expect(record).toMatchObject({ status: 'submitted', possiblyAccepted: true });
    expect(record?.reason).not.toMatch(/rename|template/);
  });
});

describe('pre-flight', () => {
  it('rejects a file with no values before Insider: no request, no {n}, no lock', async () => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop('em/Blank.csv', '\ufeff\r\n  \r\n'), api, { naming: { template: '{name} {n}' } });
    expect(await store.get(outcome.uploadId)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^The file has no values/), preflight: { verdict: 'reject', rejection: 'empty' } });
    expect(api.requests).toHaveLength(0);
    expect(store.counters.size).toBe(0);
    expect(store.locks.size).toBe(0);
    expect(objects.copies.size).toBe(0);
  });

  it('holds values to the configured formats and share', async () => {
    const phones = '+905321234567\n+905551234567\na@example.com\n';
    const strict = await run(drop('em/Phones.csv', phones), new ScriptedApi([ok]));
    expect((await store.get(strict.uploadId))?.reason).toMatch(/^2 of 3 values are not email addresses/);
    const lenient = await run(drop('em/Phones.csv', phones), new ScriptedApi([ok]), { preflight: { maxInvalidShare: 0.7 } });
    expect((await store.get(lenient.uploadId))?.status).toBe('submitted');
    const unchecked = await run(drop('em/Phones.csv', phones), new ScriptedApi([ok]), { preflight: { formats: {} } });
    expect((await store.get(unchecked.uploadId))?.preflight).toMatchObject({ format: null, invalidValues: { count: 0 } });
  });

  it('sends a messy file as a copy in the prepared bucket, and the original when nothing changes', async () => {
    const api = new ScriptedApi([ok]);
    const messy = await run(drop('Email Address/Messy.csv', 'Email Address\r\n b@example.com \r\nb@example.com\r\n'), api);
    const clean = await run(drop('Email Address/Clean.csv', 'a@example.com\n'), api);
    expect(objects.copies.get(`prepared/${messy.uploadId}.csv`)?.toString()).toBe('b@example.com\n');
    expect(api.requests[0]?.fileUrl).toContain(`/prepared/${messy.uploadId}.csv`);
    expect(await store.get(messy.uploadId)).toMatchObject({ preparedKey: `${messy.uploadId}.csv`, note: expect.stringMatching(/^Insider was sent a cleaned copy/) });
    expect(api.requests[1]?.fileUrl).toContain('/drops/Email%20Address%2FClean.csv');
    expect((await store.get(clean.uploadId))?.preparedKey).toBeUndefined();
    expect(objects.aborted).toBe(1);
  });

  it.each([
    ['an upper-case .CSV, unchanged', 'em/Upper.CSV', Buffer.from('a@example.com\n')],
    ['a .csv.gz', 'em/Packed.csv.gz', gzipSync('a@example.com\n')],
  ])('sends %s as a copy named .csv', async (_case, key, body) => {
    objects.put('drops', key, { body });
    const api = new ScriptedApi([ok]);
    const outcome = await run({ bucket: 'drops', key, size: body.length, sequencer: key }, api);
    expect(objects.copies.get(`prepared/${outcome.uploadId}.csv`)?.toString()).toBe('a@example.com\n');
    expect(api.requests[0]?.fileUrl).toMatch(/\.csv\?/);
  });

  it('reads the file once: a retry reuses the figures and the copy', async () => {
    const api = new ScriptedApi([status(503, 'Service Unavailable'), ok]);
    const object = drop('em/Retried.csv', 'email\na@example.com\n');
    await run(object, api, {}, 1);
    await run(object, api, {}, 2);
    expect(objects.reads).toBe(1);
    expect(api.requests.map((r) => r.fileUrl)).toEqual([api.requests[0]?.fileUrl, api.requests[0]?.fileUrl]);
    expect(api.requests[0]?.fileUrl).toContain('/prepared/');
  });

  it('reads and copies again when a failed upload is redriven (its copy may have expired)', async () => {
    const object = drop('em/Redriven.csv', 'email\na@example.com\n');
    for (const attempt of [1, 2, 3]) await run(object, new ScriptedApi([status(503)]), {}, attempt);
    expect(objects.reads).toBe(1);
    objects.copies.clear();
    await run(object, new ScriptedApi([ok]), {}, 1);
    expect(objects.reads).toBe(2);
    expect(objects.copies.size).toBe(1);
  });

  it('stops a gzip bomb at maxFileBytes and aborts the copy', async () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x30));
    objects.put('drops', 'em/Bomb.csv.gz', { body: bomb });
    const api = new ScriptedApi([ok]);
    const outcome = await run({ bucket: 'drops', key: 'em/Bomb.csv.gz', size: bomb.length, sequencer: 'b' }, api);
    expect(await store.get(outcome.uploadId)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/over 9\.8 KB once decompressed/), preflight: { complete: false, rejection: 'tooLarge' } });
    expect(api.requests).toHaveLength(0);
    expect(objects.copies.size).toBe(0);
    expect(objects.aborted).toBe(1);
  });

  it('turns a failed read into a retry, aborting the copy', async () => {
    const object = drop('em/Flaky.csv');
    objects.read = async () => {
      throw new Error('socket hang up');
    };
    expect(await run(object, new ScriptedApi([ok]))).toMatchObject({ action: 'retry' });
    expect(await store.get(uploadIdFor(object))).toMatchObject({ status: 'received', lastError: 'Internal error (Error: socket hang up).' });
  });
});

describe('dry run', () => {
  it('does everything but call Insider: no request, no lock, no {n} issued, no copy; records the verdict and figures', async () => {
    const api = new ScriptedApi([ok]);
    await run(drop('em/Counted.csv'), api, { naming: { template: '{name} {n}' } });
    const outcome = await run(drop('dry-run/em/Counted.csv', 'email\nc@example.com\n'), api, { naming: { template: '{name} {n}' } });
    const record = await store.get(outcome.uploadId);
    expect(record).toMatchObject({ status: 'dry_run', dryRun: true, dryRunVerdict: 'would-submit', insiderSegmentName: 'Counted 2', preflight: { values: 1, changed: true } });
    expect(record?.segmentCounter).toBeUndefined();
    expect(record?.reason).toBe(
      'Dry run: nothing was sent to Insider. A real drop would send "Counted 2" ({n} = 2, the next number; a real drop takes its own) with attribute "em": 1 value, as a cleaned copy (the copy dropped the header row (line 1)).',
    );
    expect(api.requests).toHaveLength(1);
    expect(store.counters.get('Counted')?.n).toBe(1);
    expect(store.locks.has('Counted 2')).toBe(false);
    expect(objects.copies.size).toBe(0);
    expect(telemetry.finals.at(-1)).toMatchObject({ status: 'dry_run' });
  });

  it('says what a real drop would be rejected for, by metadata or by name', async () => {
    const api = new ScriptedApi([ok]);
    const blank = await run(drop('em/Empty.csv', '\n\n', { 'dry-run': 'yes' }), api);
    const badName = await run(drop(`dry-run/em/${'x'.repeat(41)}.csv`), api);
    expect(await store.get(blank.uploadId)).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-reject', reason: expect.stringMatching(/^Dry run: nothing was sent to Insider\. A real drop would be rejected: The file has no values/) });
    expect(await store.get(badName.uploadId)).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-reject', reason: expect.stringMatching(/would be rejected: Segment name from the file name has 41 characters/) });
    expect(api.requests).toHaveLength(0);
  });

  it.each([
    ['a near-miss folder', 'dry_run/em/Near.csv', {}],
    ['a dry-run folder below the top', 'exports/dry-run/em/Near.csv', {}],
    ['a near-miss metadata key', 'em/Near.csv', { dryrun: 'true' }],
  ])('records %s as rejected before Insider: no request, no lock, no {n}, the name free', async (_what, key, metadata) => {
    const api = new ScriptedApi([ok]);
    const outcome = await run(drop(key, 'a@example.com\n', metadata), api, { naming: { template: '{name} {n}' } });
    expect(await store.get(outcome.uploadId)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/looks like .*Nothing was sent to Insider\.$/) });
    expect((await store.get(outcome.uploadId))?.dryRun).toBeUndefined();
    expect(api.requests).toHaveLength(0);
    expect(store.locks.size).toBe(0);
    expect(store.counters.size).toBe(0);
    expect(objects.copies.size).toBe(0);
    expect(telemetry.finals.at(-1)).toMatchObject({ status: 'rejected' });
  });

  it('warns when our table knows the name is taken', async () => {
    const api = new ScriptedApi([ok]);
    const first = await run(drop('em/Taken.csv'), api);
    await store.update(first.uploadId, { status: 'completed' }, { from: ['submitted'] });
    const dry = await run(drop('dry-run/em/Taken.csv'), api);
    expect(await store.get(dry.uploadId)).toMatchObject({ dryRunVerdict: 'would-reject', reason: expect.stringMatching(/But Insider would answer "segment name already in use": "Taken" was already created by the upload of s3:\/\/drops\/em\/Taken\.csv/) });
  });
});

describe('redrives (npm run redrive)', () => {
  /** An upload that failed: what `npm run redrive` lists. */
  async function failedUpload(object: ObjectCreated, fields: Partial<UploadRecord> = {}): Promise<UploadRecord> {
    const at = clock.now().toISOString();
    const record: UploadRecord = {
      uploadId: uploadIdFor(object),
      bucket: object.bucket,
      key: object.key,
      versionId: object.sequencer,
      sequencer: object.sequencer,
      size: object.size,
      status: 'failed',
      reason: 'Unauthorized: check the token secret',
      invocations: 3,
      fpsRequests: 3,
      receivedAt: at,
      updatedAt: at,
      eventTime: object.eventTime?.toISOString(),
      ...fields,
    };
    await store.create(record);
    return record;
  }

  it('names a redriven copy at the event time of the upload it redrives, and links the two', async () => {
    const settings = { naming: { template: '{name} {datetime}' } };
    const original = await failedUpload(drop('em/Stamp.csv', undefined, {}, '2026-11-29T18:06:10Z'));
    const api = new ScriptedApi([ok]);
    // The copy the command makes the next morning: a new version, with metadata redrive-of.
    const outcome = await run(drop('em/Stamp.csv', undefined, { 'redrive-of': original.uploadId }, '2026-11-30T09:00:00Z'), api, settings);

    expect(api.requests[0]?.segmentName).toBe('Stamp 2026-11-29 18:06');
    expect(await store.get(outcome.uploadId)).toMatchObject({
      status: 'submitted',
      redriveOf: original.uploadId,
      eventTime: '2026-11-29T18:06:10.000Z',
      note: expect.stringContaining(`Redriven from upload ${original.uploadId}: the name's date and time are that upload's (2026-11-29T18:06:10.000Z).`),
    });
  });

  it('uses the drop\'s own time when redrive-of names no earlier upload of this object, and says so', async () => {
    const settings = { naming: { template: '{name} {date}' } };
    const elsewhere = await failedUpload(drop('em/Other.csv', undefined, {}, '2026-11-01T10:00:00Z'));
    for (const [i, value] of [elsewhere.uploadId, 'not an id', '0'.repeat(32)].entries()) {
      const api = new ScriptedApi([ok]);
      const outcome = await run(drop(`em/Own time ${i}.csv`, undefined, { 'redrive-of': value }, '2026-11-30T09:00:00Z'), api, settings);
      expect(api.requests[0]?.segmentName).toMatch(/ 2026-11-30$/);
      const record = await store.get(outcome.uploadId);
      expect(record?.redriveOf).toBeUndefined();
      expect(record?.note).toContain("Metadata redrive-of names no earlier upload of this object, so the name uses this drop's own time.");
    }
  });

  it('does not re-attempt a failed upload that was redriven as a new one when its old event comes again', async () => {
    const object = drop('em/Redriven.csv');
    await failedUpload(object, { redrivenAt: '2026-11-29T12:00:00.000Z', redrivenAs: 'f'.repeat(32) });
    const api = new ScriptedApi([ok]);
    const outcome = await run(object, api);
    expect(outcome).toMatchObject({ action: 'duplicate', status: 'failed' });
    expect(api.requests).toHaveLength(0);
    expect(objects.reads).toBe(0);

    // Without the mark, the same delivery re-attempts it (what the SQS console's DLQ redrive relies on).
    const other = drop('em/Not redriven.csv');
    await failedUpload(other);
    expect(await run(other, new ScriptedApi([ok]))).toMatchObject({ action: 'recorded', status: 'submitted' });
  });
});
