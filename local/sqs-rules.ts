// What the local SQS accepts and how it refuses: error codes for both protocols, parameter and attribute ranges, message attribute and batch checks, and the MD5 digests SQS returns.
import { createHash } from 'node:crypto';

/** A message attribute as the JSON protocol names it; BinaryValue already decoded. */
export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

/** An SQS error: `name` is the JSON protocol's shape name; the Query code and HTTP status are looked up from it. */
export class SqsError extends Error {
  constructor(
    readonly code: SqsErrorName,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** Shape name → Query-protocol code and HTTP status, as in the SQS service model (`awsQueryError` traits). */
export const SQS_ERRORS = {
  QueueDoesNotExist: { queryCode: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 },
  QueueNameExists: { queryCode: 'QueueAlreadyExists', status: 400 },
  ReceiptHandleIsInvalid: { queryCode: 'ReceiptHandleIsInvalid', status: 404 },
  MessageNotInflight: { queryCode: 'AWS.SimpleQueueService.MessageNotInflight', status: 400 },
  InvalidAttributeName: { queryCode: 'InvalidAttributeName', status: 400 },
  InvalidAttributeValue: { queryCode: 'InvalidAttributeValue', status: 400 },
  InvalidMessageContents: { queryCode: 'InvalidMessageContents', status: 400 },
  EmptyBatchRequest: { queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest', status: 400 },
  TooManyEntriesInBatchRequest: { queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', status: 400 },
  BatchEntryIdsNotDistinct: { queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', status: 400 },
  InvalidBatchEntryId: { queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId', status: 400 },
  ResourceNotFoundException: { queryCode: 'ResourceNotFoundException', status: 404 },
  UnsupportedOperation: { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation', status: 400 },
  // Not modelled as shapes; SQS answers them with these codes in both protocols.
  InvalidParameterValue: { queryCode: 'InvalidParameterValue', status: 400 },
  MissingParameter: { queryCode: 'MissingParameter', status: 400 },
  InvalidAction: { queryCode: 'InvalidAction', status: 400 },
} as const;
export type SqsErrorName = keyof typeof SQS_ERRORS;

export const NO_QUEUE = 'The specified queue does not exist.';

/** Attributes CreateQueue/SetQueueAttributes accept, with SQS's defaults. */
export const SETTABLE_DEFAULTS: Record<string, string | undefined> = {
  DelaySeconds: '0',
  MaximumMessageSize: '262144',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  RedrivePolicy: undefined,
  RedriveAllowPolicy: undefined,
  Policy: undefined,
  KmsMasterKeyId: undefined,
  KmsDataKeyReusePeriodSeconds: undefined,
  SqsManagedSseEnabled: 'true',
};
const INTEGER_RANGES: Record<string, [number, number]> = {
  DelaySeconds: [0, 900],
  MaximumMessageSize: [1024, 1048576],
  MessageRetentionPeriod: [60, 1209600],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  VisibilityTimeout: [0, 43200],
};
export const COMPUTED_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
];

export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
/** Characters SQS accepts in a body or string attribute (XML 1.0's Char production). */
export const VALID_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const MAX_ATTRIBUTES = 10;

export const md5 = (data: string | Uint8Array) => createHash('md5').update(data).digest('hex');

/**
 * MD5OfMessageAttributes as SQS computes it: for each attribute sorted by name, the name, the data
 * type (each as a 4-byte big-endian length and UTF-8 bytes), a transport byte (1 string, 2 binary)
 * and the value (length-prefixed).
 */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Uint8Array) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, Buffer.from(bytes));
  };
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(value.BinaryValue);
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return md5(Buffer.concat(parts));
}

/** A request's whole-number parameter, checked against its range; undefined when not given. */
export function integerParameter(value: number | undefined, name: string, [min, max]: [number, number]): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SqsError('InvalidParameterValue', `Value ${value} for parameter ${name} is invalid. Reason: Must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/** Checks a message's attributes and returns the bytes they count towards the message size. */
export function validateMessageAttributes(attributes: Record<string, MessageAttributeValue>): number {
  const names = Object.keys(attributes);
  if (names.length > MAX_ATTRIBUTES) {
    throw new SqsError('InvalidParameterValue', `Number of message attributes [${names.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  }
  let bytes = 0;
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..') || /^(aws|amazon)\./i.test(name)) {
      throw new SqsError('InvalidParameterValue', `Message attribute name '${name}' is invalid.`);
    }
    const type = value.DataType ?? '';
    if (!/^(String|Number|Binary)(\..+)?$/.test(type)) {
      throw new SqsError('InvalidParameterValue', `The type of message attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
    const binary = type.startsWith('Binary');
    if (binary ? value.BinaryValue === undefined : value.StringValue === undefined || value.StringValue === '') {
      throw new SqsError('InvalidParameterValue', `Message attribute '${name}' must contain a non-empty message attribute value for message attribute type '${type}'.`);
    }
    if (!binary && !VALID_TEXT.test(value.StringValue as string)) {
      throw new SqsError('InvalidParameterValue', `Message attribute '${name}' contains characters outside the allowed set.`);
    }
    if (type.startsWith('Number') && !Number.isFinite(Number(value.StringValue))) {
      throw new SqsError('InvalidParameterValue', `Can't cast the value of message attribute '${name}' to a number.`);
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(type) + (binary ? (value.BinaryValue as Uint8Array).length : Buffer.byteLength(value.StringValue as string));
  }
  return bytes;
}

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

export function parseRedrivePolicy(value: string): RedrivePolicy {
  const invalid = (reason: string) => new SqsError('InvalidAttributeValue', `Value ${value} for parameter RedrivePolicy is invalid. Reason: ${reason}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid('Redrive policy is not a valid JSON map.');
  }
  const policy = parsed as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | null;
  const target = policy?.deadLetterTargetArn;
  const count = Number(policy?.maxReceiveCount);
  if (typeof target !== 'string' || target === '') throw invalid('Redrive policy does not contain deadLetterTargetArn.');
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw invalid('Invalid value for maxReceiveCount: must be an integer from 1 to 1000.');
  return { deadLetterTargetArn: target, maxReceiveCount: count };
}

/** Checks CreateQueue/SetQueueAttributes attributes; a RedrivePolicy must name a queue that exists. */
export function validateQueueAttributes(attributes: Record<string, string>, queueExists: (arn: string) => boolean): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'FifoQueue' || name === 'ContentBasedDeduplication' || name === 'DeduplicationScope' || name === 'FifoThroughputLimit') {
      throw new SqsError('InvalidAttributeName', `FIFO queues are not emulated locally (${name}).`);
    }
    if (!(name in SETTABLE_DEFAULTS)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    const range = INTEGER_RANGES[name];
    if (range) {
      const n = Number(value);
      if (value === '' || !Number.isInteger(n) || n < range[0] || n > range[1]) {
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
    }
    if (name === 'RedrivePolicy' && value !== '') {
      const policy = parseRedrivePolicy(value);
      if (!queueExists(policy.deadLetterTargetArn)) {
        throw new SqsError('InvalidAttributeValue', `Value ${value} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`);
      }
    }
  }
}

export interface BatchFailure {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
}

/** A batch's answer: what each entry's call returned, or the error it failed with (one failure never stops the others). */
export function runBatch<E extends { Id?: string }, R extends object>(
  entries: E[],
  each: (entry: E) => R,
): { Successful: (R & { Id: string })[]; Failed: BatchFailure[] } {
  checkBatch(entries);
  const result = { Successful: [] as (R & { Id: string })[], Failed: [] as BatchFailure[] };
  for (const entry of entries) {
    try {
      result.Successful.push({ Id: entry.Id as string, ...each(entry) });
    } catch (error) {
      const e = error as SqsError;
      result.Failed.push({ Id: entry.Id as string, SenderFault: true, Code: SQS_ERRORS[e.code]?.queryCode ?? e.code, Message: e.message });
    }
  }
  return result;
}

function checkBatch(entries: { Id?: string }[]): void {
  if (entries.length === 0) throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  if (entries.length > 10) throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`);
  const ids = new Set<string>();
  for (const entry of entries) {
    const id = entry.Id ?? '';
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw new SqsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
    if (ids.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    ids.add(id);
  }
}
