// The configurable settings' ranges and defaults, read by both the CDK context schema and the functions' environment schemas.
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_INVALID_SHARE, DEFAULT_MIN_MATCH_RATE, PRESIGN_MAX_SECONDS, PRESIGN_ROLE_MAX_SECONDS, TRIGGER_MAX_RECEIVES } from './contract.js';

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
  /**
   * Trigger invocations the event source mapping runs at once (its ScalingConfig.MaximumConcurrency,
   * 2–1000 in AWS). It keeps a burst near Insider's 100 requests per second without reserving
   * concurrency; the default is the benchmark's choice (README "Performance").
   */
  triggerMaxConcurrency: { min: 2, max: 1000, default: 35 },
  /** 0 means no reservation (the default: a reservation fails the deploy on accounts whose quota is 10). Else ≥ triggerMaxConcurrency. */
  triggerReservedConcurrency: { min: 0, max: UNBOUNDED, default: 0 },
  submittedTimeoutHours: { min: 1, max: UNBOUNDED, default: 6 },
  retentionDays: { min: 1, max: UNBOUNDED, default: 30 },
  /** SQS delivers an event at most this often (the redrive policy's maxReceiveCount, 1–1000); the stack sets TRIGGER_MAX_RECEIVES. */
  maxReceives: { min: 1, max: 1000, default: TRIGGER_MAX_RECEIVES },
} as const satisfies Record<string, Limit>;

/** A share between 0 and 1 (any fraction), read by both the CDK context schema and the functions. */
export const FractionLimits = {
  /** Reject a file when more than this share of its values fail the attribute's format (1: never). */
  maxInvalidShare: { min: 0, max: 1, default: DEFAULT_MAX_INVALID_SHARE },
  /** Warn about a completed upload whose match rate is below this (0: never). */
  minMatchRate: { min: 0, max: 1, default: DEFAULT_MIN_MATCH_RATE },
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
