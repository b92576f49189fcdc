// A local SQS endpoint speaking both protocols (AWS JSON 1.0 for SDK v3, Query for the Debian AWS CLI) over the in-memory queues, recording every call and its caller.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { accessKeyIdOf } from './aws-requests.js';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';
import { SqsQueues } from './sqs-queues.js';
import type { QueueSnapshot, SendResult } from './sqs-queue.js';
import { type MessageAttributeValue, SQS_ERRORS, SqsError } from './sqs-rules.js';
import { fromJson, fromQuery, type Input, num, str, strings, writeAnswer, writeError } from './sqs-wire.js';

/** One call to the endpoint, for checking every AWS call against IAM. */
export interface SqsCall {
  /** The API action, e.g. 'ReceiveMessage'. */
  action: string;
  /** The IAM action it needs, e.g. 'sqs:DeleteMessage' for DeleteMessageBatch. */
  iamAction: string;
  /** The queue it acts on (for StartMessageMoveTask, the source); absent for ListQueues. */
  queueArn?: string;
  /** StartMessageMoveTask's DestinationArn, when given. */
  destinationArn?: string;
  /** The VisibilityTimeout asked for (ChangeMessageVisibility, ReceiveMessage), in the request's own seconds (not scaled). */
  visibilityTimeout?: number;
  /** From the SigV4 Authorization header; absent on an unsigned request. */
  accessKeyId?: string;
  protocol: 'json' | 'query';
  /** The error's shape name (e.g. 'QueueDoesNotExist') when the call failed. */
  error?: string;
  /** Epoch ms. */
  at: number;
}

export interface LocalSqsOptions {
  /** Created at start, in order (a dead-letter queue before the queue whose RedrivePolicy names it). */
  queues?: { name: string; attributes?: Record<string, string> }[];
  /**
   * Multiplies visibility timeouts and DelaySeconds (0.01: a 60 s visibility timeout lasts 600 ms).
   * Default 1, real time, for a person using the local stack by hand. See SqsQueuesOptions.timeScale.
   */
  timeScale?: number;
  region?: string;
  accountId?: string;
  /** @default a free port */
  port?: number;
}

export interface LocalSqs {
  /** http://127.0.0.1:PORT: pass as `endpoint` to `new SQSClient(...)`, as AWS_ENDPOINT_URL_SQS, or to `aws --endpoint-url`. */
  endpoint: string;
  /** Every call received, in order, including failed ones. In-process helpers below are not recorded. */
  readonly calls: SqsCall[];
  queueUrl(name: string): string;
  queueArn(name: string): string;
  /** Creates a queue (or returns the existing one's URL), as CreateQueue would, without recording a call. */
  createQueue(name: string, attributes?: Record<string, string>): string;
  /**
   * Sends as a service would (e.g. S3 event notifications, which a queue policy authorises, not the
   * sender's IAM), so the call is not recorded.
   */
  sendMessage(queueName: string, body: string, options?: { messageAttributes?: Record<string, MessageAttributeValue>; senderId?: string }): SendResult;
  snapshot(queueName: string): QueueSnapshot;
  stop(): Promise<void>;
}

/** SendMessageBatch of ten 256 KiB messages, with room for the form encoding. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The SenderId a message gets when the request was not signed. */
const ANONYMOUS_SENDER = 'AIDALOCALANONYMOUS';


const BATCH_IAM_ACTIONS: Record<string, string> = {
  DeleteMessageBatch: 'sqs:DeleteMessage',
  SendMessageBatch: 'sqs:SendMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

export async function startLocalSqs(options: LocalSqsOptions = {}): Promise<LocalSqs> {
  const calls: SqsCall[] = [];
  let queues: SqsQueues | undefined;
  const model = () => queues as SqsQueues;

  /** The queue an action names, for the call record (whether or not it exists). */
  const targetArn = (input: Input): string | undefined => {
    const byUrl = str(input.QueueUrl) && SqsQueues.nameFromUrl(str(input.QueueUrl) as string);
    const name = byUrl || str(input.QueueName);
    return name ? model().queueArn(name) : str(input.SourceArn);
  };

  async function execute(action: string, input: Input, senderId: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const q = model();
    const url = str(input.QueueUrl);
    switch (action) {
      case 'CreateQueue': {
        const name = str(input.QueueName);
        if (!name) throw new SqsError('MissingParameter', 'The request must contain the parameter QueueName.');
        return { QueueUrl: q.createQueue(name, (input.Attributes as Record<string, string> | undefined) ?? {}) };
      }
      case 'GetQueueUrl':
        return { QueueUrl: q.getQueueUrl(str(input.QueueName) ?? '') };
      case 'ListQueues': {
        const urls = q.listQueues(str(input.QueueNamePrefix));
        return urls.length > 0 ? { QueueUrls: urls } : {};
      }
      case 'DeleteQueue':
        q.deleteQueue(url as string);
        return {};
      case 'GetQueueAttributes':
        return { Attributes: q.getQueueAttributes(url as string, strings(input.AttributeNames)) };
      case 'SetQueueAttributes':
        q.setQueueAttributes(url as string, (input.Attributes as Record<string, string> | undefined) ?? {});
        return {};
      case 'SendMessage':
        return {
          ...q.sendMessage(url as string, {
            body: str(input.MessageBody) ?? '',
            delaySeconds: num(input.DelaySeconds),
            messageAttributes: input.MessageAttributes as Record<string, MessageAttributeValue> | undefined,
            senderId,
          }),
        };
      case 'SendMessageBatch':
        return q.sendMessageBatch(url as string, input.Entries as never, senderId);
      case 'ReceiveMessage': {
        const messages = await q.receiveMessage(
          url as string,
          {
            maxNumberOfMessages: num(input.MaxNumberOfMessages),
            visibilityTimeout: num(input.VisibilityTimeout),
            waitTimeSeconds: num(input.WaitTimeSeconds),
            systemAttributeNames: [...strings(input.AttributeNames), ...strings(input.MessageSystemAttributeNames)],
            messageAttributeNames: strings(input.MessageAttributeNames),
          },
          signal,
        );
        return messages.length > 0 ? { Messages: messages } : {};
      }
      case 'DeleteMessage':
        q.deleteMessage(url as string, str(input.ReceiptHandle));
        return {};
      case 'DeleteMessageBatch':
        return q.deleteMessageBatch(url as string, input.Entries as never);
      case 'ChangeMessageVisibility':
        q.changeMessageVisibility(url as string, str(input.ReceiptHandle), num(input.VisibilityTimeout));
        return {};
      case 'PurgeQueue':
        q.purgeQueue(url as string);
        return {};
      case 'StartMessageMoveTask':
        return { TaskHandle: q.startMessageMoveTask(str(input.SourceArn), str(input.DestinationArn), num(input.MaxNumberOfMessagesPerSecond), senderId) };
      case 'ListMessageMoveTasks':
        return { Results: q.listMessageMoveTasks(str(input.SourceArn), num(input.MaxResults)) };
      default:
        throw new SqsError('InvalidAction', `The action ${action} is not valid for this endpoint.`);
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    const target = req.headers['x-amz-target'];
    const json = typeof target === 'string' || String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json');
    const requestId = randomUUID();
    let action = '';
    let input: Input = {};
    // A long poll whose client went away must not take messages it can no longer deliver.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const record: SqsCall = { action, iamAction: '', protocol: json ? 'json' : 'query', accessKeyId: accessKeyIdOf(req.url ?? '/', req.headers), at: Date.now() };
    try {
      if (body === undefined) throw new SqsError('InvalidParameterValue', `The request body is over ${MAX_BODY_BYTES} bytes.`);
      if (json) {
        action = typeof target === 'string' && target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
        try {
          input = fromJson(body.length > 0 ? (JSON.parse(body.toString('utf8')) as Input) : {});
        } catch {
          throw new SqsError('InvalidParameterValue', 'The request body is not valid JSON.');
        }
      } else {
        const params = new URLSearchParams(body.toString('utf8'));
        for (const [k, v] of new URL(req.url ?? '/', 'http://x').searchParams) params.append(k, v);
        action = params.get('Action') ?? '';
        input = fromQuery(params);
        // Older clients post to the queue URL itself rather than passing QueueUrl.
        if (input.QueueUrl === undefined && SqsQueues.nameFromUrl(req.url ?? '/')) input.QueueUrl = model().queueUrl(SqsQueues.nameFromUrl(req.url ?? '/') as string);
      }
      record.action = action;
      record.iamAction = BATCH_IAM_ACTIONS[action] ?? `sqs:${action}`;
      const arn = targetArn(input);
      if (arn) record.queueArn = arn;
      if (str(input.DestinationArn)) record.destinationArn = str(input.DestinationArn);
      const visibilityTimeout = num(input.VisibilityTimeout);
      if (visibilityTimeout !== undefined) record.visibilityTimeout = visibilityTimeout;
      calls.push(record);
      const out = await execute(action, input, record.accessKeyId ?? ANONYMOUS_SENDER, gone.signal);
      writeAnswer(res, json, action, out, requestId);
    } catch (error) {
      const e = error instanceof SqsError ? error : undefined;
      const name = e?.code ?? 'InternalError';
      const { queryCode, status } = e ? SQS_ERRORS[e.code] : { queryCode: 'InternalError', status: 500 };
      record.error = name;
      if (!calls.includes(record)) calls.push(record);
      writeError(res, json, { name, queryCode, status, message: e?.message ?? String(error) }, requestId);
    }
  };

  const server = createServer((req, res) => {
    readCappedBody(req, MAX_BODY_BYTES, (body) => {
      void handle(req, res, body);
    });
  });
  const port = await listenOnLoopback(server, options.port);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    queues = new SqsQueues({ endpoint, timeScale: options.timeScale, region: options.region, accountId: options.accountId });
    for (const q of options.queues ?? []) queues.createQueue(q.name, q.attributes);
  } catch (error) {
    // A bad time scale or queue: close the server it would otherwise leave listening.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  const ready = queues;

  return {
    endpoint,
    calls,
    queueUrl: (name) => ready.queueUrl(name),
    queueArn: (name) => ready.queueArn(name),
    createQueue: (name, attributes) => ready.createQueue(name, attributes),
    sendMessage: (queueName, body, opts) =>
      ready.sendMessage(ready.queueUrl(queueName), { body, messageAttributes: opts?.messageAttributes, senderId: opts?.senderId ?? ANONYMOUS_SENDER }),
    snapshot: (name) => ready.snapshot(name),
    stop: async () => {
      ready.close();
      await closeServer(server);
    },
  };
}
