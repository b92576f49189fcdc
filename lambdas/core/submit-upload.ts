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
  /** 1 + Lambda's async retry attempts: the last invocation records `failed`. */
  maxInvocations: number;
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
}

export type TriggerOutcome =
  | { uploadId: string; action: 'recorded'; status: UploadStatus }
  /** A repeated event for an upload that was already handled or is being handled. */
  | { uploadId: string; action: 'duplicate'; status: UploadStatus };

/** Thrown so that Lambda retries the event (and, after the last attempt, sends it to the failure queue). */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
}
/** Thrown on the last attempt: the record says failed, the event goes to the failure queue. */
export class UploadFailedError extends Error {
  override readonly name = 'UploadFailedError';
}

/** One id per object version: every duplicate of the event maps to the same record. */
export function uploadIdFor(object: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'sequencer' | 'eTag'>): string {
  const version = object.versionId ?? object.sequencer ?? object.eTag ?? '';
  return createHash('sha256').update(`${object.bucket}\n${object.key}\n${version}`).digest('hex').slice(0, 32);
}

export function callbackUrlFor(baseUrl: string, uploadId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${CALLBACK_PATH_PREFIX}/${uploadId}/${token}`;
}

/** One invocation's hold on an upload: the record it claimed and the condition its writes are made under. */
interface Attempt {
  object: ObjectCreated;
  record: UploadRecord;
  /** Still `received` and still owned by this invocation. */
  owned: WriteCondition & { expectInvocations: number };
  settings: TriggerSettings;
  deps: TriggerDeps;
  /** Epoch ms by which this invocation must have finished its work. */
  deadline: number;
}

export async function handleObjectCreated(
  object: ObjectCreated,
  settings: TriggerSettings,
  deps: TriggerDeps,
  /** Epoch ms by which this invocation must have finished its work. */
  deadline: number,
): Promise<TriggerOutcome> {
  const { store, clock, log } = deps;
  const uploadId = uploadIdFor(object);
  log.addKeys({ uploadId, objectKey: object.key });
  const now = () => clock.now().toISOString();
  const leaseUntil = new Date(deadline).toISOString();

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
    if (!claim.claimed) return duplicate(uploadId, claim.existing, deps);
    log.warn('upload rejected before calling Insider', { reason: names.reason });
    await deps.telemetry.finalStatus(record);
    return { uploadId, action: 'recorded', status: UploadStatus.Rejected };
  }

  // Claim the object version (or take over an earlier invocation's claim whose lease ran out).
  let record: UploadRecord = { ...base, invocations: 1, fpsRequests: 0, leaseUntil, reason: 'Being submitted to Insider.' };
  const claim = await store.create(record);
  if (!claim.claimed) {
    const existing = claim.existing;
    if (existing.status !== UploadStatus.Received) return duplicate(uploadId, existing, deps);
    const invocations = (existing.invocations ?? 1) + 1;
    const took = await updateUpload(
      store,
      uploadId,
      { invocations, leaseUntil, updatedAt: now() },
      { from: [UploadStatus.Received], expectInvocations: existing.invocations ?? 1, leaseExpiredAt: now() },
    );
    if (!took) return duplicate(uploadId, existing, deps);
    record = { ...existing, invocations, leaseUntil };
    log.info('took over an unfinished upload', { invocations });
  }
  const attempt: Attempt = {
    object,
    record,
    owned: { from: [UploadStatus.Received], expectInvocations: record.invocations ?? 1 },
    settings,
    deps,
    deadline,
  };
  try {
    return await submitOwned(attempt, names);
  } catch (error) {
    if (error instanceof RetryLaterError || error instanceof UploadFailedError) throw error;
    // Anything unexpected (Secrets Manager, DynamoDB, a bug) is one more failed attempt, not a stuck record.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log.warn('attempt failed unexpectedly', { error: message });
    return retryOrFail(attempt, { why: `Internal error (${message}).`, changes: { updatedAt: now() } });
  }
}

async function submitOwned(attempt: Attempt, names: { segmentName: string; attributeName: string }): Promise<TriggerOutcome> {
  const { object, record, owned, settings, deps } = attempt;
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
    return finish(attempt, { status: UploadStatus.Rejected, reason, updatedAt: now() });
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
    { policy: settings.retryPolicy, deadline: attempt.deadline, clock, possiblyAccepted: record.possiblyAccepted ?? false },
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
      return finish(attempt, {
        ...common,
        status: UploadStatus.Submitted,
        submittedAt: now(),
        reason: 'Insider accepted the file; waiting for its callback.',
        note: verdict.note,
        leaseUntil: now(),
      });
    case 'rejected':
      return finish(attempt, { ...common, status: UploadStatus.Rejected, reason: verdict.reason });
    case 'retryLater':
      return retryOrFail(attempt, { why: verdict.reason, changes: common });
  }
}

/** Hands the upload to Lambda's next retry, or on the last attempt records it failed. Always throws unless someone else moved it. */
async function retryOrFail(attempt: Attempt, failure: { why: string; changes: RecordFields }): Promise<TriggerOutcome> {
  const { owned, settings, deps } = attempt;
  const { uploadId } = attempt.record;
  const { why, changes } = failure;
  const invocations = owned.expectInvocations;
  if (invocations >= settings.maxInvocations) {
    // Redriving an upload Insider may already have would create a second segment.
    const possiblyAccepted = changes.possiblyAccepted ?? attempt.record.possiblyAccepted;
    const gaveUp = `${why} Gave up after ${invocations} attempts`;
    const reason = possiblyAccepted ? `${gaveUp}. ${MAY_HAVE_REACHED_INSIDER}` : `${gaveUp}; see README "Redrive" to try again.`;
    const outcome = await finish(attempt, { ...changes, status: UploadStatus.Failed, reason, lastError: why });
    if (outcome.status === UploadStatus.Failed) throw new UploadFailedError(`Upload ${uploadId} failed: ${reason}`);
    return outcome;
  }
  const reason = `Attempt ${invocations} of ${settings.maxInvocations} failed: ${why} Lambda will retry.`;
  // Release the lease so that Lambda's retry can take over at once.
  await updateUpload(deps.store, uploadId, { ...changes, reason, lastError: why, leaseUntil: deps.clock.now().toISOString() }, owned);
  throw new RetryLaterError(`Upload ${uploadId}: ${reason}`);
}

/** Moves the owned record to its next status; if someone else moved it first, reports that. */
async function finish(attempt: Attempt, changes: RecordFields & { status: UploadStatus }): Promise<TriggerOutcome> {
  const { record, owned, deps } = attempt;
  const { uploadId } = record;
  const moved = await updateUpload(deps.store, uploadId, changes, owned);
  if (!moved) {
    const current = (await deps.store.get(uploadId)) ?? record;
    deps.log.info('record moved on meanwhile', { status: current.status });
    return { uploadId, action: 'duplicate', status: current.status };
  }
  const next: UploadRecord = { ...record, ...changes };
  if (isFinal(next.status)) await deps.telemetry.finalStatus(next);
  deps.log.info('upload recorded', { status: next.status, reason: next.reason });
  return { uploadId, action: 'recorded', status: next.status };
}

function duplicate(uploadId: string, existing: UploadRecord, deps: TriggerDeps): TriggerOutcome {
  deps.log.info('repeated event: the upload is already recorded', { status: existing.status });
  // A retried event for a failed upload must fail again, so that it reaches the failure queue.
  if (existing.status === UploadStatus.Failed) {
    throw new UploadFailedError(`Upload ${uploadId} failed: ${existing.reason ?? 'see its record'}`);
  }
  return { uploadId, action: 'duplicate', status: existing.status };
}
