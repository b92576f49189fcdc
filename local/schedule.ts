// EventBridge schedules locally: the scheduled event a rule sends, and a timer that sends it at each scheduled time.
import { randomUUID } from 'node:crypto';

/** The event EventBridge sends a rule's target; `time` is the time the invocation was scheduled for, in whole seconds. */
export function scheduledEvent(at: Date, options: { ruleArn?: string; region: string; accountId: string }): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: options.accountId,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region,
    resources: options.ruleArn ? [options.ruleArn] : [],
    detail: {},
  };
}

export interface ScheduleTimer {
  /** The next scheduled time. */
  next(): Date;
  stop(): void;
}

/**
 * Calls `run` with each scheduled time, every `intervalMs` from `start` (the first one interval after
 * it, as a new rate rule does). A tick missed while the process slept is skipped, not caught up, and
 * a slow `run` does not delay the next one: EventBridge does not wait for its target either.
 */
export function startScheduleTimer(options: { intervalMs: number; run: (scheduledAt: Date) => void; start?: Date; now?: () => number }): ScheduleTimer {
  const { intervalMs, run } = options;
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  const now = options.now ?? Date.now;
  const start = (options.start ?? new Date(now())).getTime();
  let timer: NodeJS.Timeout | undefined;
  let nextAt = start + intervalMs;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        const at = nextAt;
        nextAt = start + (Math.floor((Math.max(now(), at) - start) / intervalMs) + 1) * intervalMs;
        run(new Date(at));
        arm();
      },
      Math.max(0, nextAt - now()),
    );
  };
  arm();
  return {
    next: () => new Date(nextAt),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
