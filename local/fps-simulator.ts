// A local stand-in for Insider One's First-Party Segment upload API, with seeded fault injection.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import { DEFAULT_MAX_FILE_BYTES, SEGMENT_NAME_MAX_LENGTH } from '../lambdas/shared/contract.js';

export const UPLOAD_PATH = '/fps/v1/upload';

export type AttributeType = 'email' | 'phone' | 'number' | 'identifier' | 'text';

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
export type UploadFault = (typeof UPLOAD_FAULTS)[number];

/** Faults that distort the callback of an accepted upload. */
export const CALLBACK_FAULTS = [
  'callbackDropped',
  'callbackDelayed',
  'callbackDuplicated',
  'callbackConflicting',
] as const;
export type CallbackFault = (typeof CALLBACK_FAULTS)[number];

/** Probability (0..1) of each fault, drawn independently from the seeded PRNG. */
export type FaultConfig = Record<UploadFault | CallbackFault, number>;

export interface FpsSimulatorOptions {
  accounts: { partnerName: string; token: string }[];
  maxFileBytes?: number;
  rateLimitPerSecond?: number;
  /** Whether the simulator's own (non-fault) 429 carries `Retry-After: 1`; Insider says it "may". */
  retryAfterOnRateLimit?: boolean;
  latencyMs?: number;
  callbackDelayMs?: number;
  seed?: number;
  faults?: Partial<FaultConfig>;
  slowResponseMs?: number;
  /** Added to callbackDelayMs when the callbackDelayed fault fires. */
  callbackDelayedMs?: number;
  attributeTypes?: Record<string, AttributeType>;
  /** 'sync' downloads the file before answering so an oversized file gets Insider's 400. */
  fileSizeCheck?: 'sync' | 'async';
  /**
   * How long after accepting a file ('async' mode) the simulator waits before fetching it, as
   * Insider's own queue would; a benchmark uses it to keep the download off the trigger's timing.
   * @default 0
   */
  downloadDelayMs?: number;
  /** Upper bound on each download and callback so stop() can never hang on a stuck peer. */
  outboundTimeoutMs?: number;
  /**
   * The simulator fetches URLs its clients hand it; by default it refuses any host that is
   * not loopback so a misconfigured test can never make it talk to the outside world.
   */
  allowNonLoopbackUrls?: boolean;
  port?: number;
  /**
   * A scripted answer for an authenticated request, checked before the payload rules: lets a test
   * make Insider answer any documented status (e.g. 405) for a payload that is in fact valid.
   */
  script?: ScriptedAnswer;
}

export type ScriptedAnswer = (payload: { segmentName?: string; attributeName?: string }) =>
  | { status: number; body: unknown }
  | undefined;

export interface ValueCounts {
  valid: number;
  invalid: number;
  total: number;
}

export interface RequestLog {
  time: number;
  partner: string | undefined;
  segmentName?: string;
  attributeName?: string;
  fileUrl?: string;
  callbackUrl?: string;
  /** null until answered, and for ever when the socket was destroyed instead. */
  status: number | null;
  response?: unknown;
  fault?: UploadFault;
  callbackFaults: CallbackFault[];
  accepted: boolean;
  /** Filled in once the file has been processed (accepted requests only). */
  counts?: ValueCounts;
  processingError?: string;
  /** How long fetching the file through its URL took, and its size (successful downloads only). */
  download?: { ms: number; bytes: number };
}

export interface CallbackBody {
  segment_name: string;
  valid_values_count: number;
  invalid_values_count: number;
  total_entered_values: number;
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

export interface FpsSimulator {
  url: string;
  stop(): Promise<void>;
  requests: RequestLog[];
  callbacks: CallbackLog[];
  faultCounts: Record<string, number>;
  acceptedSegments(): string[];
  idle(): Promise<void>;
  /** Replaces the whole fault configuration (unspecified faults go back to 0). */
  setFaults(faults: Partial<FaultConfig>): void;
  /** Replaces the scripted answers (undefined: none). */
  setScript(script: ScriptedAnswer | undefined): void;
  /** Forgets logs, segments, rate-limit windows and re-seeds the PRNG; keeps the faults. */
  reset(): void;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** Tiny seeded PRNG so fault injection is reproducible from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBER_WORDS = new Set(['age', 'count', 'number', 'amount', 'score']);

/**
 * Guesses the UCD type of an attribute from its name. Number keywords are matched as whole
 * words (split on separators and camelCase) because plain substring matching would make
 * `account_id` (count) or `page_url` (age) numeric.
 */
export function inferAttributeType(name: string): AttributeType {
  const lower = name.trim().toLowerCase();
  if (lower.includes('email') || lower === 'em') return 'email';
  if (lower.includes('phone') || lower.includes('gsm')) return 'phone';
  const words = name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.some((w) => NUMBER_WORDS.has(w))) return 'number';
  return 'identifier';
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_RE = /^\+[1-9]\d{6,14}$/;
// Plain decimal notation only: Number() would also accept hex, binary and "Infinity".
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function isValidValue(value: string, type: AttributeType): boolean {
  if (value === '') return false;
  switch (type) {
    case 'email':
      return EMAIL_RE.test(value);
    case 'phone':
      return PHONE_RE.test(value);
    case 'number':
      return NUMBER_RE.test(value) && Number.isFinite(Number(value));
    case 'identifier':
    case 'text':
      return true;
  }
}

/**
 * Counts a CSV's values the way Insider's callback reports them. Insider's files have no
 * header row, so every non-blank row is a value and only its first column matters.
 * Throws on CSV that cannot be parsed (e.g. an unterminated quote).
 */
export function countValues(csvText: string, type: AttributeType): ValueCounts {
  const rows = parse(csvText, {
    bom: true,
    trim: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  }) as string[][];
  let valid = 0;
  let invalid = 0;
  for (const row of rows) {
    if (row.every((cell) => cell === '')) continue;
    if (isValidValue(row[0] ?? '', type)) valid++;
    else invalid++;
  }
  return { valid, invalid, total: valid + invalid };
}

export function isLoopbackUrl(raw: string): boolean {
  let host: string;
  try {
    host = new URL(raw).hostname;
  } catch {
    return false;
  }
  return (
    host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

// ---------------------------------------------------------------------------------------------
// Server

const SERVER_ERROR_STATUSES = [500, 502, 503, 504, 520] as const;
const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

const zeroFaults = (): FaultConfig => ({
  connectionReset: 0,
  slowResponse: 0,
  rateLimited: 0,
  rateLimitedRetryAfter: 0,
  requestLimitExceeded403: 0,
  serverError: 0,
  acceptedButSlow: 0,
  callbackDropped: 0,
  callbackDelayed: 0,
  callbackDuplicated: 0,
  callbackConflicting: 0,
});

function normaliseFaults(faults: Partial<FaultConfig> | undefined): FaultConfig {
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

interface UploadPayload {
  segmentName: string;
  fileUrl: string;
  callbackUrl: string;
  attributeName: string;
}

function parsePayload(body: Buffer): UploadPayload | undefined {
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

type Download = { ok: true; text: string; bytes: number } | { ok: false; tooLarge: boolean; error: string };

export async function startFpsSimulator(options: FpsSimulatorOptions): Promise<FpsSimulator> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const rateLimit = options.rateLimitPerSecond ?? 100;
  const latencyMs = options.latencyMs ?? 20;
  const callbackDelayMs = options.callbackDelayMs ?? 50;
  const slowResponseMs = options.slowResponseMs ?? 5000;
  const callbackDelayedMs = options.callbackDelayedMs ?? 2000;
  const outboundTimeoutMs = options.outboundTimeoutMs ?? 10_000;
  const fileSizeCheck = options.fileSizeCheck ?? 'async';
  const downloadDelayMs = options.downloadDelayMs ?? 0;
  const seed = options.seed ?? 1;
  const tokens = new Map(options.accounts.map((a) => [a.partnerName, a.token]));
  const attributeTypes = new Map(
    Object.entries(options.attributeTypes ?? {}).map(([k, v]) => [k.trim().toLowerCase(), v]),
  );

  let faults = normaliseFaults(options.faults);
  // Separate streams so the callback faults an upload gets do not shift the request faults.
  let requestRandom = mulberry32(seed);
  let callbackRandom = mulberry32(seed ^ 0x9e3779b9);

  const requests: RequestLog[] = [];
  const callbacks: CallbackLog[] = [];
  const faultCounts: Record<string, number> = {};
  let script = options.script;
  const segmentsByPartner = new Map<string, Set<string>>();
  const acceptedOrder: string[] = [];
  const windows = new Map<string, number[]>();

  let stopping = false;
  const pending = new Set<Promise<void>>();
  let idleWaiters: (() => void)[] = [];
  const sleepers = new Set<() => void>();

  /** Resolves true after ms, or false at once if the simulator stops first. */
  const sleep = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (stopping) return resolve(false);
      const cancel = () => {
        clearTimeout(timer);
        sleepers.delete(cancel);
        resolve(false);
      };
      const timer = setTimeout(() => {
        sleepers.delete(cancel);
        resolve(!stopping);
      }, ms);
      sleepers.add(cancel);
    });

  const track = (work: () => Promise<void>): void => {
    const p = work()
      .catch(() => {})
      .finally(() => {
        pending.delete(p);
        if (pending.size === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    pending.add(p);
  };

  const countFault = (name: string) => {
    faultCounts[name] = (faultCounts[name] ?? 0) + 1;
  };

  const safeFetch = (url: string, init: RequestInit = {}): Promise<Response> => {
    if (!options.allowNonLoopbackUrls && !isLoopbackUrl(url)) {
      return Promise.reject(new Error(`refusing non-loopback URL ${url}`));
    }
    return fetch(url, { ...init, signal: AbortSignal.timeout(outboundTimeoutMs) });
  };

  const download = async (url: string): Promise<Download> => {
    let res: Response;
    try {
      res = await safeFetch(url);
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
      return {
        ok: false,
        tooLarge: true,
        error: `file is ${declared} bytes, over ${maxFileBytes}`,
      };
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
    return { ok: true, text: Buffer.concat(chunks).toString('utf8'), bytes: size };
  };

  const timedDownload = async (log: RequestLog, url: string): Promise<Download> => {
    const started = performance.now();
    const file = await download(url);
    if (file.ok) log.download = { ms: performance.now() - started, bytes: file.bytes };
    return file;
  };

  const postCallback = async (url: string, body: CallbackBody, kind: CallbackLog['kind']) => {
    const entry: CallbackLog = { time: Date.now(), url, body, status: null, kind };
    callbacks.push(entry);
    try {
      const res = await safeFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      entry.status = res.status;
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      entry.error = (err as Error).message;
    }
  };

  /**
   * Insider documents neither what happens to an unreadable or oversized file after a 200 nor
   * whether it calls back; we record the error and call back with all counts 0, which is the
   * answer a pipeline has to cope with anyway.
   */
  const processUpload = async (
    log: RequestLog,
    payload: UploadPayload,
    preloaded: Download | undefined,
  ) => {
    if (!preloaded && downloadDelayMs > 0 && !(await sleep(downloadDelayMs))) return;
    const file = preloaded ?? (await timedDownload(log, payload.fileUrl));
    let counts: ValueCounts = { valid: 0, invalid: 0, total: 0 };
    if (file.ok) {
      const type =
        attributeTypes.get(payload.attributeName.trim().toLowerCase()) ??
        inferAttributeType(payload.attributeName);
      try {
        counts = countValues(file.text, type);
        log.counts = counts;
      } catch (err) {
        log.processingError = `unparseable CSV: ${(err as Error).message}`;
      }
    } else {
      log.processingError = file.error;
    }
    if (log.callbackFaults.includes('callbackDropped')) return;
    const delayed = log.callbackFaults.includes('callbackDelayed');
    if (!(await sleep(callbackDelayMs + (delayed ? callbackDelayedMs : 0)))) return;
    const body: CallbackBody = {
      segment_name: payload.segmentName,
      valid_values_count: counts.valid,
      invalid_values_count: counts.invalid,
      total_entered_values: counts.total,
    };
    await postCallback(payload.callbackUrl, body, 'original');
    if (log.callbackFaults.includes('callbackDuplicated')) {
      await postCallback(payload.callbackUrl, { ...body }, 'duplicate');
    }
    if (log.callbackFaults.includes('callbackConflicting')) {
      await postCallback(
        payload.callbackUrl,
        {
          ...body,
          valid_values_count: body.valid_values_count + 1,
          total_entered_values: body.total_entered_values + 1,
        },
        'conflicting',
      );
    }
  };

  const drawUploadFault = (): UploadFault | undefined => {
    // Always draw for every fault so a request consumes the same randomness whatever happens.
    const draws = UPLOAD_FAULTS.map((name) => ({ name, hit: requestRandom() < faults[name] }));
    return draws.find((d) => d.hit)?.name;
  };

  const drawCallbackFaults = (): CallbackFault[] => {
    const hits = CALLBACK_FAULTS.filter((name) => callbackRandom() < faults[name]);
    return hits.includes('callbackDropped') ? ['callbackDropped'] : hits;
  };

  const allowedByRateLimit = (token: string): boolean => {
    const now = Date.now();
    const recent = (windows.get(token) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= rateLimit) {
      windows.set(token, recent);
      return false;
    }
    recent.push(now);
    windows.set(token, recent);
    return true;
  };

  const send = (
    res: ServerResponse,
    log: RequestLog | undefined,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    if (log) {
      log.status = status;
      log.response = body;
    }
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const readBody = (req: IncomingMessage): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REQUEST_BODY_BYTES) {
          resolve(undefined);
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const handleUpload = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const partnerHeader = req.headers['x-partner-name'];
    const partner = Array.isArray(partnerHeader) ? partnerHeader[0] : partnerHeader;
    const tokenHeader = req.headers['x-request-token'];
    const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
    const payload = body ? parsePayload(body) : undefined;
    const log: RequestLog = {
      time: Date.now(),
      partner,
      segmentName: payload?.segmentName,
      attributeName: payload?.attributeName,
      fileUrl: payload?.fileUrl,
      callbackUrl: payload?.callbackUrl,
      status: null,
      callbackFaults: [],
      accepted: false,
    };
    requests.push(log);

    const answer = async (status: number, json: unknown, headers?: Record<string, string>) => {
      if (await sleep(latencyMs)) send(res, log, status, json, headers);
    };

    if (!partner) return answer(400, { statusMessage: 'partner name is missing' });
    if (partner !== partner.toLowerCase()) {
      return answer(400, { statusMessage: 'partner name should be lowercase' });
    }
    const expected = tokens.get(partner);
    if (expected === undefined || token !== expected) {
      return answer(401, { statusMessage: 'Unauthorized' });
    }
    if (!allowedByRateLimit(expected)) {
      const headers: Record<string, string> = options.retryAfterOnRateLimit
        ? { 'retry-after': '1' }
        : {};
      return answer(429, { statusMessage: 'Too Many Requests' }, headers);
    }

    const fault = drawUploadFault();
    if (fault && fault !== 'acceptedButSlow') {
      log.fault = fault;
      countFault(fault);
    }
    switch (fault) {
      case 'connectionReset':
        req.socket.destroy();
        return;
      case 'slowResponse':
        // Nothing is recorded: by the time this answer leaves, the client has given up.
        if (await sleep(slowResponseMs)) send(res, log, 504, { statusMessage: 'Gateway Timeout' });
        return;
      case 'rateLimited':
        return answer(429, { statusMessage: 'Too Many Requests' });
      case 'rateLimitedRetryAfter':
        return answer(429, { statusMessage: 'Too Many Requests' }, { 'retry-after': '1' });
      case 'requestLimitExceeded403':
        return answer(403, { statusMessage: 'Request Limit Exceeded' });
      case 'serverError': {
        const index = Math.floor(requestRandom() * SERVER_ERROR_STATUSES.length);
        return answer(SERVER_ERROR_STATUSES[index] ?? 500, {
          statusMessage: 'Internal Server Error',
        });
      }
      default:
        break;
    }

    const scripted = script?.({ segmentName: payload?.segmentName, attributeName: payload?.attributeName });
    if (scripted) return answer(scripted.status, scripted.body);

    // The real API's answer to an over-long segment name is undocumented; we treat it as an
    // invalid payload because the limit is stated next to the payload's fields.
    if (!payload || payload.segmentName.length > SEGMENT_NAME_MAX_LENGTH) {
      return answer(405, { error: 'Invalid Payload.' });
    }
    if (!payload.fileUrl.includes('.csv')) {
      return answer(400, {
        statusMessage: 'the file URL is invalid. The URL should include .csv extension',
      });
    }
    let segments = segmentsByPartner.get(partner);
    if (!segments) {
      segments = new Set();
      segmentsByPartner.set(partner, segments);
    }
    if (segments.has(payload.segmentName)) {
      return answer(400, { statusMessage: 'segment name already in use' });
    }
    // Reserve before any await so two concurrent uploads of one name cannot both be accepted.
    segments.add(payload.segmentName);

    let preloaded: Download | undefined;
    if (fileSizeCheck === 'sync') {
      preloaded = await timedDownload(log, payload.fileUrl);
      // A file that cannot be read at all is still accepted and fails later, like async mode.
      if (!preloaded.ok && preloaded.tooLarge) {
        segments.delete(payload.segmentName);
        return answer(400, { statusMessage: 'file size is more than the limit' });
      }
    }

    log.accepted = true;
    acceptedOrder.push(payload.segmentName);
    log.callbackFaults = drawCallbackFaults();
    for (const f of log.callbackFaults) countFault(f);
    const startProcessing = () => track(() => processUpload(log, payload, preloaded));

    if (fault === 'acceptedButSlow') {
      log.fault = fault;
      countFault(fault);
      // The work goes ahead while the answer is held back: the client sees a timeout for an
      // upload that Insider did accept, and its callback may well arrive first.
      startProcessing();
      if (await sleep(slowResponseMs)) send(res, log, 200, { statusMessage: 'OK' });
      return;
    }
    if (!(await sleep(latencyMs))) return;
    // Registered before the answer leaves so idle() called on receipt already waits for it.
    startProcessing();
    send(res, log, 200, { statusMessage: 'OK' });
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== UPLOAD_PATH) {
      send(res, undefined, 404, { statusMessage: 'Not Found' });
      return;
    }
    if (req.method !== 'POST') {
      send(res, undefined, 405, { statusMessage: 'Method Not Allowed' }, { allow: 'POST' });
      return;
    }
    handleUpload(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed)
        send(res, undefined, 500, { statusMessage: 'Internal Server Error' });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${UPLOAD_PATH}`,
    requests,
    callbacks,
    faultCounts,
    acceptedSegments: () => [...acceptedOrder],
    idle: () =>
      pending.size === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve)),
    setFaults(next) {
      faults = normaliseFaults(next);
    },
    setScript(next) {
      script = next;
    },
    reset() {
      requests.length = 0;
      callbacks.length = 0;
      for (const key of Object.keys(faultCounts)) delete faultCounts[key];
      segmentsByPartner.clear();
      acceptedOrder.length = 0;
      windows.clear();
      requestRandom = mulberry32(seed);
      callbackRandom = mulberry32(seed ^ 0x9e3779b9);
    },
    async stop() {
      stopping = true;
      for (const cancel of [...sleepers]) cancel();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await closed;
    },
  };
}
