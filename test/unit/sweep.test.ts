// Unit tests of the sweeper: stale submitted uploads time out, stale received ones fail, fresh ones stay.
import { describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { sweepStaleUploads } from '../../lambdas/core/sweep.js';
import { FakeClock, MemoryStore, RecordingTelemetry } from '../../local/fakes.js';

describe('sweepStaleUploads', () => {
  it('moves only the uploads past their window', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const hoursAgo = (h: number) => new Date(clock.ms - h * 3_600_000).toISOString();
    const add = (uploadId: string, status: UploadRecord['status'], updatedAt: string, extra: Partial<UploadRecord> = {}) =>
      store.records.set(uploadId, { uploadId, bucket: 'b', key: 'k', size: 1, status, receivedAt: updatedAt, updatedAt, ...extra });
    add('old-submitted', 'submitted', hoursAgo(7));
    add('new-submitted', 'submitted', hoursAgo(1));
    add('old-received', 'received', hoursAgo(8), { lastError: 'HTTP 503', leaseUntil: hoursAgo(8) });
    add('old-completed', 'completed', hoursAgo(100));
    const telemetry = new RecordingTelemetry();
    const result = await sweepStaleUploads({ submittedTimeoutHours: 6, receivedTimeoutHours: 7 }, { store, clock, telemetry });
    expect(result).toEqual({ timedOut: ['old-submitted'], failed: ['old-received'] });
    expect(store.records.get('old-submitted')).toMatchObject({ status: 'timed_out', reason: expect.stringMatching(/no callback within 6 hours/) });
    expect(store.records.get('old-received')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/HTTP 503/) });
    expect(store.records.get('new-submitted')?.status).toBe('submitted');
    expect(store.records.get('old-completed')?.status).toBe('completed');
    expect(telemetry.finals).toHaveLength(2);
  });

  it('says why an upload submitted on an ambiguous retry may never complete', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const at = new Date(clock.ms - 7 * 3_600_000).toISOString();
    const base = { bucket: 'b', key: 'k', size: 1, status: 'submitted', receivedAt: at, updatedAt: at } as const;
    store.records.set('ambiguous', { ...base, uploadId: 'ambiguous', possiblyAccepted: true, fpsHttpStatus: 400, fpsMessage: 'segment name already in use' });
    store.records.set('accepted', { ...base, uploadId: 'accepted', possiblyAccepted: true, fpsHttpStatus: 200 });
    await sweepStaleUploads({ submittedTimeoutHours: 6, receivedTimeoutHours: 7 }, { store, clock, telemetry: new RecordingTelemetry() });
    expect(store.records.get('ambiguous')).toMatchObject({ status: 'timed_out', reason: expect.stringMatching(/either that request created the segment .* or another upload already uses the name/) });
    expect(store.records.get('accepted')).toMatchObject({ status: 'timed_out', reason: expect.stringMatching(/^Insider accepted the file but sent no callback within 6 hours/) });
  });

  it('warns against dropping again an upload that may have reached Insider', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const at = new Date(clock.ms - 8 * 3_600_000).toISOString();
    store.records.set('lost', { uploadId: 'lost', bucket: 'b', key: 'k', size: 1, status: 'received', receivedAt: at, updatedAt: at, leaseUntil: at, lastError: 'HTTP 502', possiblyAccepted: true });
    await sweepStaleUploads({ submittedTimeoutHours: 6, receivedTimeoutHours: 7 }, { store, clock, telemetry: new RecordingTelemetry() });
    const reason = store.records.get('lost')?.reason;
    expect(reason).toMatch(/HTTP 502\)\. An earlier request may have reached Insider: look for the segment in Insider's panel/);
    expect(reason).not.toMatch(/Redrive/);
  });
});
