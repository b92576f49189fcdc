// The in-memory queues behind the local SQS endpoint, by name: create, find and configure them, route each call to its queue, dead-lettering and DLQ redrive; no HTTP in it.
import { randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-account.js';
import { type HandleBook, LocalQueue, messageState, type QueueSnapshot, type ReceivedMessage, type ReceiveInput, type SendInput, type SendResult } from './sqs-queue.js';
import {
  type BatchFailure,
  COMPUTED_ATTRIBUTES,
  integerParameter,
  type MessageAttributeValue,
  NO_QUEUE,
  QUEUE_NAME,
  runBatch,
  SETTABLE_DEFAULTS,
  SqsError,
  validateQueueAttributes,
} from './sqs-rules.js';

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

export class SqsQueues {
  private readonly queues = new Map<string, LocalQueue>();
  private readonly handles: HandleBook = new Map();
  private readonly tasks: MessageMoveTask[] = [];
  private readonly timeScale: number;
  private closed = false;
  readonly region: string;
  readonly accountId: string;

  constructor(private readonly options: SqsQueuesOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0)) throw new Error(`timeScale must be > 0, got ${options.timeScale}`);
    this.region = options.region ?? LOCAL_REGION;
    this.accountId = options.accountId ?? LOCAL_ACCOUNT;
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

  private byUrl(url: string | undefined): LocalQueue {
    if (url === undefined || url === '') throw new SqsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    const name = SqsQueues.nameFromUrl(url);
    const queue = name === undefined ? undefined : this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', NO_QUEUE);
    return queue;
  }

  private byArn(arn: string): LocalQueue | undefined {
    const name = SqsQueues.nameFromArn(arn);
    const queue = name === undefined ? undefined : this.queues.get(name);
    return queue?.arn === arn ? queue : undefined;
  }

  private validateAttributes(attributes: Record<string, string>): void {
    validateQueueAttributes(attributes, (arn) => this.byArn(arn) !== undefined);
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
    this.queues.set(name, new LocalQueue(name, this.queueUrl(name), this.queueArn(name), attributes, this.timeScale, this.handles));
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
    queue.wake();
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

  getQueueAttributes(url: string, names: string[] = []): Record<string, string> {
    const queue = this.byUrl(url);
    const known = [...Object.keys(SETTABLE_DEFAULTS), ...COMPUTED_ATTRIBUTES];
    for (const n of names) {
      if (n !== 'All' && !known.includes(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
    }
    const wanted = names.includes('All') ? known : names;
    const counts = queue.counts(Date.now());
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

  snapshot(name: string): QueueSnapshot {
    const queue = this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', NO_QUEUE);
    return queue.snapshot();
  }

  sendMessage(url: string, input: SendInput): SendResult {
    return this.byUrl(url).send(input);
  }

  sendMessageBatch(
    url: string,
    entries: { Id?: string; MessageBody?: string; DelaySeconds?: number; MessageAttributes?: Record<string, MessageAttributeValue> }[],
    senderId: string,
  ): { Successful: (SendResult & { Id: string })[]; Failed: BatchFailure[] } {
    const queue = this.byUrl(url);
    return runBatch(entries, (entry) => queue.send({ body: entry.MessageBody ?? '', delaySeconds: entry.DelaySeconds, messageAttributes: entry.MessageAttributes, senderId }));
  }

  /**
   * ReceiveMessage. With a wait time (the request's, else the queue's ReceiveMessageWaitTimeSeconds)
   * it long-polls: it answers as soon as at least one message is visible, or empty when the wait
   * is over, the signal aborts (the client went away) or the endpoint closes.
   */
  async receiveMessage(url: string, input: ReceiveInput, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    let queue = this.byUrl(url);
    integerParameter(input.maxNumberOfMessages, 'MaxNumberOfMessages', [1, 10]);
    const visibilityTimeout = integerParameter(input.visibilityTimeout, 'VisibilityTimeout', [0, 43200]) ?? queue.setting('VisibilityTimeout');
    const wait = integerParameter(input.waitTimeSeconds, 'WaitTimeSeconds', [0, 20]) ?? queue.setting('ReceiveMessageWaitTimeSeconds');
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      if (signal?.aborted || this.closed) return [];
      const policy = queue.redrivePolicy();
      const got = queue.receiveNow(input, visibilityTimeout, policy, policy ? this.byArn(policy.deadLetterTargetArn) : undefined);
      if (got.length > 0 || Date.now() >= deadline) return got;
      await queue.waitForChange(deadline, signal);
      // The queue may have been deleted while we waited.
      queue = this.byUrl(url);
    }
  }

  deleteMessage(url: string, receiptHandle: string | undefined): void {
    this.byUrl(url).deleteMessage(receiptHandle);
  }

  deleteMessageBatch(url: string, entries: { Id?: string; ReceiptHandle?: string }[]): { Successful: { Id: string }[]; Failed: BatchFailure[] } {
    const queue = this.byUrl(url);
    return runBatch(entries, (entry) => {
      this.deleteMessage(queue.url, entry.ReceiptHandle);
      return {};
    });
  }

  changeMessageVisibility(url: string, receiptHandle: string | undefined, visibilityTimeout: number | undefined): void {
    this.byUrl(url).changeMessageVisibility(receiptHandle, visibilityTimeout);
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
    const isDlq = [...this.queues.values()].some((q) => q.redrivePolicy()?.deadLetterTargetArn === sourceArn);
    if (!isDlq) {
      throw new SqsError('UnsupportedOperation', 'Source queue must be configured as a Dead Letter Queue.');
    }
    const destination = destinationArn ? this.byArn(destinationArn) : undefined;
    if (destinationArn && !destination) {
      throw new SqsError('ResourceNotFoundException', 'The resource that you specified for the DestinationArn parameter doesn\'t exist.');
    }
    integerParameter(maxPerSecond, 'MaxNumberOfMessagesPerSecond', [1, 500]);
    const now = Date.now();
    const toMove = source.messages.filter((m) => messageState(m, now) === 'visible');
    let moved = 0;
    let failure: string | undefined;
    for (const message of toMove) {
      const target = destination ?? (message.deadLetterQueueSourceArn ? this.byArn(message.deadLetterQueueSourceArn) : undefined);
      if (!target) {
        failure = 'A message has no original source queue that still exists; give a DestinationArn.';
        continue;
      }
      source.remove(message);
      target.send({ body: message.body, messageAttributes: message.messageAttributes, senderId });
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
    integerParameter(maxResults, 'MaxResults', [1, 10]);
    return this.tasks.filter((t) => t.SourceArn === sourceArn).slice(0, maxResults);
  }

  /** Ends every long poll at once (they answer empty), so the endpoint can close. */
  close(): void {
    this.closed = true;
    for (const queue of this.queues.values()) queue.wake();
  }
}
