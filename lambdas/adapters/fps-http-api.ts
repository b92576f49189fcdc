// SegmentApi over HTTP: one POST to Insider's FPS upload endpoint per call, answer read as Insider documents it.
import type { FpsAttempt, FpsUploadRequest, SegmentApi } from '../core/ports.js';

/** The FPS token, read through a cache; never logged. */
export interface TokenSource {
  /** The cached token (read when the cache is empty or stale). */
  get(): Promise<string>;
  /** Reads it past the cache, which then holds the value read. */
  refresh(): Promise<string>;
}

export interface FpsHttpSettings {
  endpointUrl: string;
  partnerName: string;
  token: TokenSource;
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

/**
 * Error codes that can only come from before a connection was made, so no byte of the request left:
 * connection refused, a DNS failure (ENOTFOUND, EAI_AGAIN), undici's connect timeout. What we rely
 * on: Node's fetch (undici) rejects with `TypeError('fetch failed')` whose `cause` carries the
 * system or undici error `code` (an `AggregateError` with one error per address when several were
 * tried); the abort signal's timeout rejects with a `TimeoutError` and no cause. Every other
 * failure may come after the request was written: a reset (ECONNRESET), the socket closed
 * ("other side closed", UND_ERR_SOCKET), a headers or body timeout, our own timeout, or a code we do
 * not know. Those count as possibly sent, the safe side: Insider may have accepted the file.
 */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  cause?: ErrorLike;
  errors?: ErrorLike[];
}

/** A failed fetch as an attempt: what went wrong, in a few words, and whether the request may have left. */
export function classifyFetchError(error: unknown, timeoutMs: number): Extract<FpsAttempt, { kind: 'network' }> {
  const err = (error ?? {}) as ErrorLike;
  const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
  if (timedOut) return { kind: 'network', error: `no answer within ${timeoutMs} ms`, timedOut, possiblySent: true };
  const cause = err.cause;
  // Several addresses tried (Happy Eyeballs): nothing was sent only if every one of them failed to connect.
  const codes = cause?.errors?.length ? cause.errors.map((e) => e.code) : [cause?.code ?? err.code];
  const possiblySent = !codes.every((code) => code !== undefined && NOT_SENT_CODES.has(code));
  const detail = cause?.code ?? codes.find((code) => code !== undefined) ?? cause?.message ?? err.message ?? String(error);
  return { kind: 'network', error: detail, timedOut, possiblySent };
}

export class FpsHttpApi implements SegmentApi {
  /** What the last request sent, to tell whether a re-read token is another one. The trigger handles one upload at a time. */
  private lastSent: string | undefined;

  constructor(private readonly settings: FpsHttpSettings) {}

  async upload(request: FpsUploadRequest, timeoutMs: number): Promise<FpsAttempt> {
    const doFetch = this.settings.fetch ?? fetch;
    const token = await this.settings.token.get();
    this.lastSent = token;
    let response: Response;
    try {
      response = await doFetch(this.settings.endpointUrl, {
        method: 'POST',
        headers: {
          'X-PARTNER-NAME': this.settings.partnerName,
          'X-REQUEST-TOKEN': token,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return classifyFetchError(error, timeoutMs);
    }
    // The status line arrived, so it is Insider's (or its gateway's) answer even if the body is then cut off.
    const text = await response.text().catch((error: unknown) => `(body lost: ${classifyFetchError(error, timeoutMs).error})`);
    return {
      kind: 'response',
      status: response.status,
      message: readMessage(text),
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), (this.settings.now ?? Date.now)()),
    };
  }

  async refreshToken(): Promise<boolean> {
    const fresh = await this.settings.token.refresh();
    return this.lastSent !== undefined && fresh !== this.lastSent;
  }
}
