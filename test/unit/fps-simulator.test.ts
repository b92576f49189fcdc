// Tests the local FPS simulator: Insider's documented answers, CSV counting and every fault kind.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackUrl } from '../../local/fps-processing.js';
import { type FpsSimulator, type FpsSimulatorOptions, startFpsSimulator } from '../../local/fps-simulator.js';
import { countValues, inferAttributeType, isValidValue } from '../../local/fps-values.js';
import type { CallbackBody } from '../../local/fps-wire.js';
import { mulberry32 } from '../../local/prng.js';

const PARTNER = 'mybrand';
const TOKEN = 'tok-123';

const FILES: Record<string, string | Buffer> = {
  '/files/emails.csv': 'a@example.com\nnot-an-email\n\n b@example.org \n"c@x.io",extra\n',
  '/files/phones.csv': '+905551234567\n05551234567\n+1 555 123\n+447911123456\n',
  '/files/ages.csv': '42\nforty\n3.5\n-1\n0x10\n',
  '/files/ids.csv': 'id1\nid2\n\nid3\n',
  '/files/big.csv': 'x\n'.repeat(600),
  '/files/export.csv.gz': gzipSync('a@example.com\n'),
  '/files/header.csv': 'email\na@example.com\n\r\n',
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

let fileBase: string;
let callbackBase: string;
const fileServer = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const body = FILES[path];
  if (body === undefined) {
    res.writeHead(404).end('missing');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/csv' }).end(body);
});
const received: { path: string; body: CallbackBody; at: number }[] = [];
const callbackServer = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({
      path: req.url ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as CallbackBody,
      at: Date.now(),
    });
    res.writeHead(200).end();
  });
});

beforeAll(async () => {
  fileBase = await listen(fileServer);
  callbackBase = await listen(callbackServer);
});
afterAll(async () => {
  await close(fileServer);
  await close(callbackServer);
});

const sims: FpsSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  received.length = 0;
});

async function sim(options: Partial<FpsSimulatorOptions> = {}): Promise<FpsSimulator> {
  const s = await startFpsSimulator({
    accounts: [
      { partnerName: PARTNER, token: TOKEN },
      { partnerName: 'other', token: 'tok-other' },
    ],
    latencyMs: 1,
    callbackDelayMs: 5,
    ...options,
  });
  sims.push(s);
  return s;
}

interface UploadInit {
  partner?: string | null;
  token?: string | null;
  body?: unknown;
  timeoutMs?: number;
}

let counter = 0;
function payload(file = '/files/ids.csv', overrides: Record<string, unknown> = {}) {
  counter++;
  return {
    segmentName: `segment ${counter}`,
    fileUrl: `${fileBase}${file}?X-Amz-Signature=abc`,
    callbackUrl: `${callbackBase}/callbacks/${counter}/t0k`,
    attributeName: 'store_id',
    ...overrides,
  };
}

async function upload(s: FpsSimulator, init: UploadInit = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const partner = init.partner === undefined ? PARTNER : init.partner;
  const token = init.token === undefined ? TOKEN : init.token;
  if (partner !== null) headers['x-partner-name'] = partner;
  if (token !== null) headers['x-request-token'] = token;
  const body = init.body === undefined ? payload() : init.body;
  const res = await fetch(s.url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as unknown };
}

describe('pure helpers', () => {
  it('infers attribute types from names', () => {
    expect(inferAttributeType('em')).toBe('email');
    expect(inferAttributeType('Email Address')).toBe('email');
    expect(inferAttributeType('phone_number')).toBe('phone');
    expect(inferAttributeType('GSM')).toBe('phone');
    expect(inferAttributeType('age')).toBe('number');
    expect(inferAttributeType('orderCount')).toBe('number');
    expect(inferAttributeType('loyalty score')).toBe('number');
    expect(inferAttributeType('Store ID')).toBe('identifier');
    expect(inferAttributeType('uuid')).toBe('identifier');
    // Whole-word matching keeps these identifiers despite containing "count"/"age".
    expect(inferAttributeType('account_id')).toBe('identifier');
    expect(inferAttributeType('page_url')).toBe('identifier');
    expect(inferAttributeType('emma')).toBe('identifier');
  });

  it('validates values by type', () => {
    expect(isValidValue('a@b.co', 'email')).toBe(true);
    expect(isValidValue('a@b', 'email')).toBe(false);
    expect(isValidValue('+905551234567', 'phone')).toBe(true);
    expect(isValidValue('905551234567', 'phone')).toBe(false);
    expect(isValidValue('+0123456789', 'phone')).toBe(false);
    expect(isValidValue('1e3', 'number')).toBe(true);
    expect(isValidValue('Infinity', 'number')).toBe(false);
    expect(isValidValue('0x10', 'number')).toBe(false);
    expect(isValidValue('anything', 'identifier')).toBe(true);
    expect(isValidValue('', 'identifier')).toBe(false);
    expect(isValidValue('free text', 'text')).toBe(true);
  });

  it('counts first-column values of non-blank rows, with no header row', () => {
    expect(countValues('a@b.co\nbad\n\n  \n"c@d.io",x\n', 'email')).toEqual({
      valid: 2,
      invalid: 1,
      total: 3,
    });
    expect(countValues('\uFEFF1\r\n2\r\nthree\r\n', 'number')).toEqual({
      valid: 2,
      invalid: 1,
      total: 3,
    });
    expect(countValues(',orphan\n', 'identifier')).toEqual({ valid: 0, invalid: 1, total: 1 });
    expect(countValues('', 'identifier')).toEqual({ valid: 0, invalid: 0, total: 0 });
    expect(() => countValues('"unterminated\n', 'identifier')).toThrow();
  });

  it('mulberry32 is deterministic per seed and within [0,1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const sa = Array.from({ length: 5 }, a);
    expect(sa).toEqual(Array.from({ length: 5 }, b));
    expect(sa).not.toEqual(Array.from({ length: 5 }, c));
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('recognises loopback URLs only', () => {
    expect(isLoopbackUrl('http://127.0.0.1:9/x.csv')).toBe(true);
    expect(isLoopbackUrl('http://localhost/x')).toBe(true);
    expect(isLoopbackUrl('https://s3.amazonaws.com/x.csv')).toBe(false);
    expect(isLoopbackUrl('not a url')).toBe(false);
  });
});

describe('happy path', () => {
  it.each([
    ['email', '/files/emails.csv', { valid: 3, invalid: 1, total: 4 }],
    ['phone_number', '/files/phones.csv', { valid: 2, invalid: 2, total: 4 }],
    ['age', '/files/ages.csv', { valid: 3, invalid: 2, total: 5 }],
    ['Store ID', '/files/ids.csv', { valid: 3, invalid: 0, total: 3 }],
  ])('%s: 200 OK, then a callback with the counts', async (attributeName, file, counts) => {
    const s = await sim();
    const body = payload(file, { attributeName });
    const res = await upload(s, { body });
    expect(res).toMatchObject({ status: 200, json: { statusMessage: 'OK' } });
    await s.idle();
    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe(new URL(body.callbackUrl).pathname);
    expect(received[0]?.body).toEqual({
      segment_name: body.segmentName,
      valid_values_count: counts.valid,
      invalid_values_count: counts.invalid,
      total_entered_values: counts.total,
    });
    expect(s.acceptedSegments()).toEqual([body.segmentName]);
    expect(s.requests[0]).toMatchObject({ status: 200, accepted: true, partner: PARTNER, counts });
    expect(s.callbacks).toHaveLength(1);
    expect(s.callbacks[0]).toMatchObject({ status: 200, kind: 'original' });
  });

  it('uses attributeTypes overrides before inference', async () => {
    const s = await sim({ attributeTypes: { 'Store ID': 'number' } });
    await upload(s, { body: payload('/files/ids.csv', { attributeName: 'store id' }) });
    await s.idle();
    expect(received[0]?.body).toMatchObject({ valid_values_count: 0, invalid_values_count: 3 });
  });

  it('idle() resolves at once when nothing is pending', async () => {
    const s = await sim();
    await expect(s.idle()).resolves.toBeUndefined();
  });
});

describe('routing and headers', () => {
  it('404 for other paths, 405 for other methods', async () => {
    const s = await sim();
    const other = await fetch(s.url.replace('/upload', '/nope'), { method: 'POST' });
    expect(other.status).toBe(404);
    const get = await fetch(s.url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(s.requests).toHaveLength(0);
  });

  it.each([
    [{ partner: null }, 400, { statusMessage: 'partner name is missing' }],
    [{ partner: '' }, 400, { statusMessage: 'partner name is missing' }],
    [{ partner: 'MyBrand' }, 400, { statusMessage: 'partner name should be lowercase' }],
    [{ partner: 'stranger' }, 401, { statusMessage: 'Unauthorized' }],
    [{ token: 'wrong' }, 401, { statusMessage: 'Unauthorized' }],
    [{ token: null }, 401, { statusMessage: 'Unauthorized' }],
    [{ partner: 'other' }, 401, { statusMessage: 'Unauthorized' }],
  ] as const)('%o → %i', async (init, status, json) => {
    const s = await sim();
    const res = await upload(s, init);
    expect(res.status).toBe(status);
    expect(res.json).toEqual(json);
    expect(s.requests[0]).toMatchObject({ status, accepted: false });
    expect(s.acceptedSegments()).toEqual([]);
  });
});

describe('payload checks', () => {
  const invalid = { error: 'Invalid Payload.' };
  it.each([
    ['not JSON', '{oops'],
    ['a JSON array', '[]'],
    [
      'missing callbackUrl',
      (() => {
        const { callbackUrl: _, ...rest } = payload();
        return rest;
      })(),
    ],
    ['empty attributeName', payload(undefined, { attributeName: '' })],
    ['numeric segmentName', payload(undefined, { segmentName: 7 })],
    ['a 41-character segmentName', payload(undefined, { segmentName: 'x'.repeat(41) })],
  ])('%s → 405 Invalid Payload', async (_label, body) => {
    const s = await sim();
    const res = await upload(s, { body });
    expect(res).toMatchObject({ status: 405, json: invalid });
    expect(s.acceptedSegments()).toEqual([]);
  });

  it('accepts a 40-character segmentName', async () => {
    const s = await sim();
    const res = await upload(s, { body: payload(undefined, { segmentName: 'y'.repeat(40) }) });
    expect(res.status).toBe(200);
  });

  it('requires ".csv" (case-sensitive) somewhere in fileUrl', async () => {
    const s = await sim();
    const message = 'the file URL is invalid. The URL should include .csv extension';
    const upper = await upload(s, { body: payload(undefined, { fileUrl: `${fileBase}/f.CSV` }) });
    expect(upper).toMatchObject({ status: 400, json: { statusMessage: message } });
    const none = await upload(s, { body: payload(undefined, { fileUrl: `${fileBase}/f.txt` }) });
    expect(none.status).toBe(400);
    const ok = await upload(s, { body: payload('/files/ids.csv') });
    expect(ok.status).toBe(200);
  });

  it('rejects a segment name already accepted for the same partner only', async () => {
    const s = await sim();
    const body = payload();
    expect((await upload(s, { body })).status).toBe(200);
    const again = await upload(s, { body });
    expect(again).toMatchObject({
      status: 400,
      json: { statusMessage: 'segment name already in use' },
    });
    const otherPartner = await upload(s, { partner: 'other', token: 'tok-other', body });
    expect(otherPartner.status).toBe(200);
    await s.idle();
    expect(s.acceptedSegments()).toEqual([body.segmentName, body.segmentName]);
  });

  it('accepts only one of two concurrent uploads with the same name', async () => {
    const s = await sim();
    const body = payload();
    const results = await Promise.all([upload(s, { body }), upload(s, { body })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });
});

describe('file download and size', () => {
  it('async: an unreadable file is accepted, then called back with zeros', async () => {
    const s = await sim();
    const body = payload('/files/missing.csv');
    expect((await upload(s, { body })).status).toBe(200);
    await s.idle();
    expect(received[0]?.body).toEqual({
      segment_name: body.segmentName,
      valid_values_count: 0,
      invalid_values_count: 0,
      total_entered_values: 0,
    });
    expect(s.requests[0]?.processingError).toMatch(/HTTP 404/);
  });

  it('async: an oversized file is accepted, then called back with zeros', async () => {
    const s = await sim({ maxFileBytes: 1000 });
    expect((await upload(s, { body: payload('/files/big.csv') })).status).toBe(200);
    await s.idle();
    expect(received[0]?.body.total_entered_values).toBe(0);
    expect(s.requests[0]?.processingError).toMatch(/over 1000/);
  });

  it('sync: an oversized file gets 400 and does not reserve the name', async () => {
    const s = await sim({ maxFileBytes: 1000, fileSizeCheck: 'sync' });
    const body = payload('/files/big.csv');
    const res = await upload(s, { body });
    expect(res).toMatchObject({
      status: 400,
      json: { statusMessage: 'file size is more than the limit' },
    });
    expect(s.acceptedSegments()).toEqual([]);
    const small = await upload(s, { body: { ...body, fileUrl: `${fileBase}/files/ids.csv` } });
    expect(small.status).toBe(200);
    await s.idle();
    expect(received[0]?.body.valid_values_count).toBe(3);
  });

  it('refuses to fetch non-loopback URLs', async () => {
    const s = await sim();
    const body = payload(undefined, { fileUrl: 'https://example.invalid/a.csv' });
    expect((await upload(s, { body })).status).toBe(200);
    await s.idle();
    expect(s.requests[0]?.processingError).toMatch(/non-loopback/);
    expect(received[0]?.body.total_entered_values).toBe(0);
  });
});

describe('rate limit', () => {
  it('answers 429 once a token exceeds its per-second limit', async () => {
    const s = await sim({ rateLimitPerSecond: 10 });
    const results = await Promise.all(Array.from({ length: 15 }, () => upload(s)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 200)).toHaveLength(10);
    expect(statuses.filter((x) => x === 429)).toHaveLength(5);
    const limited = results.find((r) => r.status === 429);
    expect(limited?.json).toEqual({ statusMessage: 'Too Many Requests' });
    expect(limited?.headers.get('retry-after')).toBeNull();
    // Another token has its own budget.
    expect((await upload(s, { partner: 'other', token: 'tok-other' })).status).toBe(200);
    await s.idle();
  });

  it('adds Retry-After: 1 when configured, and recovers after a second', async () => {
    const s = await sim({ rateLimitPerSecond: 1, retryAfterOnRateLimit: true });
    expect((await upload(s)).status).toBe(200);
    const limited = await upload(s);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    await new Promise((r) => setTimeout(r, 1050));
    expect((await upload(s)).status).toBe(200);
    await s.idle();
  });
});

describe('upload faults at probability 1', () => {
  it('rateLimited: 429 without Retry-After', async () => {
    const s = await sim({ faults: { rateLimited: 1 } });
    const res = await upload(s);
    expect(res).toMatchObject({ status: 429, json: { statusMessage: 'Too Many Requests' } });
    expect(res.headers.get('retry-after')).toBeNull();
    expect(s.faultCounts).toEqual({ rateLimited: 1 });
    expect(s.requests[0]).toMatchObject({ fault: 'rateLimited', accepted: false });
  });

  it('rateLimitedRetryAfter: 429 with Retry-After: 1', async () => {
    const s = await sim({ faults: { rateLimitedRetryAfter: 1 } });
    const res = await upload(s);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('requestLimitExceeded403: 403 Request Limit Exceeded', async () => {
    const s = await sim({ faults: { requestLimitExceeded403: 1 } });
    const res = await upload(s);
    expect(res).toMatchObject({ status: 403, json: { statusMessage: 'Request Limit Exceeded' } });
  });

  it('serverError: one of 500/502/503/504/520, nothing accepted', async () => {
    const s = await sim({ faults: { serverError: 1 } });
    const results = await Promise.all(Array.from({ length: 20 }, () => upload(s)));
    for (const r of results) {
      expect([500, 502, 503, 504, 520]).toContain(r.status);
      expect(r.json).toEqual({ statusMessage: 'Internal Server Error' });
    }
    expect(new Set(results.map((r) => r.status)).size).toBeGreaterThan(1);
    expect(s.acceptedSegments()).toEqual([]);
    expect(s.faultCounts.serverError).toBe(20);
  });

  it('connectionReset: the socket is destroyed without an answer', async () => {
    const s = await sim({ faults: { connectionReset: 1 } });
    await expect(upload(s)).rejects.toThrow();
    expect(s.requests[0]).toMatchObject({ status: null, fault: 'connectionReset' });
    expect(s.acceptedSegments()).toEqual([]);
  });

  it('slowResponse: client times out and nothing was accepted', async () => {
    const s = await sim({ faults: { slowResponse: 1 }, slowResponseMs: 300 });
    const body = payload();
    await expect(upload(s, { body, timeoutMs: 100 })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(s.acceptedSegments()).toEqual([]);
    expect(s.requests[0]?.status).toBe(504);
    s.setFaults({});
    expect((await upload(s, { body })).status).toBe(200);
    await s.idle();
  });

  it('acceptedButSlow: client times out, yet the upload was accepted and called back', async () => {
    const s = await sim({ faults: { acceptedButSlow: 1 }, slowResponseMs: 400 });
    const body = payload();
    await expect(upload(s, { body, timeoutMs: 100 })).rejects.toThrow();
    expect(s.acceptedSegments()).toEqual([body.segmentName]);
    await s.idle();
    expect(received[0]?.body.segment_name).toBe(body.segmentName);
    s.setFaults({});
    // A retry of the "failed" call now collides with the segment Insider did create.
    const retry = await upload(s, { body });
    expect(retry).toMatchObject({
      status: 400,
      json: { statusMessage: 'segment name already in use' },
    });
    expect(s.faultCounts).toEqual({ acceptedButSlow: 1 });
  });

  it('draws no fault for requests that fail header auth', async () => {
    const s = await sim({ faults: { serverError: 1, connectionReset: 1 } });
    expect((await upload(s, { token: 'wrong' })).status).toBe(401);
    expect((await upload(s, { partner: null })).status).toBe(400);
    expect(s.faultCounts).toEqual({});
  });
});

describe('callback faults at probability 1', () => {
  it('callbackDropped: accepted, never called back', async () => {
    const s = await sim({ faults: { callbackDropped: 1 } });
    expect((await upload(s)).status).toBe(200);
    await s.idle();
    await new Promise((r) => setTimeout(r, 30));
    expect(received).toHaveLength(0);
    expect(s.callbacks).toHaveLength(0);
    expect(s.requests[0]).toMatchObject({ accepted: true, callbackFaults: ['callbackDropped'] });
    expect(s.requests[0]?.counts).toEqual({ valid: 3, invalid: 0, total: 3 });
  });

  it('callbackDelayed: calls back after callbackDelayedMs more', async () => {
    const s = await sim({ faults: { callbackDelayed: 1 }, callbackDelayedMs: 250 });
    const sent = Date.now();
    expect((await upload(s)).status).toBe(200);
    await s.idle();
    expect(received).toHaveLength(1);
    expect((received[0]?.at ?? 0) - sent).toBeGreaterThanOrEqual(250);
  });

  it('callbackDuplicated: the same body twice', async () => {
    const s = await sim({ faults: { callbackDuplicated: 1 } });
    await upload(s);
    await s.idle();
    expect(received).toHaveLength(2);
    expect(received[1]?.body).toEqual(received[0]?.body);
    expect(s.callbacks.map((c) => c.kind)).toEqual(['original', 'duplicate']);
  });

  it('callbackConflicting: a second callback with different counts', async () => {
    const s = await sim({ faults: { callbackConflicting: 1 } });
    await upload(s);
    await s.idle();
    expect(received).toHaveLength(2);
    expect(received[1]?.body.segment_name).toBe(received[0]?.body.segment_name);
    expect(received[1]?.body).not.toEqual(received[0]?.body);
    expect(s.callbacks.map((c) => c.kind)).toEqual(['original', 'conflicting']);
  });

  it('records an undeliverable callback with a null status', async () => {
    const s = await sim();
    // A port that was free a moment ago: nothing listens there now.
    const probe = createServer();
    const dead = await listen(probe);
    await close(probe);
    const body = payload(undefined, { callbackUrl: `${dead}/callbacks/x` });
    expect((await upload(s, { body })).status).toBe(200);
    await s.idle();
    expect(s.callbacks[0]).toMatchObject({ status: null });
    expect(s.callbacks[0]?.error).toBeTruthy();
  });
});

describe('determinism, configuration and lifecycle', () => {
  const faults = { rateLimited: 0.3, serverError: 0.3, callbackDuplicated: 0.5 };
  async function run(seed: number) {
    const s = await sim({ seed, faults });
    const out: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await upload(s);
      const log = s.requests[i];
      out.push(`${res.status}:${log?.fault ?? '-'}:${log?.callbackFaults.join('+')}`);
    }
    await s.idle();
    return out;
  }

  it('the same seed gives the same fault sequence; another seed differs', async () => {
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a.map((x) => x.split(':')[0])).size).toBeGreaterThan(1);
  });

  it('reset() clears state and replays the same sequence', async () => {
    const s = await sim({ seed: 3, faults: { serverError: 0.5 } });
    const first: number[] = [];
    for (let i = 0; i < 8; i++)
      first.push((await upload(s, { body: payload(undefined, { segmentName: `n${i}` }) })).status);
    await s.idle();
    s.reset();
    expect(s.requests).toHaveLength(0);
    expect(s.faultCounts).toEqual({});
    expect(s.acceptedSegments()).toEqual([]);
    const second: number[] = [];
    for (let i = 0; i < 8; i++)
      second.push((await upload(s, { body: payload(undefined, { segmentName: `n${i}` }) })).status);
    expect(second).toEqual(first);
    await s.idle();
  });

  it('setFaults validates probabilities and names', async () => {
    const s = await sim();
    expect(() => s.setFaults({ serverError: 2 })).toThrow(RangeError);
    expect(() => s.setFaults({ bogus: 1 } as never)).toThrow(/unknown fault/);
    await expect(startFpsSimulator({ accounts: [], faults: { rateLimited: -1 } })).rejects.toThrow(
      RangeError,
    );
  });

  it('stop() cancels delayed callbacks and returns promptly', async () => {
    const s = await startFpsSimulator({
      accounts: [{ partnerName: PARTNER, token: TOKEN }],
      latencyMs: 1,
      faults: { callbackDelayed: 1 },
      callbackDelayedMs: 10_000,
    });
    expect((await upload(s)).status).toBe(200);
    const started = Date.now();
    await s.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(received).toHaveLength(0);
    await expect(fetch(s.url, { method: 'POST' })).rejects.toThrow();
  });

  it('stop() does not wait for held-back answers', async () => {
    const s = await startFpsSimulator({
      accounts: [{ partnerName: PARTNER, token: TOKEN }],
      faults: { slowResponse: 1 },
      slowResponseMs: 10_000,
    });
    const pending = upload(s).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await s.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('Insider\'s counting and file checks, through the server', () => {
  it('counts a header row as a value and skips blank lines', async () => {
    const s = await sim();
    expect((await upload(s, { body: payload('/files/header.csv', { attributeName: 'email' }) })).status).toBe(200);
    await s.idle();
    expect(received[0]?.body).toMatchObject({ valid_values_count: 1, invalid_values_count: 1, total_entered_values: 2 });
  });

  it('accepts a gzip download, then records an error and never calls back', async () => {
    const s = await sim();
    expect((await upload(s, { body: payload('/files/export.csv.gz', { attributeName: 'email' }) })).status).toBe(200);
    await s.idle();
    expect(s.requests[0]).toMatchObject({ accepted: true, processingError: 'not text: gzip-compressed data' });
    expect(s.requests[0]?.counts).toBeUndefined();
    expect(s.callbacks).toEqual([]);
    expect(received).toEqual([]);
  });
});

describe('accepted, reply lost', () => {
  const LATE_MS = 1000;
  async function post(s: FpsSimulator, body: unknown) {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-partner-name': PARTNER, 'x-request-token': TOKEN },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  it.each([
    ['acceptedReplyLost502', 502, '502 Bad Gateway'],
    ['acceptedReplyLost504', 504, '504 Gateway Timeout'],
    ['acceptedReplyLostReset', null, undefined],
  ] as const)('%s: the client hears %s, its retry hears "already in use", and the callback comes after the retry', async (fault, status, page) => {
    const s = await sim({ faults: { [fault]: 1 }, replyLostCallbackDelayMs: LATE_MS });
    const body = payload();
    const sent = Date.now();
    if (status === null) {
      await expect(post(s, body)).rejects.toThrow();
    } else {
      const res = await post(s, body);
      expect(res).toMatchObject({ status, type: 'text/html' });
      expect(res.text).toContain(page);
    }
    expect(s.requests[0]).toMatchObject({ accepted: true, fault, status });
    expect(s.acceptedSegments()).toEqual([body.segmentName]);

    // The fault only hits accepted uploads: the retry gets Insider's own answer.
    const retry = await upload(s, { body });
    const retried = Date.now();
    expect(retry).toMatchObject({ status: 400, json: { statusMessage: 'segment name already in use' } });
    expect(s.requests[1]).toMatchObject({ accepted: false, status: 400 });
    expect(s.requests[1]?.fault).toBeUndefined();

    await s.idle();
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toEqual({ segment_name: body.segmentName, valid_values_count: 3, invalid_values_count: 0, total_entered_values: 3 });
    expect(received[0]?.at).toBeGreaterThanOrEqual(retried);
    expect((received[0]?.at ?? 0) - sent).toBeGreaterThanOrEqual(LATE_MS);
    expect(s.faultCounts).toEqual({ [fault]: 1 });
  });

  it('mixes with the other faults by seed, counted and logged', async () => {
    const s = await sim({ seed: 11, faults: { acceptedReplyLost502: 0.5, serverError: 0.3 }, replyLostCallbackDelayMs: 0 });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await post(s, payload())).status);
    await s.idle();
    const lost = s.requests.filter((r) => r.fault === 'acceptedReplyLost502');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((r) => r.accepted && r.status === 502)).toBe(true);
    expect(s.faultCounts.acceptedReplyLost502).toBe(lost.length);
    expect(statuses.filter((x) => x === 200).length).toBe(s.requests.filter((r) => r.accepted && !r.fault).length);
    expect(received).toHaveLength(s.acceptedSegments().length);
  });
});
