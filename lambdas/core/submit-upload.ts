// The trigger's use case: one created object becomes one upload record and at most one accepted FPS request.
import { createHash } from 'node:crypto';
import { CALLBACK_PATH_PREFIX, DEFAULT_TIME_ZONE, META_REDRIVE_OF, Metric, UploadStatus } from '../shared/contract.js';
import { checkFile } from './check-file.js';
import { SEGMENT_IN_USE, submitToFps } from './fps-submission.js';
import { isFinal } from './lifecycle.js';
import { dryRunVerdict, nameInUseReason } from './name-taken.js';
import { type NamingResult, type NamingSuccess, resolveNames } from './naming.js';
import { classifyKey } from './object-key.js';
import type { RecordFields, UploadRecord, UploadsStore } from './ports.js';
import { describeCleanup, describeInvalidSent } from './preflight-figures.js';
import { lockSegment } from './segment-lock.js';
import { isNameOnly, usesCounter } from './segment-name-template.js';
import type { Delivery, ObjectCreated, TriggerDeps, TriggerOutcome, TriggerSettings } from './trigger-types.js';
import { duplicate, finish, type Hold, movedOn, retryOrFail, save, takeOver } from './upload-hold.js';
import { sentence } from './wording.js';

/** One id per object version: every duplicate of the event maps to the same record. */
export function uploadIdFor(object: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'sequencer' | 'eTag'>): string {
  const version = object.versionId ?? object.sequencer ?? object.eTag ?? '';
  return createHash('sha256').update(`${object.bucket}\n${object.key}\n${version}`).digest('hex').slice(0, 32);
}

export function callbackUrlFor(baseUrl: string, uploadId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${CALLBACK_PATH_PREFIX}/${uploadId}/${token}`;
}

/**
 * `{n}` while checking a name before a number is issued: every check but the final width is the same
 * for any number, and the name is rendered again once the number is known.
 */
const PROBE_COUNTER = 1;
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

/** Where a copy made by `npm run redrive` came from (metadata `redrive-of`), and the time its name renders. */
interface RedriveOrigin {
  redriveOf?: string;
  eventTime?: Date;
  note?: string;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;

/**
 * A redriven upload renders its name's time placeholders at the event time of the upload it redrives,
 * as that drop would have: a `{date}` name failed on one day and redriven the next keeps its day. Only
 * an earlier upload of this same object counts; anything else is noted and the drop's own time is used.
 */
async function redriveOrigin(object: ObjectCreated, uploadId: string, metadata: Readonly<Record<string, string>>, store: UploadsStore): Promise<RedriveOrigin> {
  const id = metadata[META_REDRIVE_OF]?.trim();
  if (id === undefined) return {};
  const ignored = `metadata ${META_REDRIVE_OF} names no earlier upload of this object, so the name uses this drop's own time`;
  if (!UPLOAD_ID.test(id) || id === uploadId) return { note: ignored };
  const original = await store.get(id);
  if (!original || original.bucket !== object.bucket || original.key !== object.key || !original.eventTime) return { note: ignored };
  return {
    redriveOf: id,
    eventTime: new Date(original.eventTime),
    note: `redriven from upload ${id}: the name's date and time are that upload's (${original.eventTime})`,
  };
}

const sentences = (notes: readonly string[] | undefined) => (notes ?? []).map(sentence).join(' ') || undefined;

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

  const info = await deps.objects.head(object.bucket, object.key, object.versionId);
  const origin = info ? await redriveOrigin(object, uploadId, info.metadata, store) : {};
  const eventTime = origin.eventTime ?? object.eventTime ?? clock.now();
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
    ...(origin.redriveOf ? { redriveOf: origin.redriveOf } : {}),
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
    note: sentences([...(names.notes ?? []), ...(origin.note ? [origin.note] : [])]),
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
    // Dropping this file again later only works if that upload fails: if it succeeds, the name is Insider's for good.
    const reason =
      `Another upload of segment "${sent}" is in flight (upload ${lock.holder}${holder ? `, s3://${holder.bucket}/${holder.key}, ${holder.status}` : ''}). ` +
      'If it succeeds, the name is taken for good: to send this file too, rename it or use a segment name template with {n} (e.g. metadata segment-name-template "{name} {n}"). If it fails, drop this file again.';
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
  log.info('Insider answered', { verdict: verdict.kind, httpStatus: verdict.status, requests: submission.requests, tokenReread: submission.tokenReread });

  switch (verdict.kind) {
    case 'accepted': {
      deps.telemetry.metric(Metric.filesSubmitted);
      const cleaned = file.key !== object.key ? `Insider was sent a cleaned copy (${file.key} in the prepared bucket): ${describeCleanup(file.figures) || 'renamed to end in ".csv"'}.` : undefined;
      const note = [record.note, cleaned, describeInvalidSent(file.figures), verdict.note].filter((n): n is string => Boolean(n)).join(' ') || undefined;
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
