// A local stand-in for an API Gateway HTTP API: turns HTTP requests into payload-format-2.0 events and maps the function's answer back.
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { closeServer, listenOnLoopback } from './http.js';
import { LOCAL_ACCOUNT } from './local-account.js';

/** API Gateway's payload limit. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** HTTP API gives up on an integration after 30 s (its maximum) and answers 503. */
export const DEFAULT_INTEGRATION_TIMEOUT_MS = 30_000;

export interface LocalRoute {
  /** An HTTP method, or 'ANY'. */
  method: string;
  /** e.g. '/callbacks/{uploadId}/{token}'; '{name+}' as the last segment matches the rest of the path. */
  path: string;
  fn: { invoke(event: unknown): Promise<unknown> };
}

export interface LocalHttpApiOptions {
  routes: LocalRoute[];
  /** Larger bodies get 413, as API Gateway does past 10 MiB. */
  maxBodyBytes?: number;
  integrationTimeoutMs?: number;
  /** Why a request became a 500/503: the client only sees "Internal Server Error", as with the real API. */
  onError?: (err: unknown, routeKey: string) => void;
  /** @default a free port */
  port?: number;
}

export interface LocalHttpApi {
  /** http://127.0.0.1:PORT, without a trailing slash. */
  readonly url: string;
  /** Requests received so far, matched or not. */
  readonly requests: number;
  stop(): Promise<void>;
}

interface CompiledRoute {
  route: LocalRoute;
  routeKey: string;
  method: string;
  segments: { literal?: string; param?: string; greedy?: boolean }[];
  /** HTTP API prefers the most specific route: more literal segments first, greedy paths last. */
  literalCount: number;
  greedy: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

class IntegrationTimeout extends Error {
  constructor() {
    super('Integration timed out');
    this.name = 'IntegrationTimeout';
  }
}

function compile(route: LocalRoute): CompiledRoute {
  const method = route.method.toUpperCase();
  const segments = route.path
    .split('/')
    .slice(1)
    .map((seg, i, all) => {
      const m = /^\{([^{}+]+)(\+)?\}$/.exec(seg);
      if (!m) return { literal: seg };
      if (m[2] && i !== all.length - 1) throw new Error(`Greedy parameter must be last in ${route.path}`);
      return { param: m[1] as string, greedy: Boolean(m[2]) };
    });
  return {
    route,
    routeKey: `${method} ${route.path}`,
    method,
    segments,
    literalCount: segments.filter((s) => s.literal !== undefined).length,
    greedy: segments.some((s) => s.greedy),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Returns the decoded path parameters if `rawPath` fits the route's shape. */
function matchPath(route: CompiledRoute, rawPath: string): Record<string, string> | undefined {
  const parts = rawPath.split('/').slice(1);
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i] as CompiledRoute['segments'][number];
    if (seg.greedy) {
      const rest = parts.slice(i).join('/');
      if (rest === '') return undefined;
      params[seg.param as string] = safeDecode(rest);
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (seg.literal !== undefined) {
      if (safeDecode(part) !== seg.literal) return undefined;
    } else {
      if (part === '') return undefined;
      params[seg.param as string] = safeDecode(part);
    }
  }
  return parts.length === route.segments.length ? params : undefined;
}

/**
 * HTTP API passes these bodies as text; anything else (binary, form posts, no content type at all)
 * arrives base64-encoded with isBase64Encoded: true.
 */
function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript'
  );
}

/** Like API Gateway's: `dd/Mon/yyyy:HH:mm:ss +0000`. */
function requestTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function send(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: string | Buffer) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, message: string, requestId: string) {
  send(res, status, { ...JSON_HEADERS, 'apigw-requestid': requestId }, JSON.stringify({ message }));
}

/** Reads the body, or returns undefined once it passes `limit` (the rest is read and dropped, so the client still gets its 413). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past this, draining costs more than a client that cannot read the 413 is worth.
    if (size > limit + 64 * 1024 * 1024) {
      req.destroy();
      return undefined;
    }
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
      continue;
    }
    chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

function buildHeaders(req: IncomingMessage): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    // Format 2.0 moves cookies out of the headers into their own array.
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return { headers, cookies };
}

function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) {
    // Repeated parameters are joined with commas, as format 2.0 does.
    out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  }
  return out;
}

interface StructuredResult {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** Maps the function's answer the way HTTP API does for payload format 2.0. */
export function mapLambdaResult(result: unknown): { status: number; headers: Record<string, string | string[]>; body: Buffer } {
  if (result !== null && typeof result === 'object' && 'statusCode' in result) {
    const r = result as StructuredResult;
    if (!Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599) {
      throw new Error(`Malformed Lambda proxy response: statusCode ${String(r.statusCode)}`);
    }
    if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') {
      // The real API rejects this too; stringifying it here would hide the bug until deployment.
      throw new Error('Malformed Lambda proxy response: body must be a string');
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    const text = r.body ?? '';
    const body = r.isBase64Encoded ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    return { status: r.statusCode, headers, body };
  }
  // Without a statusCode, API Gateway assumes 200 + JSON; a string is passed through as the body itself.
  const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  return { status: 200, headers: { ...JSON_HEADERS }, body: Buffer.from(body, 'utf8') };
}

/** Starts the local HTTP API on 127.0.0.1, on `opts.port` or a free port. */
export async function startLocalHttpApi(opts: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const routes = opts.routes.map(compile);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const integrationTimeoutMs = opts.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
  let requests = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const now = new Date();
    const requestId = randomBytes(10).toString('base64');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const rawQueryString = q === -1 ? '' : rawUrl.slice(q + 1);
    const method = (req.method ?? 'GET').toUpperCase();

    let best: { route: CompiledRoute; params: Record<string, string> } | undefined;
    for (const route of routes) {
      if (route.method !== method && route.method !== 'ANY') continue;
      const params = matchPath(route, rawPath);
      if (!params) continue;
      if (
        !best ||
        (best.route.greedy && !route.greedy) ||
        (best.route.greedy === route.greedy && route.literalCount > best.route.literalCount)
      ) {
        best = { route, params };
      }
    }

    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return sendJson(res, 413, 'Request Entity Too Large', requestId);
    // A path that exists under another method is still "Not Found" on an HTTP API, not 405.
    if (!best) return sendJson(res, 404, 'Not Found', requestId);

    const { headers, cookies } = buildHeaders(req);
    const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
    headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
    headers['x-forwarded-proto'] = 'http';
    headers['x-amzn-trace-id'] ??= `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
    const domainName = headers.host ?? '127.0.0.1';
    const textual = isTextual(headers['content-type']);
    const hasBody = body.length > 0;

    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey: best.route.routeKey,
      rawPath,
      rawQueryString,
      ...(cookies.length ? { cookies } : {}),
      headers,
      ...(rawQueryString ? { queryStringParameters: parseQuery(rawQueryString) } : {}),
      requestContext: {
        accountId: LOCAL_ACCOUNT,
        apiId: 'local',
        domainName,
        domainPrefix: domainName.split('.')[0] ?? domainName,
        http: {
          method,
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp,
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: best.route.routeKey,
        stage: '$default',
        time: requestTime(now),
        timeEpoch: now.getTime(),
      },
      ...(Object.keys(best.params).length ? { pathParameters: best.params } : {}),
      ...(hasBody ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: hasBody && !textual,
    };

    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        best.route.route.fn.invoke(event),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new IntegrationTimeout()), integrationTimeoutMs);
        }),
      ]);
      const mapped = mapLambdaResult(result);
      send(res, mapped.status, { ...mapped.headers, 'apigw-requestid': requestId }, mapped.body);
    } catch (err) {
      opts.onError?.(err, best.route.routeKey);
      // Function errors and Lambda timeouts both surface as 500; only the API's own 30 s limit gives 503.
      if (err instanceof IntegrationTimeout) sendJson(res, 503, 'Service Unavailable', requestId);
      else sendJson(res, 500, 'Internal Server Error', requestId);
    } finally {
      clearTimeout(timer);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      opts.onError?.(err, '');
      sendJson(res, 500, 'Internal Server Error', '');
    });
  });
  const port = await listenOnLoopback(server, opts.port);

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    stop: () => closeServer(server),
  };
}
