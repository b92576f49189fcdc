// When SQS should deliver an S3 event again: the wait before the next attempt, and what becomes of a message once its uploads were handled.
import { TRIGGER_MAX_RETRY_DELAY_SECONDS } from '../shared/contract.js';

/** The wait after a first failed attempt when Insider named none; it doubles per attempt (Lambda's async retries waited about 1, then 2 minutes). */
export const RETRY_BASE_DELAY_SECONDS = 60;

/**
 * Seconds until the next attempt, after attempt `attempt` (1-based) failed: Insider's `Retry-After`
 * when it handed one back (it was longer than the invocation may sleep), else a backoff that doubles
 * per attempt with jitter in its upper half, so a burst that failed together does not come back
 * together. Between 1 s and TRIGGER_MAX_RETRY_DELAY_SECONDS either way.
 */
export function retryDelaySeconds(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const clamp = (seconds: number) => Math.min(TRIGGER_MAX_RETRY_DELAY_SECONDS, Math.max(1, seconds));
  if (retryAfterMs !== undefined) return clamp(Math.ceil(retryAfterMs / 1000));
  const ceiling = clamp(RETRY_BASE_DELAY_SECONDS * 2 ** Math.max(0, attempt - 1));
  return clamp(Math.round(ceiling / 2 + (ceiling / 2) * random()));
}

/** What one upload's handling asks of the message that carried it. */
export type MessageRequest =
  | { action: 'recorded' | 'duplicate' | 'ignored' }
  | { action: 'retry'; retryAfterSeconds: number }
  /** The last attempt failed: the message belongs in the failure queue. */
  | { action: 'gaveUp' };

/** What becomes of a queue message: deleted (done), or left to come back after `visibilityTimeoutSeconds`. */
export type MessageSettlement = { done: true } | { done: false; visibilityTimeoutSeconds: number };

/**
 * One message may carry several S3 records. It is done when every upload in it is; a give-up sends it
 * to the failure queue at once (visibility 0: the next receive exceeds maxReceiveCount and SQS moves
 * it); otherwise it comes back after the longest wait any of its uploads asked for. Uploads already
 * handled are no-ops when it does.
 */
export function settleMessage(requests: readonly MessageRequest[]): MessageSettlement {
  if (requests.some((r) => r.action === 'gaveUp')) return { done: false, visibilityTimeoutSeconds: 0 };
  const waits = requests.flatMap((r) => (r.action === 'retry' ? [r.retryAfterSeconds] : []));
  return waits.length === 0 ? { done: true } : { done: false, visibilityTimeoutSeconds: Math.max(...waits) };
}
