// In-memory fakes of the core's ports, for the unit tests and the benchmark's model; the store contract suite holds MemoryStore to DynamoDB's behaviour.
import { Readable, Writable } from 'node:stream';
import { meetsCondition } from '../lambdas/core/lifecycle.js';
import type {
  ClaimResult,
  Clock,
  CopyUpload,
  FpsAttempt,
  FpsUploadRequest,
  Log,
  ObjectInfo,
  ObjectStore,
  RecordChanges,
  SegmentApi,
  Telemetry,
  TokenGenerator,
  UploadRecord,
  UploadsStore,
  WriteCondition,
} from '../lambdas/core/ports.js';
import type { Metric, UploadStatus } from '../lambdas/shared/contract.js';

/** A copy as DynamoDB would hand it back: no undefined fields, no empty token set. */
function stored(record: UploadRecord): UploadRecord {
  const copy = structuredClone(record) as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(copy)) if (value === undefined) delete copy[field];
  if (record.callbackTokenHashes?.length === 0) delete copy.callbackTokenHashes;
  return copy as unknown as UploadRecord;
}

/** UploadsStore in a Map: it only persists; the conditions are the core's own `meetsCondition`. */
export class MemoryStore implements UploadsStore {
  readonly records = new Map<string, UploadRecord>();
  /** Segment name → the upload holding its lock. */
  readonly locks = new Map<string, string>();
  /** Segment name → the upload Insider accepted under it. */
  readonly created = new Map<string, string>();
  /** Logical name → the last `{n}` issued and to whom. */
  readonly counters = new Map<string, { n: number; issuedTo: string }>();
  writes = 0;

  async create(record: UploadRecord): Promise<ClaimResult> {
    const existing = this.records.get(record.uploadId);
    if (existing) return { claimed: false, existing: stored(existing) };
    this.records.set(record.uploadId, stored(record));
    this.writes++;
    return { claimed: true };
  }

  async get(uploadId: string) {
    const record = this.records.get(uploadId);
    return record ? stored(record) : undefined;
  }

  async update(uploadId: string, changes: RecordChanges, condition: WriteCondition) {
    const record = this.records.get(uploadId);
    if (!meetsCondition(record, condition)) return false;
    const { addCallbackTokenHash, ...fields } = changes;
    const next = { ...record } as unknown as Record<string, unknown>;
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined) delete next[field];
      else next[field] = value;
    }
    // A set, as in DynamoDB: adding a hash it holds changes nothing.
    if (addCallbackTokenHash) next.callbackTokenHashes = [...new Set([...(record.callbackTokenHashes ?? []), addCallbackTokenHash])];
    this.records.set(uploadId, stored(next as unknown as UploadRecord));
    this.writes++;
    return true;
  }

  async takeSegmentLock(segmentName: string, uploadId: string, replacing?: string) {
    const holder = this.locks.get(segmentName);
    const free = replacing === undefined ? holder === undefined || holder === uploadId : holder === replacing;
    if (free) this.locks.set(segmentName, uploadId);
    return free;
  }

  async segmentLockHolder(segmentName: string) {
    return this.locks.get(segmentName);
  }

  async markSegmentCreated(segmentName: string, uploadId: string) {
    this.created.set(segmentName, uploadId);
  }

  async segmentCreatedBy(segmentName: string) {
    return this.created.get(segmentName);
  }

  async issueSegmentCounter(logicalName: string, uploadId: string) {
    const current = this.counters.get(logicalName);
    if (current?.issuedTo === uploadId) return current.n;
    const next = { n: (current?.n ?? 0) + 1, issuedTo: uploadId };
    this.counters.set(logicalName, next);
    return next.n;
  }

  async peekSegmentCounter(logicalName: string) {
    return (this.counters.get(logicalName)?.n ?? 0) + 1;
  }

  async listStale(status: UploadStatus, before: string, limit: number) {
    return [...this.records.values()]
      .filter((r) => r.status === status && r.updatedAt < before)
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
      .slice(0, limit)
      .map(stored);
  }
}

/** A valid one-value-per-line email list, the body a FakeObjects object has unless given one. */
export const FAKE_CSV = 'someone@example.com\nother@example.com\n';

export class FakeObjects implements ObjectStore {
  readonly objects = new Map<string, ObjectInfo & { body: Buffer }>();
  /** Copies completed with `writeCopy`, by bucket/key. */
  readonly copies = new Map<string, Buffer>();
  presigned = 0;
  reads = 0;
  aborted = 0;
  /** Objects put without a size get their body's. */
  put(bucket: string, key: string, info: Partial<ObjectInfo> & { body?: string | Buffer } = {}) {
    const body = Buffer.from(info.body ?? FAKE_CSV);
    this.objects.set(`${bucket}/${key}`, { metadata: {}, ...info, size: info.size ?? body.length, body });
  }
  async head(bucket: string, key: string) {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) return undefined;
    const { body: _body, ...info } = object;
    return info;
  }
  async read(bucket: string, key: string) {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) return undefined;
    this.reads++;
    return Readable.from([object.body]);
  }
  writeCopy(bucket: string, key: string): CopyUpload {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        chunks.push(chunk);
        done();
      },
    });
    return {
      sink,
      complete: async () => {
        this.copies.set(`${bucket}/${key}`, Buffer.concat(chunks));
      },
      abort: async () => {
        this.aborted++;
      },
    };
  }
  async presignGet(bucket: string, key: string, _versionId: string | undefined, expiresInSeconds: number) {
    this.presigned++;
    return { url: `https://s3.test/${bucket}/${encodeURIComponent(key)}?sig=1`, expiresAt: new Date(Date.UTC(2026, 0, 1) + expiresInSeconds * 1000) };
  }
}

/**
 * Answers each request with the next scripted attempt (the last one repeats). A step may look at the
 * token sent: `secret` is what the token secret holds, read into a cache by the first request and
 * again by `refreshToken`, as the trigger does.
 */
export class ScriptedApi implements SegmentApi {
  readonly requests: FpsUploadRequest[] = [];
  readonly tokensSent: string[] = [];
  secret = 'fps-token';
  refreshes = 0;
  private cached: string | undefined;
  constructor(private readonly script: (FpsAttempt | ((req: FpsUploadRequest, token: string) => FpsAttempt | Promise<FpsAttempt>))[]) {}
  async upload(request: FpsUploadRequest): Promise<FpsAttempt> {
    this.requests.push(request);
    this.cached ??= this.secret;
    this.tokensSent.push(this.cached);
    const step = this.script[Math.min(this.requests.length - 1, this.script.length - 1)];
    if (!step) throw new Error('empty script');
    return typeof step === 'function' ? step(request, this.cached) : step;
  }
  async refreshToken(): Promise<boolean> {
    this.refreshes++;
    this.cached = this.secret;
    return this.tokensSent.length > 0 && this.cached !== this.tokensSent.at(-1);
  }
}

/** A token source that always gives `value`: nothing to rotate. */
export const fixedToken = (value: string) => ({ get: async () => value, refresh: async () => value });

export const ok: FpsAttempt = { kind: 'response', status: 200, message: 'OK' };
export const status = (code: number, message = '', retryAfterMs?: number): FpsAttempt => ({ kind: 'response', status: code, message, retryAfterMs });
export const timeout: FpsAttempt = { kind: 'network', error: 'no answer', timedOut: true, possiblySent: true };
export const reset: FpsAttempt = { kind: 'network', error: 'ECONNRESET', timedOut: false, possiblySent: true };
export const refused: FpsAttempt = { kind: 'network', error: 'ECONNREFUSED', timedOut: false, possiblySent: false };

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

/** Keeps what the use cases report: metric totals by name, and every final status. */
export class RecordingTelemetry implements Telemetry {
  readonly metrics: Record<string, number> = {};
  readonly finals: UploadRecord[] = [];
  metric(metric: Metric, value = 1) {
    this.metrics[metric.name] = (this.metrics[metric.name] ?? 0) + value;
  }
  finalStatus(record: UploadRecord) {
    this.finals.push(record);
  }
}

export const noTelemetry: Telemetry = { metric() {}, finalStatus() {} };

export const silentLog: Log = { info() {}, warn() {}, addKeys() {} };
