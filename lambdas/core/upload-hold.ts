// One invocation's hold on an upload record: taking over an earlier delivery's claim, writing under the hold's condition, and the outcomes a hold ends in.
import { UploadStatus } from '../shared/contract.js';
import { isFinal, MAY_HAVE_REACHED_INSIDER, updateUpload } from './lifecycle.js';
import type { RecordChanges, RecordFields, UploadRecord, WriteCondition } from './ports.js';
import { retryDelaySeconds } from './redelivery.js';
import type { Delivery, ObjectCreated, TriggerDeps, TriggerOutcome, TriggerSettings } from './trigger-types.js';

/** One invocation's hold on an upload: the record it claimed and the condition its writes are made under. */
export interface Hold {
  object: ObjectCreated;
  /** The record as this invocation last wrote it. */
  record: UploadRecord;
  /** Still `received` and still owned by this invocation. */
  owned: WriteCondition & { expectInvocations: number };
  settings: TriggerSettings;
  deps: TriggerDeps;
  delivery: Delivery;
}

/**
 * Takes the upload over from an earlier delivery: an unfinished one (`received`) whose lease has run
 * out (its invocation crashed or handed the event back to the queue), or a `failed` one, which a new
 * delivery re-attempts: that is what a redrive from the failure queue does, for the same object
 * version with its metadata (unless `npm run redrive` already made it a new upload). Its counters
 * carry on. Undefined when the upload is in progress in another invocation or has finished, or
 * another delivery took it first.
 */
export async function takeOver(existing: UploadRecord, object: ObjectCreated, settings: TriggerSettings, deps: TriggerDeps, delivery: Delivery): Promise<Hold | undefined> {
  const { store, clock, log } = deps;
  const at = clock.now().toISOString();
  const previous = existing.invocations ?? 1;
  const invocations = previous + 1;
  const leaseUntil = new Date(delivery.deadline).toISOString();
  let changes: RecordFields;
  if (existing.status === UploadStatus.Received) {
    changes = { invocations, leaseUntil, updatedAt: at };
    if (!(await updateUpload(store, existing.uploadId, changes, { from: [UploadStatus.Received], expectInvocations: previous, leaseExpiredAt: at }))) return undefined;
    log.info('took over an unfinished upload', { invocations });
  } else if (existing.status === UploadStatus.Failed && existing.redrivenAt !== undefined) {
    // `npm run redrive` made a new upload of this object: re-attempting this one too would send it twice.
    log.info('not re-attempting a failed upload that was redriven as a new one', { redrivenAt: existing.redrivenAt, redrivenAs: existing.redrivenAs });
    return undefined;
  } else if (existing.status === UploadStatus.Failed) {
    changes = {
      status: UploadStatus.Received,
      invocations,
      leaseUntil,
      updatedAt: at,
      reason: 'Being submitted to Insider again.',
      note: 'Re-attempted after it had failed: its S3 event was delivered again (a redrive from the failure queue, or a repeated event).',
      // The prepared bucket may have expired the copy by now: the file is checked and copied again.
      preparedKey: undefined,
    };
    if (!(await updateUpload(store, existing.uploadId, changes, { from: [UploadStatus.Failed], expectInvocations: previous }))) return undefined;
    log.info('re-attempting a failed upload', { invocations });
  } else {
    return undefined;
  }
  return {
    object,
    record: { ...existing, ...changes },
    owned: { from: [UploadStatus.Received], expectInvocations: invocations },
    settings,
    deps,
    delivery,
  };
}

/** Writes `changes` to the owned record and keeps the hold's copy in step; false when the record left this invocation's hold. */
export async function save(hold: Hold, changes: RecordChanges): Promise<boolean> {
  if (!(await updateUpload(hold.deps.store, hold.record.uploadId, changes, hold.owned))) return false;
  const { addCallbackTokenHash: _added, ...fields } = changes;
  hold.record = { ...hold.record, ...fields };
  return true;
}

/**
 * Hands the upload back to the queue for its next attempt, after a wait (Insider's `Retry-After`,
 * else a growing backoff), or, on the last attempt, records it failed.
 */
export async function retryOrFail(hold: Hold, failure: { why: string; changes: RecordFields; retryAfterMs?: number | undefined }): Promise<TriggerOutcome> {
  const { owned, settings, deps, delivery } = hold;
  const { uploadId } = hold.record;
  const { why, changes } = failure;
  const now = deps.clock.now().toISOString();
  if (delivery.attempt >= settings.maxReceives) {
    // Redriving an upload Insider may already have would create a second segment.
    const possiblyAccepted = changes.possiblyAccepted ?? hold.record.possiblyAccepted;
    const gaveUp = `${why} Gave up after ${delivery.attempt} attempts`;
    const reason = possiblyAccepted ? `${gaveUp}. ${MAY_HAVE_REACHED_INSIDER}` : `${gaveUp}; see README "Redrive" to try again.`;
    const outcome = await finish(hold, { ...changes, status: UploadStatus.Failed, reason, lastError: why, leaseUntil: now });
    return outcome.action === 'recorded' ? { uploadId, action: 'gaveUp', status: UploadStatus.Failed } : outcome;
  }
  const retryAfterSeconds = retryDelaySeconds(delivery.attempt, failure.retryAfterMs, deps.random);
  const reason = `Attempt ${delivery.attempt} of ${settings.maxReceives} failed: ${why} The next attempt comes in about ${retryAfterSeconds} s.`;
  // Release the lease so that the next delivery can take over at once.
  if (!(await updateUpload(deps.store, uploadId, { ...changes, reason, lastError: why, leaseUntil: now }, owned))) {
    return movedOn(hold);
  }
  deps.log.info('upload handed back to the queue', { retryAfterSeconds, reason });
  return { uploadId, action: 'retry', status: UploadStatus.Received, retryAfterSeconds };
}

/** Moves the owned record to its next status; if someone else moved it first, reports that. */
export async function finish(hold: Hold, changes: RecordFields & { status: UploadStatus }): Promise<TriggerOutcome> {
  const { record, owned, deps } = hold;
  const { uploadId } = record;
  const moved = await updateUpload(deps.store, uploadId, changes, owned);
  if (!moved) return movedOn(hold);
  const next: UploadRecord = { ...record, ...changes };
  hold.record = next;
  if (isFinal(next.status)) await deps.telemetry.finalStatus(next);
  deps.log.info('upload recorded', { status: next.status, reason: next.reason });
  return { uploadId, action: 'recorded', status: next.status };
}

/** The record left this invocation's hold (a callback completed it, or another delivery took over). */
export async function movedOn(hold: Hold): Promise<TriggerOutcome> {
  const current = (await hold.deps.store.get(hold.record.uploadId)) ?? hold.record;
  hold.deps.log.info('record moved on meanwhile', { status: current.status });
  return { uploadId: current.uploadId, action: 'duplicate', status: current.status };
}

export function duplicate(uploadId: string, existing: UploadRecord, deps: TriggerDeps): TriggerOutcome {
  deps.log.info('repeated event: the upload is already recorded or in progress', { status: existing.status });
  return { uploadId, action: 'duplicate', status: existing.status };
}
