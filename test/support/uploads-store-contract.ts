// The UploadsStore contract: one suite of describe-level tests that every implementation of the port must pass.
import { beforeEach, describe, expect, it } from 'vitest';
import { updateUpload } from '../../lambdas/core/lifecycle.js';
import type { UploadRecord, UploadsStore } from '../../lambdas/core/ports.js';
import { lockSegment } from '../../lambdas/core/segment-lock.js';

const record = (uploadId: string, extra: Partial<UploadRecord> = {}): UploadRecord => ({
  uploadId,
  bucket: 'b',
  key: 'em/a b.csv',
  size: 10,
  status: 'received',
  receivedAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
  invocations: 1,
  ...extra,
});

const done = async () => true;
const live = async () => false;

/** Runs the contract against the store `fresh` returns, a new, empty one for every test. */
export function uploadsStoreContract(name: string, fresh: () => Promise<UploadsStore>): void {
  describe(`UploadsStore contract: ${name}`, () => {
    let store: UploadsStore;
    beforeEach(async () => {
      store = await fresh();
    });

    describe('create and get', () => {
      it('claims an id once and returns the existing record the second time', async () => {
        expect(await store.create(record('one'))).toEqual({ claimed: true });
        const second = await store.create(record('one', { size: 99 }));
        expect(second).toMatchObject({ claimed: false, existing: { uploadId: 'one', size: 10 } });
      });

      it('reads back every field it was given, token hashes as a list', async () => {
        const full = record('full', {
          versionId: 'v1',
          sequencer: '0A',
          segmentName: 'VIP',
          attributeName: 'email',
          reason: 'r',
          possiblyAccepted: true,
          matchRate: 0.4167,
          callbackTokenHashes: ['h1', 'h2'],
          insiderSegmentName: 'VIP 2026-11-29 #3',
          segmentNameTemplate: '{name} {date} #{n}',
          segmentCounter: 3,
          eventTime: '2026-11-29T09:59:58.000Z',
          dryRun: true,
          dryRunVerdict: 'would-submit',
          preparedKey: 'full.csv',
          warning: 'Low match rate',
          preflight: {
            verdict: 'accept',
            changed: true,
            changes: ['bom', 'header'],
            format: null,
            gzip: false,
            bytesRead: 10,
            bytes: 10,
            complete: true,
            bom: true,
            lineEndings: 'crlf',
            lines: 3,
            rows: 2,
            values: 1,
            cleanValues: 1,
            cleanBytes: 8,
            blankLines: { count: 0, lines: [] },
            header: { line: 1, matches: 'attribute' },
            emptyValues: { count: 0, lines: [] },
            paddedValues: { count: 1, lines: [2] },
            duplicates: { count: 0, lines: [] },
            multiColumnRows: { count: 0, lines: [] },
            unparseableRows: { count: 0, lines: [] },
            invalidValues: { count: 0, lines: [] },
            normalizedValues: null,
            durationMs: 1,
          },
        });
        await store.create(full);
        const got = await store.get('full');
        expect({ ...got, callbackTokenHashes: got?.callbackTokenHashes?.sort() }).toEqual(full);
      });

      it('leaves out what was never set, and knows nothing of an unknown id', async () => {
        await store.create(record('sparse', { note: undefined, callbackTokenHashes: [] }));
        const got = await store.get('sparse');
        expect(got && 'note' in got).toBe(false);
        expect(got && 'callbackTokenHashes' in got).toBe(false);
        expect(await store.get('nobody')).toBeUndefined();
      });
    });

    describe('update', () => {
      it('updates only from the expected status and owner, and adds token hashes', async () => {
        await store.create(record('two'));
        expect(await store.update('two', { status: 'submitted' }, { from: ['received'], expectInvocations: 2 })).toBe(false);
        expect(await store.update('two', { reason: 'x', addCallbackTokenHash: 'h1' }, { from: ['received'], expectInvocations: 1 })).toBe(true);
        expect(await store.update('two', { reason: 'y', addCallbackTokenHash: 'h2' }, { from: ['received'] })).toBe(true);
        expect(await store.update('two', { status: 'submitted', note: undefined }, { from: ['received'] })).toBe(true);
        expect(await store.update('two', { status: 'failed' }, { from: ['received'] })).toBe(false);
        const got = await store.get('two');
        expect(got).toMatchObject({ status: 'submitted', reason: 'y' });
        expect(got?.callbackTokenHashes?.sort()).toEqual(['h1', 'h2']);
      });

      it('keeps token hashes as a set: adding one twice keeps one', async () => {
        await store.create(record('set', { callbackTokenHashes: ['h0'] }));
        for (const hash of ['h1', 'h1', 'h0', 'h2']) {
          expect(await store.update('set', { addCallbackTokenHash: hash }, { from: ['received'] })).toBe(true);
        }
        expect((await store.get('set'))?.callbackTokenHashes?.sort()).toEqual(['h0', 'h1', 'h2']);
      });

      it('removes a field set to undefined and leaves the others', async () => {
        await store.create(record('rm', { note: 'n', reason: 'r' }));
        expect(await store.update('rm', { note: undefined, lastError: 'e' }, { from: ['received'] })).toBe(true);
        const got = await store.get('rm');
        expect(got && 'note' in got).toBe(false);
        expect(got).toMatchObject({ reason: 'r', lastError: 'e' });
      });

      it('never creates a record that does not exist', async () => {
        expect(await store.update('ghost', { reason: 'x' }, { from: ['received'] })).toBe(false);
        expect(await store.get('ghost')).toBeUndefined();
      });

      it('requires the owner to be the one given, and a record without one has none', async () => {
        await store.create(record('unowned', { invocations: undefined }));
        expect(await store.update('unowned', { reason: 'x' }, { from: ['received'], expectInvocations: 1 })).toBe(false);
        expect(await store.update('unowned', { reason: 'x' }, { from: ['received', 'submitted'] })).toBe(true);
      });

      it('honours the lease', async () => {
        await store.create(record('three', { leaseUntil: '2026-11-29T10:05:00.000Z' }));
        expect(await store.update('three', { invocations: 2 }, { from: ['received'], leaseExpiredAt: '2026-11-29T10:04:00.000Z' })).toBe(false);
        expect(await store.update('three', { invocations: 2 }, { from: ['received'], leaseExpiredAt: '2026-11-29T10:06:00.000Z' })).toBe(true);
      });

      it('counts a lease ending exactly now as expired, and no lease as expired', async () => {
        await store.create(record('edge', { leaseUntil: '2026-11-29T10:05:00.000Z' }));
        expect(await store.update('edge', { invocations: 2 }, { from: ['received'], leaseExpiredAt: '2026-11-29T10:05:00.000Z' })).toBe(true);
        await store.create(record('nolease'));
        expect(await store.update('nolease', { invocations: 2 }, { from: ['received'], expectInvocations: 1, leaseExpiredAt: '2026-11-29T00:00:00.000Z' })).toBe(true);
        expect((await store.get('nolease'))?.invocations).toBe(2);
      });
    });

    describe('lifecycle enforcement (the core checks before it asks the store)', () => {
      it('refuses a write that would move a record backwards or out of a final status', async () => {
        await store.create(record('four', { status: 'completed' }));
        await expect(updateUpload(store, 'four', { status: 'submitted' }, { from: ['completed'] })).rejects.toThrow(
          /Illegal upload status transition completed → submitted/,
        );
        await expect(updateUpload(store, 'four', { status: 'received' }, { from: ['submitted'] })).rejects.toThrow(/submitted → received/);
        expect((await store.get('four'))?.status).toBe('completed');
      });
    });

    describe('segment lock', () => {
      it('takes a free lock, retakes its own, and refuses one held by another', async () => {
        expect(await store.segmentLockHolder('S')).toBeUndefined();
        expect(await store.takeSegmentLock('S', 'u1')).toBe(true);
        expect(await store.takeSegmentLock('S', 'u1')).toBe(true);
        expect(await store.takeSegmentLock('S', 'u2')).toBe(false);
        expect(await store.segmentLockHolder('S')).toBe('u1');
        // Locks are not upload records.
        expect(await store.get('u1')).toBeUndefined();
      });

      it('replaces a holder only if it still holds the lock', async () => {
        await store.takeSegmentLock('S', 'u1');
        expect(await store.takeSegmentLock('S', 'u2', 'someone else')).toBe(false);
        expect(await store.takeSegmentLock('S', 'u2', 'u1')).toBe(true);
        expect(await store.takeSegmentLock('S', 'u3', 'u1')).toBe(false);
        expect(await store.segmentLockHolder('S')).toBe('u2');
        expect(await store.takeSegmentLock('Free', 'u4', 'u1')).toBe(false);
      });

      it('locks a segment name for one upload and hands it over once the holder is done, naming the one it replaced', async () => {
        let holderDone = false;
        expect(await lockSegment(store, 'VIP', 'u1', async () => holderDone)).toEqual({ locked: true });
        expect(await lockSegment(store, 'VIP', 'u1', async () => holderDone)).toEqual({ locked: true });
        expect(await lockSegment(store, 'VIP', 'u2', async () => holderDone)).toEqual({ locked: false, holder: 'u1' });
        holderDone = true;
        expect(await lockSegment(store, 'VIP', 'u2', async () => holderDone)).toEqual({ locked: true, replaced: 'u1' });
      });

      it('notes which upload created a segment name, beside the lock and without taking it', async () => {
        expect(await store.segmentCreatedBy('VIP 2026-11-29')).toBeUndefined();
        await store.markSegmentCreated('VIP 2026-11-29', 'u1');
        expect(await store.segmentCreatedBy('VIP 2026-11-29')).toBe('u1');
        expect(await store.segmentLockHolder('VIP 2026-11-29')).toBeUndefined();
        expect(await store.takeSegmentLock('VIP 2026-11-29', 'u2')).toBe(true);
        expect(await store.segmentCreatedBy('VIP 2026-11-29')).toBe('u1');
        await store.markSegmentCreated('VIP 2026-11-29', 'u2');
        expect([await store.segmentLockHolder('VIP 2026-11-29'), await store.segmentCreatedBy('VIP 2026-11-29')]).toEqual(['u2', 'u2']);
        expect(await store.segmentCreatedBy('VIP 2026-11-30')).toBeUndefined();
      });

      it('lets one upload only take over a stale holder, and names the live one that won', async () => {
        await store.takeSegmentLock('S', 'old');
        // While u2 checks on the stale holder, u3 takes the lock over from it.
        const result = await lockSegment(store, 'S', 'u2', async (holder) => {
          if (holder !== 'old') return false;
          expect(await lockSegment(store, 'S', 'u3', done)).toEqual({ locked: true, replaced: 'old' });
          return true;
        });
        expect(result).toEqual({ locked: false, holder: 'u3' });
        expect(await store.segmentLockHolder('S')).toBe('u3');
      });

      it('takes over in a second round when the upload that won the first has ended too', async () => {
        await store.takeSegmentLock('S', 'old');
        const result = await lockSegment(store, 'S', 'u2', async (holder) => {
          if (holder === 'old') expect(await lockSegment(store, 'S', 'u3', done)).toEqual({ locked: true, replaced: 'old' });
          return true;
        });
        expect(result).toEqual({ locked: true, replaced: 'u3' });
        expect(await store.segmentLockHolder('S')).toBe('u2');
      });

      it('stops after two lost rounds and names the holder, rather than spinning', async () => {
        await store.takeSegmentLock('S', 'a');
        const next: Record<string, string> = { a: 'b', b: 'c' };
        let checks = 0;
        const result = await lockSegment(store, 'S', 'me', async (holder) => {
          checks++;
          const successor = next[holder];
          if (successor) await store.takeSegmentLock('S', successor, holder);
          return true;
        });
        expect(result).toEqual({ locked: false, holder: 'c' });
        expect(checks).toBe(2);
      });

      it('keeps each segment name apart', async () => {
        expect(await lockSegment(store, 'A', 'u1', live)).toEqual({ locked: true });
        expect(await lockSegment(store, 'B', 'u2', live)).toEqual({ locked: true });
        expect(await lockSegment(store, 'A', 'u2', live)).toEqual({ locked: false, holder: 'u1' });
      });
    });

    describe('{n} counter', () => {
      it('issues 1, 2, 3 to successive uploads, and the same number again to the upload it last went to', async () => {
        expect(await store.peekSegmentCounter('VIP')).toBe(1);
        expect(await store.issueSegmentCounter('VIP', 'u1')).toBe(1);
        expect(await store.issueSegmentCounter('VIP', 'u1')).toBe(1);
        expect(await store.issueSegmentCounter('VIP', 'u2')).toBe(2);
        expect(await store.peekSegmentCounter('VIP')).toBe(3);
        expect(await store.peekSegmentCounter('VIP')).toBe(3);
        expect(await store.issueSegmentCounter('VIP', 'u3')).toBe(3);
      });

      it('counts each logical name apart, and is no upload record', async () => {
        await store.issueSegmentCounter('A', 'u1');
        await store.issueSegmentCounter('A', 'u2');
        expect(await store.issueSegmentCounter('B', 'u3')).toBe(1);
        expect(await store.issueSegmentCounter('Ä', 'u4')).toBe(1);
        expect(await store.get('A')).toBeUndefined();
        expect(await store.listStale('received', '2099-01-01T00:00:00.000Z', 10)).toEqual([]);
      });

      it('issues distinct numbers to uploads asking at once', async () => {
        const issued = await Promise.all(Array.from({ length: 8 }, (_, i) => store.issueSegmentCounter('Burst', `u${i}`)));
        expect([...issued].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      });
    });

    describe('listStale', () => {
      const seed = async () => {
        await store.create(record('s-old', { status: 'submitted', updatedAt: '2026-11-29T01:00:00.000Z' }));
        await store.create(record('s-older', { status: 'submitted', updatedAt: '2026-11-29T00:00:00.000Z' }));
        await store.create(record('s-new', { status: 'submitted', updatedAt: '2026-11-29T09:00:00.000Z' }));
        await store.create(record('s-edge', { status: 'submitted', updatedAt: '2026-11-29T05:00:00.000Z' }));
        await store.create(record('r-old', { status: 'received', updatedAt: '2026-11-28T00:00:00.000Z' }));
        await store.takeSegmentLock('VIP', 's-old');
      };

      it('lists stale records of one status through the index, oldest first', async () => {
        await seed();
        const stale = await store.listStale('submitted', '2026-11-29T05:00:00.000Z', 10);
        expect(stale.map((r) => r.uploadId)).toEqual(['s-older', 's-old']);
        expect(stale[0]).toEqual(record('s-older', { status: 'submitted', updatedAt: '2026-11-29T00:00:00.000Z' }));
      });

      it('returns at most `limit`, the oldest', async () => {
        await seed();
        expect((await store.listStale('submitted', '2026-11-30T00:00:00.000Z', 3)).map((r) => r.uploadId)).toEqual(['s-older', 's-old', 's-edge']);
      });

      it('follows a record that changes status', async () => {
        await seed();
        await store.update('r-old', { status: 'failed', updatedAt: '2026-11-28T01:00:00.000Z' }, { from: ['received'] });
        expect(await store.listStale('received', '2026-11-30T00:00:00.000Z', 10)).toEqual([]);
        expect((await store.listStale('failed', '2026-11-30T00:00:00.000Z', 10)).map((r) => r.uploadId)).toEqual(['r-old']);
      });
    });
  });
}
