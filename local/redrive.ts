// `npm run redrive` as a function: lists failed uploads, copies the chosen ones onto themselves with their own metadata, and clears their failure-queue messages.
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ConditionalCheckFailedException, type DynamoDBClient, QueryCommand, type QueryCommandInput, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CopyObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { recordFromItem } from '../lambdas/adapters/dynamodb-uploads-store.js';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { UploadsTable } from '../lambdas/shared/contract.js';
import { namesFromOutputs, type RedriveOptions, UsageError } from './redrive-args.js';
import { uploadIdFor } from '../lambdas/core/submit-upload.js';
import { describeError, hasRealVersionId, newestFirst, type ObjectProperties, planCopy, printable, selectUploads, splitRedriven, uploadsTable } from './redrive-core.js';
import { clearMessages, type DeletedMessage, type QueueScanSettings } from './redrive-queue.js';

export interface RedriveClients {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  sqs: SQSClient;
  /** Needed only to read names from a stack (`names.stack`). */
  cloudformation?: CloudFormationClient | undefined;
}

/** Where the command talks to the person running it. */
export interface RedriveOutput {
  /** A line of progress (stdout). */
  info(line: string): void;
  /** A line about something that went wrong (stderr). */
  warn(line: string): void;
  /** Asks a yes/no question; absent when nobody can answer (stdin is not a terminal). */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
}

export interface RedrivenUpload {
  uploadId: string;
  bucket: string;
  key: string;
  /** The version copied; absent when the bucket keeps no versions and the current object was copied. */
  sourceVersionId?: string | undefined;
  /** The copy's version id, when the bucket keeps versions. */
  newVersionId?: string | undefined;
}

export interface RedriveResult {
  exitCode: number;
  listed: UploadRecord[];
  redriven: RedrivenUpload[];
  notRedriven: { uploadId: string; reason: string }[];
  deletedMessages: DeletedMessage[];
  /** Messages seen in the failure queue and left there (made visible again). */
  keptMessages: number;
  /** Uploads in the chosen statuses that an earlier run redrove (`redrivenAt`): not listed, never redriven again. */
  alreadyRedriven: UploadRecord[];
}

export const ExitCode = { ok: 0, notAllRedriven: 1, usage: 2 } as const;

interface ResolvedNames {
  table: string;
  bucket?: string | undefined;
  queueUrl?: string | undefined;
}

async function resolveNames(options: RedriveOptions, clients: RedriveClients): Promise<ResolvedNames> {
  const { names } = options;
  if (names.stack !== undefined) {
    if (!clients.cloudformation) throw new UsageError('Reading names from a stack needs a CloudFormation client');
    const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: names.stack }));
    return namesFromOutputs(out.Stacks?.[0]?.Outputs ?? [], names);
  }
  if (names.table === undefined) throw new UsageError('Name the stack (--stack) or the table (--table)');
  return { table: names.table, bucket: names.bucket, queueUrl: names.queueUrl };
}

async function listUploads(dynamodb: DynamoDBClient, table: string, options: RedriveOptions): Promise<UploadRecord[]> {
  const records: UploadRecord[] = [];
  for (const status of options.statuses) {
    const input: QueryCommandInput = {
      TableName: table,
      IndexName: UploadsTable.byStatusIndex,
      KeyConditionExpression: options.since === undefined ? '#status = :status' : '#status = :status AND #updatedAt >= :since',
      ExpressionAttributeNames: { '#status': UploadsTable.byStatusPartitionKey, ...(options.since === undefined ? {} : { '#updatedAt': UploadsTable.byStatusSortKey }) },
      ExpressionAttributeValues: { ':status': { S: status }, ...(options.since === undefined ? {} : { ':since': { S: options.since } }) },
      ScanIndexForward: false,
    };
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const page = await dynamodb.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      records.push(...(page.Items ?? []).map(recordFromItem));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return newestFirst(records);
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  // A version that is now a delete marker answers 405 to HeadObject.
  return ['NotFound', 'NoSuchKey', 'NoSuchVersion'].includes(e?.name ?? '') || e?.$metadata?.httpStatusCode === 404 || e?.$metadata?.httpStatusCode === 405;
}

async function headObject(s3: S3Client, record: UploadRecord): Promise<ObjectProperties | undefined> {
  try {
    const out = await s3.send(
      new HeadObjectCommand({ Bucket: record.bucket, Key: record.key, VersionId: hasRealVersionId(record) ? record.versionId : undefined }),
    );
    return {
      metadata: out.Metadata ?? {},
      contentType: out.ContentType,
      contentEncoding: out.ContentEncoding,
      contentDisposition: out.ContentDisposition,
      cacheControl: out.CacheControl,
      contentLanguage: out.ContentLanguage,
      size: out.ContentLength,
      lastModified: out.LastModified,
    };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The metadata as the person set it, for the progress line (names and values people chose, never file content). */
function describeProperties(input: { Metadata?: Record<string, string> | undefined; ContentType?: string | undefined }): string {
  const metadata = Object.entries(input.Metadata ?? {}).map(([k, value]) => `${k}=${value}`);
  const parts = [metadata.length > 0 ? `metadata ${metadata.join(', ')}` : 'no user metadata', `content type ${input.ContentType ?? '(none)'}`];
  return printable(parts.join('; '));
}

const REDRIVEN_AT = 'redrivenAt';

/**
 * Marks the upload as being redriven, only if it is still in the status it was listed in and no
 * other run marked it first: two runs at once cannot both copy it. False when it was taken.
 */
async function claimRedrive(dynamodb: DynamoDBClient, table: string, record: UploadRecord, at: string): Promise<boolean> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { [UploadsTable.partitionKey]: { S: record.uploadId } },
        UpdateExpression: 'SET #at = :at',
        ConditionExpression: '#status = :status AND attribute_not_exists(#at)',
        ExpressionAttributeNames: { '#at': REDRIVEN_AT, '#status': UploadsTable.byStatusPartitionKey },
        ExpressionAttributeValues: { ':at': { S: at }, ':status': { S: record.status } },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** After the copy, in a versioned bucket: the new upload's id on the old record. */
async function noteRedrivenAs(dynamodb: DynamoDBClient, table: string, record: UploadRecord, redrivenAs: string): Promise<void> {
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { [UploadsTable.partitionKey]: { S: record.uploadId } },
      UpdateExpression: 'SET redrivenAs = :as',
      ExpressionAttributeValues: { ':as': { S: redrivenAs } },
    }),
  );
}

/** When the copy failed: the mark taken off again (only this run's), so the upload can be redriven later. */
async function releaseRedrive(dynamodb: DynamoDBClient, table: string, record: UploadRecord, at: string): Promise<void> {
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { [UploadsTable.partitionKey]: { S: record.uploadId } },
      UpdateExpression: 'REMOVE #at',
      ConditionExpression: '#at = :at',
      ExpressionAttributeNames: { '#at': REDRIVEN_AT },
      ExpressionAttributeValues: { ':at': { S: at } },
    }),
  );
}

/** Copies each chosen upload's object version onto its key, keeping what the user set on it. */
async function resubmit(clients: RedriveClients, table: string, chosen: UploadRecord[], output: RedriveOutput, result: RedriveResult): Promise<void> {
  const { s3, dynamodb } = clients;
  for (const [i, record] of chosen.entries()) {
    const label = `[${i + 1}/${chosen.length}] ${record.uploadId} s3://${printable(record.bucket)}/${printable(record.key)}`;
    let plan: ReturnType<typeof planCopy>;
    try {
      plan = planCopy(record, await headObject(s3, record));
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      // S3 answers 403, not 404, for a missing object to a caller who may not list the bucket.
      const hint = status === 403 ? ' (403: no permission to read it, or it no longer exists and you may not list the bucket)' : '';
      const reason = `could not read the object: ${describeError(error)}${hint}`;
      output.warn(`${label}: not redriven, ${reason}`);
      result.notRedriven.push({ uploadId: record.uploadId, reason });
      continue;
    }
    if (plan.kind === 'skip') {
      output.warn(`${label}: skipped, ${plan.reason}`);
      result.notRedriven.push({ uploadId: record.uploadId, reason: plan.reason });
      continue;
    }
    const at = new Date().toISOString();
    if (!(await claimRedrive(dynamodb, table, record, at))) {
      const reason = 'another run redrove it meanwhile, or its status changed; nothing copied';
      output.warn(`${label}: skipped, ${reason}`);
      result.notRedriven.push({ uploadId: record.uploadId, reason });
      continue;
    }
    if (plan.note) output.info(`${label}: ${plan.note}`);
    output.info(`${label}: copying onto itself with ${describeProperties(plan.input)}`);
    try {
      const out = await s3.send(new CopyObjectCommand(plan.input));
      const redrivenAs = out.VersionId ? uploadIdFor({ bucket: record.bucket, key: record.key, versionId: out.VersionId }) : undefined;
      if (redrivenAs) {
        await noteRedrivenAs(dynamodb, table, record, redrivenAs).catch((error) =>
          output.warn(`${label}: copied, but could not note the new upload's id on the record (${describeError(error)})`),
        );
      }
      output.info(
        `${label}: copied${out.VersionId ? ` as version ${out.VersionId} (upload ${redrivenAs})` : ''}; the pipeline handles it as a new upload, and this record is marked redrivenAt`,
      );
      result.redriven.push({
        uploadId: record.uploadId,
        bucket: record.bucket,
        key: record.key,
        sourceVersionId: hasRealVersionId(record) ? record.versionId : undefined,
        newVersionId: out.VersionId,
      });
    } catch (error) {
      const reason = `the copy failed: ${describeError(error)}`;
      output.warn(`${label}: not redriven, ${reason}`);
      result.notRedriven.push({ uploadId: record.uploadId, reason });
      await releaseRedrive(dynamodb, table, record, at).catch((e) =>
        output.warn(`${label}: could not take the redrivenAt mark off again (${describeError(e)}); remove it by hand to redrive this upload later`),
      );
    }
  }
}

/**
 * The redrive command. Lists the uploads in the chosen statuses; with a choice, re-submits each
 * chosen upload as a new one (a copy of its object version onto its key, metadata and content
 * headers re-sent) and deletes the failure-queue messages that name it. Never reads an object's body.
 */
export async function redrive(
  options: RedriveOptions,
  clients: RedriveClients,
  output: RedriveOutput,
  scan: QueueScanSettings = {},
): Promise<RedriveResult> {
  const result: RedriveResult = { exitCode: ExitCode.ok, listed: [], redriven: [], notRedriven: [], deletedMessages: [], keptMessages: 0, alreadyRedriven: [] };
  const names = await resolveNames(options, clients);
  const redriving = options.choice.kind !== 'list';
  if (redriving && (!names.bucket || !names.queueUrl)) {
    throw new UsageError('Redriving needs the drop bucket and the failed-uploads queue: give --stack, or --bucket and --queue-url');
  }
  output.info(
    `Uploads table ${names.table}${names.bucket ? `, drop bucket ${names.bucket}` : ''}${names.queueUrl ? `, failed-uploads queue ${names.queueUrl}` : ''}`,
  );

  const { open, redriven } = splitRedriven(await listUploads(clients.dynamodb, names.table, options));
  result.listed = open;
  result.alreadyRedriven = redriven;
  const since = options.since ? ` updated since ${options.since}` : '';
  const what = `${options.statuses.join(' or ')} uploads${since}`;
  const count = result.listed.length;
  output.info(
    count === 0 ? `No ${what}.` : `${plural(count, `${options.statuses.join(' or ')} upload`)}${since}, newest first:\n${uploadsTable(result.listed)}`,
  );
  if (redriven.length > 0) {
    output.info(
      `Not listed: ${plural(redriven.length, 'upload')} that an earlier run redrove already (redrivenAt on the record; the new upload has its own record): ${redriven.map((r) => r.uploadId).join(', ')}.`,
    );
  }
  if (!redriving) {
    if (result.listed.length > 0) output.info('Nothing changed. To redrive, add --all or --upload-id <id> (repeatable).');
    return result;
  }

  const { chosen, unknownIds, held } = selectUploads(result.listed, options.choice);
  for (const { uploadId, reason } of held) {
    output.warn(`${uploadId}: not redriven, ${reason}`);
    result.notRedriven.push({ uploadId, reason });
  }
  for (const id of unknownIds) {
    const alreadyDone = redriven.find((r) => r.uploadId === id);
    const reason = alreadyDone
      ? `redriven already at ${alreadyDone.redrivenAt}${alreadyDone.redrivenAs ? ` as upload ${alreadyDone.redrivenAs}` : ''}: follow that upload instead`
      : `not among the ${what} listed above`;
    output.warn(`${printable(id)}: ${reason}`);
    result.notRedriven.push({ uploadId: id, reason });
  }
  const inBucket = chosen.filter((record) => {
    if (record.bucket === names.bucket) return true;
    const reason = `its object is in bucket ${printable(record.bucket)}, not the drop bucket ${names.bucket}`;
    output.warn(`${record.uploadId}: not redriven, ${reason}`);
    result.notRedriven.push({ uploadId: record.uploadId, reason });
    return false;
  });
  if (inBucket.length === 0) {
    output.info('Nothing to redrive.');
    result.exitCode = result.notRedriven.length > 0 ? ExitCode.notAllRedriven : ExitCode.ok;
    return result;
  }

  if (!options.yes) {
    const question = `Redrive ${plural(inBucket.length, 'upload')}? Each object is copied onto itself (a new upload) and its failure-queue messages are deleted. [y/N] `;
    if (!output.confirm) {
      output.warn('Not redriving: stdin is not a terminal, so nobody can confirm. Add --yes to redrive without asking.');
      result.exitCode = ExitCode.usage;
      return result;
    }
    if (!(await output.confirm(question))) {
      output.info('Nothing redriven.');
      result.exitCode = result.notRedriven.length > 0 ? ExitCode.notAllRedriven : ExitCode.ok;
      return result;
    }
  }

  output.info(`Re-submitting ${plural(inBucket.length, 'upload')}:`);
  await resubmit(clients, names.table, inBucket, output, result);

  const redrivenRecords = inBucket.filter((r) => result.redriven.some((done) => done.uploadId === r.uploadId));
  let queueErrors: string[] = [];
  if (redrivenRecords.length === 0) {
    output.info('No upload was redriven; the failed-uploads queue is left as it is.');
  } else {
    output.info(`Deleting the failed-uploads queue's messages for the ${plural(redrivenRecords.length, 'redriven upload')}:`);
    try {
      queueErrors = await clearMessages(clients.sqs, names.queueUrl as string, redrivenRecords, scan, output, result);
      const cleared = new Set(result.deletedMessages.flatMap((m) => m.uploadIds));
      const without = redrivenRecords.filter((r) => !cleared.has(r.uploadId)).length;
      output.info(
        `  deleted ${plural(result.deletedMessages.length, 'message')}; left ${plural(result.keptMessages, 'other message')} in the queue, untouched` +
          (without > 0 ? `; ${plural(without, 'redriven upload')} had none (rejected and timed-out uploads never have one; a failed one's may be gone already)` : ''),
      );
    } catch (error) {
      const problem = `could not go through the failed-uploads queue (${describeError(error)}). The uploads above were redriven: delete their messages by hand.`;
      output.warn(`  ${problem}`);
      queueErrors = [problem];
    }
  }

  output.info(
    `Redriven ${result.redriven.length} of ${chosen.length + unknownIds.length + held.length} chosen; ` +
      (result.notRedriven.length === 0 ? 'all done.' : `not redriven: ${result.notRedriven.map((n) => printable(n.uploadId)).join(', ')}.`) +
      (result.redriven.length > 0 ? ' Follow the new uploads in the table (byStatus or bySegment index, newest first).' : ''),
  );
  result.exitCode = result.notRedriven.length > 0 || queueErrors.length > 0 ? ExitCode.notAllRedriven : ExitCode.ok;
  return result;
}
