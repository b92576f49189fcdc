// The local stack's uploads table read back: every upload record, and a wait until given keys have final ones.
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { isUploadRecordItem, recordFromItem } from '../lambdas/adapters/dynamodb-uploads-store.js';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { FINAL_STATUSES } from '../lambdas/shared/contract.js';

/** All upload records (locks and counters left out), read consistently. */
export async function scanRecords(dynamodb: DynamoDBClient, tableName: string): Promise<UploadRecord[]> {
  const items: UploadRecord[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of page.Items ?? []) if (isUploadRecordItem(item)) items.push(recordFromItem(item));
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return items;
}

export interface WaitForFinalOptions {
  /** @default 50_000 (a first drop on a loaded machine waits for cold starts; the test timeout is 60 s) */
  timeoutMs?: number;
  /** @default 100 */
  pollMs?: number;
  /** Count `submitted` as done too. */
  acceptSubmitted?: boolean;
}

/** Polls `records` until every key has a record and all of them are final; throws, naming what is missing, at the timeout. */
export async function waitForFinalRecords(records: () => Promise<UploadRecord[]>, keys: string[], options: WaitForFinalOptions = {}): Promise<UploadRecord[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 50_000);
  const done = options.acceptSubmitted ? [...FINAL_STATUSES, 'submitted'] : FINAL_STATUSES;
  for (;;) {
    const all = await records();
    const mine = all.filter((r) => keys.includes(r.key));
    const covered = new Set(mine.map((r) => r.key));
    if (keys.every((k) => covered.has(k)) && mine.every((r) => done.includes(r.status))) return mine;
    if (Date.now() > deadline) {
      const pending = keys.filter((k) => !covered.has(k));
      const open = mine.filter((r) => !done.includes(r.status)).map((r) => `${r.key}: ${r.status}`);
      throw new Error(`Timed out waiting for final records. Missing: ${JSON.stringify(pending)}; not final: ${JSON.stringify(open)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}
