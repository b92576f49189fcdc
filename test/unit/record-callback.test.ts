// Unit tests of the callback's use case and its HTTP answers: authentication, validation, completion, replay and conflicts.
import { beforeEach, describe, expect, it } from 'vitest';
import { httpAnswer } from '../../lambdas/callback/http.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { matchRate, parseCallbackBody, recordCallback } from '../../lambdas/core/record-callback.js';
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

  it('does not complete a rejected upload', async () => {
    seed('rejected');
    expect((await call(body())).statusCode).toBe(409);
    expect(store.records.get(ID)?.status).toBe('rejected');
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
    expect(matchRate(1, 3)).toBe(0.3333);
    expect(matchRate(0, 0)).toBeUndefined();
  });
  it('accepts Insider\'s sample body', () => {
    expect(parseCallbackBody('{"segment_name":"My unique segment","valid_values_count":5,"invalid_values_count":7,"total_entered_values":12}').ok).toBe(true);
  });
});
