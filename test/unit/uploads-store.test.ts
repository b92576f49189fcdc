// The UploadsStore contract run against both stores: the in-memory fake the core's tests use, and DynamoDB (dynalite) with the template's own table.
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbUploadsStore, itemFromRecord, recordFromItem } from '../../lambdas/adapters/dynamodb-uploads-store.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { SEGMENT_LOCK_PREFIX, UploadsTable } from '../../lambdas/shared/contract.js';
import { type CfnTableProperties, createTableFromTemplate, type LocalDynamoDb, startDynalite } from '../../local/dynamodb.js';
import { FakeClock, MemoryStore } from '../../local/fakes.js';
import { type CfnTemplate, readTemplate } from '../../local/template.js';
import { synth } from '../infra/synth.js';
import { uploadsStoreContract } from '../support/uploads-store-contract.js';

let db: LocalDynamoDb;
let client: DynamoDBClient;
let table: CfnTableProperties;
let tables = 0;
const clock = new FakeClock();

beforeAll(async () => {
  // The table exactly as the stack defines it (keys and indexes), read from the synthesized template.
  const synthesized = synth({ partnerName: 'contract' }, { bundle: false });
  try {
    const read = readTemplate(synthesized.template.toJSON() as CfnTemplate, synthesized.outdir);
    expect(read.tables).toHaveLength(1);
    table = read.tables[0]!.properties;
  } finally {
    synthesized.cleanUp();
  }
  db = await startDynalite();
  client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

/** A fresh table per test, so each starts empty. */
async function freshTable(): Promise<string> {
  const name = `uploads-${++tables}`;
  await createTableFromTemplate(db.endpoint, name, table);
  return name;
}

uploadsStoreContract('MemoryStore', async () => new MemoryStore());
uploadsStoreContract('DynamoDbUploadsStore on dynalite', async () => new DynamoDbUploadsStore(client, await freshTable(), clock));

describe('createTableFromTemplate', () => {
  it('returns once the table is ACTIVE, so a first write right after it succeeds', async () => {
    // A table that stays CREATING for 400 ms, as DynamoDB's do for seconds: a write before ACTIVE is ResourceNotFound.
    const slow = await startDynalite(0, { createTableMs: 400 });
    const slowClient = new DynamoDBClient({ endpoint: slow.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const started = Date.now();
      await createTableFromTemplate(slow.endpoint, 'slow', table);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect((await slowClient.send(new DescribeTableCommand({ TableName: 'slow' }))).Table?.TableStatus).toBe('ACTIVE');
      await slowClient.send(new PutItemCommand({ TableName: 'slow', Item: { [UploadsTable.partitionKey]: { S: 'first' } } }));
    } finally {
      slowClient.destroy();
      await slow.stop();
    }
  });
});

describe('DynamoDbUploadsStore items', () => {
  it('uses the template\'s table, status index included', () => {
    expect(table.KeySchema).toEqual([{ AttributeName: UploadsTable.partitionKey, KeyType: 'HASH' }]);
    expect(table.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([UploadsTable.byStatusIndex, UploadsTable.bySegmentIndex].sort());
  });

  it('stores token hashes as a string set and maps items back to records', async () => {
    const name = await freshTable();
    const store = new DynamoDbUploadsStore(client, name, clock);
    const record: UploadRecord = { uploadId: 'i', bucket: 'b', key: 'k', size: 1, status: 'received', receivedAt: 't', updatedAt: 't', callbackTokenHashes: ['h1'] };
    await store.create(record);
    await store.update('i', { addCallbackTokenHash: 'h2' }, { from: ['received'] });
    const raw = await client.send(new GetItemCommand({ TableName: name, Key: { [UploadsTable.partitionKey]: { S: 'i' } } }));
    expect(raw.Item?.callbackTokenHashes?.SS?.sort()).toEqual(['h1', 'h2']);
    expect(recordFromItem(itemFromRecord(record))).toEqual(record);
  });

  it('stamps a segment lock with the store\'s clock, and keeps it out of the indexes', async () => {
    const name = await freshTable();
    const store = new DynamoDbUploadsStore(client, name, clock);
    expect(await store.takeSegmentLock('VIP', 'u1')).toBe(true);
    const raw = await client.send(new GetItemCommand({ TableName: name, Key: { [UploadsTable.partitionKey]: { S: `${SEGMENT_LOCK_PREFIX}VIP` } } }));
    expect(raw.Item).toEqual({
      [UploadsTable.partitionKey]: { S: `${SEGMENT_LOCK_PREFIX}VIP` },
      lockHolder: { S: 'u1' },
      lockedAt: { S: clock.now().toISOString() },
    });
  });
});
