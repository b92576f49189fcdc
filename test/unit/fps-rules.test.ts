// Tests Insider's upload rules, the rate limiter and the fault plan of the FPS simulator, without sockets.
import { describe, expect, it } from 'vitest';
import { CALLBACK_FAULTS, FaultPlan, REPLY_LOST_FAULTS, UPLOAD_FAULTS } from '../../local/fps-faults.js';
import { type AccountState, checkCredentials, judgeUpload } from '../../local/fps-rules.js';
import { RateLimiter } from '../../local/rate-limiter.js';

const tokens = new Map([
  ['mybrand', 'tok-123'],
  ['other', 'tok-other'],
]);
const inUse = new Map<string, Set<string>>([['mybrand', new Set(['Taken'])]]);
const state: AccountState = { tokens, segmentsInUse: (partner) => inUse.get(partner) ?? new Set() };

const valid = { segmentName: 'VIP', fileUrl: 'http://127.0.0.1/x.csv?sig=1', callbackUrl: 'http://127.0.0.1/cb/1', attributeName: 'em' };
const headers = { 'x-partner-name': 'mybrand', 'x-request-token': 'tok-123' };
const judge = (body: unknown, h: Record<string, string | string[] | undefined> = headers) =>
  judgeUpload({ headers: h, body: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }, state);

describe('judgeUpload: Insider\'s rules for one request', () => {
  it('accepts a valid request with 200 OK and returns the payload', () => {
    expect(judge(valid)).toEqual({ accepted: true, answer: { status: 200, body: { statusMessage: 'OK' } }, partner: 'mybrand', payload: valid });
  });

  it.each([
    ['no partner header', { 'x-request-token': 'tok-123' }, 400, { statusMessage: 'partner name is missing' }],
    ['an empty partner', { 'x-partner-name': '', 'x-request-token': 'tok-123' }, 400, { statusMessage: 'partner name is missing' }],
    ['an upper-case partner', { 'x-partner-name': 'MyBrand', 'x-request-token': 'tok-123' }, 400, { statusMessage: 'partner name should be lowercase' }],
    ['an unknown partner', { 'x-partner-name': 'stranger', 'x-request-token': 'tok-123' }, 401, { statusMessage: 'Unauthorized' }],
    ['another partner\'s token', { 'x-partner-name': 'other', 'x-request-token': 'tok-123' }, 401, { statusMessage: 'Unauthorized' }],
    ['no token', { 'x-partner-name': 'mybrand' }, 401, { statusMessage: 'Unauthorized' }],
  ])('checks the headers first: %s', (_label, h, status, body) => {
    // Even an invalid payload gets the header answer: headers are checked before the body.
    expect(judge('{oops', h)).toMatchObject({ accepted: false, answer: { status, body } });
  });

  it('reads the first of repeated headers', () => {
    expect(checkCredentials({ 'x-partner-name': ['mybrand', 'other'], 'x-request-token': 'tok-123' } as never, tokens)).toEqual({
      ok: true,
      partner: 'mybrand',
      token: 'tok-123',
    });
  });

  it.each([
    ['not JSON', '{oops'],
    ['a JSON array', []],
    ['null', 'null'],
    ['a missing field', { ...valid, callbackUrl: undefined }],
    ['a blank field', { ...valid, attributeName: '  ' }],
    ['a number for a name', { ...valid, segmentName: 7 }],
    ['a 41-character name', { ...valid, segmentName: 'x'.repeat(41) }],
    ['a body too large to read', undefined],
  ])('answers 405 Invalid Payload for %s', (_label, body) => {
    expect(judge(body)).toMatchObject({ accepted: false, answer: { status: 405, body: { error: 'Invalid Payload.' } }, partner: 'mybrand' });
  });

  it('accepts a name of exactly 40 characters', () => {
    expect(judge({ ...valid, segmentName: 'y'.repeat(40) }).accepted).toBe(true);
  });

  it('needs ".csv" (case-sensitive) somewhere in the file URL', () => {
    const message = 'the file URL is invalid. The URL should include .csv extension';
    expect(judge({ ...valid, fileUrl: 'http://127.0.0.1/x.CSV' }).answer).toEqual({ status: 400, body: { statusMessage: message } });
    expect(judge({ ...valid, fileUrl: 'http://127.0.0.1/x.txt' }).answer.status).toBe(400);
    expect(judge({ ...valid, fileUrl: 'http://127.0.0.1/get?name=x.csv' }).accepted).toBe(true);
  });

  it('refuses a name the partner already has, and only for that partner', () => {
    expect(judge({ ...valid, segmentName: 'Taken' })).toMatchObject({ accepted: false, answer: { status: 400, body: { statusMessage: 'segment name already in use' } } });
    expect(judge({ ...valid, segmentName: 'Taken' }, { 'x-partner-name': 'other', 'x-request-token': 'tok-other' }).accepted).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('admits perSecond requests per token in any one-second window, then answers 429', () => {
    let now = 1_000;
    const limiter = new RateLimiter({ perSecond: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.admit('a'))).toEqual([undefined, undefined, undefined]);
    expect(limiter.admit('a')).toEqual({ status: 429, body: { statusMessage: 'Too Many Requests' } });
    expect(limiter.admit('b')).toBeUndefined();
    now += 999;
    expect(limiter.admit('a')?.status).toBe(429);
    now += 1;
    expect(limiter.admit('a')).toBeUndefined();
  });

  it('refused requests do not use up the window', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 1, now: () => now });
    limiter.admit('a');
    now = 500;
    expect(limiter.admit('a')?.status).toBe(429);
    now = 1000;
    expect(limiter.admit('a')).toBeUndefined();
  });

  it('adds Retry-After: 1 only when configured, and defaults to 100 a second', () => {
    const limiter = new RateLimiter({ retryAfter: true, now: () => 0 });
    for (let i = 0; i < 100; i++) expect(limiter.admit('a')).toBeUndefined();
    expect(limiter.admit('a')?.headers).toEqual({ 'retry-after': '1' });
    limiter.reset();
    expect(limiter.admit('a')).toBeUndefined();
  });
});

describe('FaultPlan', () => {
  const sequence = (plan: FaultPlan, n: number) => Array.from({ length: n }, () => `${plan.drawUpload() ?? '-'}/${plan.drawCallback().join('+')}`);

  it('draws nothing by default', () => {
    expect(new Set(sequence(new FaultPlan(1), 50))).toEqual(new Set(['-/']));
  });

  it('replays the same draws for the same seed and after reset(), and counts only what is counted', () => {
    const config = { serverError: 0.3, acceptedReplyLost502: 0.3, callbackDuplicated: 0.5 };
    const a = new FaultPlan(7, config);
    const first = sequence(a, 40);
    expect(sequence(new FaultPlan(7, config), 40)).toEqual(first);
    expect(sequence(new FaultPlan(8, config), 40)).not.toEqual(first);
    a.count('serverError');
    expect(a.counts).toEqual({ serverError: 1 });
    a.reset();
    expect(a.counts).toEqual({});
    expect(sequence(a, 40)).toEqual(first);
  });

  it('keeps an earlier seed\'s answer faults when the reply-lost family is switched on', () => {
    const old = { serverError: 0.2, rateLimited: 0.2, acceptedButSlow: 0.2 };
    const without = Array.from({ length: 200 }, ((plan) => () => plan.drawUpload())(new FaultPlan(3, old)));
    const withLost = Array.from({ length: 200 }, ((plan) => () => plan.drawUpload())(new FaultPlan(3, { ...old, acceptedReplyLost504: 0.5 })));
    for (let i = 0; i < 200; i++) {
      if (without[i] !== undefined) expect(withLost[i]).toBe(without[i]);
      else expect([undefined, 'acceptedReplyLost504']).toContain(withLost[i]);
    }
    expect(withLost.filter((f) => f === 'acceptedReplyLost504').length).toBeGreaterThan(20);
  });

  it('at probability 1 each reply-lost fault is drawn on its own', () => {
    for (const name of REPLY_LOST_FAULTS) expect(new FaultPlan(1, { [name]: 1 }).drawUpload()).toBe(name);
  });

  it('a dropped callback is never also duplicated or conflicting', () => {
    const plan = new FaultPlan(1, Object.fromEntries(CALLBACK_FAULTS.map((f) => [f, 1])));
    expect(plan.drawCallback()).toEqual(['callbackDropped']);
  });

  it('picks server errors among 500/502/503/504/520', () => {
    const plan = new FaultPlan(5);
    const statuses = new Set(Array.from({ length: 100 }, () => plan.drawServerErrorStatus()));
    expect([...statuses].sort()).toEqual([500, 502, 503, 504, 520]);
  });

  it('refuses unknown faults and probabilities outside 0..1', () => {
    expect(() => new FaultPlan(1, { bogus: 1 } as never)).toThrow(/unknown fault: bogus/);
    expect(() => new FaultPlan(1).configure({ acceptedReplyLostReset: 1.5 })).toThrow(RangeError);
    expect([...UPLOAD_FAULTS, ...REPLY_LOST_FAULTS, ...CALLBACK_FAULTS]).toHaveLength(new Set([...UPLOAD_FAULTS, ...REPLY_LOST_FAULTS, ...CALLBACK_FAULTS]).size);
  });
});
