// A local Secrets Manager endpoint answering GetSecretValue, so the real SDK client works offline.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';

export interface LocalSecretsManagerOptions {
  /** Keyed by ARN. */
  secrets: Record<string, { name: string; value: string }>;
}

export interface LocalSecretsManager {
  /** Pass as `endpoint` to `new SecretsManagerClient(...)`. */
  endpoint: string;
  /** Changes a secret's value (new VersionId), as a rotation would. */
  setSecret(arnOrName: string, value: string): void;
  /** How many GetSecretValue calls arrived, found or not, so tests can see caching work. */
  getCallCount(): number;
  stop(): Promise<void>;
}

interface StoredSecret {
  arn: string;
  name: string;
  value: string;
  versionId: string;
  createdDate: number;
}

const JSON_11 = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Requests are not SigV4-verified: the SDK signs them with whatever dummy credentials it has,
 * and checking signatures would only test the SDK, not our code.
 */
export async function startLocalSecretsManager(
  options: LocalSecretsManagerOptions,
): Promise<LocalSecretsManager> {
  const secrets: StoredSecret[] = Object.entries(options.secrets).map(([arn, s]) => ({
    arn,
    name: s.name,
    value: s.value,
    versionId: randomUUID(),
    createdDate: Math.floor(Date.now() / 1000),
  }));
  const find = (id: string) => secrets.find((s) => s.arn === id || s.name === id);
  let calls = 0;

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    const headers: Record<string, string> = {
      'content-type': JSON_11,
      'x-amzn-requestid': randomUUID(),
    };
    if (errorType) headers['x-amzn-errortype'] = errorType;
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, type: string, message: string) =>
    reply(res, 400, { __type: type, message }, type);

  const server = createServer((req, res) => {
    readCappedBody(req, MAX_BODY_BYTES, (body) => {
      const target = req.headers['x-amz-target'];
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
        return error(res, 'UnknownOperationException', 'Only POST / is served.');
      }
      if (target !== 'secretsmanager.GetSecretValue') {
        return error(res, 'UnknownOperationException', `Unsupported operation ${String(target)}.`);
      }
      calls++;
      let secretId: unknown;
      try {
        secretId = body === undefined ? undefined : (JSON.parse(body.toString('utf8')) as { SecretId?: unknown }).SecretId;
      } catch {
        return error(res, 'SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof secretId !== 'string' || secretId === '') {
        return error(res, 'InvalidParameterException', 'SecretId is required.');
      }
      const secret = find(secretId);
      if (!secret) {
        return error(
          res,
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret.",
        );
      }
      reply(res, 200, {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: secret.createdDate,
      });
    });
  });

  const port = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setSecret(arnOrName, value) {
      const secret = find(arnOrName);
      if (!secret) throw new Error(`no such secret: ${arnOrName}`);
      secret.value = value;
      secret.versionId = randomUUID();
      secret.createdDate = Math.floor(Date.now() / 1000);
    },
    getCallCount: () => calls,
    stop: () => closeServer(server),
  };
}
