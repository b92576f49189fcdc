// Unit tests of the callback's use case and its HTTP answers: authentication, validation, completion, replay and conflicts.
import { beforeEach, describe, expect, it } from 'vitest';
import { httpAnswer } from '../../lambdas/callback/http.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { countsMismatch, lowMatchRateWarning, matchRate, parseCallbackBody, recordCallback } from '../../lambdas/core/record-callback.js';
import { FakeClock, fakeTokens, MemoryStore, RecordingTelemetry } from '../../local/fakes.js';

const ID = 'a'.repeat(32);
let store: MemoryStore;
let telemetry: RecordingTelemetry;
const clock = new FakeClock();
const body = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ segment_name: 'VIP', valid_values_count: 5, invalid_values_count: 7, total_entered_values: 12, ...over });

function seed(status: UploadRecord['status'] = 'submitted', extra: Partial<UploadRecord> = {}) {
  store.records.set(ID, { uploadId: ID, bucket: 'b', key: 'em/VIP.csv', size: 9, segmentName: 'VIP', status, receivedAt: 't0', updatedAt: 't0', callbackTokenHashes: [fakeTokens.hash('good')], ...extra });
}
const outcomeOf = (b: string | undefined, token = 'good', uploadId = ID) => recordCallback({ uploadId, token, body: b }, { store, tokens: fakeTokens, clock, telemetry });
/** What the caller sees: the outcome through the handler's one outcome-to-HTTP table. */
const call = async (b: string | undefined, token = 'good', uploadId = ID) => httpAnswer(await outcomeOf(b, token, uploadId));

beforeEach(() => {
  store = new MemoryStore();
  telemetry = new RecordingTelemetry();
});

describe('recordCallback', () => {
  it('compares segment_name with the name sent (a rendered template), as text: NFC and surrounding white space aside', async () => {
    seed('submitted', { segmentName: 'Café', insiderSegmentName: 'Café 2026-11-29' });
    expect((await call(body({ segment_name: 'Café' }))).statusCode).toBe(409);
    expect((await call(body({ segment_name: 'cafe\u0301 2026-11-29' }))).statusCode).toBe(409);
    expect(await call(body({ segment_name: ' Cafe\u0301 2026-11-29' }))).toEqual({ statusCode: 200, message: 'Recorded.' });
  });

  it('warns on the record, in the notification and in a metric when the match rate is below minMatchRate', async () => {
    seed();
    const low = () => recordCallback({ uploadId: ID, token: 'good', body: body() }, { store, tokens: fakeTokens, clock, telemetry, minMatchRate: 0.6 });
    expect((await low()).kind).toBe('recorded');
    expect(store.records.get(ID)?.warning).toMatch(/Insider matched 41\.7% of the values, below the 60%/);
    expect(telemetry.finals[0]?.warning).toBe(store.records.get(ID)?.warning);
    expect(telemetry.metrics.LowMatchRate).toBe(1);
  });

  it('gives no warning at or above minMatchRate', async () => {
    seed();
    await recordCallback({ uploadId: ID, token: 'good', body: body() }, { store, tokens: fakeTokens, clock, telemetry, minMatchRate: 0.4 });
    expect(store.records.get(ID)?.status).toBe('completed');
    expect(store.records.get(ID)?.warning).toBeUndefined();
    expect(telemetry.metrics.LowMatchRate).toBeUndefined();
  });

  it('completes a submitted upload with the counts and the match rate', async () => {
    seed();
    expect(await call(body())).toEqual({ statusCode: 200, message: 'Recorded.' });
    expect(store.records.get(ID)).toMatchObject({ status: 'completed', validValuesCount: 5, invalidValuesCount: 7, totalEnteredValues: 12, matchRate: 0.4167, completedAt: clock.now().toISOString(), callbacksReceived: 1 });
    expect(telemetry.finals).toHaveLength(1);
  });

  it('answers a replay with 200 and changes nothing', async () => {
    seed();
    await call(body());
    const before = structuredClone(store.records.get(ID));
    const writes = store.writes;
    expect(await call(body())).toMatchObject({ statusCode: 200, message: 'Already recorded.' });
    expect(store.records.get(ID)).toEqual(before);
    expect(store.writes).toBe(writes);
  });

  it('refuses different counts for a completed upload with 409', async () => {
    seed();
    await call(body());
    expect((await call(body({ valid_values_count: 6 }))).statusCode).toBe(409);
    expect(store.records.get(ID)?.validValuesCount).toBe(5);
  });

  it.each([
    ['a wrong token', () => call(body(), 'forged'), 403],
    ['an unknown upload', () => call(body(), 'good', 'b'.repeat(32)), 404],
    ['a malformed upload id', () => call(body(), 'good', '../etc'), 404],
    ['a missing token', () => call(body(), ''), 404],
  ])('rejects %s and writes nothing', async (_name, act, code) => {
    seed();
    const before = structuredClone(store.records.get(ID));
    expect((await act()).statusCode).toBe(code);
    expect(store.records.get(ID)).toEqual(before);
  });

  it.each([
    ['not JSON', '{nope', /not valid JSON/],
    ['empty', '', /empty/],
    ['a negative count', body({ valid_values_count: -1 }), /valid_values_count must not be negative/],
    ['a fractional count', body({ total_entered_values: 1.5 }), /total_entered_values must be a whole number/],
    ['a string count', body({ invalid_values_count: '7' }), /invalid_values_count must be a number/],
    ['a missing field', JSON.stringify({ segment_name: 'VIP' }), /valid_values_count/],
    ['an array', '[]', /Invalid callback body/],
  ])('answers 400 for a body that is %s', async (_name, raw, message) => {
    seed();
    const result = await call(raw);
    expect(result.statusCode).toBe(400);
    expect(result.message).toMatch(message);
    expect(store.records.get(ID)?.status).toBe('submitted');
  });

  it('answers 413 for a huge body before reading it', async () => {
    seed();
    expect((await call('x'.repeat(10_000))).statusCode).toBe(413);
  });

  it('refuses a callback for another segment', async () => {
    seed();
    expect((await call(body({ segment_name: 'Other' }))).statusCode).toBe(409);
  });

  it('ignores extra fields', async () => {
    seed();
    expect((await call(body({ extra: true }))).statusCode).toBe(200);
  });

  it('lets a genuine late callback complete a timed-out upload, with a note', async () => {
    seed('timed_out');
    expect((await call(body())).statusCode).toBe(200);
    expect(store.records.get(ID)).toMatchObject({ status: 'completed', note: expect.stringMatching(/after the upload was marked timed_out/) });
  });

  it('completes a rejected upload: the token proves Insider accepted it, whatever we had concluded', async () => {
    seed('rejected', { reason: 'Invalid Payload: Insider rejected the request body.', fpsHttpStatus: 405, fpsMessage: 'Invalid Payload.', possiblyAccepted: true });
    expect(await call(body())).toEqual({ statusCode: 200, message: 'Recorded.' });
    expect(store.records.get(ID)).toMatchObject({
      status: 'completed',
      validValuesCount: 5,
      reason: 'Insider created the segment and reported its counts.',
      note: expect.stringMatching(/recorded rejected after Insider answered HTTP 405 "Invalid Payload\.": Insider did accept the file/),
    });
    expect(telemetry.finals.map((r) => r.status)).toEqual(['completed']);
  });

  it.each([
    ['received', /arrived before the trigger had recorded/],
    ['failed', /after the upload was marked failed/],
    ['timed_out', /after the upload was marked timed_out/],
    ['rejected', /recorded rejected/],
  ] as const)('completes a %s upload with a note saying how', async (status, note) => {
    seed(status);
    expect((await call(body())).statusCode).toBe(200);
    expect(store.records.get(ID)).toMatchObject({ status: 'completed', note: expect.stringMatching(note) });
  });

  it('adds no note for the usual path from submitted, and keeps a note the trigger left', async () => {
    seed('submitted');
    await call(body());
    expect(store.records.get(ID)?.note).toBeUndefined();
    store.records.clear();
    seed('submitted', { note: 'the earlier request probably succeeded' });
    await call(body());
    expect(store.records.get(ID)?.note).toBe('the earlier request probably succeeded');
  });

  it('answers a replay to a once-rejected upload with 200 and changes nothing', async () => {
    seed('rejected');
    await call(body());
    const before = structuredClone(store.records.get(ID));
    expect(await call(body())).toEqual({ statusCode: 200, message: 'Already recorded.' });
    expect((await call(body({ valid_values_count: 4 }))).statusCode).toBe(409);
    expect(store.records.get(ID)).toEqual(before);
  });

  it.each([
    ['NFD for an NFC record', 'Müşteri'.normalize('NFD'), 'Müşteri'],
    ['NFC for an NFD record', 'Müşteri', 'Müşteri'.normalize('NFD')],
    ['surrounding whitespace', '  Müşteri\n', 'Müşteri'],
  ])('matches segment_name insensitive to %s', async (_name, sent, recorded) => {
    seed('submitted', { segmentName: recorded });
    expect((await call(body({ segment_name: sent }))).statusCode).toBe(200);
    expect(store.records.get(ID)?.status).toBe('completed');
  });
});

describe('callback numbers', () => {
  it.each([
    ['2^53', 2 ** 53],
    ['1e20', 1e20],
  ])('answers 400 for a count of %s and writes nothing', async (_name, huge) => {
    seed();
    const before = structuredClone(store.records.get(ID));
    const writes = store.writes;
    const result = await call(body({ total_entered_values: huge }));
    expect(result).toEqual({ statusCode: 400, message: 'Invalid callback body: total_entered_values must be at most 9007199254740991.' });
    expect(store.records.get(ID)).toEqual(before);
    expect(store.writes).toBe(writes);
  });

  it('accepts a count of exactly 2^53−1', async () => {
    seed();
    expect((await call(body({ valid_values_count: 0, invalid_values_count: Number.MAX_SAFE_INTEGER, total_entered_values: Number.MAX_SAFE_INTEGER }))).statusCode).toBe(200);
    expect(store.records.get(ID)).toMatchObject({ totalEnteredValues: Number.MAX_SAFE_INTEGER, matchRate: 0 });
  });

  it.each([
    ['valid > total', { valid_values_count: 5, invalid_values_count: 0, total_entered_values: 3 }, 1, /valid \(5\) is more than the total \(3\)/],
    ['valid + invalid > total', { valid_values_count: 1, invalid_values_count: 3, total_entered_values: 3 }, 0.25, /valid \(1\) \+ invalid \(3\) = 4, not the total \(3\)/],
    ['valid + invalid < total', { valid_values_count: 2, invalid_values_count: 1, total_entered_values: 5 }, 0.4, /= 3, not the total \(5\)/],
  ])('records counts where %s, with a note, and a match rate within 0–1', async (_name, counts, rate, note) => {
    seed();
    expect((await call(body(counts))).statusCode).toBe(200);
    const record = store.records.get(ID);
    expect(record).toMatchObject({
      status: 'completed',
      validValuesCount: counts.valid_values_count,
      invalidValuesCount: counts.invalid_values_count,
      totalEnteredValues: counts.total_entered_values,
      matchRate: rate,
      note: expect.stringMatching(/Insider's counts don't add up/),
    });
    expect(record?.note).toMatch(note);
  });

  it('joins the notes when an upload completed from another status has odd counts', async () => {
    seed('timed_out');
    await call(body({ valid_values_count: 3, invalid_values_count: 0, total_entered_values: 2 }));
    expect(store.records.get(ID)?.note).toMatch(/marked timed_out\. Insider's counts don't add up/);
  });
});

describe('outcomes', () => {
  it('are decided by the core as kinds, never as HTTP status codes', async () => {
    seed();
    expect(await outcomeOf(body())).toEqual({ kind: 'recorded', message: 'Recorded.' });
    expect(await outcomeOf(body())).toEqual({ kind: 'alreadyRecorded', message: 'Already recorded.' });
    expect(await outcomeOf(body(), 'forged')).toEqual({ kind: 'forbidden', message: 'Invalid callback token.' });
    expect((await outcomeOf('x'.repeat(10_000))).kind).toBe('tooLarge');
  });

  it('map to HTTP in one table, which also answers a request the handler refuses itself', () => {
    expect(httpAnswer({ kind: 'changedMeanwhile', message: 'm' })).toEqual({ statusCode: 409, message: 'm' });
    expect(httpAnswer({ kind: 'methodNotAllowed', message: 'Only POST is accepted.' })).toEqual({ statusCode: 405, message: 'Only POST is accepted.' });
  });
});

describe('helpers', () => {
  it('computes the match rate and leaves it out for an empty file', () => {
    expect(matchRate(1, 2, 3)).toBe(0.3333);
    expect(matchRate(5, 7, 12)).toBe(0.4167);
    expect(matchRate(0, 0, 0)).toBeUndefined();
  });

  it('keeps the match rate within 0–1 whatever the counts', () => {
    // The rates the issue saw: 1.67 (valid 5, total 3) and 2.0 (valid 4, total 2).
    expect(matchRate(5, 0, 3)).toBe(1);
    expect(matchRate(4, 2, 2)).toBe(0.6667);
    expect(matchRate(3, 0, 0)).toBe(1);
    expect(matchRate(0, 4, 0)).toBe(0);
    const rates: number[] = [];
    for (let valid = 0; valid <= 12; valid++) {
      for (let invalid = 0; invalid <= 12; invalid++) {
        for (let total = 0; total <= 12; total++) rates.push(matchRate(valid, invalid, total) ?? 0);
      }
    }
    expect(Math.min(...rates)).toBe(0);
    expect(Math.max(...rates)).toBe(1);
  });

  it('says nothing about counts that add up', () => {
    expect(countsMismatch({ segment_name: 's', valid_values_count: 5, invalid_values_count: 7, total_entered_values: 12 })).toBeUndefined();
  });

  it('warns below the minimum match rate, and when Insider counted no values', () => {
    expect(lowMatchRateWarning(0.5, 0.5, 10)).toBeUndefined();
    expect(lowMatchRateWarning(0.4167, 0.5, 12)).toMatch(/^Low match rate: Insider matched 41\.7% of the values, below the 50% this deployment expects \(minMatchRate\)\. Check that the folder/);
    expect(lowMatchRateWarning(undefined, 0.5, 0)).toMatch(/^Insider counted no values in the file \(0 entered\)\./);
    expect(lowMatchRateWarning(0.1, 0, 10)).toBeUndefined();
  });
  it('accepts Insider\'s sample body', () => {
    expect(parseCallbackBody('{"segment_name":"My unique segment","valid_values_count":5,"invalid_values_count":7,"total_entered_values":12}').ok).toBe(true);
  });
});
