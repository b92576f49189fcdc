// Unit tests of the lifecycle's rules: allowed moves, final statuses, and what a write condition means.
import { describe, expect, it } from 'vitest';
import { assertTransition, isFinal, meetsCondition, TRANSITIONS } from '../../lambdas/core/lifecycle.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { FINAL_STATUSES, UploadStatus } from '../../lambdas/shared/contract.js';

const record = (extra: Partial<UploadRecord> = {}): UploadRecord => ({
  uploadId: 'u',
  bucket: 'b',
  key: 'k',
  size: 1,
  status: 'received',
  receivedAt: 't',
  updatedAt: 't',
  ...extra,
});

describe('transitions', () => {
  it('let a record move forward, and a genuine callback complete any upload not yet completed', () => {
    expect(() => assertTransition(['received'], 'submitted')).not.toThrow();
    expect(() => assertTransition(['submitted'], 'timed_out')).not.toThrow();
    expect(() => assertTransition(['timed_out', 'failed', 'received', 'submitted', 'rejected'], 'completed')).not.toThrow();
    // Writes that do not change the status are not moves.
    expect(() => assertTransition(['completed'], undefined)).not.toThrow();
    expect(() => assertTransition(['received'], 'received')).not.toThrow();
  });

  it('never move a record backwards or out of a final status other than into completed, or a failed one into a re-attempt', () => {
    expect(() => assertTransition(['submitted'], 'received')).toThrow('Illegal upload status transition submitted → received');
    expect(() => assertTransition(['received', 'completed'], 'failed')).toThrow('completed → failed');
    expect(() => assertTransition(['rejected'], 'failed')).toThrow('rejected → failed');
    expect(() => assertTransition(['completed'], 'rejected')).toThrow('completed → rejected');
    expect(() => assertTransition(['timed_out'], 'received')).toThrow('timed_out → received');
    expect(() => assertTransition(['failed'], 'received')).not.toThrow();
    expect(TRANSITIONS.completed).toEqual([]);
    for (const status of FINAL_STATUSES) {
      const allowed: UploadStatus[] = status === UploadStatus.Failed ? [UploadStatus.Received, UploadStatus.Completed] : [UploadStatus.Completed];
      expect(TRANSITIONS[status].filter((to) => !allowed.includes(to)), status).toEqual([]);
    }
  });

  it('call final exactly the contract\'s final statuses', () => {
    expect(Object.values(UploadStatus).filter(isFinal)).toEqual([...FINAL_STATUSES]);
  });
});

describe('meetsCondition', () => {
  it('needs the record, in one of the statuses', () => {
    expect(meetsCondition(undefined, { from: ['received'] })).toBe(false);
    expect(meetsCondition(record(), { from: ['submitted'] })).toBe(false);
    expect(meetsCondition(record(), { from: ['submitted', 'received'] })).toBe(true);
  });

  it('needs the owner given, and a lease that has run out (or none)', () => {
    expect(meetsCondition(record({ invocations: 2 }), { from: ['received'], expectInvocations: 1 })).toBe(false);
    expect(meetsCondition(record({ invocations: 2 }), { from: ['received'], expectInvocations: 2 })).toBe(true);
    const leased = record({ leaseUntil: '2026-01-01T00:05:00.000Z' });
    expect(meetsCondition(leased, { from: ['received'], leaseExpiredAt: '2026-01-01T00:04:59.999Z' })).toBe(false);
    expect(meetsCondition(leased, { from: ['received'], leaseExpiredAt: '2026-01-01T00:05:00.000Z' })).toBe(true);
    expect(meetsCondition(record(), { from: ['received'], leaseExpiredAt: '2026-01-01T00:00:00.000Z' })).toBe(true);
  });
});
