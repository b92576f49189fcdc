// EventBridge schedules run locally: the scheduled event's shape, and a timer that fires at each scheduled time and never catches up.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scheduledEvent, startScheduleTimer } from '../../local/schedule.js';

describe('scheduledEvent', () => {
  it('is the event EventBridge sends, with the scheduled time in whole seconds', () => {
    const event = scheduledEvent(new Date('2026-11-29T14:15:00.123Z'), { ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/R', region: 'us-east-1', accountId: '000000000000' });
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2026-11-29T14:15:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/R'],
      detail: {},
    });
  });
});

describe('startScheduleTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-11-29T14:00:00.000Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires one interval after the start, then every interval, with each scheduled time', () => {
    const times: string[] = [];
    const timer = startScheduleTimer({ intervalMs: 900_000, run: (at) => times.push(at.toISOString()) });
    expect(timer.next().toISOString()).toBe('2026-11-29T14:15:00.000Z');
    vi.advanceTimersByTime(899_999);
    expect(times).toEqual([]);
    vi.advanceTimersByTime(1 + 900_000 * 2);
    expect(times).toEqual(['2026-11-29T14:15:00.000Z', '2026-11-29T14:30:00.000Z', '2026-11-29T14:45:00.000Z']);
    timer.stop();
    vi.advanceTimersByTime(3_600_000);
    expect(times).toHaveLength(3);
  });

  it('passes the scheduled time, not the late one, and skips the ticks it missed', () => {
    let clock = Date.parse('2026-11-29T14:00:00.000Z');
    const times: string[] = [];
    const timer = startScheduleTimer({ intervalMs: 60_000, now: () => clock, run: (at) => times.push(at.toISOString()) });
    // The process slept through three ticks: the timer fires late, once, with the time it was due.
    clock += 200_500;
    vi.advanceTimersByTime(60_000);
    expect(times).toEqual(['2026-11-29T14:01:00.000Z']);
    expect(timer.next().toISOString()).toBe('2026-11-29T14:04:00.000Z');
    timer.stop();
  });

  it('refuses an interval that is not positive', () => {
    expect(() => startScheduleTimer({ intervalMs: 0, run: () => {} })).toThrow(RangeError);
  });
});
