// In-memory fakes of the core's ports, faithful to the conditions the DynamoDB adapter enforces.
import type {
  ClaimResult,
  Clock,
  FpsAttempt,
  FpsUploadRequest,
  ObjectInfo,
  ObjectStore,
  SegmentApi,
  Telemetry,
  TokenGenerator,
  UploadRecord,
  UploadsStore,
} from '../../lambdas/core/ports.js';
import type { Log } from '../../lambdas/core/submit-upload.js';
import { assertTransition, type UploadStatus } from '../../lambdas/shared/contract.js';

export class MemoryStore implements UploadsStore {
  readonly records = new Map<string, UploadRecord>();
  readonly locks = new Map<string, string>();
  writes = 0;

  async create(record: UploadRecord): Promise<ClaimResult> {
    const existing = this.records.get(record.uploadId);
    if (existing) return { claimed: false, existing: structuredClone(existing) };
    this.records.set(record.uploadId, structuredClone(record));
    this.writes++;
    return { claimed: true };
  }

  async get(uploadId: string) {
    const record = this.records.get(uploadId);
    return record ? structuredClone(record) : undefined;
  }

  async update(
    uploadId: string,
    changes: Partial<UploadRecord>,
    condition: { from: readonly UploadStatus[]; expectInvocations?: number; leaseExpiredAt?: string },
    addTokenHash?: string,
  ) {
    assertTransition(condition.from, changes.status);
    const record = this.records.get(uploadId);
    if (!record || !condition.from.includes(record.status)) return false;
    if (condition.expectInvocations !== undefined && record.invocations !== condition.expectInvocations) return false;
    if (condition.leaseExpiredAt !== undefined && record.leaseUntil !== undefined && record.leaseUntil > condition.leaseExpiredAt) return false;
    const next: UploadRecord = { ...record };
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) delete (next as unknown as Record<string, unknown>)[field];
      else (next as unknown as Record<string, unknown>)[field] = value;
    }
    if (addTokenHash) next.callbackTokenHashes = [...(record.callbackTokenHashes ?? []), addTokenHash];
    this.records.set(uploadId, next);
    this.writes++;
    return true;
  }

  async lockSegment(segmentName: string, uploadId: string, isHolderDone: (holder: string) => Promise<boolean>) {
    const holder = this.locks.get(segmentName);
    if (holder === undefined || holder === uploadId || (await isHolderDone(holder))) {
      this.locks.set(segmentName, uploadId);
      return { locked: true as const };
    }
    return { locked: false as const, holder };
  }

  async listStale(status: UploadStatus, before: string, limit: number) {
    return [...this.records.values()]
      .filter((r) => r.status === status && r.updatedAt < before)
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }
}

export class FakeObjects implements ObjectStore {
  readonly objects = new Map<string, ObjectInfo>();
  presigned = 0;
  put(bucket: string, key: string, info: Partial<ObjectInfo> = {}) {
    this.objects.set(`${bucket}/${key}`, { size: 100, metadata: {}, ...info });
  }
  async head(bucket: string, key: string) {
    return this.objects.get(`${bucket}/${key}`);
  }
  async presignGet(bucket: string, key: string, _versionId: string | undefined, expiresInSeconds: number) {
    this.presigned++;
    return { url: `https://s3.test/${bucket}/${encodeURIComponent(key)}?sig=1`, expiresAt: new Date(Date.UTC(2026, 0, 1) + expiresInSeconds * 1000) };
  }
}

/** Answers each request with the next scripted attempt (the last one repeats). */
export class ScriptedApi implements SegmentApi {
  readonly requests: FpsUploadRequest[] = [];
  constructor(private readonly script: (FpsAttempt | ((req: FpsUploadRequest) => FpsAttempt | Promise<FpsAttempt>))[]) {}
  async upload(request: FpsUploadRequest): Promise<FpsAttempt> {
    this.requests.push(request);
    const step = this.script[Math.min(this.requests.length - 1, this.script.length - 1)];
    if (!step) throw new Error('empty script');
    return typeof step === 'function' ? step(request) : step;
  }
}

export const ok: FpsAttempt = { kind: 'response', status: 200, message: 'OK' };
export const status = (code: number, message = '', retryAfterMs?: number): FpsAttempt => ({ kind: 'response', status: code, message, retryAfterMs });
export const timeout: FpsAttempt = { kind: 'network', error: 'no answer', timedOut: true };
export const reset: FpsAttempt = { kind: 'network', error: 'ECONNRESET', timedOut: false };

/** A clock that only moves when slept on, so backoff is instant and measurable. */
export class FakeClock implements Clock {
  slept: number[] = [];
  constructor(public ms = Date.UTC(2026, 10, 29, 12)) {}
  now() {
    return new Date(this.ms);
  }
  async sleep(ms: number) {
    this.slept.push(ms);
    this.ms += ms;
  }
  advance(ms: number) {
    this.ms += ms;
  }
}

let counter = 0;
export const fakeTokens: TokenGenerator = {
  token: () => `token-${++counter}`,
  hash: (token) => `hash(${token})`,
};

export class RecordingTelemetry implements Telemetry {
  readonly counts: Record<string, number> = {};
  readonly finals: UploadRecord[] = [];
  count(name: string, value = 1) {
    this.counts[name] = (this.counts[name] ?? 0) + value;
  }
  timing() {}
  finalStatus(record: UploadRecord) {
    this.finals.push(record);
  }
}

export const silentLog: Log = { info() {}, warn() {}, addKeys() {} };
