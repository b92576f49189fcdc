// The sweeper's use case: uploads that waited too long end in a final status with a reason.
import { UploadStatus } from '../shared/contract.js';
import { MAY_HAVE_REACHED_INSIDER, updateUpload } from './lifecycle.js';
import type { Clock, RecordFields, Telemetry, UploadsStore } from './ports.js';

export interface SweepSettings {
  /** A submitted upload with no callback after this long is timed out. */
  submittedTimeoutHours: number;
  /** A received upload untouched this long has no attempt left (the events queue's retry window has passed). */
  receivedTimeoutHours: number;
  batchSize?: number;
}

export interface SweepResult {
  timedOut: string[];
  failed: string[];
}

const HOUR_MS = 3_600_000;

export async function sweepStaleUploads(
  settings: SweepSettings,
  deps: { store: UploadsStore; clock: Clock; telemetry: Telemetry },
): Promise<SweepResult> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const limit = settings.batchSize ?? 100;
  const result: SweepResult = { timedOut: [], failed: [] };

  const submittedBefore = new Date(now.getTime() - settings.submittedTimeoutHours * HOUR_MS).toISOString();
  for (const record of await deps.store.listStale(UploadStatus.Submitted, submittedBefore, limit)) {
    const changes: RecordFields = {
      status: UploadStatus.TimedOut,
      updatedAt: at,
      reason:
        // Submitted on an ambiguous retry (a lost reply, then "already in use"): Insider may never have had this file.
        record.possiblyAccepted && record.fpsHttpStatus !== undefined && record.fpsHttpStatus >= 300
          ? `No callback within ${settings.submittedTimeoutHours} hours. An earlier request's answer was lost and the retry was told the segment name is already in use: either that request created the segment (look for it in Insider's panel; a late callback will still complete this record) or another upload already uses the name.`
          : `Insider accepted the file but sent no callback within ${settings.submittedTimeoutHours} hours. Check the segment in Insider's panel; a late callback will still complete this record.`,
    };
    if (await updateUpload(deps.store, record.uploadId, changes, { from: [UploadStatus.Submitted] })) {
      result.timedOut.push(record.uploadId);
      await deps.telemetry.finalStatus({ ...record, ...changes });
    }
  }

  const receivedBefore = new Date(now.getTime() - settings.receivedTimeoutHours * HOUR_MS).toISOString();
  for (const record of await deps.store.listStale(UploadStatus.Received, receivedBefore, limit)) {
    const changes: RecordFields = {
      status: UploadStatus.Failed,
      updatedAt: at,
      reason: `The upload stopped before it was submitted and no attempt is left${record.lastError ? ` (last error: ${record.lastError})` : ''}${
        record.possiblyAccepted ? `. ${MAY_HAVE_REACHED_INSIDER}` : '; see README "Redrive".'
      }`,
    };
    if (await updateUpload(deps.store, record.uploadId, changes, { from: [UploadStatus.Received], leaseExpiredAt: at })) {
      result.failed.push(record.uploadId);
      await deps.telemetry.finalStatus({ ...record, ...changes });
    }
  }
  return result;
}
