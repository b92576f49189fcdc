// Publishes each upload's final status to an SNS topic: a short subject, a JSON body, a `status` attribute to filter on.
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { UploadRecord } from '../core/ports.js';
import type { PreflightFigures } from '../core/preflight-figures.js';

/** The status topic's client for every function: short timeouts, as a notification is not worth holding up an upload's own work. */
export function statusTopicClient(): SNSClient {
  return new SNSClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } });
}

/** The JSON body subscribers receive. Counts only for `completed`, a reason for every status. */
export interface FinalStatusMessage {
  uploadId: string;
  status: UploadRecord['status'];
  /** The logical segment (the file's name or metadata `segment-name`). */
  segmentName: string | null;
  /** The exact name sent to Insider (or, for a dry run, that a real drop would send). */
  insiderSegmentName: string | null;
  attributeName: string | null;
  bucket: string;
  key: string;
  /** The cleaned copy Insider downloaded instead of `key`, in the prepared bucket. */
  preparedKey: string | null;
  reason: string | null;
  /** E.g. a match rate below `minMatchRate`. */
  warning: string | null;
  counts: { valid: number; invalid: number; total: number; matchRate: number | null } | null;
  /** What the pre-flight check counted (counts and line numbers only). */
  preflight: PreflightFigures | null;
  /** For a dry run, what a real drop would do. */
  dryRunVerdict: UploadRecord['dryRunVerdict'] | null;
  fpsHttpStatus: number | null;
  receivedAt: string;
  at: string;
}

export function finalStatusMessage(record: UploadRecord): FinalStatusMessage {
  const completed = record.validValuesCount !== undefined && record.totalEnteredValues !== undefined;
  return {
    uploadId: record.uploadId,
    status: record.status,
    segmentName: record.segmentName ?? null,
    insiderSegmentName: record.insiderSegmentName ?? null,
    attributeName: record.attributeName ?? null,
    bucket: record.bucket,
    key: record.key,
    preparedKey: record.preparedKey ?? null,
    reason: record.reason ?? null,
    warning: record.warning ?? null,
    counts: completed
      ? {
          valid: record.validValuesCount ?? 0,
          invalid: record.invalidValuesCount ?? 0,
          total: record.totalEnteredValues ?? 0,
          matchRate: record.matchRate ?? null,
        }
      : null,
    preflight: record.preflight ?? null,
    dryRunVerdict: record.dryRunVerdict ?? null,
    fpsHttpStatus: record.fpsHttpStatus ?? null,
    receivedAt: record.receivedAt,
    at: record.completedAt ?? record.updatedAt,
  };
}

/** SNS subjects: printable ASCII, under 100 characters. Segment names may be Turkish, so fold accents. */
export function subjectFor(record: Pick<UploadRecord, 'status' | 'segmentName' | 'insiderSegmentName' | 'key' | 'warning'>): string {
  const name = (record.insiderSegmentName ?? record.segmentName ?? record.key)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/ı/g, 'i')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7E]/g, '?')
    .trim();
  const subject = `FPS upload ${record.status}${record.warning ? ' (warning)' : ''}: ${name}`;
  return subject.length > 99 ? `${subject.slice(0, 96)}...` : subject;
}

export interface PublishLog {
  warn(message: string, extra: Record<string, unknown>): void;
}

/**
 * Returns the `Telemetry.finalStatus` hook. A failed publish is logged and swallowed: the record in
 * DynamoDB is the truth, and a notification outage must not fail (and so retry) an upload.
 */
export function snsFinalStatusPublisher(client: SNSClient, topicArn: string, log: PublishLog) {
  return async (record: UploadRecord): Promise<void> => {
    try {
      await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: subjectFor(record),
          Message: JSON.stringify(finalStatusMessage(record)),
          MessageAttributes: { status: { DataType: 'String', StringValue: record.status } },
        }),
      );
    } catch (error) {
      const err = error as { name?: string; message?: string };
      log.warn('final status notification not published', { error: `${err.name ?? 'Error'}: ${err.message ?? String(error)}` });
    }
  };
}
