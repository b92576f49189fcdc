// Insider's FPS wire shapes as the simulator reads and writes them: the upload payload, an answer, the callback body.

/*
 * An independent copy, on purpose, of `FpsUploadRequest` (lambdas/core/ports.ts) and `CallbackBody`
 * (lambdas/core/record-callback.ts). The simulator stands in for Insider, whose contract is its
 * documentation, not our types: with shared types a renamed or added field on our side would change
 * the simulator too and every test would pass while the real API refused the request. Written from
 * Insider's page, this copy makes such contract drift fail the end-to-end tests.
 */

export const UPLOAD_PATH = '/fps/v1/upload';

/** The upload request's body, as Insider's page documents it (all four fields required strings). */
export interface UploadPayload {
  segmentName: string;
  fileUrl: string;
  callbackUrl: string;
  attributeName: string;
}

/** Insider's callback body, as its page documents it. */
export interface CallbackBody {
  segment_name: string;
  valid_values_count: number;
  invalid_values_count: number;
  total_entered_values: number;
}

/** One HTTP answer: status, JSON body and any extra headers. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The payload, or undefined when it is not a JSON object with the four fields as non-blank strings. */
export function parsePayload(body: Buffer): UploadPayload | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const record = json as Record<string, unknown>;
  const fields = ['segmentName', 'fileUrl', 'callbackUrl', 'attributeName'] as const;
  for (const field of fields) {
    const value = record[field];
    if (typeof value !== 'string' || value.trim() === '') return undefined;
  }
  return record as unknown as UploadPayload;
}
