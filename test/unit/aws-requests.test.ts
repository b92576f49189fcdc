// Requests as they arrive on the wire, mapped to the IAM actions and resources AWS authorizes them by.
import { describe, expect, it } from 'vitest';
import { accessKeyIdOf, mapRequest, sessionTokenOf, signingServiceOf, UnmappedRequestError, type WireRequest } from '../../local/aws-requests.js';

const CONTEXT = { region: 'us-east-1', accountId: '000000000000' };
const BUCKET = 'arn:aws:s3:::drop';
const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/Uploads';
const AUTH = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260501/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc';

const s3 = (method: string, url: string, headers: Record<string, string> = {}): WireRequest => ({ service: 's3', method, url, headers });
const json = (service: string, target: string, body: unknown): WireRequest => ({
  service,
  method: 'POST',
  url: '/',
  headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' },
  body: Buffer.from(JSON.stringify(body)),
});
const form = (service: string, params: Record<string, string>): WireRequest => ({
  service,
  method: 'POST',
  url: '/',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: Buffer.from(new URLSearchParams(params).toString()),
});
const map = (request: WireRequest) => mapRequest(request, CONTEXT);

describe('S3, path-style', () => {
  it.each([
    ['HeadObject of a version', s3('HEAD', '/drop/em/a%20b.csv?versionId=v1'), 'HeadObject', 's3:GetObjectVersion', `${BUCKET}/em/a b.csv`],
    ['HeadObject of the current object', s3('HEAD', '/drop/em/a.csv'), 'HeadObject', 's3:GetObject', `${BUCKET}/em/a.csv`],
    ['a presigned GET of a version', s3('GET', '/drop/M%C3%BC%C5%9Fteri%2B1.csv?versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256&x-id=GetObject'), 'GetObject', 's3:GetObjectVersion', `${BUCKET}/Müşteri+1.csv`],
    ['GetObject', s3('GET', '/drop/a.csv?x-id=GetObject'), 'GetObject', 's3:GetObject', `${BUCKET}/a.csv`],
    ['PutObject', s3('PUT', '/drop/a.csv?x-id=PutObject'), 'PutObject', 's3:PutObject', `${BUCKET}/a.csv`],
    ['CreateMultipartUpload', s3('POST', '/drop/big.csv?uploads'), 'CreateMultipartUpload', 's3:PutObject', `${BUCKET}/big.csv`],
    ['UploadPart', s3('PUT', '/drop/big.csv?partNumber=2&uploadId=u1'), 'UploadPart', 's3:PutObject', `${BUCKET}/big.csv`],
    ['CompleteMultipartUpload', s3('POST', '/drop/big.csv?uploadId=u1'), 'CompleteMultipartUpload', 's3:PutObject', `${BUCKET}/big.csv`],
    ['AbortMultipartUpload', s3('DELETE', '/drop/big.csv?uploadId=u1'), 'AbortMultipartUpload', 's3:AbortMultipartUpload', `${BUCKET}/big.csv`],
    ['ListParts', s3('GET', '/drop/big.csv?uploadId=u1'), 'ListParts', 's3:ListMultipartUploadParts', `${BUCKET}/big.csv`],
    ['DeleteObject of a version', s3('DELETE', '/drop/a.csv?versionId=v1'), 'DeleteObject', 's3:DeleteObjectVersion', `${BUCKET}/a.csv`],
    ['ListObjectsV2', s3('GET', '/drop?list-type=2&prefix=em%2F'), 'ListObjects', 's3:ListBucket', BUCKET],
    ['ListObjectVersions', s3('GET', '/drop/?versions'), 'ListObjectVersions', 's3:ListBucketVersions', BUCKET],
    ['PutBucketNotificationConfiguration', s3('PUT', '/drop?notification'), 'PutBucketNotificationConfiguration', 's3:PutBucketNotification', BUCKET],
  ])('%s', (_, request, operation, action, resource) => {
    expect(map(request)).toEqual({ operation, requirements: [{ action, resource }] });
  });

  it('authorizes CopyObject as PutObject on the target and a read of the source version', () => {
    const copy = s3('PUT', '/drop/em/a.csv?x-id=CopyObject', { 'x-amz-copy-source': 'drop/em/a%20b.csv?versionId=v1' });

    expect(map(copy)).toEqual({
      operation: 'CopyObject',
      requirements: [
        { action: 's3:PutObject', resource: `${BUCKET}/em/a.csv` },
        { action: 's3:GetObjectVersion', resource: `${BUCKET}/em/a b.csv` },
      ],
    });
    expect(map(s3('PUT', '/other/b.csv?partNumber=1&uploadId=u1', { 'x-amz-copy-source': '/drop/a.csv' }))).toEqual({
      operation: 'UploadPartCopy',
      requirements: [
        { action: 's3:PutObject', resource: 'arn:aws:s3:::other/b.csv' },
        { action: 's3:GetObject', resource: `${BUCKET}/a.csv` },
      ],
    });
  });

  it('refuses what it does not know rather than guess (object tagging, a virtual-hosted request)', () => {
    expect(() => map(s3('GET', '/drop/a.csv?tagging'))).toThrow(UnmappedRequestError);
    expect(() => map(s3('GET', '/'))).toThrow(/not a path-style bucket or object request/);
  });
});

describe('DynamoDB', () => {
  it.each([
    ['GetItem', { TableName: 'Uploads' }, [{ action: 'dynamodb:GetItem', resource: TABLE }]],
    ['Query', { TableName: 'Uploads', IndexName: 'byStatus' }, [{ action: 'dynamodb:Query', resource: `${TABLE}/index/byStatus` }]],
    ['Query', { TableName: TABLE }, [{ action: 'dynamodb:Query', resource: TABLE }]],
    [
      'TransactWriteItems',
      { TransactItems: [{ Put: { TableName: 'Uploads' } }, { ConditionCheck: { TableName: 'Locks' } }, { Delete: { TableName: 'Uploads' } }, { Update: { TableName: 'Uploads' } }] },
      [
        { action: 'dynamodb:PutItem', resource: TABLE },
        { action: 'dynamodb:ConditionCheckItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Locks' },
        { action: 'dynamodb:DeleteItem', resource: TABLE },
        { action: 'dynamodb:UpdateItem', resource: TABLE },
      ],
    ],
    ['TransactGetItems', { TransactItems: [{ Get: { TableName: 'Uploads' } }] }, [{ action: 'dynamodb:GetItem', resource: TABLE }]],
    ['BatchWriteItem', { RequestItems: { Uploads: [] } }, [{ action: 'dynamodb:BatchWriteItem', resource: TABLE }]],
  ])('%s %j', (operation, body, requirements) => {
    expect(map(json('dynamodb', `DynamoDB_20120810.${operation}`, body))).toEqual({ operation, requirements });
  });
});

describe('the other services', () => {
  it('names the secret, by ARN as given or from its name', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:token-AbCdEf';
    expect(map(json('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: arn })).requirements).toEqual([{ action: 'secretsmanager:GetSecretValue', resource: arn }]);
    expect(map(json('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: 'token' })).requirements).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:token' },
    ]);
  });

  it('maps STS AssumeRole to the target role, and GetCallerIdentity to nothing', () => {
    const role = 'arn:aws:iam::000000000000:role/Presign';
    expect(map(form('sts', { Action: 'AssumeRole', RoleArn: role, RoleSessionName: 's' }))).toEqual({ operation: 'AssumeRole', requirements: [{ action: 'sts:AssumeRole', resource: role }] });
    expect(map(form('sts', { Action: 'GetCallerIdentity' }))).toEqual({ operation: 'GetCallerIdentity', requirements: [] });
  });

  it('maps SNS Publish, in either protocol, to its topic', () => {
    const topic = 'arn:aws:sns:us-east-1:000000000000:Status';
    expect(map(form('sns', { Action: 'Publish', TopicArn: topic, Message: 'm' })).requirements).toEqual([{ action: 'sns:Publish', resource: topic }]);
    expect(map(json('sns', 'AmazonSimpleNotificationService.Publish', { TopicArn: topic })).requirements).toEqual([{ action: 'sns:Publish', resource: topic }]);
  });

  it.each([
    ['ChangeMessageVisibility', 'sqs:ChangeMessageVisibility'],
    ['DeleteMessageBatch', 'sqs:DeleteMessage'],
    ['ReceiveMessage', 'sqs:ReceiveMessage'],
  ])('maps SQS %s to %s on the queue its URL names, whatever the host', (operation, action) => {
    const body = { QueueUrl: 'http://127.0.0.1:4567/000000000000/Events' };
    expect(map(json('sqs', `AmazonSQS.${operation}`, body))).toEqual({ operation, requirements: [{ action, resource: 'arn:aws:sqs:us-east-1:000000000000:Events' }] });
  });

  it('refuses a service it does not know', () => {
    expect(() => map({ service: 'kinesis', method: 'POST', url: '/', headers: {} })).toThrow(UnmappedRequestError);
  });
});

describe('who signed it', () => {
  it('reads the service and access key id from the Authorization header, or from a presigned URL', () => {
    expect(signingServiceOf('/', { authorization: AUTH })).toBe('dynamodb');
    expect(accessKeyIdOf('/', { authorization: AUTH })).toBe('AKIDEXAMPLE');
    const presigned = '/drop/a.csv?X-Amz-Credential=ASIATEMP%2F20260501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=session-1';
    expect(signingServiceOf(presigned, {})).toBe('s3');
    expect(accessKeyIdOf(presigned, {})).toBe('ASIATEMP');
    expect(sessionTokenOf(presigned, {})).toBe('session-1');
    expect(sessionTokenOf('/', { 'x-amz-security-token': 'session-2' })).toBe('session-2');
    expect(signingServiceOf('/', {})).toBeUndefined();
  });
});
