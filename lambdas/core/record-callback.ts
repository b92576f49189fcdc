// The callback's use case: a genuine Insider callback completes its upload once; anything else changes nothing.
import * as v from 'valibot';
import { MAX_CALLBACK_BODY_BYTES, UploadStatus } from '../shared/contract.js';
import type { Clock, Telemetry, TokenGenerator, UploadRecord, UploadsStore } from './ports.js';

const count = v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(0, 'must not be negative'));

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

export interface CallbackResponse {
  statusCode: number;
  message: string;
}

export interface CallbackDeps {
  store: UploadsStore;
  tokens: TokenGenerator;
  clock: Clock;
  telemetry: Telemetry;
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

export function matchRate(valid: number, total: number): number | undefined {
  return total > 0 ? Math.round((valid / total) * 10_000) / 10_000 : undefined;
}

export async function recordCallback(request: CallbackRequest, deps: CallbackDeps): Promise<CallbackResponse> {
  if (request.body !== undefined && Buffer.byteLength(request.body) > MAX_CALLBACK_BODY_BYTES) {
    return { statusCode: 413, message: `The body is larger than ${MAX_CALLBACK_BODY_BYTES} bytes.` };
  }
  // Authenticate before looking at the body: a forged request learns nothing from validation errors.
  const { uploadId, token } = request;
  if (!uploadId || !UPLOAD_ID.test(uploadId) || !token) return { statusCode: 404, message: 'Unknown upload.' };
  const record = await deps.store.get(uploadId);
  if (!record) return { statusCode: 404, message: 'Unknown upload.' };
  const hash = deps.tokens.hash(token);
  if (!record.callbackTokenHashes?.includes(hash)) return { statusCode: 403, message: 'Invalid callback token.' };

  const parsed = parseCallbackBody(request.body);
  if (!parsed.ok) return { statusCode: 400, message: parsed.message };
  const body = parsed.value;
  if (body.segment_name !== record.segmentName) {
    return { statusCode: 409, message: `segment_name "${body.segment_name}" does not match this upload's segment.` };
  }
  return complete(record, body, deps, 2);
}

async function complete(record: UploadRecord, body: CallbackBody, deps: CallbackDeps, triesLeft: number): Promise<CallbackResponse> {
  if (record.status === UploadStatus.Completed) {
    return sameCounts(record, body)
      ? { statusCode: 200, message: 'Already recorded.' }
      : { statusCode: 409, message: 'This upload is already completed with different counts; nothing was changed.' };
  }
  if (record.status === UploadStatus.Rejected) {
    return { statusCode: 409, message: 'This upload was rejected; the callback was not recorded.' };
  }
  const now = deps.clock.now().toISOString();
  const late =
    record.status === UploadStatus.TimedOut || record.status === UploadStatus.Failed
      ? `Completed by a callback that arrived after the upload was marked ${record.status}.`
      : undefined;
  const changes: Partial<UploadRecord> = {
    status: UploadStatus.Completed,
    completedAt: now,
    updatedAt: now,
    validValuesCount: body.valid_values_count,
    invalidValuesCount: body.invalid_values_count,
    totalEnteredValues: body.total_entered_values,
    matchRate: matchRate(body.valid_values_count, body.total_entered_values),
    callbacksReceived: (record.callbacksReceived ?? 0) + 1,
    reason: 'Insider created the segment and reported its counts.',
    ...(late ? { note: late } : {}),
  };
  const moved = await deps.store.update(record.uploadId, changes, { from: [record.status] });
  if (!moved) {
    // It moved meanwhile (e.g. the trigger recorded `submitted`, or a twin callback won): judge again.
    const current = await deps.store.get(record.uploadId);
    if (!current || triesLeft <= 0) return { statusCode: 409, message: 'The upload changed while recording; try again.' };
    return complete(current, body, deps, triesLeft - 1);
  }
  deps.telemetry.count('FilesCompleted');
  const rate = changes.matchRate;
  if (rate !== undefined) deps.telemetry.timing('CallbackMatchRate', rate * 100);
  await deps.telemetry.finalStatus({ ...record, ...changes });
  return { statusCode: 200, message: 'Recorded.' };
}
