// The trigger's use case: one created object becomes one upload record and at most one accepted FPS request.
import { createHash } from 'node:crypto';
import { CALLBACK_PATH_PREFIX, DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_MAX_INVALID_SHARE, DEFAULT_TIME_ZONE, Metric, UploadStatus, type ValueFormat } from '../shared/contract.js';
import { type RetryPolicy, SEGMENT_IN_USE, submitToFps } from './fps-submission.js';
import { isFinal, MAY_HAVE_REACHED_INSIDER, updateUpload } from './lifecycle.js';
import { type NamingResult, type NamingSuccess, resolveNames } from './naming.js';
import { classifyKey } from './object-key.js';
import type {
  Clock,
  Log,
  ObjectStore,
  RecordChanges,
  RecordFields,
  SegmentApi,
  Telemetry,
  TokenGenerator,
  UploadRecord,
  UploadsStore,
  WriteCondition,
} from './ports.js';
import { preflight } from './preflight.js';
import { describeCleanup, describeValues, figuresOf, type PreflightFigures } from './preflight-figures.js';
import { retryDelaySeconds } from './redelivery.js';
import { lockSegment } from './segment-lock.js';
import { isNameOnly, type SegmentNameTemplate, usesCounter } from './segment-name-template.js';
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

/** One id per object version: every duplicate of the event maps to the same record. */
export function uploadIdFor(object: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'sequencer' | 'eTag'>): string {
  const version = object.versionId ?? object.sequencer ?? object.eTag ?? '';
  return createHash('sha256').update(`${object.bucket}\n${object.key}\n${version}`).digest('hex').slice(0, 32);
}

export function callbackUrlFor(baseUrl: string, uploadId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${CALLBACK_PATH_PREFIX}/${uploadId}/${token}`;
}

/** The key of an upload's cleaned copy in the prepared bucket: its id, and `.csv` for Insider's URL check. */
export function preparedKeyFor(uploadId: string): string {
  return `${uploadId}.csv`;
}

/**
 * `{n}` while checking a name before a number is issued: every check but the final width is the same
 * for any number, and the name is rendered again once the number is known.
 */
const PROBE_COUNTER = 1;

/** One invocation's hold on an upload: the record it claimed and the condition its writes are made under. */
interface Hold {
  object: ObjectCreated;
  /** The record as this invocation last wrote it. */
  record: UploadRecord;
  /** Still `received` and still owned by this invocation. */
  owned: WriteCondition & { expectInvocations: number };
  settings: TriggerSettings;
  deps: TriggerDeps;
  delivery: Delivery;
}

/** Names the object with every capability the trigger has: `.CSV` and `.csv.gz` through a copy, dry runs, templates. */
function nameObject(object: ObjectCreated, info: { size: number; metadata: Record<string, string> }, settings: TriggerSettings, eventTime: Date, counter: number): NamingResult {
  return resolveNames({
    key: object.key,
    size: info.size,
    metadata: info.metadata,
    defaultAttributeName: settings.defaultAttributeName,
    maxFileBytes: settings.maxFileBytes,
    handles: { upperCaseExtension: true, gzip: true, dryRun: true },
    template: { configured: settings.naming?.template, timeZone: settings.naming?.timeZone ?? DEFAULT_TIME_ZONE, eventTime, counter },
  });
}

const sentences = (notes: readonly string[] | undefined) =>
  (notes ?? []).map((n) => `${n.charAt(0).toUpperCase()}${n.slice(1)}${/[.?!]$/.test(n) ? '' : '.'}`).join(' ') || undefined;

export async function handleObjectCreated(object: ObjectCreated, settings: TriggerSettings, deps: TriggerDeps, delivery: Delivery): Promise<TriggerOutcome> {
  const { store, clock, log } = deps;
  const uploadId = uploadIdFor(object);
  log.addKeys({ uploadId, objectKey: object.key, attempt: delivery.attempt });
  const now = () => clock.now().toISOString();
  const leaseUntil = new Date(delivery.deadline).toISOString();

  // Folder placeholders and hidden or system files get no record, and cost no call.
  const kind = classifyKey(object.key);
  if (kind.kind === 'folder' || kind.kind === 'ignored') {
    const reason = `${kind.description}: the pipeline ignores it.`;
    log.info('object ignored', { reason });
    return { uploadId, action: 'ignored', reason };
  }

  const eventTime = object.eventTime ?? clock.now();
  const info = await deps.objects.head(object.bucket, object.key, object.versionId);
  const names: NamingResult = info
    ? nameObject(object, info, settings, eventTime, PROBE_COUNTER)
    : { ok: false, reason: 'The object was deleted before it could be processed; drop it again.' };
  const logicalName = names.logicalName ?? names.segmentName;
  if (logicalName) log.addKeys({ segmentName: logicalName });

  const at = now();
  const base: UploadRecord = {
    uploadId,
    bucket: object.bucket,
    key: object.key,
    versionId: object.versionId ?? info?.versionId ?? object.sequencer,
    sequencer: object.sequencer,
    size: info?.size ?? object.size,
    segmentName: logicalName,
    attributeName: names.attributeName,
    eventTime: eventTime.toISOString(),
    status: UploadStatus.Received,
    receivedAt: at,
    updatedAt: at,
    ...(names.dryRun ? { dryRun: true } : {}),
    ...(names.ok && !isNameOnly(names.template) ? { segmentNameTemplate: names.template } : {}),
  };
  deps.telemetry.metric(Metric.filesReceived);

  if (!names.ok) {
    // A dry run that a real drop would see rejected: the verdict, in the dry run's own status.
    const record: UploadRecord = names.dryRun
      ? { ...base, status: UploadStatus.DryRun, dryRunVerdict: 'would-reject', reason: `Dry run: nothing was sent to Insider. A real drop would be rejected: ${names.reason}` }
      : { ...base, status: UploadStatus.Rejected, reason: names.reason };
    const claim = await store.create(record);
    if (claim.claimed) {
      log.warn('upload rejected before calling Insider', { status: record.status, reason: names.reason });
      await deps.telemetry.finalStatus(record);
      return { uploadId, action: 'recorded', status: record.status };
    }
    // A failed upload delivered again whose object can no longer be submitted as it is (deleted since,
    // or a setting changed) ends rejected, with the reason.
    const hold = claim.existing.status === UploadStatus.Failed ? await takeOver(claim.existing, object, settings, deps, delivery) : undefined;
    if (!hold) return duplicate(uploadId, claim.existing, deps);
    return finish(hold, { status: record.status, reason: record.reason, dryRunVerdict: record.dryRunVerdict, updatedAt: now() });
  }

  // Claim the object version, or take over an earlier delivery's claim (see takeOver).
  const record: UploadRecord = {
    ...base,
    invocations: 1,
    fpsRequests: 0,
    leaseUntil,
    reason: names.dryRun ? 'Being checked (dry run).' : 'Being submitted to Insider.',
    note: sentences(names.notes),
  };
  const claim = await store.create(record);
  let hold: Hold;
  if (claim.claimed) {
    hold = { object, record, owned: { from: [UploadStatus.Received], expectInvocations: 1 }, settings, deps, delivery };
  } else {
    const taken = await takeOver(claim.existing, object, settings, deps, delivery);
    if (!taken) return duplicate(uploadId, claim.existing, deps);
    hold = taken;
  }
  try {
    return await submitOwned(hold, names, info as { size: number; metadata: Record<string, string> });
  } catch (error) {
    // Anything unexpected (S3, Secrets Manager, DynamoDB, a bug) is one more failed attempt, not a stuck record.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log.warn('attempt failed unexpectedly', { error: message });
    return retryOrFail(hold, { why: `Internal error (${message}).`, changes: { updatedAt: now() } });
  }
}

/**
 * Takes the upload over from an earlier delivery: an unfinished one (`received`) whose lease has run
 * out (its invocation crashed or handed the event back to the queue), or a `failed` one, which a new
 * delivery re-attempts: that is what a redrive from the failure queue does, for the same object
 * version with its metadata. Its counters carry on. Undefined when the upload is in progress in
 * another invocation or has finished, or another delivery took it first.
 */
async function takeOver(existing: UploadRecord, object: ObjectCreated, settings: TriggerSettings, deps: TriggerDeps, delivery: Delivery): Promise<Hold | undefined> {
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
async function save(hold: Hold, changes: RecordChanges): Promise<boolean> {
  if (!(await updateUpload(hold.deps.store, hold.record.uploadId, changes, hold.owned))) return false;
  const { addCallbackTokenHash: _added, ...fields } = changes;
  hold.record = { ...hold.record, ...fields };
  return true;
}

/** Where Insider downloads the file from: the original object version, or its cleaned copy. */
interface FileToSend {
  bucket: string;
  key: string;
  versionId: string | undefined;
  figures: PreflightFigures;
}

type Step<T> = { ok: true; value: T } | { ok: false; outcome: TriggerOutcome };

async function submitOwned(hold: Hold, names: NamingSuccess, info: { size: number; metadata: Record<string, string> }): Promise<TriggerOutcome> {
  const { object, settings, deps } = hold;
  const { store, clock, log } = deps;
  const { uploadId } = hold.record;
  const now = () => clock.now().toISOString();
  const dryRun = names.dryRun;
  const rejectOrVerdict = (reason: string): Promise<TriggerOutcome> =>
    dryRun
      ? finish(hold, { status: UploadStatus.DryRun, dryRunVerdict: 'would-reject', reason: `Dry run: nothing was sent to Insider. A real drop would be rejected: ${reason}`, leaseUntil: now(), updatedAt: now() })
      : finish(hold, { status: UploadStatus.Rejected, reason, leaseUntil: now(), updatedAt: now() });

  // 1. Read the file once: a file Insider would refuse, or that holds no values, never uses its name.
  const checked = await checkFile(hold, names);
  if (!checked.ok) return checked.outcome;
  const file = checked.value;
  if (file.figures.verdict === 'reject') return rejectOrVerdict(hold.record.reason ?? 'The file did not pass the pre-flight check.');

  // 2. The name sent: rendered once, with the `{n}` issued to this upload (a dry run only peeks at it).
  let sent = hold.record.insiderSegmentName;
  if (sent === undefined) {
    let counter = hold.record.segmentCounter;
    let peeked: number | undefined;
    if (usesCounter(names.template) && counter === undefined) {
      if (dryRun) peeked = await store.peekSegmentCounter(names.logicalName);
      else counter = await store.issueSegmentCounter(names.logicalName, uploadId);
    }
    const eventTime = new Date(hold.record.eventTime ?? object.eventTime ?? clock.now());
    const final = nameObject(object, info, settings, eventTime, counter ?? peeked ?? PROBE_COUNTER);
    if (!final.ok) {
      if (counter !== undefined) await save(hold, { segmentCounter: counter });
      return rejectOrVerdict(final.reason);
    }
    sent = final.segmentName;
    const naming: RecordFields = { insiderSegmentName: sent, segmentCounter: counter, segmentNameRule: final.rule };
    if (dryRun) {
      return dryRunVerdict(hold, names, file, { ...naming, segmentCounter: undefined }, peeked);
    }
    if (!(await save(hold, { ...naming, updatedAt: now() }))) return movedOn(hold);
  } else if (dryRun) {
    return dryRunVerdict(hold, names, file, {}, undefined);
  }
  log.addKeys({ insiderSegmentName: sent });

  // 3. One upload per name sent in flight.
  const lock = await lockSegment(store, sent, uploadId, async (holder) => {
    const held = await store.get(holder);
    return !held || isFinal(held.status);
  });
  if (!lock.locked) {
    const holder = await store.get(lock.holder);
    const reason = `Another upload of segment "${sent}" is in flight (upload ${lock.holder}${holder ? `, s3://${holder.bucket}/${holder.key}, ${holder.status}` : ''}); drop this file again once that one has finished.`;
    return finish(hold, { status: UploadStatus.Rejected, reason, updatedAt: now() });
  }

  const presigned = await deps.objects.presignGet(file.bucket, file.key, file.versionId, settings.presignExpiresSeconds);
  const token = deps.tokens.token();
  // The token's hash is stored before Insider sees the URL: its callback may beat our own write.
  const stored = await save(hold, { fileUrlExpiresAt: presigned.expiresAt.toISOString(), updatedAt: now(), addCallbackTokenHash: deps.tokens.hash(token) });
  if (!stored) return duplicate(uploadId, (await store.get(uploadId)) ?? hold.record, deps);

  const record = hold.record;
  const started = clock.now().getTime();
  const submission = await submitToFps(
    deps.api,
    {
      segmentName: sent,
      attributeName: names.attributeName,
      fileUrl: presigned.url,
      callbackUrl: callbackUrlFor(settings.callbackBaseUrl, uploadId, token),
    },
    { policy: settings.retryPolicy, deadline: hold.delivery.deadline, clock, possiblyAccepted: record.possiblyAccepted ?? false },
  );
  deps.telemetry.metric(Metric.fpsLatency, clock.now().getTime() - started);
  const { verdict } = submission;
  const common: RecordFields = {
    fpsHttpStatus: verdict.status,
    fpsMessage: verdict.message,
    fpsRequests: (record.fpsRequests ?? 0) + submission.requests,
    possiblyAccepted: submission.possiblyAccepted || undefined,
    updatedAt: now(),
  };
  log.info('Insider answered', { verdict: verdict.kind, httpStatus: verdict.status, requests: submission.requests });

  switch (verdict.kind) {
    case 'accepted': {
      deps.telemetry.metric(Metric.filesSubmitted);
      const cleaned = file.key !== object.key ? `Insider was sent a cleaned copy (${file.key} in the prepared bucket): ${describeCleanup(file.figures) || 'renamed to end in ".csv"'}.` : undefined;
      const note = [record.note, cleaned, verdict.note].filter((n): n is string => Boolean(n)).join(' ') || undefined;
      const outcome = await finish(hold, {
        ...common,
        status: UploadStatus.Submitted,
        submittedAt: now(),
        reason: 'Insider accepted the file; waiting for its callback.',
        note,
        leaseUntil: now(),
      });
      try {
        await store.markSegmentCreated(sent, uploadId);
      } catch (error) {
        // Only a later "already in use" reason loses the name of this upload.
        log.warn('could not note which upload created the segment name', { error: error instanceof Error ? error.message : String(error) });
      }
      return outcome;
    }
    case 'rejected': {
      const inUse = verdict.status === 400 && verdict.message.toLowerCase().includes(SEGMENT_IN_USE) && !submission.possiblyAccepted;
      const reason = inUse ? await nameInUseReason(hold, names, sent, lock.replaced) : verdict.reason;
      return finish(hold, { ...common, status: UploadStatus.Rejected, reason });
    }
    case 'retryLater':
      return retryOrFail(hold, { why: verdict.reason, changes: common, retryAfterMs: submission.retryAfterMs });
  }
}

/**
 * The pre-flight check, once per upload: streams the object version, gunzips `.csv.gz`, counts, and
 * writes the cleaned copy to the prepared bucket when Insider should get it (cleanup changed
 * something, or the name does not end in lower-case `.csv`). A retry of the same delivery cycle reuses
 * the figures and the copy on the record. The figures are saved on the record either way.
 */
async function checkFile(hold: Hold, names: NamingSuccess): Promise<Step<FileToSend>> {
  const { object, settings, deps } = hold;
  const { uploadId } = hold.record;
  const original = { bucket: object.bucket, key: object.key, versionId: object.versionId };
  const needsCopy = (f: PreflightFigures) => f.changed || !names.file.lowerCaseExtension;
  const done = hold.record.preflight;
  if (done && !names.dryRun && (done.verdict === 'reject' || !needsCopy(done) || hold.record.preparedKey)) {
    deps.log.info('pre-flight already done: reusing its figures', { verdict: done.verdict, preparedKey: hold.record.preparedKey });
    const copy = hold.record.preparedKey;
    return { ok: true, value: copy ? { bucket: settings.preparedBucket, key: copy, versionId: undefined, figures: done } : { ...original, figures: done } };
  }

  const body = await deps.objects.read(object.bucket, object.key, object.versionId);
  if (!body) {
    return { ok: false, outcome: await finish(hold, { status: UploadStatus.Rejected, reason: 'The object was deleted before it could be processed; drop it again.', updatedAt: deps.clock.now().toISOString() }) };
  }
  // A dry run keeps no copy: its figures say what the copy would change.
  const preparedKey = preparedKeyFor(uploadId);
  const copy = names.dryRun ? undefined : deps.objects.writeCopy(settings.preparedBucket, preparedKey);
  let report: Awaited<ReturnType<typeof preflight>>;
  try {
    report = await preflight(body, {
      attributeName: names.attributeName,
      gzip: names.file.kind === 'csv.gz',
      maxBytes: settings.maxFileBytes,
      formats: settings.preflight?.formats ?? DEFAULT_ATTRIBUTE_FORMATS,
      maxInvalidShare: settings.preflight?.maxInvalidShare ?? DEFAULT_MAX_INVALID_SHARE,
      normalize: settings.preflight?.normalize ?? false,
      sink: copy?.sink,
    });
  } catch (error) {
    await copy?.abort().catch(() => {});
    throw error;
  }
  const figures = figuresOf(report);
  const keep = copy !== undefined && report.verdict === 'accept' && needsCopy(figures);
  if (keep) await copy.complete();
  else await copy?.abort();
  deps.log.info('pre-flight done', { verdict: figures.verdict, rejection: figures.rejection, values: figures.values, changes: figures.changes, copy: keep, durationMs: figures.durationMs });
  const changes: RecordFields = { preflight: figures, preparedKey: keep ? preparedKey : undefined, updatedAt: deps.clock.now().toISOString() };
  if (report.verdict === 'reject') changes.reason = report.reason;
  if (!(await save(hold, changes))) return { ok: false, outcome: await movedOn(hold) };
  return { ok: true, value: keep ? { bucket: settings.preparedBucket, key: preparedKey, versionId: undefined, figures } : { ...original, figures } };
}

/** The upload our own table says Insider accepted under `sent` (not this one), if any. */
async function earlierUploadOf(store: UploadsStore, sent: string, uploadId: string, alsoTry?: string): Promise<UploadRecord | undefined> {
  const candidates = [await store.segmentCreatedBy(sent), alsoTry].filter((id): id is string => id !== undefined && id !== uploadId);
  for (const id of new Set(candidates)) {
    const record = await store.get(id);
    const accepted = record && (record.possiblyAccepted || ([UploadStatus.Submitted, UploadStatus.Completed, UploadStatus.TimedOut] as UploadStatus[]).includes(record.status));
    if (accepted) return record;
  }
  return undefined;
}

function describeEarlier(sent: string, earlier: UploadRecord): string {
  return `"${sent}" was already created by the upload of s3://${earlier.bucket}/${earlier.key} at ${earlier.submittedAt ?? earlier.receivedAt} (upload ${earlier.uploadId}, ${earlier.status}).`;
}

/**
 * Insider's "segment name already in use", for a name nobody may have sent for this upload before:
 * which upload took it, from our own table when we have it, and how to make a recurring drop work.
 */
async function nameInUseReason(hold: Hold, names: NamingSuccess, sent: string, replaced: string | undefined): Promise<string> {
  const earlier = await earlierUploadOf(hold.deps.store, sent, hold.record.uploadId, replaced);
  const first = `Insider says the segment name "${sent}" is already in use${earlier ? `: ${describeEarlier(sent, earlier)}` : '.'}`;
  if (isNameOnly(names.template)) {
    return `${first} Insider cannot update or replace a segment, so a file dropped again needs a new name each time: set a segment name template with a date or a counter (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} {date}" or "{name} {n}"), or rename the file.`;
  }
  const template = names.template;
  const oncePerDay = template.includes('{date}') && !/\{(time|datetime|n)\}/.test(template);
  return oncePerDay
    ? `${first} The template "${template}" gives one name a day: for more than one drop a day add {time} or {n}, or wait for the next day.`
    : `${first} Rename the file, or set metadata "segment-name" (the template "${template}" then decorates it).`;
}

/** A dry run's record: everything a real drop would do, short of the counter, the lock and Insider. */
async function dryRunVerdict(hold: Hold, names: NamingSuccess, file: FileToSend, naming: RecordFields, peeked: number | undefined): Promise<TriggerOutcome> {
  const { store, clock } = hold.deps;
  const sent = (naming.insiderSegmentName ?? hold.record.insiderSegmentName) as string;
  const earlier = await earlierUploadOf(store, sent, hold.record.uploadId);
  const holder = await store.segmentLockHolder(sent);
  const live = holder && holder !== hold.record.uploadId ? await store.get(holder) : undefined;
  const inFlight = live && !isFinal(live.status) ? live : undefined;
  const cleanup = describeCleanup(file.figures);
  const counter = peeked === undefined ? '' : ` ({n} = ${peeked}, the next number; a real drop takes its own)`;
  const what = `"${sent}"${counter} with attribute "${names.attributeName}": ${describeValues(file.figures)}${cleanup ? `, as a cleaned copy (the copy ${cleanup})` : ''}.`;
  const taken = earlier
    ? ` But Insider would answer "segment name already in use": ${describeEarlier(sent, earlier)}`
    : inFlight
      ? ` But another upload of "${sent}" is in flight (upload ${inFlight.uploadId}, s3://${inFlight.bucket}/${inFlight.key}): a real drop now would be rejected.`
      : '';
  const at = clock.now().toISOString();
  return finish(hold, {
    ...naming,
    status: UploadStatus.DryRun,
    dryRunVerdict: taken ? 'would-reject' : 'would-submit',
    reason: `Dry run: nothing was sent to Insider. A real drop would send ${what}${taken}`,
    leaseUntil: at,
    updatedAt: at,
  });
}

/**
 * Hands the upload back to the queue for its next attempt, after a wait (Insider's `Retry-After`,
 * else a growing backoff), or, on the last attempt, records it failed.
 */
async function retryOrFail(hold: Hold, failure: { why: string; changes: RecordFields; retryAfterMs?: number | undefined }): Promise<TriggerOutcome> {
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
async function finish(hold: Hold, changes: RecordFields & { status: UploadStatus }): Promise<TriggerOutcome> {
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
async function movedOn(hold: Hold): Promise<TriggerOutcome> {
  const current = (await hold.deps.store.get(hold.record.uploadId)) ?? hold.record;
  hold.deps.log.info('record moved on meanwhile', { status: current.status });
  return { uploadId: current.uploadId, action: 'duplicate', status: current.status };
}

function duplicate(uploadId: string, existing: UploadRecord, deps: TriggerDeps): TriggerOutcome {
  deps.log.info('repeated event: the upload is already recorded or in progress', { status: existing.status });
  return { uploadId, action: 'duplicate', status: existing.status };
}
