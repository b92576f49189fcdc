// The configurable settings' ranges and defaults, read by both the CDK context schema and the functions' environment schemas.
import { DEFAULT_MAX_FILE_BYTES, PRESIGN_MAX_SECONDS, PRESIGN_ROLE_MAX_SECONDS, TRIGGER_ASYNC_RETRY_ATTEMPTS } from './contract.js';

/** A whole-number setting: what synth accepts is what the function accepts at load. */
export interface Limit {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

export const Limits = {
  maxFileBytes: { min: 1, max: UNBOUNDED, default: DEFAULT_MAX_FILE_BYTES },
  /** Insider documents processing times of up to an hour; an assumed role's URL cannot live longer (see `presignMaxSeconds`). */
  presignExpiresSeconds: { min: 60, max: PRESIGN_MAX_SECONDS, default: PRESIGN_ROLE_MAX_SECONDS },
  /** Retries of a slow call must still end well inside the trigger's 60 s timeout. */
  fpsTimeoutMs: { min: 100, max: 30_000, default: 10_000 },
  tokenCacheSeconds: { min: 0, max: 86_400, default: 300 },
  /** 0 means no reservation. */
  triggerReservedConcurrency: { min: 0, max: UNBOUNDED, default: 10 },
  submittedTimeoutHours: { min: 1, max: UNBOUNDED, default: 6 },
  retentionDays: { min: 1, max: UNBOUNDED, default: 30 },
  /** Lambda invokes the trigger once, then retries it TRIGGER_ASYNC_RETRY_ATTEMPTS times; the stack sets exactly that. */
  maxInvocations: { min: 1, max: 1 + TRIGGER_ASYNC_RETRY_ATTEMPTS, default: 1 + TRIGGER_ASYNC_RETRY_ATTEMPTS },
} as const satisfies Record<string, Limit>;

/** Who signs the presigned file URLs. */
export type UrlSigner = 'assumedRole' | 'accessKey';

/**
 * The longest a file URL can live when `signer` signs it: a URL signed by an assumed role dies with
 * the session (chained sessions last at most an hour); any SigV4 URL dies after 7 days.
 */
export function presignMaxSeconds(signer: UrlSigner): number {
  return signer === 'assumedRole' ? PRESIGN_ROLE_MAX_SECONDS : PRESIGN_MAX_SECONDS;
}

/** Whether a URL signed by `signer` can really live `seconds`. */
export function presignLifetimeFits(seconds: number, signer: UrlSigner): boolean {
  return seconds <= presignMaxSeconds(signer);
}
