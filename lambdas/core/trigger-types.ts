// What the trigger's use case takes and gives: the object event, its settings and ports, one delivery, and the outcome.
import type { UploadStatus, ValueFormat } from '../shared/contract.js';
import type { RetryPolicy } from './fps-submission.js';
import type { Clock, Log, ObjectStore, SegmentApi, Telemetry, TokenGenerator, UploadsStore } from './ports.js';
import type { SegmentNameTemplate } from './segment-name-template.js';
import type { NormalizeOptions } from './value-formats.js';

/** An object-created notification, key already decoded. */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  versionId?: string | undefined;
  sequencer?: string | undefined;
  eTag?: string | undefined;
  /** The S3 event's `eventTime`: what `{date}`, `{time}` and `{datetime}` render. Default: when the trigger first saw it. */
  eventTime?: Date | undefined;
}

/** How segment names are made (context `segmentNameTemplate` and `timeZone`). */
export interface NamingSettings {
  /** @default `{name}` */
  template?: string | SegmentNameTemplate | undefined;
  /** IANA zone of `{date}`, `{time}`, `{datetime}`. @default UTC */
  timeZone?: string | undefined;
}

/** What the pre-flight check holds values to (contexts `attributeFormats`, `maxInvalidShare`, `normalizeValues`). */
export interface PreflightSettings {
  /** @default DEFAULT_ATTRIBUTE_FORMATS */
  formats?: Readonly<Record<string, ValueFormat>> | undefined;
  /** @default 0.5 */
  maxInvalidShare?: number | undefined;
  /** Off (default), or on with these settings. */
  normalize?: false | NormalizeOptions | undefined;
}

export interface TriggerSettings {
  /** The API's base URL (no trailing slash needed). */
  callbackBaseUrl: string;
  defaultAttributeName?: string | undefined;
  maxFileBytes: number;
  presignExpiresSeconds: number;
  /** SQS delivers an event at most this often (its redrive policy's maxReceiveCount): the attempt that reaches it records `failed`. */
  maxReceives: number;
  retryPolicy: RetryPolicy;
  /** The private bucket the cleaned copies go to (`<uploadId>.csv`). */
  preparedBucket: string;
  naming?: NamingSettings | undefined;
  preflight?: PreflightSettings | undefined;
}

export interface TriggerDeps {
  store: UploadsStore;
  objects: ObjectStore;
  api: SegmentApi;
  clock: Clock;
  tokens: TokenGenerator;
  telemetry: Telemetry;
  log: Log;
  /** Jitter for the wait before the next attempt. @default Math.random */
  random?: () => number;
}

/** One delivery of an S3 event to the trigger. */
export interface Delivery {
  /** 1 for the first delivery: SQS's `ApproximateReceiveCount`. */
  attempt: number;
  /** Epoch ms by which this invocation must have finished its work. */
  deadline: number;
}

export type TriggerOutcome =
  | { uploadId: string; action: 'recorded'; status: UploadStatus }
  /** A repeated event for an upload that was already handled or is being handled. */
  | { uploadId: string; action: 'duplicate'; status: UploadStatus }
  /** Not finished, and an attempt is left: the event should come again in `retryAfterSeconds`. */
  | { uploadId: string; action: 'retry'; status: typeof UploadStatus.Received; retryAfterSeconds: number }
  /** The last attempt failed: the record says `failed`, and the event belongs in the failure queue. */
  | { uploadId: string; action: 'gaveUp'; status: typeof UploadStatus.Failed }
  /** A folder placeholder or a file under the ignore rule: no record (`reason` says which, for the log). */
  | { uploadId: string; action: 'ignored'; status?: undefined; reason: string };
