// The callback's use case: a genuine Insider callback completes its upload once; anything else changes nothing.
import * as v from 'valibot';
import { DEFAULT_MIN_MATCH_RATE, MAX_CALLBACK_BODY_BYTES, Metric, UploadStatus } from '../shared/contract.js';
import { updateUpload } from './lifecycle.js';
import type { Clock, RecordFields, Telemetry, TokenGenerator, UploadRecord, UploadsStore } from './ports.js';
import { sameName } from './unicode-names.js';

// Above 2^53−1 a JSON number is no longer exact, and DynamoDB's marshalling refuses it: a 400, not a 500.
const count = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(0, 'must not be negative'),
  v.maxValue(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`),
);

/** Insider's callback body. Unknown extra fields are ignored: Insider may add some, and a genuine callback must not be lost. */
export const CallbackBody = v.object({
  segment_name: v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty')),
  valid_values_count: count,
  invalid_values_count: count,
  total_entered_values: count,
});
export type CallbackBody = v.InferOutput<typeof CallbackBody>;

export interface CallbackRequest {
  uploadId: string | undefined;
  token: string | undefined;
  body: string | undefined;
}

/** What became of a callback, with a message for the caller; the handler turns it into an HTTP answer. */
export type CallbackOutcome = { kind: CallbackOutcomeKind; message: string };
export type CallbackOutcomeKind =
  /** The counts were recorded and the upload completed. */
  | 'recorded'
  /** The same counts were recorded before: a replay, nothing changed. */
  | 'alreadyRecorded'
  /** The body is over MAX_CALLBACK_BODY_BYTES; it was not read. */
  | 'tooLarge'
  /** No such upload (or no id or token at all). */
  | 'unknownUpload'
  /** The token is not one handed out for this upload. */
  | 'forbidden'
  /** The body is not Insider's callback. */
  | 'invalid'
  /** Genuine, but it contradicts the record (another segment, or other counts for a completed upload). */
  | 'conflict'
  /** The record kept moving while we wrote; the caller may try again. */
  | 'changedMeanwhile';

const outcome = (kind: CallbackOutcomeKind, message: string): CallbackOutcome => ({ kind, message });

export interface CallbackDeps {
  store: UploadsStore;
  tokens: TokenGenerator;
  clock: Clock;
  telemetry: Telemetry;
  /** A completed upload below this match rate gets a warning (context `minMatchRate`). @default 0.5 */
  minMatchRate?: number | undefined;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;

export function parseCallbackBody(body: string | undefined): { ok: true; value: CallbackBody } | { ok: false; message: string } {
  if (body === undefined || body.trim() === '') return { ok: false, message: 'The body is empty: expected Insider\'s JSON callback.' };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, message: 'The body is not valid JSON.' };
  }
  const parsed = v.safeParse(CallbackBody, json);
  if (parsed.success) return { ok: true, value: parsed.output };
  const problems = parsed.issues.map((issue) => {
    const path = v.getDotPath(issue);
    return path ? `${path} ${issue.message}` : issue.message;
  });
  return { ok: false, message: `Invalid callback body: ${problems.join('; ')}.` };
}

function sameCounts(record: UploadRecord, body: CallbackBody): boolean {
  return (
    record.validValuesCount === body.valid_values_count &&
    record.invalidValuesCount === body.invalid_values_count &&
    record.totalEnteredValues === body.total_entered_values
  );
}

/**
 * Valid values over the values Insider looked at, 0..1 (4 places), undefined when there were none.
 * The denominator is the larger of total and valid + invalid, so counts that don't add up (valid >
 * total, or valid + invalid > total) still give a rate within 0..1.
 */
export function matchRate(valid: number, invalid: number, total: number): number | undefined {
  const seen = Math.max(total, valid + invalid);
  return seen > 0 ? Math.round((valid / seen) * 10_000) / 10_000 : undefined;
}

/** Why Insider's counts don't add up, or undefined when they do. Recorded, never refused: the callback is genuine. */
export function countsMismatch(body: CallbackBody): string | undefined {
  const { valid_values_count: valid, invalid_values_count: invalid, total_entered_values: total } = body;
  const problem =
    valid > total
      ? `valid (${valid}) is more than the total (${total})`
      : valid + invalid !== total
        ? `valid (${valid}) + invalid (${invalid}) = ${valid + invalid}, not the total (${total})`
        : undefined;
  return problem
    ? `Insider's counts don't add up: ${problem}. They are recorded as Insider sent them; matchRate is valid ÷ the larger of total and valid + invalid.`
    : undefined;
}

/**
 * The warning a completed upload carries when Insider matched too few of its values, or none: it
 * usually means the wrong attribute (the folder) or values not written as Insider stores them.
 */
export function lowMatchRateWarning(rate: number | undefined, minMatchRate: number, entered: number): string | undefined {
  const check =
    'Check that the folder (or metadata "attribute-name") names the attribute these values belong to, and that they are written as Insider stores them (e.g. lower-case emails, phone numbers in E.164 with "+" and the country code); see README "Low match rate".';
  if (rate === undefined) return `Insider counted no values in the file (${entered} entered). ${check}`;
  if (rate >= minMatchRate) return undefined;
  const percent = (n: number) => `${Math.round(n * 1000) / 10}%`;
  return `Low match rate: Insider matched ${percent(rate)} of the values, below the ${percent(minMatchRate)} this deployment expects (minMatchRate). ${check}`;
}

export async function recordCallback(request: CallbackRequest, deps: CallbackDeps): Promise<CallbackOutcome> {
  if (request.body !== undefined && Buffer.byteLength(request.body) > MAX_CALLBACK_BODY_BYTES) {
    return outcome('tooLarge', `The body is larger than ${MAX_CALLBACK_BODY_BYTES} bytes.`);
  }
  // Authenticate before looking at the body: a forged request learns nothing from validation errors.
  const { uploadId, token } = request;
  if (!uploadId || !UPLOAD_ID.test(uploadId) || !token) return outcome('unknownUpload', 'Unknown upload.');
  const record = await deps.store.get(uploadId);
  if (!record) return outcome('unknownUpload', 'Unknown upload.');
  const hash = deps.tokens.hash(token);
  if (!record.callbackTokenHashes?.includes(hash)) return outcome('forbidden', 'Invalid callback token.');

  const parsed = parseCallbackBody(request.body);
  if (!parsed.ok) return outcome('invalid', parsed.message);
  const body = parsed.value;
  // The name sent: rendered from a template, or (records from before templates) the segment name itself.
  if (!sameName(body.segment_name, record.insiderSegmentName ?? record.segmentName ?? '')) {
    return outcome('conflict', `segment_name "${body.segment_name}" does not match this upload's segment.`);
  }
  return complete(record, body, deps, 2);
}

async function complete(record: UploadRecord, body: CallbackBody, deps: CallbackDeps, triesLeft: number): Promise<CallbackOutcome> {
  if (record.status === UploadStatus.Completed) {
    return sameCounts(record, body)
      ? outcome('alreadyRecorded', 'Already recorded.')
      : outcome('conflict', 'This upload is already completed with different counts; nothing was changed.');
  }
  // The token verified: Insider did the work, so the callback completes the upload whatever we had concluded.
  const now = deps.clock.now().toISOString();
  const notes = [record.note, completionNote(record), countsMismatch(body)].filter((note): note is string => Boolean(note));
  const rate = matchRate(body.valid_values_count, body.invalid_values_count, body.total_entered_values);
  const warning = lowMatchRateWarning(rate, deps.minMatchRate ?? DEFAULT_MIN_MATCH_RATE, body.total_entered_values);
  const changes: RecordFields = {
    status: UploadStatus.Completed,
    completedAt: now,
    updatedAt: now,
    validValuesCount: body.valid_values_count,
    invalidValuesCount: body.invalid_values_count,
    totalEnteredValues: body.total_entered_values,
    matchRate: rate,
    callbacksReceived: (record.callbacksReceived ?? 0) + 1,
    reason: 'Insider created the segment and reported its counts.',
    ...(notes.length ? { note: notes.join(' ') } : {}),
    ...(warning ? { warning } : {}),
  };
  const moved = await updateUpload(deps.store, record.uploadId, changes, { from: [record.status] });
  if (!moved) {
    // It moved meanwhile (e.g. the trigger recorded `submitted`, or a twin callback won): judge again.
    const current = await deps.store.get(record.uploadId);
    if (!current || triesLeft <= 0) return outcome('changedMeanwhile', 'The upload changed while recording; try again.');
    return complete(current, body, deps, triesLeft - 1);
  }
  deps.telemetry.metric(Metric.filesCompleted);
  if (rate !== undefined) deps.telemetry.metric(Metric.callbackMatchRate, rate * 100);
  if (warning) deps.telemetry.metric(Metric.lowMatchRate);
  await deps.telemetry.finalStatus({ ...record, ...changes });
  return outcome('recorded', 'Recorded.');
}

/** What a completion from a status other than `submitted` says about how the upload got there. */
function completionNote(record: UploadRecord): string | undefined {
  switch (record.status) {
    case UploadStatus.Submitted:
    case UploadStatus.Completed:
      return undefined;
    case UploadStatus.Received:
      return 'Completed by a callback that arrived before the trigger had recorded Insider\'s answer.';
    case UploadStatus.Rejected: {
      const answer = record.fpsHttpStatus === undefined ? '' : ` after Insider answered HTTP ${record.fpsHttpStatus}${record.fpsMessage ? ` "${record.fpsMessage}"` : ''}`;
      return `Completed by Insider's callback although the upload had been recorded rejected${answer}: Insider did accept the file, so its answer to an earlier request was probably lost.`;
    }
    default:
      return `Completed by a callback that arrived after the upload was marked ${record.status}.`;
  }
}
