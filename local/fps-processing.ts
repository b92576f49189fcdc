// What the simulator does with an accepted upload, as Insider would: fetch the file through its URL, count its values, call back.
import type { CallbackFault } from './fps-faults.js';
import { type AttributeType, attributeTypeOf, countValues, readText, type ValueCounts } from './fps-values.js';
import type { CallbackBody, UploadPayload } from './fps-wire.js';
import type { WorkTracker } from './work-tracker.js';

/** The part of a request's log that processing fills in. */
export interface ProcessingLog {
  callbackFaults: CallbackFault[];
  /** Filled in once the file has been processed (accepted requests only). */
  counts?: ValueCounts;
  processingError?: string;
  /** How long fetching the file through its URL took, and its size (successful downloads only). */
  download?: { ms: number; bytes: number };
}

export interface CallbackLog {
  time: number;
  url: string;
  body: CallbackBody;
  /** null when the callback could not be delivered (network error, timeout). */
  status: number | null;
  error?: string;
  kind: 'original' | 'duplicate' | 'conflicting';
}

export type Download = { ok: true; body: Buffer; bytes: number } | { ok: false; tooLarge: boolean; error: string };

export interface ProcessingSettings {
  maxFileBytes: number;
  /** Upper bound on each download and callback so stop() can never hang on a stuck peer. */
  outboundTimeoutMs: number;
  allowNonLoopbackUrls: boolean;
  /** How long after accepting a file the simulator waits before fetching it (not for preloaded files). */
  downloadDelayMs: number;
  callbackDelayMs: number;
  /** Added to callbackDelayMs when the callbackDelayed fault fires. */
  callbackDelayedMs: number;
  attributeTypes: Readonly<Record<string, AttributeType>>;
}

export function isLoopbackUrl(raw: string): boolean {
  let host: string;
  try {
    host = new URL(raw).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export type FileVerdict =
  | { kind: 'counted'; counts: ValueCounts }
  | { kind: 'unparseable'; error: string }
  | { kind: 'notText'; error: string };

/** A downloaded file's counts, or why it could not be counted. */
export function judgeFile(bytes: Uint8Array, attributeName: string, attributeTypes: Readonly<Record<string, AttributeType>> = {}): FileVerdict {
  const file = readText(bytes);
  if (!file.ok) return { kind: 'notText', error: file.error };
  try {
    return { kind: 'counted', counts: countValues(file.text, attributeTypeOf(attributeName, attributeTypes)) };
  } catch (err) {
    return { kind: 'unparseable', error: `unparseable CSV: ${(err as Error).message}` };
  }
}

/** The callbacks one upload gets, in order, given its counts and callback faults. */
export function plannedCallbacks(segmentName: string, counts: ValueCounts, faults: readonly CallbackFault[]): Pick<CallbackLog, 'body' | 'kind'>[] {
  if (faults.includes('callbackDropped')) return [];
  const body: CallbackBody = {
    segment_name: segmentName,
    valid_values_count: counts.valid,
    invalid_values_count: counts.invalid,
    total_entered_values: counts.total,
  };
  const out: Pick<CallbackLog, 'body' | 'kind'>[] = [{ body, kind: 'original' }];
  if (faults.includes('callbackDuplicated')) out.push({ body: { ...body }, kind: 'duplicate' });
  if (faults.includes('callbackConflicting')) {
    out.push({
      body: { ...body, valid_values_count: body.valid_values_count + 1, total_entered_values: body.total_entered_values + 1 },
      kind: 'conflicting',
    });
  }
  return out;
}

export class UploadProcessor {
  constructor(
    private readonly settings: ProcessingSettings,
    private readonly work: WorkTracker,
    /** Every callback sent, in order (the simulator's `callbacks`). */
    readonly callbacks: CallbackLog[],
  ) {}

  /** Fetches the file, recording how long it took; a file over maxFileBytes is cut off, never buffered whole. */
  async download(log: ProcessingLog, url: string): Promise<Download> {
    const started = performance.now();
    const file = await this.fetchFile(url);
    if (file.ok) log.download = { ms: performance.now() - started, bytes: file.bytes };
    return file;
  }

  /**
   * Insider documents neither what happens to an unreadable, unparseable or oversized file after
   * a 200 nor whether it calls back; we record the error and call back with all counts 0, which is
   * the answer a pipeline has to cope with anyway. A file that is not text at all (gzip, binary)
   * is undocumented too; we record the error and send no callback, the harder case for a pipeline.
   * `extraCallbackDelayMs` holds the callback back further (e.g. for a lost reply's retry).
   */
  async process(log: ProcessingLog, payload: UploadPayload, preloaded?: Download, extraCallbackDelayMs = 0): Promise<void> {
    const { downloadDelayMs, callbackDelayMs, callbackDelayedMs, attributeTypes } = this.settings;
    if (!preloaded && downloadDelayMs > 0 && !(await this.work.sleep(downloadDelayMs))) return;
    const file = preloaded ?? (await this.download(log, payload.fileUrl));
    let counts: ValueCounts = { valid: 0, invalid: 0, total: 0 };
    if (file.ok) {
      const judged = judgeFile(file.body, payload.attributeName, attributeTypes);
      if (judged.kind === 'counted') counts = log.counts = judged.counts;
      else log.processingError = judged.error;
      if (judged.kind === 'notText') return;
    } else {
      log.processingError = file.error;
    }
    const planned = plannedCallbacks(payload.segmentName, counts, log.callbackFaults);
    if (planned.length === 0) return;
    const delayed = log.callbackFaults.includes('callbackDelayed');
    if (!(await this.work.sleep(callbackDelayMs + (delayed ? callbackDelayedMs : 0) + extraCallbackDelayMs))) return;
    for (const callback of planned) await this.postCallback(payload.callbackUrl, callback);
  }

  private safeFetch(url: string, init: RequestInit = {}): Promise<Response> {
    if (!this.settings.allowNonLoopbackUrls && !isLoopbackUrl(url)) {
      return Promise.reject(new Error(`refusing non-loopback URL ${url}`));
    }
    return fetch(url, { ...init, signal: AbortSignal.timeout(this.settings.outboundTimeoutMs) });
  }

  private async fetchFile(url: string): Promise<Download> {
    const { maxFileBytes } = this.settings;
    let res: Response;
    try {
      res = await this.safeFetch(url);
    } catch (err) {
      return { ok: false, tooLarge: false, error: `download failed: ${(err as Error).message}` };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, tooLarge: false, error: `download failed: HTTP ${res.status}` };
    }
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxFileBytes) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, tooLarge: true, error: `file is ${declared} bytes, over ${maxFileBytes}` };
    }
    // Stream with a running count so an undeclared huge file is cut off, not buffered whole.
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      const reader = res.body?.getReader();
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxFileBytes) {
          await reader.cancel().catch(() => {});
          return { ok: false, tooLarge: true, error: `file is over ${maxFileBytes} bytes` };
        }
        chunks.push(value);
      }
    } catch (err) {
      return { ok: false, tooLarge: false, error: `download failed: ${(err as Error).message}` };
    }
    return { ok: true, body: Buffer.concat(chunks), bytes: size };
  }

  private async postCallback(url: string, callback: Pick<CallbackLog, 'body' | 'kind'>): Promise<void> {
    const entry: CallbackLog = { time: Date.now(), url, status: null, ...callback };
    this.callbacks.push(entry);
    try {
      const res = await this.safeFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(callback.body),
      });
      entry.status = res.status;
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      entry.error = (err as Error).message;
    }
  }
}
