// The call recorder in front of real emulators: requests pass byte for byte (s3rver still verifies their signatures), each is recorded with its principal, IAM action and resource; s3rver gets version ids.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CallRecorder, type RecordedCall, startCallRecorder } from '../../local/call-recorder.js';
import { emulateVersioning, type S3Versions } from '../../local/s3-versions.js';
import { type LocalSecretsManager, startLocalSecretsManager } from '../../local/secrets-manager.js';
import { type LocalSts, startLocalSts } from '../../local/sts.js';
import { LOCAL_CREDENTIALS, S3RVER_CLIENT_SETTINGS } from '../../local/local-account.js';
import { type S3rverOnLoopback, startS3rver } from '../../local/s3rver.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const BUCKET = 'drop';
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/App`;
const SIGNER_ROLE = `arn:aws:iam::${ACCOUNT}:role/Signer`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:token-AbCdEf`;
const MB = 1024 * 1024;

let server: S3rverOnLoopback;
let versions: S3Versions;
let sts: LocalSts;
let secrets: LocalSecretsManager;
let recorder: CallRecorder;
let endpoint: string;
let s3: S3Client;
const s3Events: { key: string; versionId: string | undefined }[] = [];

beforeAll(async () => {
  server = await startS3rver({
    buckets: [BUCKET],
    beforeStart: (s3rver) => {
      versions = emulateVersioning(s3rver, [BUCKET]);
      s3rver.on('event', (event: { Records: { s3: { object: { key: string } } }[] }) => {
        const key = event.Records[0]?.s3.object.key ?? '';
        s3Events.push({ key, versionId: versions.current(BUCKET, key) });
      });
    },
  });
  sts = await startLocalSts({ roles: [SIGNER_ROLE], credentials: LOCAL_CREDENTIALS });
  secrets = await startLocalSecretsManager({ secrets: { [SECRET_ARN]: { name: 'token', value: 'secret-value' } } });
  recorder = startCallRecorder({
    region: REGION,
    accountId: ACCOUNT,
    upstreams: { s3: server.endpoint, sts: sts.endpoint, secretsmanager: secrets.endpoint },
    sessionOf: (token) => sts.sessions.find((s) => s.sessionToken === token),
  });
  endpoint = await recorder.proxy({ kind: 'role', roleArn: APP_ROLE }, 'app');
  s3 = s3Client(LOCAL_CREDENTIALS);
});

afterAll(async () => {
  s3?.destroy();
  await recorder?.stop();
  await sts?.stop();
  await secrets?.stop();
  await server?.stop();
});

beforeEach(() => {
  recorder.calls.length = 0;
  recorder.unmapped.length = 0;
});

function s3Client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client {
  return new S3Client({ ...S3RVER_CLIENT_SETTINGS, endpoint, region: REGION, credentials });
}

const summary = (calls: RecordedCall[]) => calls.map((c) => `${c.principal.kind === 'service' ? c.principal.service : c.principal.roleArn} ${c.operation} ${c.action} ${c.resource} ${c.status}`);

describe('the call recorder', () => {
  it('passes a multipart upload through untouched and records each step as s3:PutObject, then a version read', async () => {
    const body = Buffer.alloc(6 * MB, 'x');
    const upload = await new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'big file.csv', Body: body }, partSize: 5 * MB }).done();
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big file.csv', VersionId: upload.VersionId }));

    expect(head.ContentLength).toBe(body.length);
    expect(summary(recorder.calls)).toEqual([
      `${APP_ROLE} CreateMultipartUpload s3:PutObject arn:aws:s3:::drop/big file.csv 200`,
      `${APP_ROLE} UploadPart s3:PutObject arn:aws:s3:::drop/big file.csv 200`,
      `${APP_ROLE} UploadPart s3:PutObject arn:aws:s3:::drop/big file.csv 200`,
      `${APP_ROLE} CompleteMultipartUpload s3:PutObject arn:aws:s3:::drop/big file.csv 200`,
      `${APP_ROLE} HeadObject s3:GetObjectVersion arn:aws:s3:::drop/big file.csv 200`,
    ]);
    expect(recorder.calls.every((c) => c.accessKeyId === 'S3RVER' && c.source === 'app')).toBe(true);
  });

  it("attributes a presigned GET to the STS session that signed it, whoever fetches it", async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'em/Müşteri + 1.csv', Body: 'a@example.com\n' }));
    const stsClient = new STSClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
    const assumed = await stsClient.send(new AssumeRoleCommand({ RoleArn: SIGNER_ROLE, RoleSessionName: 'signer', DurationSeconds: 900 }));
    stsClient.destroy();
    const c = assumed.Credentials!;
    const signer = s3Client({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    const url = await getSignedUrl(signer, new GetObjectCommand({ Bucket: BUCKET, Key: 'em/Müşteri + 1.csv', VersionId: put.VersionId }), { expiresIn: 900 });
    signer.destroy();

    const download = await fetch(url);

    expect(await download.text()).toBe('a@example.com\n');
    expect(summary(recorder.calls)).toEqual([
      `${APP_ROLE} PutObject s3:PutObject arn:aws:s3:::drop/em/Müşteri + 1.csv 200`,
      `${APP_ROLE} AssumeRole sts:AssumeRole ${SIGNER_ROLE} 200`,
      `${SIGNER_ROLE} GetObject s3:GetObjectVersion arn:aws:s3:::drop/em/Müşteri + 1.csv 200`,
    ]);
    expect(recorder.calls[2]?.principal).toEqual({ kind: 'assumedRole', roleArn: SIGNER_ROLE, sessionName: 'signer' });
  });

  it('records a read of a secret asked for by name against its full ARN', async () => {
    const client = new SecretsManagerClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
    const out = await client.send(new GetSecretValueCommand({ SecretId: 'token' }));
    client.destroy();

    expect(out.SecretString).toBe('secret-value');
    expect(summary(recorder.calls)).toEqual([`${APP_ROLE} GetSecretValue secretsmanager:GetSecretValue ${SECRET_ARN} 200`]);
  });

  it('records a call that failed, with its status: IAM is asked before the service answers', async () => {
    await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'missing.csv' }))).rejects.toThrow();

    expect(summary(recorder.calls)).toEqual([`${APP_ROLE} HeadObject s3:GetObject arn:aws:s3:::drop/missing.csv 404`]);
  });

  it('answers an unsigned request 400 and notes it, recording no call', async () => {
    const response = await fetch(`${endpoint}/${BUCKET}/a.csv`);

    expect(response.status).toBe(400);
    expect(recorder.unmapped).toEqual([expect.objectContaining({ source: 'app', method: 'GET', reason: 'the request is not SigV4-signed' })]);
    expect(recorder.calls).toEqual([]);
  });
});

describe('version ids on s3rver', () => {
  it('gives each write a version id, in the answer and the event, and copies a version onto its key', async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'v.csv', Body: 'one' }));
    const copy = await s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'v.csv', CopySource: `${BUCKET}/v.csv?versionId=${first.VersionId}`, MetadataDirective: 'REPLACE' }),
    );
    const read = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'v.csv', VersionId: copy.VersionId }));

    expect(first.VersionId).toMatch(/^[\w-]{32}$/);
    expect(copy.VersionId).toMatch(/^[\w-]{32}$/);
    expect(copy.VersionId).not.toBe(first.VersionId);
    expect(await read.Body?.transformToString()).toBe('one');
    expect(read.VersionId).toBe(copy.VersionId);
    expect(s3Events.filter((e) => e.key === 'v.csv').map((e) => e.versionId)).toEqual([first.VersionId, copy.VersionId]);
    expect(summary(recorder.calls).slice(1, 2)).toEqual([
      `${APP_ROLE} CopyObject s3:PutObject arn:aws:s3:::drop/v.csv 200`,
    ]);
    expect(recorder.calls[2]).toMatchObject({ operation: 'CopyObject', action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::drop/v.csv' });
  });
});
