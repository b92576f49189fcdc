// Unit tests of the benchmark's rounding of rates: a small, slow case must never be reported as 0.
import { describe, expect, it } from 'vitest';
import { round, roundRate } from '../../bench/support.js';

describe('roundRate', () => {
  it('keeps one decimal for rates of 1 and more, like round()', () => {
    for (const n of [1, 1.04, 72.34, 150.25, 1234.56]) expect(roundRate(n)).toBe(round(n, 1));
  });

  it('keeps two significant figures below 1, where one decimal would show 0 (1 KB in 25 ms of CPU)', () => {
    const rate = 1024 / 1_048_576 / 0.025;
    expect(round(rate, 1)).toBe(0);
    expect(roundRate(rate)).toBe(0.039);
    expect(roundRate(0.12)).toBe(0.12);
  });

  it('leaves zero and non-finite rates alone', () => {
    expect(roundRate(0)).toBe(0);
    expect(roundRate(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(roundRate(Number.NaN)).toBeNaN();
  });
});
