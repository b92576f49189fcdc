// One in-memory SQS queue: its messages' visibility and delays, receive counts, receipt handles and long polls; the registry in sqs-queues.ts routes calls to it.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  integerParameter,
  type MessageAttributeValue,
  md5,
  md5OfMessageAttributes,
  parseRedrivePolicy,
  type RedrivePolicy,
  SETTABLE_DEFAULTS,
  SqsError,
  VALID_TEXT,
  validateMessageAttributes,
} from './sqs-rules.js';

const MESSAGE_SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'DeadLetterQueueSourceArn',
];

export interface StoredMessage {
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

export type MessageState = 'visible' | 'inFlight' | 'delayed';

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

/** What a queue holds right now, for tests and for the local stack's own reports. */
export interface QueueSnapshot {
  visible: number;
  inFlight: number;
  delayed: number;
  messages: { messageId: string; body: string; receiveCount: number; state: MessageState }[];
}

/** Every receipt handle ever issued, shared by a registry's queues, so a stale handle is told apart from a made-up one. */
export type HandleBook = Map<string, { queueName: string; messageId: string }>;

export function messageState(m: StoredMessage, now: number): MessageState {
  if (m.delayedUntil > now) return 'delayed';
  if (m.inFlightUntil > now) return 'inFlight';
  return 'visible';
}

export class LocalQueue {
  readonly attributes: Record<string, string>;
  readonly createdAt: number;
  modifiedAt: number;
  readonly messages: StoredMessage[] = [];
  /** Long polls waiting on this queue; called when a message may have become visible. */
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly url: string,
    readonly arn: string,
    attributes: Record<string, string>,
    /** Multiplies visibility timeouts and delays (see SqsQueuesOptions.timeScale). */
    private readonly timeScale: number,
    private readonly handles: HandleBook,
  ) {
    this.attributes = { ...attributes };
    this.createdAt = Date.now();
    this.modifiedAt = this.createdAt;
  }

  scaledMs(seconds: number): number {
    return seconds * 1000 * this.timeScale;
  }

  setting(name: string): number {
    return Number(this.attributes[name] ?? SETTABLE_DEFAULTS[name]);
  }

  redrivePolicy(): RedrivePolicy | undefined {
    const value = this.attributes.RedrivePolicy;
    return value ? parseRedrivePolicy(value) : undefined;
  }

  counts(now: number): { visible: number; inFlight: number; delayed: number } {
    const counts = { visible: 0, inFlight: 0, delayed: 0 };
    for (const m of this.messages) counts[messageState(m, now)]++;
    return counts;
  }

  snapshot(): QueueSnapshot {
    const now = Date.now();
    return {
      ...this.counts(now),
      messages: this.messages.map((m) => ({ messageId: m.messageId, body: m.body, receiveCount: m.receiveCount, state: messageState(m, now) })),
    };
  }

  /** Lets every long poll on the queue look again. */
  wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  enqueue(message: StoredMessage): void {
    this.messages.push(message);
    this.wake();
  }

  remove(message: StoredMessage): void {
    this.messages.splice(this.messages.indexOf(message), 1);
  }

  send(input: SendInput): SendResult {
    const delay = integerParameter(input.delaySeconds, 'DelaySeconds', [0, 900]) ?? this.setting('DelaySeconds');
    if (input.body === '') throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (!VALID_TEXT.test(input.body)) {
      throw new SqsError('InvalidMessageContents', 'Invalid binary character in the message body. Only XML 1.0 characters are allowed.');
    }
    const attributes = input.messageAttributes ?? {};
    const size = Buffer.byteLength(input.body) + validateMessageAttributes(attributes);
    const max = this.setting('MaximumMessageSize');
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
    this.enqueue(message);
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
  receiveNow(input: ReceiveInput, visibilityTimeout: number, policy: RedrivePolicy | undefined, dlq: LocalQueue | undefined): ReceivedMessage[] {
    const max = input.maxNumberOfMessages ?? 1;
    const now = Date.now();
    const out: ReceivedMessage[] = [];
    for (const message of [...this.messages]) {
      if (out.length >= max) break;
      if (messageState(message, now) !== 'visible') continue;
      if (policy && dlq && message.receiveCount >= policy.maxReceiveCount) {
        this.remove(message);
        message.receiptHandle = undefined;
        message.inFlightUntil = 0;
        message.delayedUntil = 0;
        message.deadLetterQueueSourceArn = this.arn;
        dlq.enqueue(message);
        continue;
      }
      message.receiveCount++;
      message.firstReceiveTimestamp ??= now;
      message.inFlightUntil = now + this.scaledMs(visibilityTimeout);
      // Like SQS's own ("AQEB…"): a fixed start, so a handle never begins with "-", which the AWS CLI
      // would read as an option when a person pastes it after --receipt-handle.
      message.receiptHandle = `AQEB${randomBytes(32).toString('base64url')}`;
      this.handles.set(message.receiptHandle, { queueName: this.name, messageId: message.messageId });
      out.push(present(message, input));
    }
    return out;
  }

  /** The earliest time a hidden message of the queue becomes visible, if any. */
  private nextVisibleAt(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const m of this.messages) {
      const at = Math.max(m.delayedUntil, m.inFlightUntil);
      if (at > now && at < next) next = at;
    }
    return next;
  }

  /** Settles at the deadline, when a hidden message is due to become visible, on `wake`, or when the signal aborts. */
  waitForChange(deadline: number, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const wakeAt = Math.min(deadline, this.nextVisibleAt(now));
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, wakeAt - now));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Finds the message a handle was issued for; undefined when it was deleted or moved away since. */
  resolveHandle(handle: string | undefined): StoredMessage | undefined {
    if (handle === undefined || handle === '') throw new SqsError('MissingParameter', 'The request must contain the parameter ReceiptHandle.');
    const issued = this.handles.get(handle);
    if (!issued || issued.queueName !== this.name) {
      throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`);
    }
    return this.messages.find((m) => m.messageId === issued.messageId);
  }

  /**
   * DeleteMessage. A handle from an earlier receive of a message that was received again since is
   * accepted but deletes nothing: SQS says only the most recent handle deletes, "otherwise, the
   * request succeeds, but the message will not be deleted" (ReceiptHandle, DeleteMessage API reference).
   */
  deleteMessage(receiptHandle: string | undefined): void {
    const message = this.resolveHandle(receiptHandle);
    if (message && message.receiptHandle === receiptHandle) this.remove(message);
  }

  /** Counts from the call, like every visibility timeout; 0 makes the message visible at once. */
  changeMessageVisibility(receiptHandle: string | undefined, visibilityTimeout: number | undefined): void {
    if (visibilityTimeout === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
    integerParameter(visibilityTimeout, 'VisibilityTimeout', [0, 43200]);
    const message = this.resolveHandle(receiptHandle);
    const now = Date.now();
    if (!message || message.receiptHandle !== receiptHandle || messageState(message, now) !== 'inFlight') {
      throw new SqsError('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.');
    }
    message.inFlightUntil = now + this.scaledMs(visibilityTimeout);
    this.wake();
  }
}

/** A received message as ReceiveMessage answers it: only the system and message attributes asked for. */
function present(message: StoredMessage, input: ReceiveInput): ReceivedMessage {
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
