// Unit tests of the FPS HTTP adapter against a loopback server: what each failure means for "was the request sent?".
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFetchError, FpsHttpApi } from '../../lambdas/adapters/fps-http-api.js';
import { mayHaveReachedInsider } from '../../lambdas/core/fps-submission.js';
import { fixedToken } from '../../local/fakes.js';
import { closeServer, listenOnLoopback, readCappedBody } from '../../local/http.js';

const request = { segmentName: 'VIP', fileUrl: 'https://x/a.csv', callbackUrl: 'https://cb/x', attributeName: 'em' };
let server: Server;
let base = '';
/** Request bodies the server read in full, by path: proof that the request was sent. */
const received: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    readCappedBody(req, 64 * 1024, () => {
      received.push(req.url ?? '');
      switch (req.url) {
        case '/ok':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"statusMessage":"OK"}');
          return;
        case '/gateway-502':
          res.writeHead(502, { 'content-type': 'text/html' }).end('<html><head><title>502 Bad Gateway</title></head></html>');
          return;
        case '/closed':
          req.socket.destroy();
          return;
        case '/reset':
          req.socket.resetAndDestroy();
          return;
        case '/cut':
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          res.write('{"statusMe');
          setTimeout(() => req.socket.destroy(), 20);
          return;
        case '/hang':
          return;
        case '/auth':
          if (req.headers['x-request-token'] === 'right') res.writeHead(200).end('{"statusMessage":"OK"}');
          else res.writeHead(401).end('{"statusMessage":"Unauthorized"}');
          return;
      }
    });
  });
  base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
});

afterAll(async () => {
  await closeServer(server);
});

const api = (url: string, fetchImpl?: typeof fetch) => new FpsHttpApi({ endpointUrl: url, partnerName: 'p', token: fixedToken('t'), ...(fetchImpl ? { fetch: fetchImpl } : {}) });

async function closedPort(): Promise<number> {
  const probe = createServer();
  const port = await listenOnLoopback(probe);
  await closeServer(probe);
  return port;
}

describe('FpsHttpApi over a real socket', () => {
  it('reads a 2xx answer', async () => {
    expect(await api(`${base}/ok`).upload(request, 2000)).toMatchObject({ kind: 'response', status: 200, message: 'OK' });
  });

  it('keeps a gateway\'s 502 page as a response, which may have reached Insider', async () => {
    const attempt = await api(`${base}/gateway-502`).upload(request, 2000);
    expect(attempt).toMatchObject({ kind: 'response', status: 502, message: expect.stringContaining('502 Bad Gateway') });
    expect(mayHaveReachedInsider(attempt)).toBe(true);
  });

  it.each([
    ['the socket closed after the request was read ("other side closed")', '/closed', /UND_ERR_SOCKET/],
    ['a connection reset after the request was read', '/reset', /ECONNRESET/],
  ])('counts %s as possibly sent', async (_name, path, error) => {
    const attempt = await api(`${base}${path}`).upload(request, 2000);
    expect(attempt).toMatchObject({ kind: 'network', timedOut: false, possiblySent: true, error: expect.stringMatching(error) });
    expect(received).toContain(path);
    expect(mayHaveReachedInsider(attempt)).toBe(true);
  });

  it('counts its own timeout as possibly sent', async () => {
    const attempt = await api(`${base}/hang`).upload(request, 150);
    expect(attempt).toEqual({ kind: 'network', timedOut: true, possiblySent: true, error: 'no answer within 150 ms' });
  });

  it('counts a refused connection as not sent', async () => {
    const attempt = await api(`http://127.0.0.1:${await closedPort()}/fps`).upload(request, 2000);
    expect(attempt).toEqual({ kind: 'network', timedOut: false, possiblySent: false, error: 'ECONNREFUSED' });
    expect(mayHaveReachedInsider(attempt)).toBe(false);
  });

  it('keeps the status of an answer whose body was cut off', async () => {
    const attempt = await api(`${base}/cut`).upload(request, 2000);
    expect(attempt).toMatchObject({ kind: 'response', status: 200, message: expect.stringMatching(/body lost/) });
  });
});

describe('classifyFetchError', () => {
  /** What Node's fetch rejects with: a TypeError whose cause carries the code. */
  const fetchFailed = (cause: object) => Object.assign(new TypeError('fetch failed'), { cause });
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each([
    ['ENOTFOUND', fetchFailed(coded('ENOTFOUND', 'getaddrinfo ENOTFOUND contact.useinsider.com'))],
    ['EAI_AGAIN', fetchFailed(coded('EAI_AGAIN', 'getaddrinfo EAI_AGAIN contact.useinsider.com'))],
    ['UND_ERR_CONNECT_TIMEOUT', fetchFailed(coded('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'))],
    ['ECONNREFUSED on every address', fetchFailed(Object.assign(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]), { code: 'ECONNREFUSED' }))],
  ])('%s: not sent', (_name, error) => {
    expect(classifyFetchError(error, 1000)).toMatchObject({ kind: 'network', timedOut: false, possiblySent: false });
  });

  it.each([
    ['ECONNRESET', fetchFailed(coded('ECONNRESET', 'read ECONNRESET'))],
    ['UND_ERR_SOCKET', fetchFailed(coded('UND_ERR_SOCKET', 'other side closed'))],
    ['UND_ERR_HEADERS_TIMEOUT', fetchFailed(coded('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'))],
    ['a refused and a reset address', fetchFailed(new AggregateError([coded('ECONNREFUSED'), coded('ECONNRESET')]))],
    ['a cause without a code', fetchFailed(new Error('something odd'))],
    ['an error without a cause', new Error('boom')],
  ])('%s: possibly sent', (_name, error) => {
    expect(classifyFetchError(error, 1000)).toMatchObject({ kind: 'network', timedOut: false, possiblySent: true });
  });

  it('names what went wrong in a few words', () => {
    expect(classifyFetchError(fetchFailed(coded('ECONNRESET', 'read ECONNRESET')), 1000).error).toBe('ECONNRESET');
    expect(classifyFetchError(fetchFailed(new Error('something odd')), 1000).error).toBe('something odd');
    expect(classifyFetchError(new DOMException('aborted', 'TimeoutError'), 1000)).toEqual({ kind: 'network', timedOut: true, possiblySent: true, error: 'no answer within 1000 ms' });
  });
});

describe('FpsHttpApi.refreshToken', () => {
  /** A secret behind a cache that only `refresh` reads past, as Powertools' `forceFetch` does. */
  function cachedSecret(initial: string) {
    const source = { secret: initial, cached: undefined as string | undefined, reads: 0 };
    const read = async () => {
      source.reads++;
      source.cached = source.secret;
      return source.cached;
    };
    return { source, token: { get: async () => source.cached ?? read(), refresh: read } };
  }

  it('says the token changed when the secret was fixed after the cached one was sent, and the next request sends the new one', async () => {
    const { source, token } = cachedSecret('wrong');
    const fps = new FpsHttpApi({ endpointUrl: `${base}/auth`, partnerName: 'p', token });
    expect(await fps.upload(request, 2000)).toMatchObject({ status: 401 });
    source.secret = 'right';
    expect(await fps.upload(request, 2000)).toMatchObject({ status: 401 });
    expect(await fps.refreshToken()).toBe(true);
    expect(await fps.upload(request, 2000)).toMatchObject({ status: 200 });
    expect(source.reads).toBe(2);
  });

  it('says it did not change when the secret still holds the token sent', async () => {
    const { source, token } = cachedSecret('wrong');
    const fps = new FpsHttpApi({ endpointUrl: `${base}/auth`, partnerName: 'p', token });
    expect(await fps.upload(request, 2000)).toMatchObject({ status: 401 });
    expect(await fps.refreshToken()).toBe(false);
    expect(source.reads).toBe(2);
  });
});
