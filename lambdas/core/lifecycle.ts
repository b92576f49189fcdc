// The upload lifecycle's rules: which moves are allowed, when a status is final, and the conditions a write is made under.
import { FINAL_STATUSES, type UploadStatus } from '../shared/contract.js';
import type { RecordChanges, UploadRecord, UploadsStore, WriteCondition } from './ports.js';

/**
 * Allowed transitions. A record never moves backwards and a final status never changes, with two
 * exceptions: a genuine callback (its token checks out) completes any upload not yet completed
 * (Insider did the work, whatever we had concluded, and the record should say so), and a new
 * delivery of a failed upload's S3 event (a redrive from the failure queue) re-attempts it.
 */
export const TRANSITIONS: Readonly<Record<UploadStatus, readonly UploadStatus[]>> = {
  // A genuine callback proves Insider accepted the file, whatever we had concluded.
  received: ['submitted', 'rejected', 'failed', 'completed', 'dry_run'],
  submitted: ['completed', 'timed_out'],
  completed: [],
  // A rejection can follow a lost reply to a request Insider accepted (e.g. a 502, then a 405).
  rejected: ['completed'],
  // A redriven event re-attempts the same object version, as a person asked.
  failed: ['received', 'completed'],
  timed_out: ['completed'],
  // Nothing was sent, so no callback can come: a dry run never changes.
  dry_run: [],
};

/**
 * Said instead of "drop it again" in every reason for an upload that Insider may already have
 * (`possiblyAccepted`): a second drop would create a duplicate segment.
 */
export const MAY_HAVE_REACHED_INSIDER =
  "An earlier request may have reached Insider: look for the segment in Insider's panel before dropping the file again.";

export const isFinal = (status: UploadStatus): boolean => FINAL_STATUSES.includes(status);

/** Throws when a write would move a record along a transition the lifecycle does not allow. */
export function assertTransition(from: readonly UploadStatus[], to: UploadStatus | undefined): void {
  if (to === undefined) return;
  for (const status of from) {
    if (status !== to && !TRANSITIONS[status].includes(to)) {
      throw new Error(`Illegal upload status transition ${status} → ${to}`);
    }
  }
}

/**
 * Whether `record` meets `condition`. The stores enforce exactly this: the in-memory one calls it,
 * the DynamoDB one writes it as a condition expression (the store contract suite holds them equal).
 */
export function meetsCondition(record: UploadRecord | undefined, condition: WriteCondition): record is UploadRecord {
  if (!record || !condition.from.includes(record.status)) return false;
  if (condition.expectInvocations !== undefined && record.invocations !== condition.expectInvocations) return false;
  if (condition.leaseExpiredAt !== undefined && record.leaseUntil !== undefined && record.leaseUntil > condition.leaseExpiredAt) return false;
  return true;
}

/**
 * Applies `changes` if `condition` holds, after checking that the move is one the lifecycle allows
 * (a bug, not a race, so it throws). Returns false when the record did not meet the condition.
 */
export async function updateUpload(store: UploadsStore, uploadId: string, changes: RecordChanges, condition: WriteCondition): Promise<boolean> {
  assertTransition(condition.from, changes.status);
  return store.update(uploadId, changes, condition);
}
