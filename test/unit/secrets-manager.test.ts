// Checks the local Secrets Manager endpoint against the real AWS SDK v3 client.
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSecretsManager, startLocalSecretsManager } from '../../local/secrets-manager.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:fps-token-AbCdEf';

describe('local Secrets Manager', () => {
  let sm: LocalSecretsManager;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    sm = await startLocalSecretsManager({
      secrets: { [ARN]: { name: 'fps-token', value: 's3cret' } },
    });
    client = new SecretsManagerClient({
      endpoint: sm.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await sm.stop();
  });

  it('listens on loopback', () => {
    expect(sm.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('returns the secret by ARN with the fields the SDK parses', async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    expect(out.SecretString).toBe('s3cret');
    expect(out.ARN).toBe(ARN);
    expect(out.Name).toBe('fps-token');
    expect(out.VersionStages).toEqual(['AWSCURRENT']);
    expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs((out.CreatedDate as Date).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('returns the secret by name', async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: 'fps-token' }));
    expect(out.SecretString).toBe('s3cret');
  });

  it('throws ResourceNotFoundException for an unknown secret', async () => {
    const err = await client.send(new GetSecretValueCommand({ SecretId: 'nope' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ResourceNotFoundException);
    expect((err as Error).name).toBe('ResourceNotFoundException');
    expect((err as Error).message).toBe("Secrets Manager can't find the specified secret.");
    expect((err as ResourceNotFoundException).$metadata.httpStatusCode).toBe(400);
  });

  it('setSecret changes the value and version, by name or ARN', async () => {
    const before = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    sm.setSecret('fps-token', 'rotated');
    const after = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    expect(after.SecretString).toBe('rotated');
    expect(after.VersionId).not.toBe(before.VersionId);
    sm.setSecret(ARN, 's3cret');
    const back = await client.send(new GetSecretValueCommand({ SecretId: 'fps-token' }));
    expect(back.SecretString).toBe('s3cret');
    expect(() => sm.setSecret('missing', 'v')).toThrow(/no such secret/);
  });

  it('lists its secrets by ARN and name', () => {
    expect(sm.list()).toEqual([{ arn: ARN, name: 'fps-token' }]);
  });

  describe('PutSecretValue', () => {
    it('adds a version that becomes AWSCURRENT; the one before becomes AWSPREVIOUS', async () => {
      const before = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
      const put = await client.send(new PutSecretValueCommand({ SecretId: 'fps-token', SecretString: 'new-token' }));
      expect(put).toMatchObject({ ARN, Name: 'fps-token', VersionStages: ['AWSCURRENT'] });
      expect(put.VersionId).not.toBe(before.VersionId);
      const current = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
      expect(current).toMatchObject({ SecretString: 'new-token', VersionId: put.VersionId, VersionStages: ['AWSCURRENT'] });
      const previous = await client.send(new GetSecretValueCommand({ SecretId: ARN, VersionStage: 'AWSPREVIOUS' }));
      expect(previous).toMatchObject({ SecretString: before.SecretString, VersionId: before.VersionId, VersionStages: ['AWSPREVIOUS'] });
      const byId = await client.send(new GetSecretValueCommand({ SecretId: ARN, VersionId: before.VersionId }));
      expect(byId.SecretString).toBe(before.SecretString);
      sm.setSecret(ARN, 's3cret');
    });

    it('takes the ClientRequestToken as the version id, and a repeated token is a retry', async () => {
      const token = 'a'.repeat(32);
      const first = await client.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: 'v1', ClientRequestToken: token }));
      expect(first.VersionId).toBe(token);
      const again = await client.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: 'v1', ClientRequestToken: token }));
      expect(again.VersionId).toBe(token);
      const other = await client.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: 'v2', ClientRequestToken: token })).catch((e: unknown) => e);
      expect(other).toBeInstanceOf(ResourceExistsException);
      expect((await client.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString).toBe('v1');
      sm.setSecret(ARN, 's3cret');
    });

    it('refuses an unknown secret, a missing value and a binary one', async () => {
      const put = (input: Record<string, unknown>) =>
        client.send(new PutSecretValueCommand({ SecretId: ARN, ...input })).then(
          () => undefined,
          (e: unknown) => (e as Error).name,
        );
      expect(await put({ SecretId: 'nope', SecretString: 'x' })).toBe('ResourceNotFoundException');
      expect(await put({})).toBe('InvalidRequestException');
      expect(await put({ SecretBinary: new Uint8Array([1]) })).toBe('InvalidRequestException');
      expect(await put({ SecretString: 'x'.repeat(65_537) })).toBe('InvalidParameterException');
      expect((await client.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString).toBe('s3cret');
    });
  });

  it('counts GetSecretValue calls, including misses', async () => {
    const before = sm.getCallCount();
    await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    await client.send(new GetSecretValueCommand({ SecretId: 'nope' })).catch(() => {});
    expect(sm.getCallCount()).toBe(before + 2);
  });

  it('answers other operations with UnknownOperationException', async () => {
    const res = await fetch(sm.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'secretsmanager.ListSecrets',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });
});
