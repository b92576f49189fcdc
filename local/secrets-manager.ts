// A local Secrets Manager endpoint answering GetSecretValue and PutSecretValue, so the real SDK client and the AWS CLI work offline.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';

export interface LocalSecretsManagerOptions {
  /** Keyed by ARN. */
  secrets: Record<string, { name: string; value: string }>;
  /** @default a free port */
  port?: number;
}

export interface LocalSecretsManager {
  /** Pass as `endpoint` to `new SecretsManagerClient(...)`, or to `aws --endpoint-url`. */
  endpoint: string;
  /** Changes a secret's value (a new version, AWSCURRENT), as PutSecretValue or a rotation would. */
  setSecret(arnOrName: string, value: string): void;
  /** The secrets held, by ARN and name. */
  list(): { arn: string; name: string }[];
  /** How many GetSecretValue calls arrived, found or not, so tests can see caching work. */
  getCallCount(): number;
  stop(): Promise<void>;
}

interface SecretVersion {
  versionId: string;
  value: string;
  stages: string[];
  createdDate: number;
}

interface StoredSecret {
  arn: string;
  name: string;
  /** Newest last. */
  versions: SecretVersion[];
}

const JSON_11 = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 128 * 1024;
/** Secrets Manager's limit on SecretString. */
const MAX_SECRET_BYTES = 65_536;
/** ClientRequestToken's length in the API reference. */
const CLIENT_REQUEST_TOKEN = /^.{32,64}$/s;

class SmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Adds a version holding AWSCURRENT; the version that held it becomes AWSPREVIOUS, as PutSecretValue does. */
function addCurrentVersion(secret: StoredSecret, value: string, versionId: string): SecretVersion {
  for (const v of secret.versions) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
  for (const v of secret.versions) {
    if (v.stages.includes('AWSCURRENT')) v.stages = [...v.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
  }
  const version = { versionId, value, stages: ['AWSCURRENT'], createdDate: Math.floor(Date.now() / 1000) };
  secret.versions.push(version);
  return version;
}

/**
 * Requests are not SigV4-verified: the SDK signs them with whatever dummy credentials it has,
 * and checking signatures would only test the SDK, not our code.
 */
export async function startLocalSecretsManager(options: LocalSecretsManagerOptions): Promise<LocalSecretsManager> {
  const secrets: StoredSecret[] = Object.entries(options.secrets).map(([arn, s]) => {
    const secret: StoredSecret = { arn, name: s.name, versions: [] };
    addCurrentVersion(secret, s.value, randomUUID());
    return secret;
  });
  const find = (id: string) => secrets.find((s) => s.arn === id || s.name === id);
  const require = (id: unknown): StoredSecret => {
    if (typeof id !== 'string' || id === '') throw new SmError('InvalidParameterException', 'SecretId is required.');
    const secret = find(id);
    if (!secret) throw new SmError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };
  let calls = 0;

  const getSecretValue = (input: Record<string, unknown>) => {
    calls++;
    const secret = require(input.SecretId);
    const stage = typeof input.VersionStage === 'string' ? input.VersionStage : undefined;
    const versionId = typeof input.VersionId === 'string' ? input.VersionId : undefined;
    const version =
      versionId === undefined
        ? secret.versions.find((v) => v.stages.includes(stage ?? 'AWSCURRENT'))
        : secret.versions.find((v) => v.versionId === versionId && (stage === undefined || v.stages.includes(stage)));
    if (!version) throw new SmError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for the version or staging label.");
    return {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: version.value,
      VersionId: version.versionId,
      VersionStages: version.stages,
      CreatedDate: version.createdDate,
    };
  };

  const putSecretValue = (input: Record<string, unknown>) => {
    const secret = require(input.SecretId);
    if (input.SecretBinary !== undefined) throw new SmError('InvalidRequestException', 'The local Secrets Manager keeps SecretString values only.');
    if (typeof input.SecretString !== 'string') throw new SmError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    if (Buffer.byteLength(input.SecretString) > MAX_SECRET_BYTES) throw new SmError('InvalidParameterException', `SecretString is over ${MAX_SECRET_BYTES} bytes.`);
    if (input.VersionStages !== undefined) throw new SmError('InvalidRequestException', 'The local Secrets Manager puts every new version as AWSCURRENT: leave out VersionStages.');
    const token = input.ClientRequestToken;
    if (token !== undefined && (typeof token !== 'string' || !CLIENT_REQUEST_TOKEN.test(token))) {
      throw new SmError('InvalidParameterException', 'ClientRequestToken must be 32 to 64 characters.');
    }
    // The AWS CLI and the SDKs send a fresh token each time; repeating one is a retry, idempotent as long as the value is the same.
    const existing = typeof token === 'string' ? secret.versions.find((v) => v.versionId === token) : undefined;
    if (existing && existing.value !== input.SecretString) {
      throw new SmError('ResourceExistsException', 'A version with this ClientRequestToken already exists with a different value: versions cannot be changed.');
    }
    const version = existing ?? addCurrentVersion(secret, input.SecretString, typeof token === 'string' ? token : randomUUID());
    return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: version.stages };
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    'secretsmanager.GetSecretValue': getSecretValue,
    'secretsmanager.PutSecretValue': putSecretValue,
  };

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    const headers: Record<string, string> = {
      'content-type': JSON_11,
      'x-amzn-requestid': randomUUID(),
    };
    if (errorType) headers['x-amzn-errortype'] = errorType;
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    readCappedBody(req, MAX_BODY_BYTES, (body) => {
      try {
        const target = String(req.headers['x-amz-target']);
        if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') throw new SmError('UnknownOperationException', 'Only POST / is served.');
        const operation = operations[target];
        if (!operation) throw new SmError('UnknownOperationException', `Unsupported operation ${target}.`);
        if (body === undefined) throw new SmError('InvalidRequestException', `The request body is over ${MAX_BODY_BYTES} bytes.`);
        let input: unknown;
        try {
          input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
        } catch {
          throw new SmError('SerializationException', 'The request body is not valid JSON.');
        }
        if (input === null || typeof input !== 'object') throw new SmError('SerializationException', 'The request body is not a JSON object.');
        reply(res, 200, operation(input as Record<string, unknown>));
      } catch (error) {
        const e = error instanceof SmError ? error : new SmError('InternalServiceError', String(error));
        reply(res, e.type === 'InternalServiceError' ? 500 : 400, { __type: e.type, message: e.message }, e.type);
      }
    });
  });

  const port = await listenOnLoopback(server, options.port);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setSecret(arnOrName, value) {
      const secret = find(arnOrName);
      if (!secret) throw new Error(`no such secret: ${arnOrName}`);
      addCurrentVersion(secret, value, randomUUID());
    },
    list: () => secrets.map((s) => ({ arn: s.arn, name: s.name })),
    getCallCount: () => calls,
    stop: () => closeServer(server),
  };
}
