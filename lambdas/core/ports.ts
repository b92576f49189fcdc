// The ports the use cases talk to; adapters implement them with the AWS SDK and HTTP, tests with fakes.
import type { Writable } from 'node:stream';
import type { Metric, UploadStatus } from '../shared/contract.js';
import type { PreflightFigures } from './preflight-figures.js';

/** One upload record, as people read it in the DynamoDB console. */
export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  /** The S3 version id, or, where the bucket has none, the event's sequencer. */
  versionId?: string | undefined;
  sequencer?: string | undefined;
  size: number;
  /**
   * The logical segment: the file name without its extension, or metadata `segment-name` (NFC,
   * trimmed). The `bySegment` index's partition, so one Query lists every refresh of a segment.
   */
  segmentName?: string | undefined;
  /**
   * The exact name sent to Insider (or, for a dry run, that would have been): the segment name
   * template rendered. The lock, "already in use" and the callback's `segment_name` are about this
   * name; records from before templates have only `segmentName`, which was the name sent.
   */
  insiderSegmentName?: string | undefined;
  /** The template that made `insiderSegmentName`, when it is not `{name}`. */
  segmentNameTemplate?: string | undefined;
  /** When `{name}` was shortened to fit Insider's limit: the rule applied, in a sentence. */
  segmentNameRule?: string | undefined;
  /** `{n}`: the number issued to this upload for its logical name (retries reuse it). */
  segmentCounter?: number | undefined;
  /** The S3 event's time (ISO-8601): what `{date}`, `{time}` and `{datetime}` render. */
  eventTime?: string | undefined;
  attributeName?: string | undefined;
  /** A dry run: nothing is sent to Insider; the record ends `dry_run` with the verdict in `reason`. */
  dryRun?: boolean | undefined;
  /** For a dry run: what a real drop would do. */
  dryRunVerdict?: 'would-submit' | 'would-reject' | undefined;
  /** What the pre-flight check counted in the file (counts and line numbers, never a value). */
  preflight?: PreflightFigures | undefined;
  /** The cleaned copy Insider downloads instead of the original, in the prepared bucket (`<uploadId>.csv`). */
  preparedKey?: string | undefined;
  /** Worth a look although the upload succeeded, e.g. a match rate below `minMatchRate`. */
  warning?: string | undefined;
  /** Made by `npm run redrive` from this earlier upload (metadata `redrive-of`): its event time names this one. */
  redriveOf?: string | undefined;
  /** When `npm run redrive` re-submitted this upload as a new one; it is not redriven or re-attempted again. */
  redrivenAt?: string | undefined;
  /** The new upload it was redriven as, when the bucket keeps versions (the id follows from the copy's version). */
  redrivenAs?: string | undefined;
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
  /**
   * A request failed after it may have reached Insider (a timeout, a connection lost after it was
   * made, a 5xx): Insider may have accepted the file even though we never heard so.
   */
  possiblyAccepted?: boolean | undefined;
  lastError?: string | undefined;
  fileUrlExpiresAt?: string | undefined;
  /** SHA-256 of every callback token handed out for this upload. */
  callbackTokenHashes?: string[] | undefined;
  validValuesCount?: number | undefined;
  invalidValuesCount?: number | undefined;
  totalEnteredValues?: number | undefined;
  /** valid ÷ max(total, valid + invalid), so always 0..1, rounded to 4 places; absent when that is 0. */
  matchRate?: number | undefined;
  callbacksReceived?: number | undefined;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: UploadRecord };

/** What must hold for a write to apply; the store checks it atomically with the write (see `meetsCondition`). */
export interface WriteCondition {
  /** The record exists and is in one of these statuses. */
  from: readonly UploadStatus[];
  /** Its `invocations` still equals this: the invocation that claimed it still owns it. */
  expectInvocations?: number;
  /** Its lease, if it has one, has run out at this time (ISO-8601). */
  leaseExpiredAt?: string;
}

/** The fields an update may set (or remove, with `undefined`): any but the id and the token hashes. */
export type RecordFields = Partial<Omit<UploadRecord, 'uploadId' | 'callbackTokenHashes'>>;

/** What an update may change: fields, and token hashes, which are only ever added. */
export type RecordChanges = RecordFields & {
  /** Adds this hash to `callbackTokenHashes`, a set: adding one it holds changes nothing. */
  addCallbackTokenHash?: string | undefined;
};

/** Persists upload records and segment locks; the rules they follow are the core's (`lifecycle.ts`, `segment-lock.ts`). */
export interface UploadsStore {
  /** Writes the record only if no record with its id exists. */
  create(record: UploadRecord): Promise<ClaimResult>;
  get(uploadId: string): Promise<UploadRecord | undefined>;
  /**
   * Applies `changes` (a field set to `undefined` is removed) only if the record meets
   * `condition` (`meetsCondition`), in one atomic write. Returns false when it does not.
   */
  update(uploadId: string, changes: RecordChanges, condition: WriteCondition): Promise<boolean>;
  /**
   * Makes `uploadId` hold the segment name's lock if the lock is free or already its own, or, given
   * `replacing`, only if `replacing` holds it. Returns false otherwise.
   */
  takeSegmentLock(segmentName: string, uploadId: string, replacing?: string): Promise<boolean>;
  /** The upload holding the segment name's lock, if any. */
  segmentLockHolder(segmentName: string): Promise<string | undefined>;
  /**
   * Notes on the segment name's lock item that Insider accepted `uploadId` under that name, so that a
   * later "already in use" can name it. The lock itself does not change.
   */
  markSegmentCreated(segmentName: string, uploadId: string): Promise<void>;
  /** The upload last marked as having created the segment name, if any. */
  segmentCreatedBy(segmentName: string): Promise<string | undefined>;
  /**
   * Issues the next `{n}` for a logical segment name, atomically: 1, 2, … across every upload. Asked
   * again by the upload it last issued to (a retry), it returns the same number.
   */
  issueSegmentCounter(logicalName: string, uploadId: string): Promise<number>;
  /** The number `issueSegmentCounter` would issue next, without issuing it (dry runs). */
  peekSegmentCounter(logicalName: string): Promise<number>;
  /** Records in `status` whose `updatedAt` is before `before`, oldest first, at most `limit`. */
  listStale(status: UploadStatus, before: string, limit: number): Promise<UploadRecord[]>;
}

export interface ObjectInfo {
  size: number;
  metadata: Record<string, string>;
  versionId?: string | undefined;
}

/** A copy being written; nothing can be read under its key until `complete`. */
export interface CopyUpload {
  /** Takes the bytes (with backpressure); the writer never ends it: `complete` or `abort` does. */
  sink: Writable;
  /** Ends the stream and stores the object. */
  complete(): Promise<void>;
  /** Drops whatever was sent (parts of a multipart upload included); nothing is stored. */
  abort(): Promise<void>;
}

export interface ObjectStore {
  /** `undefined` when the object (version) no longer exists. */
  head(bucket: string, key: string, versionId?: string): Promise<ObjectInfo | undefined>;
  /**
   * The object version's bytes as a stream (`undefined` when it no longer exists). Reading to the
   * end, or stopping early (`break`, `return`), releases the connection.
   */
  read(bucket: string, key: string, versionId?: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Starts writing an object (a cleaned copy) to `bucket`/`key`. */
  writeCopy(bucket: string, key: string): CopyUpload;
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
  | {
      kind: 'network';
      error: string;
      timedOut: boolean;
      /**
       * The request may have been written before it failed (a timeout, a reset or closed connection),
       * so Insider may have read and accepted it. False only when no connection was ever made
       * (refused, DNS failure, connect timeout): then nothing was sent.
       */
      possiblySent: boolean;
    };

export interface SegmentApi {
  upload(request: FpsUploadRequest, timeoutMs: number): Promise<FpsAttempt>;
  /**
   * Reads the token again past its cache (which then holds what was read): after a 401 the secret may
   * have been fixed since it was cached. True when it differs from the token the last `upload` sent,
   * so one more request at once is worth making. The token itself never leaves the adapter.
   */
  refreshToken(): Promise<boolean>;
}

/** The queue the trigger's S3 events arrive on. */
export interface EventQueue {
  /**
   * Makes a message handed back to the queue visible again after `seconds` (0: at once), counted from
   * now: SQS's ChangeMessageVisibility on the message's receipt handle.
   */
  deliverAgainIn(receiptHandle: string, seconds: number): Promise<void>;
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
  /** Adds `value` (default 1) to `metric`, in the unit the contract declares for it. */
  metric(metric: Metric, value?: number): void;
  finalStatus(record: UploadRecord): Promise<void> | void;
}

/** Structured log lines of one invocation. */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  /** Keys carried by every later line of this invocation. */
  addKeys(keys: Record<string, unknown>): void;
}
