// Unit tests of when SQS delivers an event again: the wait before the next attempt, and how a message settles.
import { describe, expect, it } from 'vitest';
import { RETRY_BASE_DELAY_SECONDS, retryDelaySeconds, settleMessage } from '../../lambdas/core/redelivery.js';
import { TRIGGER_MAX_RETRY_DELAY_SECONDS } from '../../lambdas/shared/contract.js';

describe('retryDelaySeconds', () => {
  it('doubles per attempt, with jitter in the upper half, up to the cap', () => {
    expect([1, 2, 3, 10].map((attempt) => retryDelaySeconds(attempt, undefined, () => 1))).toEqual([
      RETRY_BASE_DELAY_SECONDS,
      2 * RETRY_BASE_DELAY_SECONDS,
      4 * RETRY_BASE_DELAY_SECONDS,
      TRIGGER_MAX_RETRY_DELAY_SECONDS,
    ]);
    expect(retryDelaySeconds(1, undefined, () => 0)).toBe(RETRY_BASE_DELAY_SECONDS / 2);
  });

  it("takes Insider's Retry-After when one was handed back, in whole seconds, within 1 s and the cap", () => {
    expect(retryDelaySeconds(1, 120_000)).toBe(120);
    expect(retryDelaySeconds(3, 5_001)).toBe(6);
    expect(retryDelaySeconds(1, 0)).toBe(1);
    expect(retryDelaySeconds(1, 86_400_000)).toBe(TRIGGER_MAX_RETRY_DELAY_SECONDS);
  });
});

describe('settleMessage', () => {
  it('deletes a message whose uploads are all recorded or already handled', () => {
    expect(settleMessage([{ action: 'recorded' }, { action: 'duplicate' }])).toEqual({ done: true });
    expect(settleMessage([])).toEqual({ done: true });
  });

  it('brings a message back after the longest wait any of its uploads asked for', () => {
    expect(settleMessage([{ action: 'retry', retryAfterSeconds: 30 }, { action: 'recorded' }, { action: 'retry', retryAfterSeconds: 90 }])).toEqual({
      done: false,
      visibilityTimeoutSeconds: 90,
    });
  });

  it('makes a message whose last attempt failed visible at once, for SQS to move it to the failure queue', () => {
    expect(settleMessage([{ action: 'retry', retryAfterSeconds: 30 }, { action: 'gaveUp' }])).toEqual({ done: false, visibilityTimeoutSeconds: 0 });
  });
});
