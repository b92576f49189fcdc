// Insider's documented rules for one upload request, as pure functions: headers, body and account state in; the answer and whether it is accepted out.
import type { IncomingHttpHeaders } from 'node:http';
import { SEGMENT_NAME_MAX_LENGTH } from '../lambdas/shared/contract.js';
import { type Answer, parsePayload, type UploadPayload } from './fps-wire.js';

export const OK_ANSWER: Answer = { status: 200, body: { statusMessage: 'OK' } };

const withMessage = (status: number, statusMessage: string): Answer => ({ status, body: { statusMessage } });

const firstValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

export type CredentialsVerdict =
  | { ok: true; partner: string; token: string }
  | { ok: false; partner: string | undefined; answer: Answer };

/** `X-PARTNER-NAME` must be present and lower case, and `X-REQUEST-TOKEN` must be that partner's token. */
export function checkCredentials(headers: IncomingHttpHeaders, tokens: ReadonlyMap<string, string>): CredentialsVerdict {
  const partner = firstValue(headers['x-partner-name']);
  const token = firstValue(headers['x-request-token']);
  if (!partner) return { ok: false, partner, answer: withMessage(400, 'partner name is missing') };
  if (partner !== partner.toLowerCase()) {
    return { ok: false, partner, answer: withMessage(400, 'partner name should be lowercase') };
  }
  const expected = tokens.get(partner);
  if (expected === undefined || token !== expected) return { ok: false, partner, answer: withMessage(401, 'Unauthorized') };
  return { ok: true, partner, token: expected };
}

export type PayloadVerdict = { accepted: true; payload: UploadPayload } | { accepted: false; answer: Answer };

/**
 * The payload rules for an authenticated request. `segmentsInUse` holds the partner's existing
 * segment names; a name is only taken once the caller reserves it.
 */
export function checkPayload(payload: UploadPayload | undefined, segmentsInUse: ReadonlySet<string>): PayloadVerdict {
  // The real API's answer to an over-long segment name is undocumented; we treat it as an
  // invalid payload because the limit is stated next to the payload's fields.
  if (!payload || payload.segmentName.length > SEGMENT_NAME_MAX_LENGTH) {
    return { accepted: false, answer: { status: 405, body: { error: 'Invalid Payload.' } } };
  }
  if (!payload.fileUrl.includes('.csv')) {
    return { accepted: false, answer: withMessage(400, 'the file URL is invalid. The URL should include .csv extension') };
  }
  if (segmentsInUse.has(payload.segmentName)) return { accepted: false, answer: withMessage(400, 'segment name already in use') };
  return { accepted: true, payload };
}

export interface UploadRequest {
  headers: IncomingHttpHeaders;
  /** undefined when the body was too large to read. */
  body: Buffer | undefined;
}

export interface AccountState {
  /** Partner name → its FPS token. */
  tokens: ReadonlyMap<string, string>;
  segmentsInUse(partner: string): ReadonlySet<string>;
}

export type UploadVerdict =
  | { accepted: true; answer: Answer; partner: string; payload: UploadPayload }
  | { accepted: false; answer: Answer; partner: string | undefined };

/** Insider's answer to a request when nothing else (the rate limit, a fault) intervenes. */
export function judgeUpload(request: UploadRequest, state: AccountState): UploadVerdict {
  const credentials = checkCredentials(request.headers, state.tokens);
  if (!credentials.ok) return { accepted: false, answer: credentials.answer, partner: credentials.partner };
  const payload = request.body ? parsePayload(request.body) : undefined;
  const verdict = checkPayload(payload, state.segmentsInUse(credentials.partner));
  if (!verdict.accepted) return { accepted: false, answer: verdict.answer, partner: credentials.partner };
  return { accepted: true, answer: OK_ANSWER, partner: credentials.partner, payload: verdict.payload };
}
