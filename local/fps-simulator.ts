// A local stand-in for Insider One's First-Party Segment upload API, with seeded fault injection: the HTTP server that composes the parts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEFAULT_MAX_FILE_BYTES } from '../lambdas/shared/contract.js';
import { type CallbackFault, type FaultConfig, FaultPlan, REPLY_LOST_FAULTS, type ReplyLostFault, type UploadFault } from './fps-faults.js';
import { type CallbackLog, type Download, type ProcessingLog, UploadProcessor } from './fps-processing.js';
import { checkCredentials, checkPayload, OK_ANSWER } from './fps-rules.js';
import type { AttributeType } from './fps-values.js';
import { type Answer, parsePayload, UPLOAD_PATH } from './fps-wire.js';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';
import { RateLimiter, TOO_MANY_REQUESTS } from './rate-limiter.js';
import { WorkTracker } from './work-tracker.js';

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
  /**
   * Added to callbackDelayMs for an upload whose reply was lost (the acceptedReplyLost* faults), so
   * a test can make the callback arrive after the client's retry. @default 2000
   */
  replyLostCallbackDelayMs?: number;
  /** Types for attribute names (trimmed, case-insensitive), before the known names and name-based inference. */
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

/** A scripted answer, headers (e.g. `retry-after`) included. */
export type ScriptedAnswer = (payload: { segmentName?: string; attributeName?: string }) => Answer | undefined;

export interface RequestLog extends ProcessingLog {
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

const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

const isReplyLost = (fault: UploadFault | undefined): fault is ReplyLostFault => (REPLY_LOST_FAULTS as readonly string[]).includes(fault ?? '');
/** Faults that only take effect once the upload is accepted. */
const onAcceptance = (fault: UploadFault | undefined): fault is 'acceptedButSlow' | ReplyLostFault =>
  fault === 'acceptedButSlow' || isReplyLost(fault);

/** What a gateway in front of Insider sends: its own HTML page, not Insider's JSON envelope. */
const gatewayPage = (status: 502 | 504) => {
  const title = `${status} ${status === 502 ? 'Bad Gateway' : 'Gateway Timeout'}`;
  return `<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center></body></html>\n`;
};

export async function startFpsSimulator(options: FpsSimulatorOptions): Promise<FpsSimulator> {
  const latencyMs = options.latencyMs ?? 20;
  const slowResponseMs = options.slowResponseMs ?? 5000;
  const replyLostCallbackDelayMs = options.replyLostCallbackDelayMs ?? 2000;
  const fileSizeCheck = options.fileSizeCheck ?? 'async';
  const tokens = new Map(options.accounts.map((a) => [a.partnerName, a.token]));

  const work = new WorkTracker();
  const faults = new FaultPlan(options.seed ?? 1, options.faults);
  const limiter = new RateLimiter({ perSecond: options.rateLimitPerSecond, retryAfter: options.retryAfterOnRateLimit });
  const processor = new UploadProcessor(
    {
      maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      outboundTimeoutMs: options.outboundTimeoutMs ?? 10_000,
      allowNonLoopbackUrls: options.allowNonLoopbackUrls ?? false,
      downloadDelayMs: options.downloadDelayMs ?? 0,
      callbackDelayMs: options.callbackDelayMs ?? 50,
      callbackDelayedMs: options.callbackDelayedMs ?? 2000,
      attributeTypes: options.attributeTypes ?? {},
    },
    work,
    [],
  );
  const requests: RequestLog[] = [];
  let script = options.script;
  const segmentsByPartner = new Map<string, Set<string>>();
  const acceptedOrder: string[] = [];

  const send = (res: ServerResponse, log: RequestLog | undefined, answer: Answer) => {
    if (log) {
      log.status = answer.status;
      log.response = answer.body;
    }
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  };

  const handleUpload = async (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    const credentials = checkCredentials(req.headers, tokens);
    const payload = body ? parsePayload(body) : undefined;
    const log: RequestLog = {
      time: Date.now(),
      partner: credentials.partner,
      segmentName: payload?.segmentName,
      attributeName: payload?.attributeName,
      fileUrl: payload?.fileUrl,
      callbackUrl: payload?.callbackUrl,
      status: null,
      callbackFaults: [],
      accepted: false,
    };
    requests.push(log);

    const answer = async (reply: Answer) => {
      if (await work.sleep(latencyMs)) send(res, log, reply);
    };

    if (!credentials.ok) return answer(credentials.answer);
    const limited = limiter.admit(credentials.token);
    if (limited) return answer(limited);

    const fault = faults.drawUpload();
    if (fault && !onAcceptance(fault)) {
      log.fault = fault;
      faults.count(fault);
    }
    switch (fault) {
      case 'connectionReset':
        req.socket.destroy();
        return;
      case 'slowResponse':
        // Nothing is recorded: by the time this answer leaves, the client has given up.
        if (await work.sleep(slowResponseMs)) send(res, log, { status: 504, body: { statusMessage: 'Gateway Timeout' } });
        return;
      case 'rateLimited':
        return answer(TOO_MANY_REQUESTS);
      case 'rateLimitedRetryAfter':
        return answer({ ...TOO_MANY_REQUESTS, headers: { 'retry-after': '1' } });
      case 'requestLimitExceeded403':
        return answer({ status: 403, body: { statusMessage: 'Request Limit Exceeded' } });
      case 'serverError':
        return answer({ status: faults.drawServerErrorStatus(), body: { statusMessage: 'Internal Server Error' } });
      default:
        break;
    }

    const scripted = script?.({ segmentName: payload?.segmentName, attributeName: payload?.attributeName });
    if (scripted) return answer(scripted);

    let segments = segmentsByPartner.get(credentials.partner);
    if (!segments) {
      segments = new Set();
      segmentsByPartner.set(credentials.partner, segments);
    }
    const verdict = checkPayload(payload, segments);
    if (!verdict.accepted) return answer(verdict.answer);
    const accepted = verdict.payload;
    // Reserve before any await so two concurrent uploads of one name cannot both be accepted.
    segments.add(accepted.segmentName);

    let preloaded: Download | undefined;
    if (fileSizeCheck === 'sync') {
      preloaded = await processor.download(log, accepted.fileUrl);
      // A file that cannot be read at all is still accepted and fails later, like async mode.
      if (!preloaded.ok && preloaded.tooLarge) {
        segments.delete(accepted.segmentName);
        return answer({ status: 400, body: { statusMessage: 'file size is more than the limit' } });
      }
    }

    log.accepted = true;
    acceptedOrder.push(accepted.segmentName);
    log.callbackFaults = faults.drawCallback();
    for (const f of log.callbackFaults) faults.count(f);
    const startProcessing = (extraCallbackDelayMs = 0) => work.track(() => processor.process(log, accepted, preloaded, extraCallbackDelayMs));

    if (onAcceptance(fault)) {
      log.fault = fault;
      faults.count(fault);
    }
    if (fault === 'acceptedButSlow') {
      // The work goes ahead while the answer is held back: the client sees a timeout for an
      // upload that Insider did accept, and its callback may well arrive first.
      startProcessing();
      if (await work.sleep(slowResponseMs)) send(res, log, OK_ANSWER);
      return;
    }
    if (isReplyLost(fault)) {
      // The work goes ahead and the name stays taken, but the client hears a failure, retries,
      // and is told the name is in use; the callback comes later still.
      startProcessing(replyLostCallbackDelayMs);
      if (!(await work.sleep(latencyMs))) return;
      if (fault === 'acceptedReplyLostReset') {
        req.socket.destroy();
        return;
      }
      const status = fault === 'acceptedReplyLost502' ? 502 : 504;
      const page = gatewayPage(status);
      log.status = status;
      log.response = page;
      if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/html' }).end(page);
      return;
    }
    if (!(await work.sleep(latencyMs))) return;
    // Registered before the answer leaves so idle() called on receipt already waits for it.
    startProcessing();
    send(res, log, OK_ANSWER);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== UPLOAD_PATH) return send(res, undefined, { status: 404, body: { statusMessage: 'Not Found' } });
    if (req.method !== 'POST') {
      return send(res, undefined, { status: 405, body: { statusMessage: 'Method Not Allowed' }, headers: { allow: 'POST' } });
    }
    readCappedBody(req, MAX_REQUEST_BODY_BYTES, (body) => {
      handleUpload(req, res, body).catch(() => {
        if (!res.headersSent && !res.destroyed) send(res, undefined, { status: 500, body: { statusMessage: 'Internal Server Error' } });
      });
    });
  });
  const port = await listenOnLoopback(server, options.port);

  return {
    url: `http://127.0.0.1:${port}${UPLOAD_PATH}`,
    requests,
    callbacks: processor.callbacks,
    faultCounts: faults.counts,
    acceptedSegments: () => [...acceptedOrder],
    idle: () => work.idle(),
    setFaults(next) {
      faults.configure(next);
    },
    setScript(next) {
      script = next;
    },
    reset() {
      requests.length = 0;
      processor.callbacks.length = 0;
      segmentsByPartner.clear();
      acceptedOrder.length = 0;
      limiter.reset();
      faults.reset();
    },
    async stop() {
      work.halt();
      const closed = closeServer(server);
      await work.drain();
      await closed;
    },
  };
}
