// Adapter test: the DynamoDB uploads store against embedded DynamoDB (dynalite) over HTTP with the real SDK.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbUploadsStore } from '../../lambdas/adapters/dynamodb-uploads-store.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { UploadsTable } from '../../lambdas/shared/contract.js';
import { createTableFromTemplate, type LocalDynamoDb, startDynalite } from '../../local/dynamodb.js';

let db: LocalDynamoDb;
let client: DynamoDBClient;
let store: DynamoDbUploadsStore;

const S = 'S' as const;
beforeAll(async () => {
  db = await startDynalite();
  await createTableFromTemplate(db.endpoint, 'uploads', {
    KeySchema: [{ AttributeName: UploadsTable.partitionKey, KeyType: 'HASH' }],
    AttributeDefinitions: [
      { AttributeName: UploadsTable.partitionKey, AttributeType: S },
      { AttributeName: UploadsTable.byStatusPartitionKey, AttributeType: S },
      { AttributeName: UploadsTable.byStatusSortKey, AttributeType: S },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: UploadsTable.byStatusIndex,
        KeySchema: [
          { AttributeName: UploadsTable.byStatusPartitionKey, KeyType: 'HASH' },
          { AttributeName: UploadsTable.byStatusSortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  });
  client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  store = new DynamoDbUploadsStore(client, 'uploads');
});

afterAll(async () => {
  client.destroy();
  await db.stop();
});

const record = (uploadId: string, extra: Partial<UploadRecord> = {}): UploadRecord => ({
  uploadId,
  bucket: 'b',
  key: 'em/a b.csv',
  size: 10,
  status: 'received',
  receivedAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
  invocations: 1,
  ...extra,
});

describe('DynamoDbUploadsStore', () => {
  it('claims an id once and returns the existing record the second time', async () => {
    expect(await store.create(record('one'))).toEqual({ claimed: true });
    const second = await store.create(record('one', { size: 99 }));
    expect(second).toMatchObject({ claimed: false, existing: { uploadId: 'one', size: 10 } });
  });

  it('updates only from the expected status and owner, and adds token hashes', async () => {
    await store.create(record('two'));
    expect(await store.update('two', { status: 'submitted' }, { from: ['received'], expectInvocations: 2 })).toBe(false);
    expect(await store.update('two', { reason: 'x' }, { from: ['received'], expectInvocations: 1 }, 'h1')).toBe(true);
    expect(await store.update('two', { reason: 'y' }, { from: ['received'] }, 'h2')).toBe(true);
    expect(await store.update('two', { status: 'submitted', note: undefined }, { from: ['received'] })).toBe(true);
    expect(await store.update('two', { status: 'failed' }, { from: ['received'] })).toBe(false);
    const got = await store.get('two');
    expect(got).toMatchObject({ status: 'submitted', reason: 'y' });
    expect(got?.callbackTokenHashes?.sort()).toEqual(['h1', 'h2']);
  });

  it('honours the lease', async () => {
    await store.create(record('three', { leaseUntil: '2026-11-29T10:05:00.000Z' }));
    expect(await store.update('three', { invocations: 2 }, { from: ['received'], leaseExpiredAt: '2026-11-29T10:04:00.000Z' })).toBe(false);
    expect(await store.update('three', { invocations: 2 }, { from: ['received'], leaseExpiredAt: '2026-11-29T10:06:00.000Z' })).toBe(true);
  });

  it('locks a segment name for one upload and hands it over once the holder is done', async () => {
    let holderDone = false;
    expect(await store.lockSegment('VIP', 'u1', async () => holderDone)).toEqual({ locked: true });
    expect(await store.lockSegment('VIP', 'u1', async () => holderDone)).toEqual({ locked: true });
    expect(await store.lockSegment('VIP', 'u2', async () => holderDone)).toEqual({ locked: false, holder: 'u1' });
    holderDone = true;
    expect(await store.lockSegment('VIP', 'u2', async () => holderDone)).toEqual({ locked: true });
  });

  it('lists stale records of one status through the index, oldest first', async () => {
    await store.create(record('s-old', { status: 'submitted', updatedAt: '2026-11-29T01:00:00.000Z' }));
    await store.create(record('s-older', { status: 'submitted', updatedAt: '2026-11-29T00:00:00.000Z' }));
    await store.create(record('s-new', { status: 'submitted', updatedAt: '2026-11-29T09:00:00.000Z' }));
    const stale = await store.listStale('submitted', '2026-11-29T05:00:00.000Z', 10);
    expect(stale.map((r) => r.uploadId)).toEqual(['s-older', 's-old']);
  });
});

describe('lifecycle enforcement', () => {
  it('refuses a write that would move a record backwards or out of a final status', async () => {
    await store.create(record('four', { status: 'completed' }));
    await expect(store.update('four', { status: 'submitted' }, { from: ['completed'] })).rejects.toThrow(/Illegal upload status transition completed → submitted/);
    await expect(store.update('four', { status: 'received' }, { from: ['submitted'] })).rejects.toThrow(/submitted → received/);
    expect((await store.get('four'))?.status).toBe('completed');
  });
});
