// What IAM authorizes for one AWS API request as it arrives on the wire: the operation, and each IAM action with its resource ARN.
import type { IncomingHttpHeaders } from 'node:http';

/** An AWS API request, as a recording proxy sees it. */
export interface WireRequest {
  /** The SigV4 credential scope's service: `s3`, `dynamodb`, `secretsmanager`, `sns`, `sts`, `sqs`. */
  readonly service: string;
  readonly method: string;
  /** The path and query string as sent (percent-encoded). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The body, for every service but S3 (whose object bodies are not needed to name the action). */
  readonly body?: Buffer | undefined;
}

/** One action IAM evaluates for a request. */
export interface IamRequirement {
  /** e.g. `s3:GetObjectVersion`. */
  readonly action: string;
  readonly resource: string;
}

export interface MappedRequest {
  /** The API operation, e.g. `HeadObject`, `TransactWriteItems`. */
  readonly operation: string;
  /** What IAM must allow; empty for operations that need no permission (sts:GetCallerIdentity). */
  readonly requirements: readonly IamRequirement[];
}

export interface ArnContext {
  readonly region: string;
  readonly accountId: string;
  /** @default 'aws' */
  readonly partition?: string;
}

/** A request whose IAM action this module does not know: better to say so than to guess. */
export class UnmappedRequestError extends Error {
  override readonly name = 'UnmappedRequestError';
}

/** The service in a request's SigV4 credential scope (`Credential=AKID/date/region/service/aws4_request`), header or presigned query. */
export function signingServiceOf(url: string, headers: IncomingHttpHeaders): string | undefined {
  const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(headers.authorization ?? ''));
  if (scope) return scope[1];
  const credential = new URL(url, 'http://local').searchParams.get('X-Amz-Credential');
  return credential?.split('/')[3];
}

/** The session token a request carries: temporary credentials, e.g. an assumed role's session. */
export function sessionTokenOf(url: string, headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-amz-security-token'];
  if (typeof header === 'string') return header;
  return new URL(url, 'http://local').searchParams.get('X-Amz-Security-Token') ?? undefined;
}

/** The access key id a request is signed with. */
export function accessKeyIdOf(url: string, headers: IncomingHttpHeaders): string | undefined {
  const header = /Credential=([^/,\s]+)\//.exec(String(headers.authorization ?? ''));
  if (header) return header[1];
  return new URL(url, 'http://local').searchParams.get('X-Amz-Credential')?.split('/')[0];
}

export function mapRequest(request: WireRequest, context: ArnContext): MappedRequest {
  const arn = { partition: 'aws', ...context };
  switch (request.service) {
    case 's3':
      return mapS3(request, arn.partition);
    case 'dynamodb':
      return mapDynamoDb(request, arn as Required<ArnContext>);
    case 'secretsmanager':
      return mapSecretsManager(request, arn as Required<ArnContext>);
    case 'sns':
      return mapSns(request);
    case 'sts':
      return mapSts(request);
    case 'sqs':
      return mapSqs(request, arn as Required<ArnContext>);
    default:
      throw new UnmappedRequestError(`No IAM mapping for the service ${JSON.stringify(request.service)}`);
  }
}

// ---------- S3 (path-style, as the SDK uses with an IP endpoint) ----------

/** `bucket` and `key` (decoded) of a path-style path; key '' for a bucket-level request. */
function splitS3Path(path: string): { bucket: string; key: string } {
  const [bucket = '', ...rest] = path.replace(/^\//, '').split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.map((segment) => decodeURIComponent(segment)).join('/') };
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded. */
function copySourceOf(header: string): { bucket: string; key: string; versionId: string | undefined } {
  const [path = '', query = ''] = header.split('?');
  return { ...splitS3Path(path.startsWith('/') ? path : `/${path}`), versionId: new URLSearchParams(query).get('versionId') ?? undefined };
}

/** Object subresources that change the action (tagging, acl, …): not used by the pipeline, so not mapped. */
const S3_OBJECT_SUBRESOURCES = ['acl', 'tagging', 'attributes', 'retention', 'legal-hold', 'torrent', 'restore', 'select'];

function mapS3(request: WireRequest, partition: string): MappedRequest {
  const url = new URL(request.url, 'http://local');
  const query = url.searchParams;
  const { bucket, key } = splitS3Path(url.pathname);
  if (!bucket) throw new UnmappedRequestError(`S3 ${request.method} ${url.pathname}: not a path-style bucket or object request`);
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  const method = request.method.toUpperCase();
  const versioned = query.has('versionId');
  const on = (action: string, resource = key ? `${bucketArn}/${key}` : bucketArn) => ({ action, resource });

  if (!key) {
    if (method === 'PUT' && query.has('notification')) return { operation: 'PutBucketNotificationConfiguration', requirements: [on('s3:PutBucketNotification')] };
    if (method === 'GET' && query.has('versions')) return { operation: 'ListObjectVersions', requirements: [on('s3:ListBucketVersions')] };
    if (method === 'GET' && query.has('uploads')) return { operation: 'ListMultipartUploads', requirements: [on('s3:ListBucketMultipartUploads')] };
    if (method === 'GET' && query.has('location')) return { operation: 'GetBucketLocation', requirements: [on('s3:GetBucketLocation')] };
    if ((method === 'GET' && [...query.keys()].every((k) => ['list-type', 'prefix', 'delimiter', 'continuation-token', 'max-keys', 'start-after', 'marker', 'encoding-type', 'fetch-owner', 'x-id'].includes(k))) || method === 'HEAD') {
      return { operation: method === 'HEAD' ? 'HeadBucket' : 'ListObjects', requirements: [on('s3:ListBucket')] };
    }
    throw new UnmappedRequestError(`S3 ${method} on bucket ${bucket} with ${[...query.keys()].join(', ') || 'no query'}: no IAM mapping`);
  }

  const subresource = S3_OBJECT_SUBRESOURCES.find((s) => query.has(s));
  if (subresource) throw new UnmappedRequestError(`S3 ${method} ?${subresource} on an object: no IAM mapping`);
  const uploadId = query.has('uploadId');
  switch (method) {
    case 'GET':
      if (uploadId) return { operation: 'ListParts', requirements: [on('s3:ListMultipartUploadParts')] };
      return { operation: 'GetObject', requirements: [on(versioned ? 's3:GetObjectVersion' : 's3:GetObject')] };
    case 'HEAD':
      return { operation: 'HeadObject', requirements: [on(versioned ? 's3:GetObjectVersion' : 's3:GetObject')] };
    case 'PUT': {
      const copyHeader = request.headers['x-amz-copy-source'];
      const copy = typeof copyHeader === 'string' ? copySourceOf(copyHeader) : undefined;
      const operation = uploadId ? (copy ? 'UploadPartCopy' : 'UploadPart') : copy ? 'CopyObject' : 'PutObject';
      const requirements = [on('s3:PutObject')];
      if (copy) {
        requirements.push(on(copy.versionId ? 's3:GetObjectVersion' : 's3:GetObject', `arn:${partition}:s3:::${copy.bucket}/${copy.key}`));
      }
      return { operation, requirements };
    }
    case 'POST':
      // Starting and completing a multipart upload are authorized as s3:PutObject.
      if (query.has('uploads')) return { operation: 'CreateMultipartUpload', requirements: [on('s3:PutObject')] };
      if (uploadId) return { operation: 'CompleteMultipartUpload', requirements: [on('s3:PutObject')] };
      break;
    case 'DELETE':
      if (uploadId) return { operation: 'AbortMultipartUpload', requirements: [on('s3:AbortMultipartUpload')] };
      return { operation: 'DeleteObject', requirements: [on(versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject')] };
  }
  throw new UnmappedRequestError(`S3 ${method} on an object with ${[...query.keys()].join(', ') || 'no query'}: no IAM mapping`);
}

// ---------- JSON protocols (DynamoDB, Secrets Manager, and SNS/SQS when they use it) ----------

function jsonTarget(request: WireRequest): { operation: string; input: Record<string, unknown> } | undefined {
  const target = request.headers['x-amz-target'];
  if (typeof target !== 'string') return undefined;
  const operation = target.slice(target.lastIndexOf('.') + 1);
  let input: unknown;
  try {
    input = request.body && request.body.length > 0 ? JSON.parse(request.body.toString('utf8')) : {};
  } catch {
    throw new UnmappedRequestError(`${request.service} ${operation}: the body is not JSON`);
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new UnmappedRequestError(`${request.service} ${operation}: the body is not a JSON object`);
  return { operation, input: input as Record<string, unknown> };
}

/** Query protocol: the form body's parameters (and the URL's). */
function queryParams(request: WireRequest): URLSearchParams {
  const params = new URLSearchParams(request.body?.toString('utf8') ?? '');
  for (const [k, v] of new URL(request.url, 'http://local').searchParams) params.append(k, v);
  return params;
}

/** The operation and a flat input from either protocol (Query parameters are flat already). */
function operationAndInput(request: WireRequest): { operation: string; input: Record<string, unknown> } {
  const json = jsonTarget(request);
  if (json) return json;
  const params = queryParams(request);
  const operation = params.get('Action');
  if (!operation) throw new UnmappedRequestError(`${request.service} request with neither X-Amz-Target nor Action`);
  return { operation, input: Object.fromEntries(params) };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function mapDynamoDb(request: WireRequest, arn: Required<ArnContext>): MappedRequest {
  const json = jsonTarget(request);
  if (!json) throw new UnmappedRequestError('DynamoDB request without X-Amz-Target');
  const { operation, input } = json;
  // TableName may be the table's ARN.
  const tableArn = (table: unknown) => {
    const name = text(table);
    if (!name) throw new UnmappedRequestError(`DynamoDB ${operation} without a TableName`);
    return name.startsWith('arn:') ? name : `arn:${arn.partition}:dynamodb:${arn.region}:${arn.accountId}:table/${name}`;
  };
  const tables = (items: unknown) => Object.keys((items ?? {}) as Record<string, unknown>).map(tableArn);
  switch (operation) {
    case 'Query':
    case 'Scan': {
      const index = text(input.IndexName);
      return { operation, requirements: [{ action: `dynamodb:${operation}`, resource: `${tableArn(input.TableName)}${index ? `/index/${index}` : ''}` }] };
    }
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return { operation, requirements: tables(input.RequestItems).map((resource) => ({ action: `dynamodb:${operation}`, resource })) };
    case 'TransactWriteItems':
    case 'TransactGetItems': {
      // IAM authorizes each item of a transaction as its own action on its own table.
      const actions: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
      const requirements = ((input.TransactItems ?? []) as Record<string, { TableName?: unknown }>[]).flatMap((item) =>
        Object.entries(item).map(([kind, detail]) => {
          const action = actions[kind];
          if (!action) throw new UnmappedRequestError(`DynamoDB ${operation}: unknown item kind ${kind}`);
          return { action: `dynamodb:${action}`, resource: tableArn(detail?.TableName) };
        }),
      );
      return { operation, requirements };
    }
    case 'ListTables':
      return { operation, requirements: [{ action: 'dynamodb:ListTables', resource: '*' }] };
    default:
      return { operation, requirements: [{ action: `dynamodb:${operation}`, resource: tableArn(input.TableName) }] };
  }
}

function mapSecretsManager(request: WireRequest, arn: Required<ArnContext>): MappedRequest {
  const json = jsonTarget(request);
  if (!json) throw new UnmappedRequestError('Secrets Manager request without X-Amz-Target');
  const id = text(json.input.SecretId);
  if (!id) throw new UnmappedRequestError(`Secrets Manager ${json.operation} without a SecretId`);
  // A name stands for the secret's ARN; the recorder replaces it with the ARN the answer names.
  const resource = id.startsWith('arn:') ? id : `arn:${arn.partition}:secretsmanager:${arn.region}:${arn.accountId}:secret:${id}`;
  return { operation: json.operation, requirements: [{ action: `secretsmanager:${json.operation}`, resource }] };
}

function mapSns(request: WireRequest): MappedRequest {
  const { operation, input } = operationAndInput(request);
  if (operation !== 'Publish' && operation !== 'PublishBatch') throw new UnmappedRequestError(`SNS ${operation}: no IAM mapping`);
  const topic = text(input.TopicArn) ?? text(input.TargetArn);
  if (!topic) throw new UnmappedRequestError(`SNS ${operation} without a TopicArn or TargetArn`);
  return { operation, requirements: [{ action: 'sns:Publish', resource: topic }] };
}

function mapSts(request: WireRequest): MappedRequest {
  const { operation, input } = operationAndInput(request);
  if (operation === 'GetCallerIdentity') return { operation, requirements: [] };
  if (operation !== 'AssumeRole') throw new UnmappedRequestError(`STS ${operation}: no IAM mapping`);
  const role = text(input.RoleArn);
  if (!role) throw new UnmappedRequestError('STS AssumeRole without a RoleArn');
  return { operation, requirements: [{ action: 'sts:AssumeRole', resource: role }] };
}

/** SQS batch operations are authorized as their single-message action. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  DeleteMessageBatch: 'sqs:DeleteMessage',
  SendMessageBatch: 'sqs:SendMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

function mapSqs(request: WireRequest, arn: Required<ArnContext>): MappedRequest {
  const { operation, input } = operationAndInput(request);
  const queueArnOf = (name: string, account = arn.accountId) => `arn:${arn.partition}:sqs:${arn.region}:${account}:${name}`;
  const action = SQS_BATCH_ACTIONS[operation] ?? `sqs:${operation}`;
  // Older clients post to the queue URL itself rather than passing QueueUrl.
  const url = text(input.QueueUrl) ?? new URL(request.url, 'http://local').toString();
  const byUrl = /\/(\d{12})\/([^/?]+)\/?(?:\?|$)/.exec(url);
  if (byUrl) return { operation, requirements: [{ action, resource: queueArnOf(byUrl[2] as string, byUrl[1]) }] };
  const name = text(input.QueueName);
  if (name) return { operation, requirements: [{ action, resource: queueArnOf(name) }] };
  const source = text(input.SourceArn);
  if (source) return { operation, requirements: [{ action, resource: source }] };
  if (operation === 'ListQueues') return { operation, requirements: [{ action, resource: '*' }] };
  throw new UnmappedRequestError(`SQS ${operation} names no queue`);
}
