// The simulator's seeded fault plan: the faults it can inject, their probabilities, and the draws that pick them per request.
import { mulberry32 } from './prng.js';

/** Faults that replace or distort the answer to an upload request. */
export const UPLOAD_FAULTS = [
  'connectionReset',
  'slowResponse',
  'rateLimited',
  'rateLimitedRetryAfter',
  'requestLimitExceeded403',
  'serverError',
  'acceptedButSlow',
] as const;

/**
 * "Accepted, reply lost": Insider accepts the upload (the name is taken, the file processed, the
 * callback sent, late), but its answer never arrives intact: a gateway's 502 or 504, or a reset
 * connection after the request was read.
 */
export const REPLY_LOST_FAULTS = ['acceptedReplyLost502', 'acceptedReplyLost504', 'acceptedReplyLostReset'] as const;
export type ReplyLostFault = (typeof REPLY_LOST_FAULTS)[number];

export type UploadFault = (typeof UPLOAD_FAULTS)[number] | ReplyLostFault;

/** Faults that distort the callback of an accepted upload. */
export const CALLBACK_FAULTS = ['callbackDropped', 'callbackDelayed', 'callbackDuplicated', 'callbackConflicting'] as const;
export type CallbackFault = (typeof CALLBACK_FAULTS)[number];

/** Probability (0..1) of each fault, drawn independently from the seeded PRNG. */
export type FaultConfig = Record<UploadFault | CallbackFault, number>;

const SERVER_ERROR_STATUSES = [500, 502, 503, 504, 520] as const;

const zeroFaults = (): FaultConfig =>
  Object.fromEntries([...UPLOAD_FAULTS, ...REPLY_LOST_FAULTS, ...CALLBACK_FAULTS].map((name) => [name, 0])) as FaultConfig;

/** Every fault at 0 except those given; throws on an unknown name or a value outside 0..1. */
export function normaliseFaults(faults: Partial<FaultConfig> | undefined): FaultConfig {
  const out = zeroFaults();
  for (const [key, value] of Object.entries(faults ?? {})) {
    if (!(key in out)) throw new RangeError(`unknown fault: ${key}`);
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new RangeError(`fault ${key} must be a probability between 0 and 1, got ${value}`);
    }
    out[key as keyof FaultConfig] = value;
  }
  return out;
}

/** Draws faults from seeded streams and counts the ones that took effect. */
export class FaultPlan {
  /** Faults that took effect, by name (the simulator's `faultCounts`; the object is kept across resets). */
  readonly counts: Record<string, number> = {};
  private config: FaultConfig;
  private requestRandom!: () => number;
  private callbackRandom!: () => number;
  private replyLostRandom!: () => number;

  constructor(
    private readonly seed: number,
    faults?: Partial<FaultConfig>,
  ) {
    this.config = normaliseFaults(faults);
    this.reseed();
  }

  /** Replaces the whole configuration (unspecified faults go back to 0). */
  configure(faults: Partial<FaultConfig>): void {
    this.config = normaliseFaults(faults);
  }

  /** Forgets the counts and replays the same draws from the start; keeps the configuration. */
  reset(): void {
    for (const key of Object.keys(this.counts)) delete this.counts[key];
    this.reseed();
  }

  count(name: UploadFault | CallbackFault): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
  }

  /**
   * At most one upload fault per request: the first of UPLOAD_FAULTS that hits, else the first of
   * REPLY_LOST_FAULTS. Those take effect only if the upload is accepted, like acceptedButSlow.
   */
  drawUpload(): UploadFault | undefined {
    // Always draw for every fault so a request consumes the same randomness whatever happens.
    const draws = UPLOAD_FAULTS.map((name) => ({ name, hit: this.requestRandom() < this.config[name] }));
    const lost = REPLY_LOST_FAULTS.map((name) => ({ name, hit: this.replyLostRandom() < this.config[name] }));
    return draws.find((d) => d.hit)?.name ?? lost.find((d) => d.hit)?.name;
  }

  /** Which 5xx a serverError fault answers. */
  drawServerErrorStatus(): number {
    const index = Math.floor(this.requestRandom() * SERVER_ERROR_STATUSES.length);
    return SERVER_ERROR_STATUSES[index] ?? 500;
  }

  /** The callback faults of one accepted upload; a dropped callback cannot also be distorted. */
  drawCallback(): CallbackFault[] {
    const hits = CALLBACK_FAULTS.filter((name) => this.callbackRandom() < this.config[name]);
    return hits.includes('callbackDropped') ? ['callbackDropped'] : hits;
  }

  private reseed(): void {
    // Separate streams so the callback faults an upload gets do not shift the request faults.
    this.requestRandom = mulberry32(this.seed);
    this.callbackRandom = mulberry32(this.seed ^ 0x9e3779b9);
    // Its own stream too, so adding this family left every earlier seed's fault sequence as it was.
    this.replyLostRandom = mulberry32(this.seed ^ 0x85ebca6b);
  }
}
