// A local SQS endpoint speaking both protocols (AWS JSON 1.0 for SDK v3, Query for the Debian AWS CLI) over the in-memory queues, recording every call and its caller.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { xmlEscape } from './aws-query.js';
import { closeServer, listenOnLoopback, readCappedBody } from './http.js';
import {
  type MessageAttributeValue,
  type MessageMoveTask,
  type QueueSnapshot,
  type ReceivedMessage,
  SQS_ERRORS,
  SqsError,
  SqsQueues,
  type SendResult,
} from './sqs-queues.js';

export { LOCAL_ACCOUNT_ID, LOCAL_REGION, md5OfMessageAttributes, type QueueSnapshot } from './sqs-queues.js';

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

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';
const JSON_10 = 'application/x-amz-json-1.0';
/** SendMessageBatch of ten 256 KiB messages, with room for the form encoding. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The SenderId a message gets when the request was not signed. */
const ANONYMOUS_SENDER = 'AIDALOCALANONYMOUS';

const BATCH_IAM_ACTIONS: Record<string, string> = {
  DeleteMessageBatch: 'sqs:DeleteMessage',
  SendMessageBatch: 'sqs:SendMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

/** The request as the JSON protocol would carry it; the Query adapter builds the same shape. */
type Input = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Undefined when absent; NaN (rejected by range checks) when present but not a number. */
const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : typeof v === 'number' ? v : Number(v));
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function accessKeyIdOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  return /Credential=([^/,\s]+)\//.exec(auth)?.[1];
}

// ---------- Query protocol: form parameters → the JSON-shaped input ----------

/** `prefix.1`, `prefix.2`, … until the first gap. */
function queryList(params: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i++) out.push(params.get(`${prefix}.${i}`) as string);
  return out;
}

/** `prefix.N.*` entries as their own parameter sets, until the first gap. */
function queryEntries(params: URLSearchParams, prefix: string): URLSearchParams[] {
  const out: URLSearchParams[] = [];
  for (let i = 1; ; i++) {
    const head = `${prefix}.${i}.`;
    const entry = new URLSearchParams();
    for (const [k, v] of params) if (k.startsWith(head)) entry.append(k.slice(head.length), v);
    if ([...entry.keys()].length === 0) return out;
    out.push(entry);
  }
}

function queryMap(params: URLSearchParams, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of queryEntries(params, prefix)) out[e.get('Name') ?? ''] = e.get('Value') ?? '';
  return out;
}

function queryMessageAttributes(params: URLSearchParams): Record<string, MessageAttributeValue> | undefined {
  const entries = queryEntries(params, 'MessageAttribute');
  if (entries.length === 0) return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const e of entries) {
    const binary = e.get('Value.BinaryValue');
    out[e.get('Name') ?? ''] = {
      DataType: e.get('Value.DataType') ?? '',
      ...(e.has('Value.StringValue') ? { StringValue: e.get('Value.StringValue') as string } : {}),
      ...(binary !== null ? { BinaryValue: Buffer.from(binary, 'base64') } : {}),
    };
  }
  return out;
}

function fromQuery(params: URLSearchParams): Input {
  const input: Input = {};
  for (const k of ['QueueUrl', 'QueueName', 'QueueNamePrefix', 'MessageBody', 'ReceiptHandle', 'SourceArn', 'DestinationArn']) {
    if (params.has(k)) input[k] = params.get(k);
  }
  for (const k of ['DelaySeconds', 'MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds', 'MaxNumberOfMessagesPerSecond', 'MaxResults']) {
    if (params.has(k)) input[k] = num(params.get(k));
  }
  input.AttributeNames = queryList(params, 'AttributeName');
  input.MessageSystemAttributeNames = queryList(params, 'MessageSystemAttributeName');
  input.MessageAttributeNames = queryList(params, 'MessageAttributeName');
  input.Attributes = queryMap(params, 'Attribute');
  input.MessageAttributes = queryMessageAttributes(params);
  const entries = [...queryEntries(params, 'DeleteMessageBatchRequestEntry'), ...queryEntries(params, 'SendMessageBatchRequestEntry')];
  input.Entries = entries.map((e) => ({
    Id: e.get('Id') ?? undefined,
    ReceiptHandle: e.get('ReceiptHandle') ?? undefined,
    MessageBody: e.get('MessageBody') ?? undefined,
    DelaySeconds: num(e.get('DelaySeconds')),
    MessageAttributes: queryMessageAttributes(e),
  }));
  return input;
}

// ---------- JSON protocol: decode what JSON cannot carry natively ----------

function jsonMessageAttributes(v: unknown): Record<string, MessageAttributeValue> | undefined {
  if (v === undefined || v === null || typeof v !== 'object') return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, raw] of Object.entries(v as Record<string, Record<string, unknown>>)) {
    out[name] = {
      DataType: str(raw?.DataType) ?? '',
      ...(raw?.StringValue !== undefined ? { StringValue: str(raw.StringValue) ?? String(raw.StringValue) } : {}),
      ...(typeof raw?.BinaryValue === 'string' ? { BinaryValue: Buffer.from(raw.BinaryValue, 'base64') } : {}),
    };
  }
  return out;
}

function fromJson(body: Input): Input {
  const entries = Array.isArray(body.Entries) ? (body.Entries as Input[]) : [];
  return {
    ...body,
    MessageAttributes: jsonMessageAttributes(body.MessageAttributes),
    Entries: entries.map((e) => ({ ...e, MessageAttributes: jsonMessageAttributes(e.MessageAttributes) })),
  };
}

// ---------- Answers as JSON and as Query XML ----------

const el = (name: string, value: string | number | boolean | undefined) =>
  value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;

function xmlAttributeValue(v: MessageAttributeValue): string {
  return `<Value>${el('StringValue', v.StringValue)}${v.BinaryValue ? el('BinaryValue', Buffer.from(v.BinaryValue).toString('base64')) : ''}${el('DataType', v.DataType)}</Value>`;
}

function xmlMessage(m: ReceivedMessage): string {
  const attributes = Object.entries(m.Attributes ?? {}).map(([k, v]) => `<Attribute>${el('Name', k)}${el('Value', v)}</Attribute>`);
  const user = Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => `<MessageAttribute>${el('Name', k)}${xmlAttributeValue(v)}</MessageAttribute>`);
  return `<Message>${el('MessageId', m.MessageId)}${el('ReceiptHandle', m.ReceiptHandle)}${el('MD5OfBody', m.MD5OfBody)}${el('Body', m.Body)}${attributes.join('')}${el('MD5OfMessageAttributes', m.MD5OfMessageAttributes)}${user.join('')}</Message>`;
}

function xmlBatchFailures(failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[]): string {
  return failed
    .map((f) => `<BatchResultErrorEntry>${el('Id', f.Id)}${el('SenderFault', f.SenderFault)}${el('Code', f.Code)}${el('Message', f.Message)}</BatchResultErrorEntry>`)
    .join('');
}

/** The inner XML of `<{Action}Result>`, or undefined for actions whose answer has no Result element. */
function toXml(action: string, out: Record<string, unknown>): string | undefined {
  switch (action) {
    case 'CreateQueue':
    case 'GetQueueUrl':
      return el('QueueUrl', out.QueueUrl as string);
    case 'ListQueues':
      return strings(out.QueueUrls).map((u) => el('QueueUrl', u)).join('');
    case 'GetQueueAttributes':
      return Object.entries(out.Attributes as Record<string, string>)
        .map(([k, v]) => `<Attribute>${el('Name', k)}${el('Value', v)}</Attribute>`)
        .join('');
    case 'SendMessage':
      return `${el('MessageId', out.MessageId as string)}${el('MD5OfMessageBody', out.MD5OfMessageBody as string)}${el('MD5OfMessageAttributes', out.MD5OfMessageAttributes as string | undefined)}`;
    case 'SendMessageBatch': {
      const ok = (out.Successful as (SendResult & { Id: string })[]).map(
        (s) => `<SendMessageBatchResultEntry>${el('Id', s.Id)}${el('MessageId', s.MessageId)}${el('MD5OfMessageBody', s.MD5OfMessageBody)}${el('MD5OfMessageAttributes', s.MD5OfMessageAttributes)}</SendMessageBatchResultEntry>`,
      );
      return ok.join('') + xmlBatchFailures(out.Failed as never);
    }
    case 'ReceiveMessage':
      return ((out.Messages as ReceivedMessage[] | undefined) ?? []).map(xmlMessage).join('');
    case 'DeleteMessageBatch':
      return (
        (out.Successful as { Id: string }[]).map((s) => `<DeleteMessageBatchResultEntry>${el('Id', s.Id)}</DeleteMessageBatchResultEntry>`).join('') +
        xmlBatchFailures(out.Failed as never)
      );
    case 'StartMessageMoveTask':
      return el('TaskHandle', out.TaskHandle as string);
    case 'ListMessageMoveTasks':
      return (out.Results as MessageMoveTask[])
        .map((t) => `<ListMessageMoveTasksResultEntry>${Object.entries(t).map(([k, v]) => el(k, v as string | number)).join('')}</ListMessageMoveTasksResultEntry>`)
        .join('');
    default:
      return undefined;
  }
}

/** JSON carries BinaryValue as base64. */
function jsonMessages(messages: ReceivedMessage[]): unknown[] {
  return messages.map((m) => ({
    ...m,
    ...(m.MessageAttributes
      ? {
          MessageAttributes: Object.fromEntries(
            Object.entries(m.MessageAttributes).map(([k, v]) => [k, { ...v, ...(v.BinaryValue ? { BinaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}) }]),
          ),
        }
      : {}),
  }));
}

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
    const record: SqsCall = { action, iamAction: '', protocol: json ? 'json' : 'query', accessKeyId: accessKeyIdOf(req), at: Date.now() };
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
      if (json) {
        const payload = action === 'ReceiveMessage' && out.Messages ? { Messages: jsonMessages(out.Messages as ReceivedMessage[]) } : out;
        res.writeHead(200, { 'content-type': JSON_10, 'x-amzn-requestid': requestId });
        res.end(JSON.stringify(payload));
      } else {
        const result = toXml(action, out);
        res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        res.end(
          `<?xml version="1.0"?><${action}Response xmlns="${XMLNS}">${result === undefined ? '' : `<${action}Result>${result}</${action}Result>`}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        );
      }
    } catch (error) {
      const e = error instanceof SqsError ? error : undefined;
      const name = e?.code ?? 'InternalError';
      const { queryCode, status } = e ? SQS_ERRORS[e.code] : { queryCode: 'InternalError', status: 500 };
      const message = e?.message ?? String(error);
      record.error = name;
      if (!calls.includes(record)) calls.push(record);
      const fault = status < 500 ? 'Sender' : 'Receiver';
      if (json) {
        // The SDK reads x-amzn-query-error first (SQS is awsQueryCompatible), so error codes match the Query protocol's.
        res.writeHead(status, { 'content-type': JSON_10, 'x-amzn-requestid': requestId, 'x-amzn-query-error': `${queryCode};${fault}` });
        res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${name}`, message }));
      } else {
        res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        res.end(
          `<?xml version="1.0"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${fault}</Type><Code>${xmlEscape(queryCode)}</Code><Message>${xmlEscape(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    }
  };

  const server = createServer((req, res) => {
    readCappedBody(req, MAX_BODY_BYTES, (body) => {
      void handle(req, res, body);
    });
  });
  const port = await listenOnLoopback(server, options.port);
  const endpoint = `http://127.0.0.1:${port}`;
  queues = new SqsQueues({ endpoint, timeScale: options.timeScale, region: options.region, accountId: options.accountId });
  for (const q of options.queues ?? []) queues.createQueue(q.name, q.attributes);
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
