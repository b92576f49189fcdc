// The trigger's use case: one created object becomes one upload record and at most one accepted FPS request.
import { createHash } from 'node:crypto';
import { CALLBACK_PATH_PREFIX, Metric, UploadStatus } from '../shared/contract.js';
import { type RetryPolicy, submitToFps } from './fps-submission.js';
import { isFinal, MAY_HAVE_REACHED_INSIDER, updateUpload } from './lifecycle.js';
import { resolveNames } from './naming.js';
import type {
  Clock,
  Log,
  ObjectStore,
  RecordFields,
  SegmentApi,
  Telemetry,
  TokenGenerator,
  UploadRecord,
  UploadsStore,
  WriteCondition,
} from './ports.js';
import { retryDelaySeconds } from './redelivery.js';
import { lockSegment } from './segment-lock.js';

/** An object-created notification, key already decoded. */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  versionId?: string | undefined;
  sequencer?: string | undefined;
  eTag?: string | undefined;
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
  | { uploadId: string; action: 'gaveUp'; status: typeof UploadStatus.Failed };

/** One id per object version: every duplicate of the event maps to the same record. */
export function uploadIdFor(object: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'sequencer' | 'eTag'>): string {
  const version = object.versionId ?? object.sequencer ?? object.eTag ?? '';
  return createHash('sha256').update(`${object.bucket}\n${object.key}\n${version}`).digest('hex').slice(0, 32);
}

export function callbackUrlFor(baseUrl: string, uploadId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${CALLBACK_PATH_PREFIX}/${uploadId}/${token}`;
}

/** One invocation's hold on an upload: the record it claimed and the condition its writes are made under. */
interface Hold {
  object: ObjectCreated;
  record: UploadRecord;
  /** Still `received` and still owned by this invocation. */
  owned: WriteCondition & { expectInvocations: number };
  settings: TriggerSettings;
  deps: TriggerDeps;
  delivery: Delivery;
}

export async function handleObjectCreated(object: ObjectCreated, settings: TriggerSettings, deps: TriggerDeps, delivery: Delivery): Promise<TriggerOutcome> {
  const { store, clock, log } = deps;
  const uploadId = uploadIdFor(object);
  log.addKeys({ uploadId, objectKey: object.key, attempt: delivery.attempt });
  const now = () => clock.now().toISOString();
  const leaseUntil = new Date(delivery.deadline).toISOString();

  const info = await deps.objects.head(object.bucket, object.key, object.versionId);
  const names = info
    ? resolveNames({
        key: object.key,
        size: info.size,
        metadata: info.metadata,
        defaultAttributeName: settings.defaultAttributeName,
        maxFileBytes: settings.maxFileBytes,
      })
    : { ok: false as const, reason: 'The object was deleted before it could be processed; drop it again.' };
  const segmentName = names.segmentName;
  if (segmentName) log.addKeys({ segmentName });

  const at = now();
  const base: UploadRecord = {
    uploadId,
    bucket: object.bucket,
    key: object.key,
    versionId: object.versionId ?? info?.versionId ?? object.sequencer,
    sequencer: object.sequencer,
    size: info?.size ?? object.size,
    segmentName,
    attributeName: names.attributeName,
    status: UploadStatus.Received,
    receivedAt: at,
    updatedAt: at,
  };
  deps.telemetry.metric(Metric.filesReceived);

  if (!names.ok) {
    const record: UploadRecord = { ...base, status: UploadStatus.Rejected, reason: names.reason };
    const claim = await store.create(record);
    if (claim.claimed) {
      log.warn('upload rejected before calling Insider', { reason: names.reason });
      await deps.telemetry.finalStatus(record);
      return { uploadId, action: 'recorded', status: UploadStatus.Rejected };
    }
    // A failed upload delivered again whose object can no longer be submitted as it is (deleted since,
    // or a setting changed) ends rejected, with the reason.
    const hold = claim.existing.status === UploadStatus.Failed ? await takeOver(claim.existing, object, settings, deps, delivery) : undefined;
    if (!hold) return duplicate(uploadId, claim.existing, deps);
    return finish(hold, { status: UploadStatus.Rejected, reason: names.reason, updatedAt: now() });
  }

  // Claim the object version, or take over an earlier delivery's claim (see takeOver).
  const record: UploadRecord = { ...base, invocations: 1, fpsRequests: 0, leaseUntil, reason: 'Being submitted to Insider.' };
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
    return await submitOwned(hold, names);
  } catch (error) {
    // Anything unexpected (Secrets Manager, DynamoDB, a bug) is one more failed attempt, not a stuck record.
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

async function submitOwned(hold: Hold, names: { segmentName: string; attributeName: string }): Promise<TriggerOutcome> {
  const { object, record, owned, settings, deps } = hold;
  const { store, clock, log } = deps;
  const { uploadId } = record;
  const now = () => clock.now().toISOString();
  const lock = await lockSegment(store, names.segmentName, uploadId, async (holder) => {
    const held = await store.get(holder);
    return !held || isFinal(held.status);
  });
  if (!lock.locked) {
    const holder = await store.get(lock.holder);
    const reason = `Another upload of segment "${names.segmentName}" is in flight (upload ${lock.holder}${holder ? `, s3://${holder.bucket}/${holder.key}, ${holder.status}` : ''}); drop this file again once that one has finished.`;
    return finish(hold, { status: UploadStatus.Rejected, reason, updatedAt: now() });
  }

  const presigned = await deps.objects.presignGet(object.bucket, object.key, object.versionId, settings.presignExpiresSeconds);
  const token = deps.tokens.token();
  // The token's hash is stored before Insider sees the URL: its callback may beat our own write.
  const stored = await updateUpload(
    store,
    uploadId,
    { fileUrlExpiresAt: presigned.expiresAt.toISOString(), updatedAt: now(), addCallbackTokenHash: deps.tokens.hash(token) },
    owned,
  );
  if (!stored) return duplicate(uploadId, (await store.get(uploadId)) ?? record, deps);

  const started = clock.now().getTime();
  const submission = await submitToFps(
    deps.api,
    {
      segmentName: names.segmentName,
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
    case 'accepted':
      deps.telemetry.metric(Metric.filesSubmitted);
      return finish(hold, {
        ...common,
        status: UploadStatus.Submitted,
        submittedAt: now(),
        reason: 'Insider accepted the file; waiting for its callback.',
        // An ambiguous retry's note says more than a re-attempt's.
        note: verdict.note ?? record.note,
        leaseUntil: now(),
      });
    case 'rejected':
      return finish(hold, { ...common, status: UploadStatus.Rejected, reason: verdict.reason });
    case 'retryLater':
      return retryOrFail(hold, { why: verdict.reason, changes: common, retryAfterMs: submission.retryAfterMs });
  }
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
