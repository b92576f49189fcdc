// UploadsStore on DynamoDB: conditional writes enforce the claim, the lifecycle and the segment lock.
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
import type { ClaimResult, UploadRecord, UploadsStore } from '../core/ports.js';
import { assertTransition, SEGMENT_LOCK_PREFIX, type UploadStatus, UploadsTable } from '../shared/contract.js';

const PK = UploadsTable.partitionKey;
const LOCK_HOLDER = 'lockHolder';

function toItem(record: Partial<UploadRecord>) {
  const { callbackTokenHashes, ...rest } = record;
  const item = marshall(rest, { removeUndefinedValues: true });
  if (callbackTokenHashes?.length) item.callbackTokenHashes = { SS: callbackTokenHashes };
  return item;
}

function fromItem(item: Record<string, unknown>): UploadRecord {
  const record = unmarshall(item as Parameters<typeof unmarshall>[0]) as UploadRecord & { callbackTokenHashes?: Set<string> | string[] };
  if (record.callbackTokenHashes instanceof Set) record.callbackTokenHashes = [...record.callbackTokenHashes];
  return record as UploadRecord;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export class DynamoDbUploadsStore implements UploadsStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async create(record: UploadRecord): Promise<ClaimResult> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, unknown> }).Item;
      const existing = old ? fromItem(old) : await this.get(record.uploadId);
      if (!existing) throw new Error(`Upload ${record.uploadId} exists but could not be read`);
      return { claimed: false, existing };
    }
  }

  async get(uploadId: string): Promise<UploadRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ [PK]: uploadId }), ConsistentRead: true }),
    );
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async update(
    uploadId: string,
    changes: Partial<UploadRecord>,
    condition: { from: readonly UploadStatus[]; expectInvocations?: number; leaseExpiredAt?: string },
    addTokenHash?: string,
  ): Promise<boolean> {
    assertTransition(condition.from, changes.status);
    const names: Record<string, string> = { '#pk': PK, '#status': 'status' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(changes).forEach(([field, value], i) => {
      if (field === PK || field === 'callbackTokenHashes') return;
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
    if (addTokenHash) {
      names['#tokens'] = 'callbackTokenHashes';
      expression += ` ADD #tokens :token`;
    }
    const marshalled = marshall(values, { removeUndefinedValues: true });
    if (addTokenHash) marshalled[':token'] = { SS: [addTokenHash] };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ [PK]: uploadId }),
          UpdateExpression: expression.trim(),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshalled,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async lockSegment(
    segmentName: string,
    uploadId: string,
    isHolderDone: (holderUploadId: string) => Promise<boolean>,
  ): Promise<{ locked: true } | { locked: false; holder: string }> {
    const key = marshall({ [PK]: `${SEGMENT_LOCK_PREFIX}${segmentName}` });
    // Two rounds: a stale holder can be replaced, but only once per call, so we never spin.
    for (let round = 0; round < 2; round++) {
      if (await this.setLockHolder(key, uploadId, 'attribute_not_exists(#holder) OR #holder = :me')) return { locked: true };
      const holder = await this.lockHolder(key);
      if (!holder) continue;
      if (!(await isHolderDone(holder))) return { locked: false, holder };
      if (await this.setLockHolder(key, uploadId, '#holder = :old', holder)) return { locked: true };
    }
    return { locked: false, holder: (await this.lockHolder(key)) ?? 'unknown' };
  }

  private async setLockHolder(key: Record<string, AttributeValue>, uploadId: string, condition: string, oldHolder?: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #holder = :me, lockedAt = :at',
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#holder': LOCK_HOLDER },
          ExpressionAttributeValues: marshall({ ':me': uploadId, ':at': new Date().toISOString(), ...(oldHolder ? { ':old': oldHolder } : {}) }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async lockHolder(key: Record<string, AttributeValue>): Promise<string | undefined> {
    const lock = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return lock.Item ? (unmarshall(lock.Item)[LOCK_HOLDER] as string | undefined) : undefined;
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
    return (out.Items ?? []).map(fromItem);
  }
}
