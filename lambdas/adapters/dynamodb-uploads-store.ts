// UploadsStore on DynamoDB: translates the core's write conditions into conditional writes, and records into items.
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { ClaimResult, Clock, RecordChanges, UploadRecord, UploadsStore, WriteCondition } from '../core/ports.js';
import { SEGMENT_COUNTER_PREFIX, SEGMENT_LOCK_PREFIX, type UploadStatus, UploadsTable } from '../shared/contract.js';

const PK = UploadsTable.partitionKey;
const LOCK_HOLDER = 'lockHolder';
/** On a lock item: the upload Insider accepted under the name (for "already in use" reasons). */
const CREATED_BY = 'createdBy';
/** On a counter item: the last number issued, and the upload it went to. */
const COUNTER = 'n';
const ISSUED_TO = 'issuedTo';
const TOKEN_HASHES = 'callbackTokenHashes';

type Item = Record<string, AttributeValue>;

/** A record as an item: token hashes are a string set, so adding one twice keeps one. */
export function itemFromRecord(record: UploadRecord): Item {
  const { callbackTokenHashes, ...rest } = record;
  const item = marshall(rest, { removeUndefinedValues: true });
  // DynamoDB has no empty sets: no hashes is no attribute.
  if (callbackTokenHashes?.length) item[TOKEN_HASHES] = { SS: callbackTokenHashes };
  return item;
}

/** An item of the table as a record (the local stack and tests read the table through this too). */
export function recordFromItem(item: Item): UploadRecord {
  const { [TOKEN_HASHES]: hashes, ...rest } = unmarshall(item) as UploadRecord & { [TOKEN_HASHES]?: Set<string> | string[] };
  return { ...rest, ...(hashes ? { callbackTokenHashes: [...hashes] } : {}) } as UploadRecord;
}

/** Whether an item of the table is an upload record (not a segment lock or a `{n}` counter). */
export function isUploadRecordItem(item: Item): boolean {
  const id = item[PK]?.S ?? '';
  return !id.startsWith(SEGMENT_LOCK_PREFIX) && !id.startsWith(SEGMENT_COUNTER_PREFIX);
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** The update expression for `changes` under `condition`, as `meetsCondition` defines it. */
function updateExpression(changes: RecordChanges, condition: WriteCondition) {
  const names: Record<string, string> = { '#pk': PK, '#status': 'status' };
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const removes: string[] = [];
  const { addCallbackTokenHash, ...fields } = changes;
  Object.entries(fields).forEach(([field, value], i) => {
    names[`#f${i}`] = field;
    if (value === undefined) {
      removes.push(`#f${i}`);
    } else {
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    }
  });
  const conditions = ['attribute_exists(#pk)'];
  const from = condition.from.map((status, i) => {
    values[`:from${i}`] = status;
    return `:from${i}`;
  });
  conditions.push(`#status IN (${from.join(', ')})`);
  if (condition.expectInvocations !== undefined) {
    names['#inv'] = 'invocations';
    values[':inv'] = condition.expectInvocations;
    conditions.push('#inv = :inv');
  }
  if (condition.leaseExpiredAt !== undefined) {
    names['#lease'] = 'leaseUntil';
    values[':leaseNow'] = condition.leaseExpiredAt;
    conditions.push('(attribute_not_exists(#lease) OR #lease <= :leaseNow)');
  }
  let expression = sets.length ? `SET ${sets.join(', ')}` : '';
  if (removes.length) expression += ` REMOVE ${removes.join(', ')}`;
  const marshalled = marshall(values, { removeUndefinedValues: true });
  if (addCallbackTokenHash) {
    names['#tokens'] = TOKEN_HASHES;
    expression += ' ADD #tokens :token';
    marshalled[':token'] = { SS: [addCallbackTokenHash] };
  }
  return {
    UpdateExpression: expression.trim(),
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: marshalled,
  };
}

export class DynamoDbUploadsStore implements UploadsStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** Stamps when a segment lock was taken, for people reading the table. */
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  async create(record: UploadRecord): Promise<ClaimResult> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: itemFromRecord(record),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Item }).Item;
      const existing = old ? recordFromItem(old) : await this.get(record.uploadId);
      if (!existing) throw new Error(`Upload ${record.uploadId} exists but could not be read`);
      return { claimed: false, existing };
    }
  }

  async get(uploadId: string): Promise<UploadRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ [PK]: uploadId }), ConsistentRead: true }),
    );
    return out.Item ? recordFromItem(out.Item) : undefined;
  }

  async update(uploadId: string, changes: RecordChanges, condition: WriteCondition): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: marshall({ [PK]: uploadId }), ...updateExpression(changes, condition) }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async takeSegmentLock(segmentName: string, uploadId: string, replacing?: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.lockKey(segmentName),
          UpdateExpression: 'SET #holder = :me, lockedAt = :at',
          ConditionExpression: replacing === undefined ? 'attribute_not_exists(#holder) OR #holder = :me' : '#holder = :old',
          ExpressionAttributeNames: { '#holder': LOCK_HOLDER },
          ExpressionAttributeValues: marshall({
            ':me': uploadId,
            ':at': this.clock.now().toISOString(),
            ...(replacing === undefined ? {} : { ':old': replacing }),
          }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async segmentLockHolder(segmentName: string): Promise<string | undefined> {
    const lock = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.lockKey(segmentName), ConsistentRead: true }));
    return lock.Item ? (unmarshall(lock.Item)[LOCK_HOLDER] as string | undefined) : undefined;
  }

  async markSegmentCreated(segmentName: string, uploadId: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.lockKey(segmentName),
        UpdateExpression: 'SET #by = :id, createdAt = :at',
        ExpressionAttributeNames: { '#by': CREATED_BY },
        ExpressionAttributeValues: marshall({ ':id': uploadId, ':at': this.clock.now().toISOString() }),
      }),
    );
  }

  async segmentCreatedBy(segmentName: string): Promise<string | undefined> {
    const lock = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.lockKey(segmentName), ConsistentRead: true }));
    return lock.Item ? (unmarshall(lock.Item)[CREATED_BY] as string | undefined) : undefined;
  }

  async issueSegmentCounter(logicalName: string, uploadId: string): Promise<number> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.counterKey(logicalName),
          UpdateExpression: 'ADD #n :one SET #to = :id, issuedAt = :at',
          // The upload it last went to asks again (a retry): it gets the same number, below.
          ConditionExpression: 'attribute_not_exists(#to) OR #to <> :id',
          ExpressionAttributeNames: { '#n': COUNTER, '#to': ISSUED_TO },
          ExpressionAttributeValues: marshall({ ':one': 1, ':id': uploadId, ':at': this.clock.now().toISOString() }),
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(unmarshall(out.Attributes ?? {})[COUNTER]);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return this.counterValue(logicalName);
    }
  }

  async peekSegmentCounter(logicalName: string): Promise<number> {
    return (await this.counterValue(logicalName)) + 1;
  }

  private async counterValue(logicalName: string): Promise<number> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.counterKey(logicalName), ConsistentRead: true }));
    return out.Item ? Number(unmarshall(out.Item)[COUNTER] ?? 0) : 0;
  }

  private lockKey(segmentName: string): Item {
    return marshall({ [PK]: `${SEGMENT_LOCK_PREFIX}${segmentName}` });
  }

  private counterKey(logicalName: string): Item {
    return marshall({ [PK]: `${SEGMENT_COUNTER_PREFIX}${logicalName}` });
  }

  async listStale(status: UploadStatus, before: string, limit: number): Promise<UploadRecord[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: UploadsTable.byStatusIndex,
        KeyConditionExpression: '#status = :status AND #updated < :before',
        ExpressionAttributeNames: { '#status': UploadsTable.byStatusPartitionKey, '#updated': UploadsTable.byStatusSortKey },
        ExpressionAttributeValues: marshall({ ':status': status, ':before': before }),
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map(recordFromItem);
  }
}
