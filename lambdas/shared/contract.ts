// The contract shared by the CDK stack, the functions and the local stack: names, keys, limits.
// Anything both the infrastructure and the code must agree on lives here, once.

/** Every status an upload record can have. */
export const UploadStatus = {
  /** The file was seen and claimed; the call to Insider is under way (or was interrupted). */
  Received: 'received',
  /** Insider accepted the file (200); waiting for its callback. */
  Submitted: 'submitted',
  /** Insider called back with the counts. Final. */
  Completed: 'completed',
  /** The file or Insider's answer says it can never succeed as it is (bad name, empty, 400). Final. */
  Rejected: 'rejected',
  /** It could not be submitted (auth, rate limit or outage that outlasted every retry). Final. */
  Failed: 'failed',
  /** Insider accepted it but never called back within the window. Final. */
  TimedOut: 'timed_out',
  /**
   * A dry run (metadata `dry-run: true` or the `dry-run/` top folder): checked and named like a real
   * drop, nothing sent to Insider; the record holds the verdict, the name and the pre-flight figures. Final.
   */
  DryRun: 'dry_run',
} as const;
export type UploadStatus = (typeof UploadStatus)[keyof typeof UploadStatus];

/** The statuses an upload ends in (the lifecycle's rules are in `lambdas/core/lifecycle.ts`). */
export const FINAL_STATUSES: readonly UploadStatus[] = [
  UploadStatus.Completed,
  UploadStatus.Rejected,
  UploadStatus.Failed,
  UploadStatus.TimedOut,
  UploadStatus.DryRun,
];

/** The uploads table: key and index layout. */
export const UploadsTable = {
  partitionKey: 'uploadId',
  /** GSI: find a segment's uploads by name, newest first. */
  bySegmentIndex: 'bySegment',
  bySegmentPartitionKey: 'segmentName',
  bySegmentSortKey: 'receivedAt',
  /** GSI: list uploads in one status, newest first. */
  byStatusIndex: 'byStatus',
  byStatusPartitionKey: 'status',
  byStatusSortKey: 'updatedAt',
} as const;

/**
 * Lock items for "one upload per segment name in flight" live in the same table under this
 * key prefix. They carry no `status`/`segmentName` attribute, so they never show in the indexes.
 */
export const SEGMENT_LOCK_PREFIX = 'segment-lock#';

/**
 * The `{n}` counter of a logical segment name (issue 8) lives in the same table under this key prefix:
 * one item per logical name, with the last number issued (`n`) and the upload it was issued to. No
 * `status`/`segmentName` attribute either, so no index shows it.
 */
export const SEGMENT_COUNTER_PREFIX = 'segment-counter#';

/** The callback route on the API: Insider POSTs here. */
export const CALLBACK_PATH_PREFIX = 'callbacks';
export const CALLBACK_ROUTE = `/${CALLBACK_PATH_PREFIX}/{uploadId}/{token}`;

/** Insider's documented limits. */
export const SEGMENT_NAME_MAX_LENGTH = 40;
export const DEFAULT_FPS_ENDPOINT = 'https://contact.useinsider.com/fps/v1/upload';
export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;

/** S3 user metadata keys (sent as `x-amz-meta-…`) that override the names taken from the key. */
export const META_SEGMENT_NAME = 'segment-name';
export const META_ATTRIBUTE_NAME = 'attribute-name';

/** Largest callback body the callback function reads; Insider's is under 200 bytes. */
export const MAX_CALLBACK_BODY_BYTES = 4096;

/** Environment variable names, set by the stack and read by the functions. */
export const TriggerEnv = {
  tableName: 'UPLOADS_TABLE_NAME',
  partnerName: 'FPS_PARTNER_NAME',
  tokenSecretId: 'FPS_TOKEN_SECRET_ID',
  endpointUrl: 'FPS_ENDPOINT_URL',
  callbackBaseUrl: 'CALLBACK_BASE_URL',
  defaultAttributeName: 'DEFAULT_ATTRIBUTE_NAME',
  maxFileBytes: 'MAX_FILE_BYTES',
  presignExpiresSeconds: 'PRESIGN_EXPIRES_SECONDS',
  fpsTimeoutMs: 'FPS_TIMEOUT_MS',
  tokenCacheSeconds: 'TOKEN_CACHE_SECONDS',
  /** How often SQS delivers one event before moving it to the failure queue (the redrive policy's maxReceiveCount). */
  maxReceives: 'MAX_RECEIVES',
  /** The queue the trigger's S3 events come from: it sets their visibility to choose when the next attempt comes. */
  eventsQueueUrl: 'UPLOAD_EVENTS_QUEUE_URL',
  /** The role the trigger assumes to sign file URLs (credentials with a known expiry). Set this or the next. */
  presignRoleArn: 'PRESIGN_ROLE_ARN',
  /** A secret holding an IAM user's access key (JSON) to sign file URLs that outlive an hour. */
  presignAccessKeySecretId: 'PRESIGN_ACCESS_KEY_SECRET_ID',
  statusTopicArn: 'STATUS_TOPIC_ARN',
  /** Context `segmentNameTemplate`, validated at synth; metadata `segment-name-template` overrides it per file. */
  segmentNameTemplate: 'SEGMENT_NAME_TEMPLATE',
  /** Context `timeZone` (IANA): the zone `{date}`, `{time}` and `{datetime}` are rendered in. */
  timeZone: 'TIME_ZONE',
  /** The private bucket the trigger writes cleaned copies to (`<uploadId>.csv`); Insider downloads them through presigned URLs. */
  preparedBucketName: 'PREPARED_BUCKET_NAME',
  /** JSON: attribute name → value format (`email`, `e164`), the whole map after context `attributeFormats` was merged in. */
  attributeFormats: 'ATTRIBUTE_FORMATS',
  /** Context `maxInvalidShare`: a file is rejected when more than this share of its values fail the attribute's format. */
  maxInvalidShare: 'MAX_INVALID_SHARE',
  /** Context `normalizeValues` (`true`/`false`): lower-case emails and rewrite phones to E.164 in the clean copy. */
  normalizeValues: 'NORMALIZE_VALUES',
  /** Context `phoneDefaultRegion` (ISO 3166 code): the region of phone numbers written without a country code, when normalizing. */
  phoneDefaultRegion: 'PHONE_DEFAULT_REGION',
} as const;

export const SweeperEnv = {
  tableName: 'UPLOADS_TABLE_NAME',
  submittedTimeoutHours: 'SUBMITTED_TIMEOUT_HOURS',
  /** A record still `received` this long after its last update has no attempt left. */
  receivedTimeoutHours: 'RECEIVED_TIMEOUT_HOURS',
  statusTopicArn: 'STATUS_TOPIC_ARN',
} as const;

/**
 * How often SQS delivers one S3 event to the trigger (its `ApproximateReceiveCount` is the attempt
 * number). The events queue's redrive policy moves the event to the failure queue after this many
 * receives; the stack sets the same number in the trigger's environment, so its last attempt is the
 * one that records `failed`.
 */
export const TRIGGER_MAX_RECEIVES = 3;
/** The trigger function's timeout. */
export const TRIGGER_TIMEOUT_SECONDS = 60;
/**
 * The trigger's memory size, hence its CPU share (1,769 MB is one vCPU): the pre-flight scan of a
 * file at the size limit must finish well inside the timeout. Chosen with the pre-flight benchmark
 * (README "Performance" has the arithmetic).
 */
export const TRIGGER_MEMORY_MB = 512;
/**
 * AWS's advice for a queue read by an event source mapping: a visibility timeout of six times the
 * function's timeout, so a message is not received again while its invocation (and Lambda's own
 * retries of a throttled invoke) may still run. It is also how long a message waits after an
 * invocation that crashed.
 */
export const UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS = 6 * TRIGGER_TIMEOUT_SECONDS;
/** How long SQS keeps an event nobody received (SQS's default, 4 days). */
export const UPLOAD_EVENTS_RETENTION_DAYS = 4;
/** How long the failure queue keeps an event waiting for a redrive (SQS's maximum). */
export const FAILED_UPLOADS_RETENTION_DAYS = 14;
/**
 * The longest the trigger asks SQS to wait before the next attempt (the message's visibility
 * timeout): the cap of its backoff, and of Insider's `Retry-After` (a longer one is cut to this).
 */
export const TRIGGER_MAX_RETRY_DELAY_SECONDS = 900;
/**
 * The longest an upload can stay `received` while SQS still holds an attempt for it: each of the
 * receives runs for at most the timeout, then waits at most the longest retry delay (or, after a
 * crash, the queue's visibility timeout). 3 × (60 + 900) s = 48 minutes.
 */
export const TRIGGER_RETRY_WINDOW_SECONDS =
  TRIGGER_MAX_RECEIVES * (TRIGGER_TIMEOUT_SECONDS + Math.max(TRIGGER_MAX_RETRY_DELAY_SECONDS, UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS));
/**
 * Added to the retry window before the sweeper calls a `received` upload failed: a backlog in the
 * events queue delays redeliveries, and the sweeper itself runs every 15 minutes. Its verdict is not
 * the last word either: a later delivery of the event re-attempts a `failed` upload.
 */
export const RECEIVED_TIMEOUT_MARGIN_SECONDS = 3600;
/** A `received` upload untouched this long (whole hours; 2 with the values above) has no attempt left: the sweeper fails it. */
export const RECEIVED_TIMEOUT_HOURS = Math.ceil((TRIGGER_RETRY_WINDOW_SECONDS + RECEIVED_TIMEOUT_MARGIN_SECONDS) / 3600);

export const CallbackEnv = {
  tableName: 'UPLOADS_TABLE_NAME',
  statusTopicArn: 'STATUS_TOPIC_ARN',
  /** Context `minMatchRate`: a completed upload below it carries a warning and counts in `LowMatchRate`. */
  minMatchRate: 'MIN_MATCH_RATE',
} as const;

/**
 * File URLs signed with an assumed role die with its session, and a session assumed from another
 * role's (the function's) is capped at one hour by STS ("role chaining").
 */
export const PRESIGN_ROLE_MAX_SECONDS = 3600;
/** SigV4 presigned URLs cannot outlive 7 days, whoever signs them. */
export const PRESIGN_MAX_SECONDS = 604_800;

/** The EMF namespace and `service` dimension of the functions' metrics (the stack's alarms read them). */
export const METRICS_NAMESPACE = 'FpsPipeline';
export const ServiceName = {
  trigger: 'fps-trigger',
  callback: 'fps-callback',
  sweeper: 'fps-sweeper',
} as const;

/** The CloudWatch units the functions' metrics use (Powertools' `MetricUnit` names). */
export type MetricUnitName = 'Count' | 'Milliseconds' | 'Percent';

/** A metric the functions emit: its name and the unit its values are in. */
export interface MetricSpec {
  readonly name: string;
  readonly unit: MetricUnitName;
}

/** Every metric the functions emit. */
export const Metric = {
  filesReceived: { name: 'FilesReceived', unit: 'Count' },
  filesSubmitted: { name: 'FilesSubmitted', unit: 'Count' },
  filesCompleted: { name: 'FilesCompleted', unit: 'Count' },
  filesRejected: { name: 'FilesRejected', unit: 'Count' },
  filesFailed: { name: 'FilesFailed', unit: 'Count' },
  filesTimedOut: { name: 'FilesTimedOut', unit: 'Count' },
  fpsLatency: { name: 'FpsLatency', unit: 'Milliseconds' },
  /** Valid values per 100 entered, as Insider reported them in a callback. */
  callbackMatchRate: { name: 'CallbackMatchRate', unit: 'Percent' },
  /** A completed upload whose match rate is below `minMatchRate` (or which Insider counted no values in): its record carries a warning. */
  lowMatchRate: { name: 'LowMatchRate', unit: 'Count' },
  /** Dry runs recorded (checked and named, nothing sent to Insider). */
  filesDryRun: { name: 'FilesDryRun', unit: 'Count' },
} as const satisfies Record<string, MetricSpec>;
export type Metric = (typeof Metric)[keyof typeof Metric];

/** The metrics' names alone, for alarms and dashboards. */
export const MetricName = Object.fromEntries(Object.entries(Metric).map(([key, metric]) => [key, metric.name])) as {
  readonly [K in keyof typeof Metric]: (typeof Metric)[K]['name'];
};

/**
 * What each pipeline function is for. The stack marks its functions with it (CloudFormation resource
 * metadata `FUNCTION_ROLE_METADATA`); the local stack, tests and benchmarks find functions by it.
 */
export const FunctionRole = {
  trigger: 'trigger',
  callback: 'callback',
  sweeper: 'sweeper',
} as const;
export type FunctionRole = (typeof FunctionRole)[keyof typeof FunctionRole];
export const FUNCTION_ROLE_METADATA = 'fps:function-role';

/** S3 user metadata keys for the segment name template and dry runs (issue 8). */
export const META_SEGMENT_NAME_TEMPLATE = 'segment-name-template';
export const META_DRY_RUN = 'dry-run';
/**
 * Set by `npm run redrive` on the copy it makes: the upload it redrives. The new upload renders the
 * name's time placeholders at that upload's event time, as the original drop would have.
 */
export const META_REDRIVE_OF = 'redrive-of';
/** Every metadata key the pipeline reads; a key close to one of these gets a "did you mean" note. */
export const NAMING_METADATA_KEYS: readonly string[] = [META_SEGMENT_NAME, META_ATTRIBUTE_NAME, META_SEGMENT_NAME_TEMPLATE, META_DRY_RUN, META_REDRIVE_OF];
/** A file under this top folder (any case) is a dry run; the folder is not part of its name. */
export const DRY_RUN_FOLDER = 'dry-run';
/** Context `segmentNameTemplate` and `timeZone` defaults: today's names, event times in UTC. */
export const DEFAULT_SEGMENT_NAME_TEMPLATE = '{name}';
export const DEFAULT_TIME_ZONE = 'UTC';

/** Formats the pre-flight check knows how to test a value against (issue 8). */
export const ValueFormat = {
  /** Email syntax: local part, `@`, a domain with at least one dot. */
  email: 'email',
  /** A phone number in E.164: `+`, country calling code, national number (Insider's identifier APIs require it). */
  e164: 'e164',
} as const;
export type ValueFormat = (typeof ValueFormat)[keyof typeof ValueFormat];

/**
 * Which attributes have a known value format. Matched on the attribute name trimmed and case-insensitive;
 * an attribute not listed gets no format check. Insider's display names (`Email Address`, `Phone Number`),
 * the lower-case names partners use (`email`, `phone_number`) and Insider's own short names (`em`, `pn`).
 */
export const DEFAULT_ATTRIBUTE_FORMATS: Readonly<Record<string, ValueFormat>> = {
  'Email Address': ValueFormat.email,
  email: ValueFormat.email,
  em: ValueFormat.email,
  'Phone Number': ValueFormat.e164,
  phone_number: ValueFormat.e164,
  pn: ValueFormat.e164,
};

/** A file is rejected when more than this share of its values fail the attribute's format (or of its rows fail to parse). */
export const DEFAULT_MAX_INVALID_SHARE = 0.5;

/** A completed upload whose match rate (valid ÷ entered) is below this carries a warning (context `minMatchRate`). */
export const DEFAULT_MIN_MATCH_RATE = 0.5;

/**
 * Cleaned copies live in the prepared bucket until their file URL has surely expired: the URL's
 * lifetime in whole days, plus a day (at least one day, S3 lifecycle's smallest step).
 */
export function preparedCopyRetentionDays(presignExpiresSeconds: number): number {
  return Math.max(1, Math.ceil(presignExpiresSeconds / 86_400) + 1);
}

/**
 * Words that make the first non-blank row a header (besides the attribute's own name), compared after
 * lower-casing and turning runs of spaces, `_`, `-` and `.` into one space (so `E-Mail_Address` is
 * `e mail address`). Only names of identifier columns: a word that could be a real value of some
 * attribute (a city called Mobile, say) costs that one value, and the record names its line.
 */
export const PREFLIGHT_HEADER_WORDS: readonly string[] = [
  'email',
  'e mail',
  'email address',
  'e mail address',
  'mail',
  'phone',
  'phone number',
  'mobile',
  'mobile number',
  'mobile phone',
  'cell',
  'cell phone',
  'msisdn',
  'id',
  'user id',
  'userid',
  'customer id',
  'customerid',
  'value',
  'values',
];

/**
 * The longest line (or quoted value spanning lines) the pre-flight check holds in memory. One value per
 * line is a few dozen bytes; a longer line means the file is not a list of values (or a quote is never
 * closed), and holding it would let memory grow with the file.
 */
export const PREFLIGHT_MAX_LINE_BYTES = 1024 * 1024;

/**
 * Distinct values the duplicate check remembers (as 64-bit fingerprints, 8 bytes each in a table at most
 * half full, plus a 1-bit-per-hash filter: 4.5 MB). Past it, values are still checked against those
 * remembered but no new ones are added, so some later duplicates stay in the copy; no value is ever
 * dropped because of the cap.
 */
export const PREFLIGHT_MAX_TRACKED_VALUES = 262_144;

/** How many line numbers the pre-flight figures keep per kind of problem (the first ones). */
export const PREFLIGHT_SAMPLE_LINES = 5;
