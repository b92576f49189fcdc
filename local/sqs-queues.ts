// The in-memory queues behind the local SQS endpoint: visibility, delays, receive counts, dead-lettering and DLQ redrive, with no HTTP in it.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';

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

const NO_QUEUE = 'The specified queue does not exist.';

/** Attributes CreateQueue/SetQueueAttributes accept, with SQS's defaults. */
const SETTABLE_DEFAULTS: Record<string, string | undefined> = {
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
const COMPUTED_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
];
const MESSAGE_SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'DeadLetterQueueSourceArn',
];

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, MessageAttributeValue>;
  md5OfMessageAttributes: string | undefined;
  senderId: string;
  sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp: number | undefined;
  /** Hidden by DelaySeconds until then (epoch ms, scaled). */
  delayedUntil: number;
  /** Hidden by a receive's visibility timeout until then (epoch ms, scaled). */
  inFlightUntil: number;
  /** The most recent receipt handle; only it can change visibility or delete. */
  receiptHandle: string | undefined;
  /** Set when the redrive policy moved it here, so a redrive without a destination knows where to send it back. */
  deadLetterQueueSourceArn: string | undefined;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
  messages: StoredMessage[];
  /** Long polls waiting on this queue; called when a message may have become visible. */
  waiters: Set<() => void>;
}

export interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  MD5OfBody: string;
  Body: string;
  Attributes?: Record<string, string>;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, MessageAttributeValue>;
}

export interface SendInput {
  body: string;
  delaySeconds?: number;
  messageAttributes?: Record<string, MessageAttributeValue>;
  /** Who sent it, as the SenderId system attribute shows. */
  senderId: string;
}

export interface SendResult {
  MessageId: string;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
}

export interface ReceiveInput {
  maxNumberOfMessages?: number;
  visibilityTimeout?: number;
  waitTimeSeconds?: number;
  /** System attributes to return (`All` or names); AttributeNames and MessageSystemAttributeNames together. */
  systemAttributeNames?: string[];
  /** Message attributes to return (`All`, `.*`, `prefix.*` or names). */
  messageAttributeNames?: string[];
}

export interface MessageMoveTask {
  TaskHandle: string;
  Status: 'COMPLETED' | 'FAILED';
  SourceArn: string;
  DestinationArn?: string;
  MaxNumberOfMessagesPerSecond?: number;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  FailureReason?: string;
  StartedTimestamp: number;
}

/** What a queue holds right now, for tests and for the local stack's own reports. */
export interface QueueSnapshot {
  visible: number;
  inFlight: number;
  delayed: number;
  messages: { messageId: string; body: string; receiveCount: number; state: 'visible' | 'inFlight' | 'delayed' }[];
}

export interface SqsQueuesOptions {
  /** Base of the queue URLs, e.g. http://127.0.0.1:PORT. */
  endpoint: string;
  /**
   * Multiplies every queue-side duration: visibility timeouts (the queue's, ReceiveMessage's and
   * ChangeMessageVisibility's) and DelaySeconds (the queue's and SendMessage's). 0.01 makes a 60 s
   * visibility timeout last 600 ms, so retries run in milliseconds in tests; 1 is real time.
   * Not scaled: WaitTimeSeconds (a long poll still answers as soon as a message is visible),
   * timestamps, and the attribute values reported (GetQueueAttributes still says 60).
   */
  timeScale?: number;
  region?: string;
  accountId?: string;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
/** Characters SQS accepts in a body or string attribute (XML 1.0's Char production). */
const VALID_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const MAX_ATTRIBUTES = 10;

const md5 = (data: string | Uint8Array) => createHash('md5').update(data).digest('hex');

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

function integer(value: number | undefined, name: string, [min, max]: [number, number]): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SqsError('InvalidParameterValue', `Value ${value} for parameter ${name} is invalid. Reason: Must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function validateMessageAttributes(attributes: Record<string, MessageAttributeValue>): number {
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

function parseRedrivePolicy(value: string): { deadLetterTargetArn: string; maxReceiveCount: number } {
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

export class SqsQueues {
  private readonly queues = new Map<string, Queue>();
  /** Every receipt handle ever issued, so a stale handle is told apart from a made-up one. */
  private readonly handles = new Map<string, { queueName: string; messageId: string }>();
  private readonly tasks: MessageMoveTask[] = [];
  private readonly timeScale: number;
  private closed = false;
  readonly region: string;
  readonly accountId: string;

  constructor(private readonly options: SqsQueuesOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0)) throw new Error(`timeScale must be > 0, got ${options.timeScale}`);
    this.region = options.region ?? LOCAL_REGION;
    this.accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  }

  queueUrl(name: string): string {
    return `${this.options.endpoint}/${this.accountId}/${name}`;
  }

  queueArn(name: string): string {
    return `arn:aws:sqs:${this.region}:${this.accountId}:${name}`;
  }

  /** The queue name in a queue URL (any host: the CLI may say localhost where we said 127.0.0.1). */
  static nameFromUrl(url: string): string | undefined {
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      path = url;
    }
    const m = /^\/?(\d{12})\/([^/]+)\/?$/.exec(path);
    return m?.[2];
  }

  static nameFromArn(arn: string): string | undefined {
    const m = /^arn:aws[\w-]*:sqs:[\w-]+:\d{12}:([^:/]+)$/.exec(arn);
    return m?.[1];
  }

  private scaledMs(seconds: number): number {
    return seconds * 1000 * this.timeScale;
  }

  private byUrl(url: string | undefined): Queue {
    if (url === undefined || url === '') throw new SqsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    const name = SqsQueues.nameFromUrl(url);
    const queue = name === undefined ? undefined : this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', NO_QUEUE);
    return queue;
  }

  private byArn(arn: string): Queue | undefined {
    const name = SqsQueues.nameFromArn(arn);
    const queue = name === undefined ? undefined : this.queues.get(name);
    return queue?.arn === arn ? queue : undefined;
  }

  private validateAttributes(attributes: Record<string, string>): void {
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
        if (!this.byArn(policy.deadLetterTargetArn)) {
          throw new SqsError('InvalidAttributeValue', `Value ${value} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`);
        }
      }
    }
  }

  createQueue(name: string, attributes: Record<string, string> = {}): string {
    if (!QUEUE_NAME.test(name)) {
      throw new SqsError(
        name.endsWith('.fifo') ? 'InvalidAttributeName' : 'InvalidParameterValue',
        name.endsWith('.fifo') ? 'FIFO queues are not emulated locally.' : 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    this.validateAttributes(attributes);
    const existing = this.queues.get(name);
    if (existing) {
      // SQS returns the existing queue's URL unless an attribute given now differs from it.
      const differs = Object.entries(attributes).some(([k, v]) => (existing.attributes[k] ?? SETTABLE_DEFAULTS[k]) !== v);
      if (differs) throw new SqsError('QueueNameExists', 'A queue already exists with the same name and a different value for attribute(s).');
      return existing.url;
    }
    const now = Date.now();
    this.queues.set(name, {
      name,
      url: this.queueUrl(name),
      arn: this.queueArn(name),
      attributes: { ...attributes },
      createdAt: now,
      modifiedAt: now,
      messages: [],
      waiters: new Set(),
    });
    return this.queueUrl(name);
  }

  getQueueUrl(name: string): string {
    const queue = this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', NO_QUEUE);
    return queue.url;
  }

  listQueues(prefix = ''): string[] {
    return [...this.queues.values()].filter((q) => q.name.startsWith(prefix)).map((q) => q.url);
  }

  deleteQueue(url: string): void {
    const queue = this.byUrl(url);
    this.queues.delete(queue.name);
    this.wake(queue);
  }

  setQueueAttributes(url: string, attributes: Record<string, string>): void {
    const queue = this.byUrl(url);
    this.validateAttributes(attributes);
    for (const [k, v] of Object.entries(attributes)) {
      if (v === '' && (k === 'RedrivePolicy' || k === 'RedriveAllowPolicy' || k === 'Policy')) delete queue.attributes[k];
      else queue.attributes[k] = v;
    }
    queue.modifiedAt = Date.now();
  }

  private setting(queue: Queue, name: string): number {
    return Number(queue.attributes[name] ?? SETTABLE_DEFAULTS[name]);
  }

  private redrivePolicy(queue: Queue): { deadLetterTargetArn: string; maxReceiveCount: number } | undefined {
    const value = queue.attributes.RedrivePolicy;
    return value ? parseRedrivePolicy(value) : undefined;
  }

  getQueueAttributes(url: string, names: string[] = []): Record<string, string> {
    const queue = this.byUrl(url);
    const known = [...Object.keys(SETTABLE_DEFAULTS), ...COMPUTED_ATTRIBUTES];
    for (const n of names) {
      if (n !== 'All' && !known.includes(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
    }
    const wanted = names.includes('All') ? known : names;
    const now = Date.now();
    const counts = this.count(queue, now);
    const all: Record<string, string | undefined> = {
      ...SETTABLE_DEFAULTS,
      ...queue.attributes,
      ApproximateNumberOfMessages: String(counts.visible),
      ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
      ApproximateNumberOfMessagesDelayed: String(counts.delayed),
      CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.modifiedAt / 1000)),
      QueueArn: queue.arn,
    };
    const out: Record<string, string> = {};
    for (const n of wanted) {
      const v = all[n];
      if (v !== undefined) out[n] = v;
    }
    return out;
  }

  private state(m: StoredMessage, now: number): 'visible' | 'inFlight' | 'delayed' {
    if (m.delayedUntil > now) return 'delayed';
    if (m.inFlightUntil > now) return 'inFlight';
    return 'visible';
  }

  private count(queue: Queue, now: number): { visible: number; inFlight: number; delayed: number } {
    const counts = { visible: 0, inFlight: 0, delayed: 0 };
    for (const m of queue.messages) counts[this.state(m, now)]++;
    return counts;
  }

  snapshot(name: string): QueueSnapshot {
    const queue = this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', NO_QUEUE);
    const now = Date.now();
    return {
      ...this.count(queue, now),
      messages: queue.messages.map((m) => ({ messageId: m.messageId, body: m.body, receiveCount: m.receiveCount, state: this.state(m, now) })),
    };
  }

  private wake(queue: Queue): void {
    for (const waiter of [...queue.waiters]) waiter();
  }

  private enqueue(queue: Queue, message: StoredMessage): void {
    queue.messages.push(message);
    this.wake(queue);
  }

  sendMessage(url: string, input: SendInput): SendResult {
    return this.send(this.byUrl(url), input);
  }

  private send(queue: Queue, input: SendInput): SendResult {
    const delay = integer(input.delaySeconds, 'DelaySeconds', [0, 900]) ?? this.setting(queue, 'DelaySeconds');
    if (input.body === '') throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (!VALID_TEXT.test(input.body)) {
      throw new SqsError('InvalidMessageContents', 'Invalid binary character in the message body. Only XML 1.0 characters are allowed.');
    }
    const attributes = input.messageAttributes ?? {};
    const size = Buffer.byteLength(input.body) + validateMessageAttributes(attributes);
    const max = this.setting(queue, 'MaximumMessageSize');
    if (size > max) {
      throw new SqsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`);
    }
    const now = Date.now();
    const message: StoredMessage = {
      messageId: randomUUID(),
      body: input.body,
      md5OfBody: md5(input.body),
      messageAttributes: attributes,
      md5OfMessageAttributes: md5OfMessageAttributes(attributes),
      senderId: input.senderId,
      sentTimestamp: now,
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      delayedUntil: now + this.scaledMs(delay),
      inFlightUntil: 0,
      receiptHandle: undefined,
      deadLetterQueueSourceArn: undefined,
    };
    this.enqueue(queue, message);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes ? { MD5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
    };
  }

  /**
   * Takes up to `max` visible messages, oldest first. As SQS does, a message whose receive count
   * already equals the redrive policy's maxReceiveCount is not returned: the receive that would
   * exceed the count moves it to the dead-letter queue instead (it keeps its MessageId, SentTimestamp
   * and receive count there; ApproximateReceiveCount counts receives "across all queues").
   */
  private receiveNow(queue: Queue, input: ReceiveInput, visibilityTimeout: number): ReceivedMessage[] {
    const max = input.maxNumberOfMessages ?? 1;
    const now = Date.now();
    const policy = this.redrivePolicy(queue);
    const dlq = policy ? this.byArn(policy.deadLetterTargetArn) : undefined;
    const out: ReceivedMessage[] = [];
    for (const message of [...queue.messages]) {
      if (out.length >= max) break;
      if (this.state(message, now) !== 'visible') continue;
      if (policy && dlq && message.receiveCount >= policy.maxReceiveCount) {
        queue.messages.splice(queue.messages.indexOf(message), 1);
        message.receiptHandle = undefined;
        message.inFlightUntil = 0;
        message.delayedUntil = 0;
        message.deadLetterQueueSourceArn = queue.arn;
        this.enqueue(dlq, message);
        continue;
      }
      message.receiveCount++;
      message.firstReceiveTimestamp ??= now;
      message.inFlightUntil = now + this.scaledMs(visibilityTimeout);
      message.receiptHandle = `${randomBytes(32).toString('base64url')}`;
      this.handles.set(message.receiptHandle, { queueName: queue.name, messageId: message.messageId });
      out.push(this.present(message, input));
    }
    return out;
  }

  private present(message: StoredMessage, input: ReceiveInput): ReceivedMessage {
    const system: Record<string, string | undefined> = {
      SenderId: message.senderId,
      SentTimestamp: String(message.sentTimestamp),
      ApproximateReceiveCount: String(message.receiveCount),
      ApproximateFirstReceiveTimestamp: message.firstReceiveTimestamp === undefined ? undefined : String(message.firstReceiveTimestamp),
      DeadLetterQueueSourceArn: message.deadLetterQueueSourceArn,
    };
    const wantedSystem = input.systemAttributeNames ?? [];
    const systemNames = wantedSystem.includes('All') ? MESSAGE_SYSTEM_ATTRIBUTES : wantedSystem;
    const attributes: Record<string, string> = {};
    for (const n of systemNames) {
      const v = system[n];
      if (v !== undefined) attributes[n] = v;
    }
    const wantedUser = input.messageAttributeNames ?? [];
    const userAttributes: Record<string, MessageAttributeValue> = {};
    for (const [n, v] of Object.entries(message.messageAttributes)) {
      const match = wantedUser.some((w) => w === 'All' || w === '.*' || w === n || (w.endsWith('.*') && n.startsWith(w.slice(0, -1))));
      if (match) userAttributes[n] = v;
    }
    return {
      MessageId: message.messageId,
      ReceiptHandle: message.receiptHandle as string,
      MD5OfBody: message.md5OfBody,
      Body: message.body,
      ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
      ...(Object.keys(userAttributes).length > 0
        ? { MD5OfMessageAttributes: message.md5OfMessageAttributes, MessageAttributes: userAttributes }
        : {}),
    };
  }

  /** The earliest time a hidden message of the queue becomes visible, if any. */
  private nextVisibleAt(queue: Queue, now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const m of queue.messages) {
      const at = Math.max(m.delayedUntil, m.inFlightUntil);
      if (at > now && at < next) next = at;
    }
    return next;
  }

  /**
   * ReceiveMessage. With a wait time (the request's, else the queue's ReceiveMessageWaitTimeSeconds)
   * it long-polls: it answers as soon as at least one message is visible, or empty when the wait
   * is over, the signal aborts (the client went away) or the endpoint closes.
   */
  async receiveMessage(url: string, input: ReceiveInput, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    let queue = this.byUrl(url);
    integer(input.maxNumberOfMessages, 'MaxNumberOfMessages', [1, 10]);
    const visibilityTimeout = integer(input.visibilityTimeout, 'VisibilityTimeout', [0, 43200]) ?? this.setting(queue, 'VisibilityTimeout');
    const wait = integer(input.waitTimeSeconds, 'WaitTimeSeconds', [0, 20]) ?? this.setting(queue, 'ReceiveMessageWaitTimeSeconds');
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      if (signal?.aborted || this.closed) return [];
      const got = this.receiveNow(queue, input, visibilityTimeout);
      if (got.length > 0 || Date.now() >= deadline) return got;
      await this.waitForChange(queue, deadline, signal);
      // The queue may have been deleted while we waited.
      queue = this.byUrl(url);
    }
  }

  private waitForChange(queue: Queue, deadline: number, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const wakeAt = Math.min(deadline, this.nextVisibleAt(queue, now));
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, wakeAt - now));
      queue.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Finds the message a handle was issued for; undefined when it was deleted or moved away since. */
  private resolveHandle(queue: Queue, handle: string | undefined): StoredMessage | undefined {
    if (handle === undefined || handle === '') throw new SqsError('MissingParameter', 'The request must contain the parameter ReceiptHandle.');
    const issued = this.handles.get(handle);
    if (!issued || issued.queueName !== queue.name) {
      throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`);
    }
    return queue.messages.find((m) => m.messageId === issued.messageId);
  }

  /**
   * DeleteMessage. A handle from an earlier receive of a message that was received again since is
   * accepted but deletes nothing: SQS says only the most recent handle deletes, "otherwise, the
   * request succeeds, but the message will not be deleted" (ReceiptHandle, DeleteMessage API reference).
   */
  deleteMessage(url: string, receiptHandle: string | undefined): void {
    const queue = this.byUrl(url);
    const message = this.resolveHandle(queue, receiptHandle);
    if (message && message.receiptHandle === receiptHandle) queue.messages.splice(queue.messages.indexOf(message), 1);
  }

  deleteMessageBatch(
    url: string,
    entries: { Id?: string; ReceiptHandle?: string }[],
  ): { Successful: { Id: string }[]; Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] } {
    const queue = this.byUrl(url);
    checkBatch(entries);
    const result = { Successful: [] as { Id: string }[], Failed: [] as { Id: string; SenderFault: boolean; Code: string; Message: string }[] };
    for (const entry of entries) {
      try {
        this.deleteMessage(queue.url, entry.ReceiptHandle);
        result.Successful.push({ Id: entry.Id as string });
      } catch (error) {
        const e = error as SqsError;
        result.Failed.push({ Id: entry.Id as string, SenderFault: true, Code: SQS_ERRORS[e.code]?.queryCode ?? e.code, Message: e.message });
      }
    }
    return result;
  }

  sendMessageBatch(
    url: string,
    entries: { Id?: string; MessageBody?: string; DelaySeconds?: number; MessageAttributes?: Record<string, MessageAttributeValue> }[],
    senderId: string,
  ): { Successful: (SendResult & { Id: string })[]; Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] } {
    const queue = this.byUrl(url);
    checkBatch(entries);
    const result = {
      Successful: [] as (SendResult & { Id: string })[],
      Failed: [] as { Id: string; SenderFault: boolean; Code: string; Message: string }[],
    };
    for (const entry of entries) {
      try {
        const sent = this.send(queue, { body: entry.MessageBody ?? '', delaySeconds: entry.DelaySeconds, messageAttributes: entry.MessageAttributes, senderId });
        result.Successful.push({ Id: entry.Id as string, ...sent });
      } catch (error) {
        const e = error as SqsError;
        result.Failed.push({ Id: entry.Id as string, SenderFault: true, Code: SQS_ERRORS[e.code]?.queryCode ?? e.code, Message: e.message });
      }
    }
    return result;
  }

  /** Counts from the call, like every visibility timeout; 0 makes the message visible at once. */
  changeMessageVisibility(url: string, receiptHandle: string | undefined, visibilityTimeout: number | undefined): void {
    const queue = this.byUrl(url);
    if (visibilityTimeout === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
    integer(visibilityTimeout, 'VisibilityTimeout', [0, 43200]);
    const message = this.resolveHandle(queue, receiptHandle);
    const now = Date.now();
    if (!message || message.receiptHandle !== receiptHandle || this.state(message, now) !== 'inFlight') {
      throw new SqsError('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.');
    }
    message.inFlightUntil = now + this.scaledMs(visibilityTimeout);
    this.wake(queue);
  }

  /** Deletes every message, in flight or not. SQS's one-purge-per-60-s limit is not enforced locally. */
  purgeQueue(url: string): void {
    this.byUrl(url).messages.length = 0;
  }

  /**
   * StartMessageMoveTask (the console's "DLQ redrive"). The task runs at once here rather than in
   * the background; it moves the messages visible now. A moved message is a new message: AWS says
   * the redrive task "uses SendMessageBatch, ReceiveMessage, and DeleteMessageBatch ... Therefore,
   * all redriven messages are considered new messages with a new messageid, enqueueTime, and
   * retention period" (SQS Developer Guide, "Using dead-letter queues in Amazon SQS"; the redrive
   * page's note says the same). So it gets a new MessageId and SentTimestamp, its
   * ApproximateReceiveCount starts again from 0, and it keeps its body and message attributes.
   */
  startMessageMoveTask(sourceArn: string | undefined, destinationArn: string | undefined, maxPerSecond: number | undefined, senderId: string): string {
    if (!sourceArn) throw new SqsError('MissingParameter', 'The request must contain the parameter SourceArn.');
    const source = this.byArn(sourceArn);
    if (!source) throw new SqsError('ResourceNotFoundException', 'The resource that you specified for the SourceArn parameter doesn\'t exist.');
    const isDlq = [...this.queues.values()].some((q) => this.redrivePolicy(q)?.deadLetterTargetArn === sourceArn);
    if (!isDlq) {
      throw new SqsError('UnsupportedOperation', 'Source queue must be configured as a Dead Letter Queue.');
    }
    const destination = destinationArn ? this.byArn(destinationArn) : undefined;
    if (destinationArn && !destination) {
      throw new SqsError('ResourceNotFoundException', 'The resource that you specified for the DestinationArn parameter doesn\'t exist.');
    }
    integer(maxPerSecond, 'MaxNumberOfMessagesPerSecond', [1, 500]);
    const now = Date.now();
    const toMove = source.messages.filter((m) => this.state(m, now) === 'visible');
    let moved = 0;
    let failure: string | undefined;
    for (const message of toMove) {
      const target = destination ?? (message.deadLetterQueueSourceArn ? this.byArn(message.deadLetterQueueSourceArn) : undefined);
      if (!target) {
        failure = 'A message has no original source queue that still exists; give a DestinationArn.';
        continue;
      }
      source.messages.splice(source.messages.indexOf(message), 1);
      this.send(target, { body: message.body, messageAttributes: message.messageAttributes, senderId });
      moved++;
    }
    const task: MessageMoveTask = {
      TaskHandle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString('base64'),
      Status: failure ? 'FAILED' : 'COMPLETED',
      SourceArn: sourceArn,
      ...(destinationArn ? { DestinationArn: destinationArn } : {}),
      ...(maxPerSecond !== undefined ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}),
      ApproximateNumberOfMessagesMoved: moved,
      ApproximateNumberOfMessagesToMove: toMove.length,
      ...(failure ? { FailureReason: failure } : {}),
      StartedTimestamp: now,
    };
    this.tasks.unshift(task);
    return task.TaskHandle;
  }

  listMessageMoveTasks(sourceArn: string | undefined, maxResults = 1): MessageMoveTask[] {
    if (!sourceArn) throw new SqsError('MissingParameter', 'The request must contain the parameter SourceArn.');
    if (!this.byArn(sourceArn)) throw new SqsError('ResourceNotFoundException', 'The resource that you specified for the SourceArn parameter doesn\'t exist.');
    integer(maxResults, 'MaxResults', [1, 10]);
    return this.tasks.filter((t) => t.SourceArn === sourceArn).slice(0, maxResults);
  }

  /** Ends every long poll at once (they answer empty), so the endpoint can close. */
  close(): void {
    this.closed = true;
    for (const queue of this.queues.values()) this.wake(queue);
  }
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
