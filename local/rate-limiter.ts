// Insider's rate limit: 100 requests per second per API token, then 429 (with `Retry-After` only when configured: Insider says it "may").
import type { Answer } from './fps-wire.js';

export interface RateLimiterOptions {
  /** @default 100 */
  perSecond?: number;
  /** Whether the 429 carries `Retry-After: 1`. @default false */
  retryAfter?: boolean;
  /** @default Date.now */
  now?: () => number;
}

export const TOO_MANY_REQUESTS: Answer = { status: 429, body: { statusMessage: 'Too Many Requests' } };

/** A sliding one-second window per token. */
export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  private readonly perSecond: number;
  private readonly answer: Answer;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions = {}) {
    this.perSecond = options.perSecond ?? 100;
    this.answer = options.retryAfter ? { ...TOO_MANY_REQUESTS, headers: { 'retry-after': '1' } } : TOO_MANY_REQUESTS;
    this.now = options.now ?? Date.now;
  }

  /** Counts the request against the token's window; returns the 429 to send when it is over the limit. */
  admit(token: string): Answer | undefined {
    const now = this.now();
    const recent = (this.windows.get(token) ?? []).filter((t) => now - t < 1000);
    this.windows.set(token, recent);
    if (recent.length >= this.perSecond) return this.answer;
    recent.push(now);
    return undefined;
  }

  reset(): void {
    this.windows.clear();
  }
}
