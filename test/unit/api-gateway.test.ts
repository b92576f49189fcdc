// Checks the local HTTP API shim with real HTTP requests: the 2.0 event it builds, routing, limits and response mapping.
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalHttpApi, type LocalRoute, startLocalHttpApi } from '../../local/api-gateway.js';
import { LocalFunction } from '../../local/lambda-runtime.js';

/** Records every event and answers with whatever `reply` says. */
function fakeFn(reply: (event: APIGatewayProxyEventV2) => unknown = () => ({ statusCode: 200, body: 'ok' })) {
  const events: APIGatewayProxyEventV2[] = [];
  return {
    events,
    async invoke(event: unknown) {
      events.push(event as APIGatewayProxyEventV2);
      return reply(event as APIGatewayProxyEventV2);
    },
  };
}

const started: LocalHttpApi[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function start(routes: LocalRoute[], extra: Partial<Parameters<typeof startLocalHttpApi>[0]> = {}) {
  const api = await startLocalHttpApi({ routes, ...extra });
  started.push(api);
  return api;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop()));
  for (const c of cleanups.splice(0)) await c();
});

/** node:http, for what fetch cannot send: repeated headers. */
function rawRequest(
  url: string,
  opts: { method: string; headers: Record<string, string | string[]>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('startLocalHttpApi', () => {
  it('listens on 127.0.0.1 and builds a payload 2.0 event', async () => {
    const fn = fakeFn();
    const api = await start([{ method: 'POST', path: '/callbacks/{uploadId}/{token}', fn }]);
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await rawRequest(`${api.url}/callbacks/up%20load-1/tok%2Fen%C3%A9?x=1&x=2&y=%20z`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Dup': ['a', 'b'],
        'User-Agent': 'insider-test/1.0',
        Cookie: 'a=1; b=2',
      },
      body: '{"status":"done"}',
    });
    expect(res).toEqual({ status: 200, body: 'ok' });
    expect(fn.events).toHaveLength(1);
    const e = fn.events[0] as APIGatewayProxyEventV2;
    expect(e.version).toBe('2.0');
    expect(e.routeKey).toBe('POST /callbacks/{uploadId}/{token}');
    expect(e.rawPath).toBe('/callbacks/up%20load-1/tok%2Fen%C3%A9');
    expect(e.rawQueryString).toBe('x=1&x=2&y=%20z');
    expect(e.pathParameters).toEqual({ uploadId: 'up load-1', token: 'tok/ené' });
    expect(e.queryStringParameters).toEqual({ x: '1,2', y: ' z' });
    expect(e.headers['content-type']).toBe('application/json');
    expect(e.headers['x-dup']).toBe('a,b');
    expect(e.headers['user-agent']).toBe('insider-test/1.0');
    expect(e.headers.cookie).toBeUndefined();
    expect(e.cookies).toEqual(['a=1', 'b=2']);
    expect(Object.keys(e.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(e.body).toBe('{"status":"done"}');
    expect(e.isBase64Encoded).toBe(false);
    const port = new URL(api.url).port;
    expect(e.requestContext).toMatchObject({
      accountId: '000000000000',
      apiId: 'local',
      domainName: `127.0.0.1:${port}`,
      http: {
        method: 'POST',
        path: '/callbacks/up%20load-1/tok%2Fen%C3%A9',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'insider-test/1.0',
      },
      routeKey: 'POST /callbacks/{uploadId}/{token}',
      stage: '$default',
    });
    expect(e.requestContext.requestId).toMatch(/.{8,}/);
    expect(e.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(e.requestContext.timeEpoch - Date.now())).toBeLessThan(10_000);
    expect(api.requests).toBe(1);
  });

  it('base64-encodes bodies that are not text, and omits what a GET does not have', async () => {
    const fn = fakeFn();
    const api = await start([
      { method: 'POST', path: '/bin', fn },
      { method: 'GET', path: '/plain', fn },
    ]);
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await fetch(`${api.url}/bin`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    await fetch(`${api.url}/plain`);
    const [bin, get] = fn.events;
    expect(bin?.isBase64Encoded).toBe(true);
    expect(Buffer.from(bin?.body ?? '', 'base64')).toEqual(bytes);
    expect(get?.isBase64Encoded).toBe(false);
    expect(get).not.toHaveProperty('body');
    expect(get).not.toHaveProperty('pathParameters');
    expect(get).not.toHaveProperty('queryStringParameters');
    expect(get?.rawQueryString).toBe('');
  });

  it('answers 404 for unknown paths and for the wrong method, without invoking', async () => {
    const fn = fakeFn();
    const api = await start([{ method: 'POST', path: '/callbacks/{uploadId}/{token}', fn }]);
    for (const [method, p] of [
      ['POST', '/callbacks/only-one'],
      ['POST', '/callbacks/a/b/c'],
      ['POST', '/callbacks/a/'],
      ['POST', '/elsewhere'],
      ['GET', '/callbacks/a/b'],
      ['PUT', '/callbacks/a/b'],
    ] as const) {
      const res = await fetch(`${api.url}${p}`, { method, body: method === 'GET' ? undefined : '{}' });
      expect(res.status, `${method} ${p}`).toBe(404);
      expect(await res.json()).toEqual({ message: 'Not Found' });
    }
    expect(fn.events).toHaveLength(0);
    expect(api.requests).toBe(6);
  });

  it('prefers literal segments over parameters, and supports greedy and ANY routes', async () => {
    const param = fakeFn(() => 'param');
    const literal = fakeFn(() => 'literal');
    const greedy = fakeFn(() => 'greedy');
    const api = await start([
      { method: 'ANY', path: '/{proxy+}', fn: greedy },
      { method: 'GET', path: '/items/{id}', fn: param },
      { method: 'GET', path: '/items/special', fn: literal },
    ]);
    expect(await (await fetch(`${api.url}/items/special`)).text()).toBe('literal');
    expect(await (await fetch(`${api.url}/items/42`)).text()).toBe('param');
    expect(await (await fetch(`${api.url}/a/b%20c/d`, { method: 'DELETE' })).text()).toBe('greedy');
    expect(greedy.events[0]?.pathParameters).toEqual({ proxy: 'a/b c/d' });
    expect(greedy.events[0]?.routeKey).toBe('ANY /{proxy+}');
  });

  it('answers 413 past maxBodyBytes and accepts exactly the limit', async () => {
    const fn = fakeFn();
    const api = await start([{ method: 'POST', path: '/up', fn }], { maxBodyBytes: 1024 });
    const atLimit = await fetch(`${api.url}/up`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(atLimit.status).toBe(200);
    const over = await fetch(`${api.url}/up`, { method: 'POST', body: 'x'.repeat(1025) });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(fn.events).toHaveLength(1);
  });

  it('defaults to API Gateway 10 MiB limit', async () => {
    const fn = fakeFn();
    const api = await start([{ method: 'POST', path: '/up', fn }]);
    const over = await fetch(`${api.url}/up`, { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024 + 1) });
    expect(over.status).toBe(413);
    expect(fn.events).toHaveLength(0);
  });

  it('maps function errors to 500 and integration timeouts to 503', async () => {
    const errors: unknown[] = [];
    const failing = fakeFn(() => {
      throw new Error('boom');
    });
    const slow = { invoke: () => new Promise((r) => setTimeout(() => r('late'), 1_000)) };
    const api = await start(
      [
        { method: 'POST', path: '/fail', fn: failing },
        { method: 'POST', path: '/slow', fn: slow },
      ],
      { integrationTimeoutMs: 100, onError: (err) => errors.push(err) },
    );
    const fail = await fetch(`${api.url}/fail`, { method: 'POST' });
    expect(fail.status).toBe(500);
    expect(await fail.json()).toEqual({ message: 'Internal Server Error' });
    const timedOut = await fetch(`${api.url}/slow`, { method: 'POST' });
    expect(timedOut.status).toBe(503);
    expect(await timedOut.json()).toEqual({ message: 'Service Unavailable' });
    expect((errors[0] as Error).message).toBe('boom');
    expect(errors).toHaveLength(2);
  });

  it('maps results as HTTP API v2 does', async () => {
    const replies: unknown[] = [
      { statusCode: 202, headers: { 'X-Custom': 'v', 'Content-Type': 'text/plain' }, body: 'accepted', cookies: ['s=1; Path=/', 't=2'] },
      { statusCode: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from([137, 80, 78, 71]).toString('base64'), isBase64Encoded: true },
      { statusCode: 204 },
      { ok: true, n: 1 },
      'plain string',
      null,
      { statusCode: 200, body: { not: 'a string' } },
    ];
    let i = 0;
    const api = await start([{ method: 'GET', path: '/r', fn: fakeFn(() => replies[i++]) }]);
    const get = () => fetch(`${api.url}/r`);

    const structured = await get();
    expect(structured.status).toBe(202);
    expect(structured.headers.get('x-custom')).toBe('v');
    expect(structured.headers.get('content-type')).toBe('text/plain');
    expect(structured.headers.getSetCookie()).toEqual(['s=1; Path=/', 't=2']);
    expect(await structured.text()).toBe('accepted');

    const binary = await get();
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([137, 80, 78, 71]));

    const empty = await get();
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');

    const obj = await get();
    expect(obj.status).toBe(200);
    expect(obj.headers.get('content-type')).toBe('application/json');
    expect(await obj.json()).toEqual({ ok: true, n: 1 });

    const str = await get();
    expect(await str.text()).toBe('plain string');

    const nul = await get();
    expect(await nul.text()).toBe('null');

    const malformed = await get();
    expect(malformed.status).toBe(500);
  });

  it('drives a real LocalFunction end to end', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'api-gw-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(
      path.join(dir, 'index.mjs'),
      `export const handler = async (event) => {
        if (event.pathParameters.token === 'slow') await new Promise((r) => setTimeout(r, 5000));
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params: event.pathParameters, body: JSON.parse(event.body) }) };
      };`,
    );
    const fn = new LocalFunction({ name: 'callback', assetDir: dir, handler: 'index.handler', environment: {}, timeoutSeconds: 1, maxConcurrency: 2 });
    cleanups.push(() => fn.close());
    const api = await start([{ method: 'POST', path: '/callbacks/{uploadId}/{token}', fn }]);

    const ok = await fetch(`${api.url}/callbacks/u-1/t-1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"count":3}' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ params: { uploadId: 'u-1', token: 't-1' }, body: { count: 3 } });

    // A Lambda timeout is a function error: 500, not the API's 503.
    const slow = await fetch(`${api.url}/callbacks/u-2/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(slow.status).toBe(500);
    expect(fn.stats.timeouts).toBe(1);
  });

  it('stops listening on stop()', async () => {
    const api = await startLocalHttpApi({ routes: [] });
    const res = await fetch(`${api.url}/x`);
    expect(res.status).toBe(404);
    await api.stop();
    await expect(fetch(`${api.url}/x`)).rejects.toThrow();
  });
});
