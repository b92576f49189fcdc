// Lambda's asynchronous invocation, for LocalFunction: an event retried on error after Lambda's waits, given up when its retries or its maximum age run out, then handed to the on-failure destination.

/** Lambda's async retry waits (about 1 min, then about 2 min), scaled down to milliseconds for local runs. */
export const DEFAULT_ASYNC_RETRY_DELAYS_MS: readonly number[] = [200, 400];
/** Lambda's defaults: two retries, six hours. */
const DEFAULT_ASYNC_CONFIG: AsyncInvokeConfig = { retryAttempts: 2, maxEventAgeSeconds: 21_600 };

export interface AsyncInvokeConfig {
  /** Lambda's MaximumRetryAttempts: 0..2. */
  retryAttempts: number;
  /** Lambda's MaximumEventAgeInSeconds: an event older than this is not retried (or run) any more. */
  maxEventAgeSeconds: number;
  /** Waits before each retry; the last value repeats. @default DEFAULT_ASYNC_RETRY_DELAYS_MS */
  retryDelaysMs?: readonly number[];
  /** The on-failure destination. */
  onFailure?: (failure: AsyncFailure) => void | Promise<void>;
}

export interface AsyncFailure {
  event: unknown;
  /** `errorType: errorMessage` of the last attempt. */
  error: string;
  /** How many times the function actually ran for this event. */
  attempts: number;
  /** As in Lambda's destination record: why the event was given up. */
  condition: 'RetriesExhausted' | 'EventAgeExceeded';
}

/** What the function lends an asynchronous invocation. */
export interface AsyncHost {
  /** One attempt: queued like any invocation; fails with EventAgeExceeded when the event expires while it waits. */
  attempt(event: unknown, expiresAt: number): Promise<unknown>;
  /** True once the function is closing: nothing is retried or handed on any more. */
  closing(): boolean;
  sleepers: Sleepers;
  counters: { asyncRetries: number; asyncFailures: number };
  log(line: string): void;
}

/** Runs `event` as Lambda runs an asynchronous invocation; resolves when it succeeded or was given up. */
export async function runAsync(event: unknown, config: AsyncInvokeConfig | undefined, host: AsyncHost): Promise<void> {
  const cfg = config ?? DEFAULT_ASYNC_CONFIG;
  const delays = cfg.retryDelaysMs ?? DEFAULT_ASYNC_RETRY_DELAYS_MS;
  const expiresAt = Date.now() + cfg.maxEventAgeSeconds * 1000;
  let attempts = 0;
  let lastError: Error | undefined;
  let condition: AsyncFailure['condition'] = 'RetriesExhausted';
  for (;;) {
    try {
      await host.attempt(event, expiresAt);
      return;
    } catch (err) {
      lastError = err instanceof Error ? err : new Error(String(err));
    }
    if (host.closing()) return;
    if (lastError.name === 'EventAgeExceeded') {
      condition = 'EventAgeExceeded';
      break;
    }
    attempts++;
    if (attempts > cfg.retryAttempts) break;
    const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 0;
    if (Date.now() + delay > expiresAt) {
      condition = 'EventAgeExceeded';
      break;
    }
    host.counters.asyncRetries++;
    await host.sleepers.sleep(delay);
    if (host.closing()) return;
  }
  host.counters.asyncFailures++;
  if (!cfg.onFailure) return;
  try {
    await cfg.onFailure({ event, error: `${lastError.name}: ${lastError.message}`, attempts, condition });
  } catch (err) {
    host.log(`onFailure destination threw: ${String(err)}`);
  }
}

/** The waits between retries, so that closing the function ends them all at once. */
export class Sleepers {
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake(): void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(sleeper);
    });
  }

  wakeAll(): void {
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
  }
}
