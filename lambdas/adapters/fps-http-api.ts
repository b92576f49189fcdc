// SegmentApi over HTTP: one POST to Insider's FPS upload endpoint per call, answer read as Insider documents it.
import type { FpsAttempt, FpsUploadRequest, SegmentApi } from '../core/ports.js';

export interface FpsHttpSettings {
  endpointUrl: string;
  partnerName: string;
  /** The token, from a cache that follows rotation; never logged. */
  token: () => Promise<string>;
  fetch?: typeof fetch;
  now?: () => number;
}

/** `Retry-After` is either seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Insider answers `{"statusMessage": …}`, except 405's `{"error": …}`; anything else is kept short. */
export function readMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { statusMessage?: unknown; error?: unknown; message?: unknown };
    const message = json.statusMessage ?? json.error ?? json.message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 200);
}

export class FpsHttpApi implements SegmentApi {
  constructor(private readonly settings: FpsHttpSettings) {}

  async upload(request: FpsUploadRequest, timeoutMs: number): Promise<FpsAttempt> {
    const doFetch = this.settings.fetch ?? fetch;
    const token = await this.settings.token();
    try {
      const response = await doFetch(this.settings.endpointUrl, {
        method: 'POST',
        headers: {
          'X-PARTNER-NAME': this.settings.partnerName,
          'X-REQUEST-TOKEN': token,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      return {
        kind: 'response',
        status: response.status,
        message: readMessage(text),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), (this.settings.now ?? Date.now)()),
      };
    } catch (error) {
      const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      const detail = timedOut ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message ?? String(error));
      return { kind: 'network', error: detail, timedOut };
    }
  }
}
