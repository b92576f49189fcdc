// Unit tests of the FPS verdicts and the bounded retry loop (a budget for throttling, another for outages, Retry-After handed back), with a scripted API and a fake clock.
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY_POLICY, isThrottled, judge, mayHaveReachedInsider, type RetryPolicy, submitToFps } from '../../lambdas/core/fps-submission.js';
import { FakeClock, ok, refused, reset, ScriptedApi, status, timeout } from '../../local/fakes.js';

const request = { segmentName: 's', fileUrl: 'https://x/a.csv', callbackUrl: 'https://cb', attributeName: 'em' };
const policy = { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: 1000 };

describe('judge', () => {
  it.each([
    [ok, false, 'accepted'],
    [status(400, 'segment name already in use'), false, 'rejected'],
    [status(400, 'segment name already in use'), true, 'accepted'],
    [status(400, 'the file URL is invalid. The URL should include .csv extension'), false, 'rejected'],
    [status(405, 'Invalid Payload.'), false, 'rejected'],
    [status(401, 'Unauthorized'), false, 'retryLater'],
    [status(403, 'Request Limit Exceeded'), false, 'retryLater'],
    [status(429, 'Too Many Requests'), false, 'retryLater'],
    [status(520, ''), false, 'retryLater'],
    [timeout, false, 'retryLater'],
  ] as const)('%o (possibly accepted: %s) → %s', (attempt, possiblyAccepted, kind) => {
    expect(judge(attempt, possiblyAccepted).kind).toBe(kind);
  });

  it.each([
    ['405', status(405, 'Invalid Payload.')],
    ['400 (file size)', status(400, 'file size is more than the limit')],
    ['404', status(404, 'Not Found')],
  ])('never advises dropping the file again after a %s when an earlier request may have reached Insider', (_name, attempt) => {
    const verdict = judge(attempt, true);
    expect(verdict.kind).toBe('rejected');
    const reason = verdict.kind === 'rejected' ? verdict.reason : '';
    expect(reason).toMatch(/look for the segment in Insider's panel before dropping the file again/);
    expect(reason).not.toMatch(/rename the file|drop it again/);
  });

  it('advises renaming only when no earlier request may have reached Insider', () => {
    expect(judge(status(400, 'segment name already in use'), false)).toMatchObject({ reason: expect.stringMatching(/rename the file .* and drop it again/) });
    expect(judge(status(400, 'Segment name already in use'), true)).toMatchObject({ kind: 'accepted', note: expect.stringMatching(/probably succeeded/) });
  });

  it('says what to fix', () => {
    expect(judge(status(401, 'Unauthorized'), false)).toMatchObject({ reason: expect.stringMatching(/Unauthorized: check the token secret/) });
    expect(judge(status(405, 'Invalid Payload.'), false)).toMatchObject({ reason: expect.stringMatching(/^Invalid Payload/) });
    expect(judge(status(400, 'file size is more than the limit'), false)).toMatchObject({ reason: expect.stringContaining('file size is more than the limit') });
  });
});

describe('mayHaveReachedInsider', () => {
  it.each([
    [timeout, true],
    [reset, true],
    [refused, false],
    [status(500), true],
    [status(502, '<html>Bad Gateway</html>'), true],
    [status(504), true],
    [status(520), true],
    [status(429, 'Too Many Requests'), false],
    [status(403, 'Request Limit Exceeded'), false],
    [status(400, 'segment name already in use'), false],
    [ok, false],
  ] as const)('%o → %s', (attempt, expected) => {
    expect(mayHaveReachedInsider(attempt)).toBe(expected);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and is jittered', () => {
    expect(backoffDelay(0, policy, () => 1)).toBe(250);
    expect(backoffDelay(3, policy, () => 1)).toBe(2000);
    expect(backoffDelay(10, policy, () => 1)).toBe(4000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(1000);
  });
});

describe('submitToFps', () => {
  it('retries throttling and outages, then succeeds', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(429, 'Too Many Requests'), status(503), reset, ok]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false, random: () => 1 });
    expect(result.verdict.kind).toBe('accepted');
    expect(result.requests).toBe(4);
    // Throttling backs off from its own base; the outage's backoff starts at its first retry.
    expect(clock.slept).toEqual([policy.throttle.baseDelayMs, 250, 500]);
    expect(result.retryAfterMs).toBeUndefined();
  });

  it('honours Retry-After when it is longer than the backoff', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(429, 'Too Many Requests', 3000), ok]);
    await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false, random: () => 1 });
    expect(clock.slept).toEqual([3000]);
  });

  it('does not retry a final answer', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(400, 'segment name already in use'), ok]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 1, verdict: { kind: 'rejected' } });
  });

  it('stops at the deadline and reports the last error', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(503, 'Service Unavailable')]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 3000, possiblyAccepted: false, random: () => 1 });
    expect(result.verdict).toMatchObject({ kind: 'retryLater', status: 503 });
    expect(clock.ms - Date.UTC(2026, 10, 29, 12)).toBeLessThan(3000);
    expect(result.requests).toBeLessThan(5);
  });

  it.each([
    ['a 502', status(502, '<html><head><title>502 Bad Gateway</title></head></html>')],
    ['a 504', status(504, 'Gateway Timeout')],
    ['a 500', status(500, 'Internal Server Error')],
    ['a reset connection', reset],
  ])('treats "already in use" after %s as accepted (the reply was lost)', async (_name, first) => {
    const clock = new FakeClock();
    const api = new ScriptedApi([first, status(400, 'segment name already in use')]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result.possiblyAccepted).toBe(true);
    expect(result.verdict).toMatchObject({ kind: 'accepted', status: 400, note: expect.stringMatching(/probably succeeded/) });
  });

  it('still rejects "already in use" after a refused connection or a 429: nothing reached Insider', async () => {
    for (const first of [refused, status(429, 'Too Many Requests')]) {
      const clock = new FakeClock();
      const api = new ScriptedApi([first, status(400, 'segment name already in use')]);
      const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
      expect(result.possiblyAccepted).toBe(false);
      expect(result.verdict).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/rename the file/) });
    }
  });

  it('keeps possiblyAccepted from an earlier invocation', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(400, 'segment name already in use')]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: true });
    expect(result).toMatchObject({ possiblyAccepted: true, verdict: { kind: 'accepted' } });
  });

  it('warns instead of advising a new drop when a 405 follows a 502', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(502, 'Bad Gateway'), status(405, 'Invalid Payload.')]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ possiblyAccepted: true, verdict: { kind: 'rejected', status: 405 } });
    expect(result.verdict.kind === 'rejected' && result.verdict.reason).toMatch(/^Invalid Payload.*look for the segment in Insider's panel/);
  });

  it('treats "already in use" after a timed-out request as accepted', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([timeout, status(400, 'segment name already in use')]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result.possiblyAccepted).toBe(true);
    expect(result.verdict).toMatchObject({ kind: 'accepted', note: expect.stringMatching(/probably succeeded/) });
  });

  const small: RetryPolicy = { ...policy, maxRetries: 1, throttle: { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 300 } };

  it('gives throttling its own budget: 429s after a spent 5xx budget are still retried', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(503), status(429), status(403, 'Request Limit Exceeded'), status(429), ok]);
    const result = await submitToFps(api, request, { policy: small, clock, deadline: clock.ms + 60_000, possiblyAccepted: false, random: () => 1 });
    expect(result).toMatchObject({ requests: 5, verdict: { kind: 'accepted' } });
    expect(clock.slept).toEqual([250, 100, 200, 300]);
  });

  it('stops at each budget on its own, capping the throttling backoff at its own cap', async () => {
    const throttled = new FakeClock();
    const throttledResult = await submitToFps(new ScriptedApi([status(429)]), request, { policy: small, clock: throttled, deadline: throttled.ms + 60_000, possiblyAccepted: false, random: () => 1 });
    expect(throttledResult).toMatchObject({ requests: 6, verdict: { kind: 'retryLater', status: 429 } });
    expect(throttled.slept).toEqual([100, 200, 300, 300, 300]);

    const down = new FakeClock();
    const downResult = await submitToFps(new ScriptedApi([status(503)]), request, { policy: small, clock: down, deadline: down.ms + 60_000, possiblyAccepted: false, random: () => 1 });
    expect(downResult).toMatchObject({ requests: 2, verdict: { kind: 'retryLater', status: 503 } });
  });

  it('hands back a Retry-After longer than the invocation may sleep, without sleeping', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(429, 'Too Many Requests', policy.maxRetryAfterMs + 1), ok]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 1, retryAfterMs: policy.maxRetryAfterMs + 1, verdict: { kind: 'retryLater', status: 429 } });
    expect(clock.slept).toEqual([]);
  });

  /** Insider as it judges the token: only `right` is let in. */
  const insider = (_req: unknown, token: string) => (token === 'right' ? ok : status(401, 'Unauthorized'));

  it('after a 401 reads the token again and, when the secret was fixed meanwhile, sends again at once with it', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([insider]);
    api.secret = 'wrong';
    await api.upload(request); // an earlier invocation cached the wrong token
    api.secret = 'right';
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 2, tokenReread: 'changed', verdict: { kind: 'accepted', status: 200 } });
    expect(api.tokensSent).toEqual(['wrong', 'wrong', 'right']);
    expect(api.refreshes).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('after a 401 with the token unchanged makes no extra request and keeps the reason', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([insider]);
    api.secret = 'wrong';
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 1, tokenReread: 'unchanged', verdict: judge(status(401, 'Unauthorized'), false) });
    expect(result.verdict).toMatchObject({ kind: 'retryLater', reason: expect.stringMatching(/^Unauthorized: check the token secret holds your FPS API token/) });
    expect(api.refreshes).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('reads the token again only once per call: a new token that is wrong too is answered as today', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([insider]);
    api.secret = 'wrong';
    await api.upload(request);
    api.secret = 'still wrong';
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 2, tokenReread: 'changed', verdict: { kind: 'retryLater', status: 401 } });
    expect(api.tokensSent).toEqual(['wrong', 'wrong', 'still wrong']);
    expect(api.refreshes).toBe(1);
  });

  it('does not read the token again for other answers', async () => {
    const clock = new FakeClock();
    for (const answer of [ok, status(403, 'Forbidden'), status(429), status(400, 'segment name already in use')]) {
      const api = new ScriptedApi([answer, ok]);
      const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 60_000, possiblyAccepted: false, random: () => 0 });
      expect(result.tokenReread).toBeUndefined();
      expect(api.refreshes).toBe(0);
    }
  });

  it('hands back a Retry-After that would not leave room for a request before the deadline', async () => {
    const clock = new FakeClock();
    const api = new ScriptedApi([status(503, 'Service Unavailable', 3000), ok]);
    const result = await submitToFps(api, request, { policy, clock, deadline: clock.ms + 3500, possiblyAccepted: false });
    expect(result).toMatchObject({ requests: 1, retryAfterMs: 3000 });
    expect(clock.slept).toEqual([]);
  });
});

describe('isThrottled', () => {
  it.each([
    [status(429, 'Too Many Requests'), true],
    [status(403, 'Request Limit Exceeded'), true],
    [status(403, 'Forbidden'), false],
    [status(503), false],
    [reset, false],
  ] as const)('%o → %s', (attempt, expected) => {
    expect(isThrottled(attempt)).toBe(expected);
  });
});
