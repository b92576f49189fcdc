// The ports the use cases talk to; adapters implement them with the AWS SDK and HTTP, tests with fakes.
import type { UploadStatus } from '../shared/contract.js';

/** One upload record, as people read it in the DynamoDB console. */
export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  /** The S3 version id, or, where the bucket has none, the event's sequencer. */
  versionId?: string | undefined;
  sequencer?: string | undefined;
  size: number;
  segmentName?: string | undefined;
  attributeName?: string | undefined;
  status: UploadStatus;
  /** Why the record is in its status, in words a person can act on. */
  reason?: string | undefined;
  /** Extra context that does not change the status (e.g. an ambiguous retry). */
  note?: string | undefined;
  receivedAt: string;
  updatedAt: string;
  submittedAt?: string | undefined;
  completedAt?: string | undefined;
  /** Insider's last HTTP status and message. */
  fpsHttpStatus?: number | undefined;
  fpsMessage?: string | undefined;
  /** HTTP requests made to Insider for this upload, over all invocations. */
  fpsRequests?: number | undefined;
  /** Invocations of the trigger that worked on this upload. */
  invocations?: number | undefined;
  /** Until when the current invocation owns the record; another waits or leaves it. */
  leaseUntil?: string | undefined;
  /** A request timed out after it may have reached Insider. */
  possiblyAccepted?: boolean | undefined;
  lastError?: string | undefined;
  fileUrlExpiresAt?: string | undefined;
  /** SHA-256 of every callback token handed out for this upload. */
  callbackTokenHashes?: string[] | undefined;
  validValuesCount?: number | undefined;
  invalidValuesCount?: number | undefined;
  totalEnteredValues?: number | undefined;
  /** valid / total, 0..1, rounded to 4 places. */
  matchRate?: number | undefined;
  callbacksReceived?: number | undefined;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: UploadRecord };

export interface UploadsStore {
  /** Writes the record only if no record with its id exists. */
  create(record: UploadRecord): Promise<ClaimResult>;
  get(uploadId: string): Promise<UploadRecord | undefined>;
  /**
   * Applies `changes` only if the record is in `from` status and, when given, its
   * `invocations` still equals `expectInvocations` (who owns it) and its lease has expired at `now`.
   * Returns false when the condition fails.
   */
  update(
    uploadId: string,
    changes: Partial<UploadRecord>,
    condition: { from: readonly UploadStatus[]; expectInvocations?: number; leaseExpiredAt?: string },
    addTokenHash?: string,
  ): Promise<boolean>;
  /**
   * Takes the segment-name lock for `uploadId`; succeeds if free, already held by it, or held by
   * an upload `isHolderDone` says has ended. Otherwise returns the holder.
   */
  lockSegment(
    segmentName: string,
    uploadId: string,
    isHolderDone: (holderUploadId: string) => Promise<boolean>,
  ): Promise<{ locked: true } | { locked: false; holder: string }>;
  /** Records in `status` whose `updatedAt` is before `before`, oldest first. */
  listStale(status: UploadStatus, before: string, limit: number): Promise<UploadRecord[]>;
}

export interface ObjectInfo {
  size: number;
  metadata: Record<string, string>;
  versionId?: string | undefined;
}

export interface ObjectStore {
  /** `undefined` when the object (version) no longer exists. */
  head(bucket: string, key: string, versionId?: string): Promise<ObjectInfo | undefined>;
  /** A GET URL for exactly this object version; `expiresAt` is when it really stops working. */
  presignGet(
    bucket: string,
    key: string,
    versionId: string | undefined,
    expiresInSeconds: number,
  ): Promise<{ url: string; expiresAt: Date }>;
}

export interface FpsUploadRequest {
  segmentName: string;
  fileUrl: string;
  callbackUrl: string;
  attributeName: string;
}

/** One HTTP attempt's outcome, as the wire gave it. */
export type FpsAttempt =
  | { kind: 'response'; status: number; message: string; retryAfterMs?: number | undefined }
  | { kind: 'network'; error: string; timedOut: boolean };

export interface SegmentApi {
  upload(request: FpsUploadRequest, timeoutMs: number): Promise<FpsAttempt>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface TokenGenerator {
  /** An unguessable URL-safe token. */
  token(): string;
  hash(token: string): string;
}

/** Metric and event sink; a no-op is fine. */
export interface Telemetry {
  count(name: string, value?: number): void;
  timing(name: string, ms: number): void;
  finalStatus(record: UploadRecord): Promise<void> | void;
}
