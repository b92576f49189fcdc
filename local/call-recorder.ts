// Records every AWS call a local function makes, who made it, and the IAM action and resource it needs: a proxy per principal in front of the emulators, plus the calls the platform makes for the stack.
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse, Agent } from 'node:http';
import { accessKeyIdOf, type ArnContext, type IamRequirement, mapRequest, type MappedRequest, sessionTokenOf, signingServiceOf } from './aws-requests.js';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';

/** Who makes a call, as IAM sees it (the same shape as the IAM check's CallPrincipal). */
export type Principal =
  /** A role's own credentials: a function's execution role, also for the calls Lambda makes with it. */
  | { readonly kind: 'role'; readonly roleArn: string }
  /** A session of a role assumed with sts:AssumeRole. */
  | { readonly kind: 'assumedRole'; readonly roleArn: string; readonly sessionName: string }
  /** An AWS service acting for a resource, e.g. s3.amazonaws.com sending a bucket's events. */
  | { readonly kind: 'service'; readonly service: string; readonly sourceArn?: string; readonly sourceAccount?: string };

/** One IAM-authorized action of one call. A call that needs several (CopyObject, a transaction) gives one each. */
export interface RecordedCall {
  readonly principal: Principal;
  /** e.g. `s3:GetObjectVersion`. */
  readonly action: string;
  readonly resource: string;
  /** What made it: `trigger`, `trigger poller`, `Lambda for trigger`, `S3 notification`, … */
  readonly source: string;
  /** The API operation (HeadObject) or the platform's step (CreateLogStream). */
  readonly operation: string;
  /** The access key id the request was signed with; absent for the platform's own calls. */
  readonly accessKeyId?: string | undefined;
  /** The HTTP status the emulator answered; absent for the platform's own calls (and answers still awaited). */
  status?: number;
  /** Epoch ms. */
  readonly at: number;
}

/** A request the recorder could not map to IAM actions; it was forwarded all the same. */
export interface UnmappedRequest {
  readonly source: string;
  readonly method: string;
  readonly url: string;
  readonly reason: string;
}

/** Upstream endpoints by SigV4 service name. */
export type Upstreams = Readonly<Record<string, string>>;

export interface CallRecorderOptions extends ArnContext {
  upstreams: Upstreams;
  /**
   * The assumed-role session a session token belongs to (tokens the local STS issued), so a request
   * signed with it (a presigned URL Insider fetches) is the session's, not the proxy owner's.
   */
  sessionOf?: (sessionToken: string) => { roleArn: string; sessionName: string } | undefined;
  /** Called for every S3 request that reaches a bucket (access logging is recorded from it). */
  onS3Request?: (bucket: string, at: number) => void;
}

export interface CallRecorder {
  /** Every recorded call, in the order the requests arrived. */
  readonly calls: RecordedCall[];
  readonly unmapped: UnmappedRequest[];
  /**
   * Starts a recording proxy for `principal`: point every AWS_ENDPOINT_URL_* of the caller at the
   * returned endpoint. Requests are forwarded byte for byte (Host included: s3rver verifies SigV4
   * against it) to the upstream their credential scope names.
   */
  proxy(principal: Principal, source: string): Promise<string>;
  /** Records a call the platform makes (Lambda's logs, S3's notifications, …), which no proxy sees. */
  record(call: Omit<RecordedCall, 'at' | 'status'>): void;
  stop(): Promise<void>;
}

/** The SDK's per-service endpoint variables, all pointing at one recording proxy. */
export function endpointVariables(endpoint: string): Record<string, string> {
  return Object.fromEntries(['S3', 'DYNAMODB', 'SECRETS_MANAGER', 'SNS', 'STS', 'SQS'].map((service) => [`AWS_ENDPOINT_URL_${service}`, endpoint]));
}

/** Non-S3 request and response bodies are read whole to find the operation and resource; they are small. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function startCallRecorder(options: CallRecorderOptions): CallRecorder {
  const calls: RecordedCall[] = [];
  const unmapped: UnmappedRequest[] = [];
  const servers: ReturnType<typeof createServer>[] = [];
  const agent = new Agent({ keepAlive: true });
  const upstreams = new Map(Object.entries(options.upstreams).map(([service, endpoint]) => [service, new URL(endpoint)]));

  const principalOf = (req: IncomingMessage, owner: Principal): Principal => {
    const token = sessionTokenOf(req.url ?? '/', req.headers);
    const session = token ? options.sessionOf?.(token) : undefined;
    return session ? { kind: 'assumedRole', roleArn: session.roleArn, sessionName: session.sessionName } : owner;
  };

  const fail = (res: ServerResponse, status: number, message: string) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(message);
  };

  const handle = (owner: Principal, source: string, req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const service = signingServiceOf(url, req.headers);
    const upstream = service ? upstreams.get(service) : undefined;
    if (!service || !upstream) {
      unmapped.push({ source, method, url, reason: service ? `no emulator for the service ${service}` : 'the request is not SigV4-signed' });
      fail(res, 400, 'The call recorder routes only SigV4-signed requests for the local emulators.');
      req.resume();
      return;
    }
    const principal = principalOf(req, owner);
    const at = Date.now();
    const accessKeyId = accessKeyIdOf(url, req.headers);
    const callSource = principal === owner ? source : `${source} URL (session ${(principal as { sessionName: string }).sessionName})`;

    /** Recorded when the request arrives, so a call whose answer never comes (a long poll cut short) still counts. */
    const recordMapped = (mapped: MappedRequest): RecordedCall[] => {
      const recorded = mapped.requirements.map((r: IamRequirement): RecordedCall => ({ principal, action: r.action, resource: r.resource, source: callSource, operation: mapped.operation, accessKeyId, at }));
      calls.push(...recorded);
      return recorded;
    };
    const mapOrNote = (body: Buffer | undefined): MappedRequest | undefined => {
      try {
        return mapRequest({ service, method, url, headers: req.headers, body }, options);
      } catch (error) {
        unmapped.push({ source: callSource, method, url, reason: error instanceof Error ? error.message : String(error) });
        return undefined;
      }
    };

    const forward = (body: Buffer | undefined, onResponse: (status: number, responseBody: Buffer | undefined) => void) => {
      const upstreamReq = httpRequest(
        { agent, host: upstream.hostname, port: upstream.port, method, path: url, headers: forwardedHeaders(req) },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders);
          // Secrets Manager names the secret's ARN in its answer: kept for the record, the rest streams through.
          const keep = service === 'secretsmanager';
          const chunks: Buffer[] = [];
          let size = 0;
          upstreamRes.on('data', (chunk: Buffer) => {
            if (!keep) return;
            size += chunk.length;
            if (size <= MAX_BUFFERED_BYTES) chunks.push(chunk);
          });
          upstreamRes.pipe(res);
          upstreamRes.on('end', () => onResponse(upstreamRes.statusCode ?? 502, keep ? Buffer.concat(chunks) : undefined));
          upstreamRes.on('error', () => res.destroy());
        },
      );
      upstreamReq.on('error', (error) => fail(res, 502, `The call recorder could not reach the ${service} emulator: ${error.message}`));
      // A long poll the caller gave up on must end upstream too.
      res.on('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      if (body) upstreamReq.end(body);
      else req.pipe(upstreamReq);
    };

    if (service === 's3') {
      // Object bodies stream through untouched; the path, query and headers name the action.
      const mapped = mapOrNote(undefined);
      const bucket = new URL(url, 'http://local').pathname.split('/')[1] ?? '';
      // A malformed escape is S3's to refuse; the bucket name has none anyway.
      if (!bucket.includes('%')) options.onS3Request?.(bucket, at);
      const recorded = mapped ? recordMapped(mapped) : [];
      forward(undefined, (status) => {
        for (const call of recorded) call.status = status;
      });
      return;
    }
    readCappedBody(req, MAX_BUFFERED_BYTES, (body) => {
      if (body === undefined) {
        unmapped.push({ source: callSource, method, url, reason: `a ${service} request body over ${MAX_BUFFERED_BYTES} bytes` });
        fail(res, 413, 'Request body too large for the call recorder.');
        return;
      }
      const mapped = mapOrNote(body);
      // Secrets Manager: IAM evaluates the secret's full ARN, which its answer names (the request may give a name).
      const deferred = service === 'secretsmanager';
      const recorded = mapped && !deferred ? recordMapped(mapped) : [];
      forward(body, (status, responseBody) => {
        if (mapped && deferred) {
          const arn = secretArnIn(responseBody);
          recorded.push(...recordMapped({ ...mapped, requirements: mapped.requirements.map((r) => ({ ...r, resource: arn ?? r.resource })) }));
        }
        for (const call of recorded) call.status = status;
      });
    });
  };

  return {
    calls,
    unmapped,
    async proxy(principal, source) {
      const server = createServer((req, res) => handle(principal, source, req, res));
      servers.push(server);
      const port = await listenOnLoopback(server);
      return `http://127.0.0.1:${port}`;
    },
    record(call) {
      calls.push({ ...call, at: Date.now() });
    },
    async stop() {
      await Promise.all(servers.map((server) => closeServer(server)));
      agent.destroy();
    },
  };
}

/**
 * The request's headers as received, Host included. Only `Expect` is left out: this proxy already
 * answered 100 Continue, and the SDK never signs it.
 */
function forwardedHeaders(req: IncomingMessage): IncomingMessage['headers'] {
  const { expect: _expect, ...headers } = req.headers;
  return headers;
}

function secretArnIn(body: Buffer | undefined): string | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const arn = (JSON.parse(body.toString('utf8')) as { ARN?: unknown }).ARN;
    return typeof arn === 'string' ? arn : undefined;
  } catch {
    return undefined;
  }
}
