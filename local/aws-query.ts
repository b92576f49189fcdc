// A tiny server for AWS Query-protocol services (form-encoded POST, XML answers), shared by the local SNS and STS.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';

const MAX_BODY_BYTES = 512 * 1024;

export const xmlEscape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** A Query-protocol error: SDK v3 reads `Code` into the exception's name. */
export class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface QueryServer {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Serves `POST /` with form parameters; `handle` gets them and returns the inner XML of
 * `<{Action}Response>`'s `<{Action}Result>`. Requests are not SigV4-verified (see secrets-manager.ts).
 * Listens on `port` (default: a free one).
 */
export async function startQueryServer(
  xmlns: string,
  handle: (action: string, params: URLSearchParams) => string,
  port = 0,
): Promise<QueryServer> {
  const reply = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(body);
  };
  const server = createServer((req, res) => {
    readCappedBody(req, MAX_BODY_BYTES, (body) => {
      const requestId = randomUUID();
      try {
        if (req.method !== 'POST' || body === undefined) throw new QueryError(400, 'InvalidAction', 'Only POST / with a form body up to 512 KiB is served.');
        const params = new URLSearchParams(body.toString('utf8'));
        const action = params.get('Action') ?? '';
        const result = handle(action, params);
        reply(
          res,
          200,
          `<${action}Response xmlns="${xmlns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        );
      } catch (error) {
        const e = error instanceof QueryError ? error : new QueryError(500, 'InternalFailure', String(error));
        reply(
          res,
          e.status,
          `<ErrorResponse xmlns="${xmlns}"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    });
  });
  const listening = await listenOnLoopback(server, port);
  return { endpoint: `http://127.0.0.1:${listening}`, stop: () => closeServer(server) };
}
