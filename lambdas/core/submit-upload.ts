// The trigger's use case: one created object becomes one upload record and at most one accepted FPS request.
import { createHash } from 'node:crypto';
import { CALLBACK_PATH_PREFIX, FINAL_STATUSES, UploadStatus } from '../shared/contract.js';
import { type RetryPolicy, submitToFps } from './fps-submission.js';
import { resolveNames } from './naming.js';
import type { Clock, ObjectStore, SegmentApi, Telemetry, TokenGenerator, UploadRecord, UploadsStore } from './ports.js';

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

export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  /** Keys carried by every later line of this invocation. */
  addKeys(keys: Record<string, unknown>): void;
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

const isFinal = (status: UploadStatus) => FINAL_STATUSES.includes(status);

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
  deps.telemetry.count('FilesReceived');

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
    const took = await store.update(
      uploadId,
      { invocations, leaseUntil, updatedAt: now() },
      { from: [UploadStatus.Received], expectInvocations: existing.invocations ?? 1, leaseExpiredAt: now() },
    );
    if (!took) return duplicate(uploadId, existing, deps);
    record = { ...existing, invocations, leaseUntil };
    log.info('took over an unfinished upload', { invocations });
  }
  const owned = { from: [UploadStatus.Received], expectInvocations: record.invocations ?? 1 } as const;
  try {
    return await submitOwned(object, names, record, owned, settings, deps, deadline);
  } catch (error) {
    if (error instanceof RetryLaterError || error instanceof UploadFailedError) throw error;
    // Anything unexpected (Secrets Manager, DynamoDB, a bug) is one more failed attempt, not a stuck record.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log.warn('attempt failed unexpectedly', { error: message });
    return retryOrFail(uploadId, `Internal error (${message}).`, { updatedAt: now() }, owned, record, settings, deps);
  }
}

async function submitOwned(
  object: ObjectCreated,
  names: { segmentName: string; attributeName: string },
  record: UploadRecord,
  owned: { from: readonly UploadStatus[]; expectInvocations: number },
  settings: TriggerSettings,
  deps: TriggerDeps,
  deadline: number,
): Promise<TriggerOutcome> {
  const { store, clock, log } = deps;
  const { uploadId } = record;
  const now = () => clock.now().toISOString();
  const lock = await store.lockSegment(names.segmentName, uploadId, async (holder) => {
    const held = await store.get(holder);
    return !held || isFinal(held.status);
  });
  if (!lock.locked) {
    const holder = await store.get(lock.holder);
    const reason = `Another upload of segment "${names.segmentName}" is in flight (upload ${lock.holder}${holder ? `, s3://${holder.bucket}/${holder.key}, ${holder.status}` : ''}); drop this file again once that one has finished.`;
    return finish(uploadId, { status: UploadStatus.Rejected, reason, updatedAt: now() }, owned, record, deps);
  }

  const presigned = await deps.objects.presignGet(object.bucket, object.key, object.versionId, settings.presignExpiresSeconds);
  const token = deps.tokens.token();
  // The token's hash is stored before Insider sees the URL: its callback may beat our own write.
  const stored = await store.update(
    uploadId,
    { fileUrlExpiresAt: presigned.expiresAt.toISOString(), updatedAt: now() },
    owned,
    deps.tokens.hash(token),
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
    { policy: settings.retryPolicy, deadline, clock, possiblyAccepted: record.possiblyAccepted ?? false },
  );
  deps.telemetry.timing('FpsLatency', clock.now().getTime() - started);
  const { verdict } = submission;
  const common: Partial<UploadRecord> = {
    fpsHttpStatus: verdict.status,
    fpsMessage: verdict.message,
    fpsRequests: (record.fpsRequests ?? 0) + submission.requests,
    possiblyAccepted: submission.possiblyAccepted || undefined,
    updatedAt: now(),
  };
  log.info('Insider answered', { verdict: verdict.kind, httpStatus: verdict.status, requests: submission.requests });

  switch (verdict.kind) {
    case 'accepted':
      deps.telemetry.count('FilesSubmitted');
      return finish(
        uploadId,
        { ...common, status: UploadStatus.Submitted, submittedAt: now(), reason: 'Insider accepted the file; waiting for its callback.', note: verdict.note, leaseUntil: now() },
        owned,
        record,
        deps,
      );
    case 'rejected':
      return finish(uploadId, { ...common, status: UploadStatus.Rejected, reason: verdict.reason }, owned, record, deps);
    case 'retryLater':
      return retryOrFail(uploadId, verdict.reason, common, owned, record, settings, deps);
  }
}

/** Hands the upload to Lambda's next retry, or on the last attempt records it failed. Always throws unless someone else moved it. */
async function retryOrFail(
  uploadId: string,
  why: string,
  common: Partial<UploadRecord>,
  owned: { from: readonly UploadStatus[]; expectInvocations: number },
  record: UploadRecord,
  settings: TriggerSettings,
  deps: TriggerDeps,
): Promise<TriggerOutcome> {
  const invocations = owned.expectInvocations;
  if (invocations >= settings.maxInvocations) {
    const reason = `${why} Gave up after ${invocations} attempts; see README "Redrive" to try again.`;
    const outcome = await finish(uploadId, { ...common, status: UploadStatus.Failed, reason, lastError: why }, owned, record, deps);
    if (outcome.status === UploadStatus.Failed) throw new UploadFailedError(`Upload ${uploadId} failed: ${reason}`);
    return outcome;
  }
  const reason = `Attempt ${invocations} of ${settings.maxInvocations} failed: ${why} Lambda will retry.`;
  // Release the lease so that Lambda's retry can take over at once.
  await deps.store.update(uploadId, { ...common, reason, lastError: why, leaseUntil: deps.clock.now().toISOString() }, owned);
  throw new RetryLaterError(`Upload ${uploadId}: ${reason}`);
}

/** Moves the owned record to its next status; if someone else moved it first, reports that. */
async function finish(
  uploadId: string,
  changes: Partial<UploadRecord> & { status: UploadStatus },
  condition: { from: readonly UploadStatus[]; expectInvocations: number },
  record: UploadRecord,
  deps: TriggerDeps,
): Promise<TriggerOutcome> {
  const moved = await deps.store.update(uploadId, changes, condition);
  if (!moved) {
    const current = (await deps.store.get(uploadId)) ?? record;
    deps.log.info('record moved on meanwhile', { status: current.status });
    return { uploadId, action: 'duplicate', status: current.status };
  }
  const next = { ...record, ...changes };
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
