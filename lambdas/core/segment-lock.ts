// At most one upload per segment name in flight: the lock's takeover rule, on the store's compare-and-set.
import type { UploadsStore } from './ports.js';

/** Locked (`replaced`: the ended upload whose lock it took over, if any), or the upload holding it. */
export type LockResult = { locked: true; replaced?: string | undefined } | { locked: false; holder: string };

/**
 * Takes the segment-name lock for `uploadId`; succeeds if it is free, already held by it, or held by
 * an upload `isHolderDone` says has ended. Otherwise returns the holder.
 */
export async function lockSegment(
  store: UploadsStore,
  segmentName: string,
  uploadId: string,
  isHolderDone: (holderUploadId: string) => Promise<boolean>,
): Promise<LockResult> {
  // Two rounds: a stale holder can be replaced, but only once per call, so we never spin.
  for (let round = 0; round < 2; round++) {
    if (await store.takeSegmentLock(segmentName, uploadId)) return { locked: true };
    const holder = await store.segmentLockHolder(segmentName);
    if (!holder) continue;
    if (!(await isHolderDone(holder))) return { locked: false, holder };
    // Only if that holder still has it: another upload may have replaced it while we looked.
    if (await store.takeSegmentLock(segmentName, uploadId, holder)) return { locked: true, replaced: holder };
  }
  return { locked: false, holder: (await store.segmentLockHolder(segmentName)) ?? 'unknown' };
}
