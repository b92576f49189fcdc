// Calls Insider's upload API with bounded retries and turns what it answered into one verdict.
import pRetry from 'p-retry';
import { Limits } from '../shared/limits.js';
import { MAY_HAVE_REACHED_INSIDER } from './lifecycle.js';
import type { Clock, FpsAttempt, FpsUploadRequest, SegmentApi } from './ports.js';

export const SEGMENT_IN_USE = 'segment name already in use';

/** What the upload's record should become after talking to Insider. */
export type FpsVerdict =
  | { kind: 'accepted'; status: number; message: string; note?: string }
  | { kind: 'rejected'; status: number; message: string; reason: string }
  /** Worth another invocation: rate limits, outages, auth that an operator may fix meanwhile. */
  | { kind: 'retryLater'; status?: number; message: string; reason: string };

/** A backoff: full-jitter exponential from `baseDelayMs`, capped at `maxDelayMs`, at most `maxRetries` times. */
export interface Backoff {
  /** Retries inside one invocation after the first request. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * How one invocation retries Insider. 5xx answers and network errors use the top-level backoff;
 * throttling has its own, because it is expected in a burst (many environments share one 100 req/s
 * token) and clears within a second, while an outage does not.
 */
export interface RetryPolicy extends Backoff {
  /** 429 and `403 Request Limit Exceeded`. */
  throttle: Backoff;
  /**
   * The longest `Retry-After` an invocation sleeps through. A longer one ends the invocation's
   * retries and is handed back (`SubmissionResult.retryAfterMs`): SQS delivers the event again after it.
   */
  maxRetryAfterMs: number;
  /** Per-request timeout. */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 4,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  throttle: { maxRetries: 20, baseDelayMs: 100, maxDelayMs: 1000 },
  maxRetryAfterMs: 5000,
  requestTimeoutMs: Limits.fpsTimeoutMs.default,
};

const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504, 520]);

/** Insider throttles with 429, and some of its hosts with `403 Request Limit Exceeded`. */
export function isRetryable(attempt: FpsAttempt): boolean {
  if (attempt.kind === 'network') return true;
  if (RETRYABLE_STATUSES.has(attempt.status)) return true;
  if (attempt.status === 403 && /request limit exceeded/i.test(attempt.message)) return true;
  return attempt.status >= 500;
}

/** Insider's rate limit answered (429, or `403 Request Limit Exceeded` from some of its hosts). */
export function isThrottled(attempt: FpsAttempt): boolean {
  if (attempt.kind !== 'response') return false;
  return attempt.status === 429 || (attempt.status === 403 && /request limit exceeded/i.test(attempt.message));
}

function describe(attempt: FpsAttempt): string {
  if (attempt.kind === 'network') return attempt.timedOut ? `no answer: ${attempt.error}` : `network error: ${attempt.error}`;
  return `HTTP ${attempt.status}${attempt.message ? ` "${attempt.message}"` : ''}`;
}

/**
 * Whether Insider may have read and accepted the request although we did not hear a 2xx: it timed
 * out or its connection was lost after it may have been written, or it got any 5xx (a gateway's
 * 502/504 looks the same as Insider's own, and either can come after Insider accepted). A refused
 * connection or a DNS failure sent nothing; a 4xx (429 included) is Insider's own refusal.
 */
export function mayHaveReachedInsider(attempt: FpsAttempt): boolean {
  return attempt.kind === 'network' ? attempt.possiblySent : attempt.status >= 500;
}

/**
 * The verdict for the last attempt. `possiblyAccepted` says an earlier request (in this invocation
 * or an earlier one) failed after it may have reached Insider (see `mayHaveReachedInsider`); a
 * rejection then says so instead of advising to drop the file again.
 */
export function judge(attempt: FpsAttempt, possiblyAccepted: boolean): FpsVerdict {
  if (isRetryable(attempt)) {
    const status = attempt.kind === 'response' ? attempt.status : undefined;
    const what = status === 429 || status === 403 ? 'Insider kept rate-limiting the upload' : 'Insider could not be reached';
    return { kind: 'retryLater', status, message: attempt.kind === 'response' ? attempt.message : attempt.error, reason: `${what} (${describe(attempt)}).` };
  }
  if (attempt.kind === 'network') throw new Error('unreachable: network attempts are retryable');
  const { status, message } = attempt;
  if (status >= 200 && status < 300) return { kind: 'accepted', status, message: message || 'OK' };
  const inUse = status === 400 && message.toLowerCase().includes(SEGMENT_IN_USE);
  if (inUse && possiblyAccepted) {
    return {
      kind: 'accepted',
      status,
      message,
      note: 'An earlier request failed after it may have reached Insider (no answer, a lost connection or a 5xx), and the retry was answered "segment name already in use": the earlier request probably succeeded, so this upload waits for its callback.',
    };
  }
  if (status === 401) {
    return { kind: 'retryLater', status, message, reason: 'Unauthorized: check the token secret holds your FPS API token (and the partner name).' };
  }
  if (status === 403) {
    return { kind: 'retryLater', status, message, reason: `Forbidden (${message || 'no message'}): check the token and whether the API key is restricted to trusted IP addresses.` };
  }
  const rejected = (reason: string, advice: string): FpsVerdict => ({
    kind: 'rejected',
    status,
    message,
    reason: `${reason} ${possiblyAccepted ? MAY_HAVE_REACHED_INSIDER : advice}`.trim(),
  });
  if (status === 405) return rejected('Invalid Payload: Insider rejected the request body (check the segment and attribute names).', '');
  if (inUse) return rejected('Insider says the segment name is already in use:', 'rename the file (or set metadata "segment-name") and drop it again.');
  return rejected(`Insider rejected the upload: ${message || `HTTP ${status}`}.`, '');
}

export interface SubmissionResult {
  verdict: FpsVerdict;
  /** HTTP requests made in this call. */
  requests: number;
  possiblyAccepted: boolean;
  attempts: FpsAttempt[];
  /** Insider's `Retry-After` that the retries stopped at rather than sleep through (longer than the invocation may sleep): the next attempt must not come sooner. */
  retryAfterMs?: number | undefined;
  /** After a 401 the token was read again past its cache: whether it was another one (then asked again at once). */
  tokenReread?: 'changed' | 'unchanged' | undefined;
}

/** Full-jitter exponential backoff: a random wait in [0, min(max, base·2^n)]. */
export function backoffDelay(retry: number, policy: Pick<Backoff, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(ceiling * random());
}

class RetryableAttempt extends Error {
  override readonly name = 'RetryableAttempt';
  constructor(readonly attempt: FpsAttempt) {
    super(describe(attempt));
  }
}

/**
 * Sends the request, retrying throttling and transient errors with jittered backoff (honouring
 * `Retry-After`), each from its own budget, until `deadline`, so the invocation ends well before the
 * function's timeout. A `Retry-After` longer than the invocation may sleep ends the retries and is
 * handed back for the queue to wait out. The first 401 has the token read again past its cache;
 * if that gives another token, the request is sent again at once with it.
 */
export async function submitToFps(
  api: SegmentApi,
  request: FpsUploadRequest,
  options: { policy: RetryPolicy; deadline: number; clock: Clock; possiblyAccepted: boolean; random?: () => number },
): Promise<SubmissionResult> {
  const { policy, clock, deadline } = options;
  const attempts: FpsAttempt[] = [];
  let possiblyAccepted = options.possiblyAccepted;
  const timeLeft = () => deadline - clock.now().getTime();
  const retriesUsed = { throttle: 0, other: 0 };
  let retryAfterMs: number | undefined;
  let tokenReread: SubmissionResult['tokenReread'];

  const send = async (): Promise<FpsAttempt> => {
    const timeoutMs = Math.max(1, Math.min(policy.requestTimeoutMs, timeLeft()));
    const attempt = await api.upload(request, timeoutMs);
    attempts.push(attempt);
    if (mayHaveReachedInsider(attempt)) possiblyAccepted = true;
    return attempt;
  };

  const last = await pRetry(
    async () => {
      let attempt = await send();
      // The token may have been cached before someone fixed the secret: read it once more rather than wait out the cache.
      if (attempt.kind === 'response' && attempt.status === 401 && tokenReread === undefined) {
        tokenReread = (await api.refreshToken()) ? 'changed' : 'unchanged';
        if (tokenReread === 'changed' && timeLeft() > 0) attempt = await send();
      }
      if (isRetryable(attempt)) throw new RetryableAttempt(attempt);
      return attempt;
    },
    {
      // Each kind's own budget is checked below; this only bounds the two together.
      retries: policy.maxRetries + policy.throttle.maxRetries,
      // Backoff is computed here (full jitter, Retry-After) rather than by p-retry's own timer.
      minTimeout: 0,
      maxTimeout: 0,
      onFailedAttempt: async ({ error }) => {
        if (!(error instanceof RetryableAttempt)) return;
        const kind = isThrottled(error.attempt) ? 'throttle' : 'other';
        const backoff = kind === 'throttle' ? policy.throttle : policy;
        const retryAfter = error.attempt.kind === 'response' ? (error.attempt.retryAfterMs ?? 0) : 0;
        // Leave room for one more request before the deadline.
        const room = timeLeft() - Math.min(policy.requestTimeoutMs, 1000);
        if (retryAfter > 0 && (retryAfter > policy.maxRetryAfterMs || retryAfter >= room)) {
          retryAfterMs = retryAfter;
          throw error;
        }
        if (retriesUsed[kind] >= backoff.maxRetries) throw error;
        const wait = Math.max(retryAfter, backoffDelay(retriesUsed[kind], backoff, options.random));
        if (wait >= room) throw error;
        retriesUsed[kind]++;
        await clock.sleep(wait);
      },
      shouldRetry: ({ error }) => error instanceof RetryableAttempt && timeLeft() > 0,
    },
  ).catch((error: unknown) => {
    if (error instanceof RetryableAttempt) return error.attempt;
    throw error;
  });

  return { verdict: judge(last, possiblyAccepted), requests: attempts.length, possiblyAccepted, attempts, retryAfterMs, tokenReread };
}
