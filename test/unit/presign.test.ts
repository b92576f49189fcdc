// File URL signing: the recorded expiry is when the signing credentials, or the URL, end, whichever is first.
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessKeyCredentials, assumedRoleCredentials } from '../../lambdas/adapters/presign-credentials.js';
import { S3ObjectStore } from '../../lambdas/adapters/s3-object-store.js';
import { type LocalSts, startLocalSts } from '../../local/sts.js';

const ROLE = 'arn:aws:iam::000000000000:role/PresignRole';
const KEY = { accessKeyId: 'AKIAEXAMPLEPRESIGN01', secretAccessKey: 'presign-secret-key' };
// Signing makes no request: the endpoint is only written into the URL.
const signerConfig = { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true };
const SIGNED_AT = new Date('2026-03-01T12:00:00.000Z');

describe('presigned file URLs', () => {
  let sts: LocalSts;
  let stsClient: STSClient;
  const head = new S3Client(signerConfig);

  beforeAll(async () => {
    sts = await startLocalSts({ roles: [ROLE], credentials: { accessKeyId: 'ASIALOCAL', secretAccessKey: 'x' } });
    stsClient = new STSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    stsClient.destroy();
    head.destroy();
    await sts.stop();
  });

  it('with a role: one fresh session per URL, and the URL recorded to end with it', async () => {
    const store = new S3ObjectStore(head, { signingCredentials: assumedRoleCredentials(stsClient, ROLE), signerConfig });
    const before = sts.sessions.length;
    const { url, expiresAt } = await store.presignGet('drop', 'em/a b.csv', 'v1', 3600);
    const session = sts.sessions[before];
    expect(sts.sessions).toHaveLength(before + 1);
    expect(session).toMatchObject({ roleArn: ROLE, durationSeconds: 3600 });
    const query = new URL(url).searchParams;
    expect(query.get('X-Amz-Security-Token')).toBe(session?.sessionToken);
    expect(query.get('X-Amz-Expires')).toBe('3600');
    expect(query.get('versionId')).toBe('v1');
    // STS hands out whole seconds, so the session ends before signedAt + 3600 s: it is what S3 enforces.
    expect(expiresAt).toEqual(session?.expiration);
  });

  it('with a role: a URL shorter than the shortest session (15 min) ends when it says', async () => {
    const store = new S3ObjectStore(head, { signingCredentials: assumedRoleCredentials(stsClient, ROLE), signerConfig, now: () => new Date() });
    const before = Date.now();
    const { expiresAt } = await store.presignGet('drop', 'em/b.csv', undefined, 600);
    expect(sts.sessions.at(-1)?.durationSeconds).toBe(900);
    expect(expiresAt.getTime() - before).toBeGreaterThanOrEqual(600_000);
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(600_000);
  });

  it('with a role: STS refuses more than an hour (role chaining), so nothing longer is ever recorded', async () => {
    await expect(
      assumedRoleCredentials(stsClient, ROLE)(7200).then((c) => (c.expiration?.getTime() ?? 0) - Date.now()),
    ).resolves.toBeLessThanOrEqual(3600_000);
  });

  it('with an access key: the URL lives exactly as long as asked, up to 7 days', async () => {
    const store = new S3ObjectStore(head, { signingCredentials: accessKeyCredentials(async () => KEY), signerConfig, now: () => SIGNED_AT });
    const { url, expiresAt } = await store.presignGet('drop', 'em/c.csv', undefined, 604_800);
    const query = new URL(url).searchParams;
    expect(query.get('X-Amz-Credential')).toMatch(/^AKIAEXAMPLEPRESIGN01\//);
    expect(query.has('X-Amz-Security-Token')).toBe(false);
    expect(query.get('X-Amz-Expires')).toBe('604800');
    expect(expiresAt).toEqual(new Date(SIGNED_AT.getTime() + 604_800_000));
  });

  it('with an access key: a malformed secret is refused without echoing it', async () => {
    const read = async () => ({ accessKeyId: 'AKIA-leaky', secret: 'do-not-print-me' });
    await expect(accessKeyCredentials(read)(60)).rejects.toThrow(/^The presign access key secret must be JSON/);
    await expect(accessKeyCredentials(read)(60)).rejects.not.toThrow(/do-not-print-me|AKIA-leaky/);
  });

  it('without a signer of its own: temporary credentials that end sooner cap the recorded expiry', async () => {
    const ends = new Date(SIGNED_AT.getTime() + 120_000);
    const client = new S3Client({ ...signerConfig, credentials: async () => ({ ...KEY, sessionToken: 't', expiration: ends }) });
    const store = new S3ObjectStore(client, { now: () => SIGNED_AT });
    expect((await store.presignGet('drop', 'em/d.csv', undefined, 3600)).expiresAt).toEqual(ends);
    client.destroy();
  });
});
