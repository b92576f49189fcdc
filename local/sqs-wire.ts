// The local SQS endpoint's two wire protocols: AWS JSON 1.0 (SDK v3) and Query (the Debian AWS CLI) read into one input shape, and answers and errors written back in each.
import type { ServerResponse } from 'node:http';
import { xmlEscape } from './aws-query.js';
import type { MessageMoveTask } from './sqs-queues.js';
import type { ReceivedMessage, SendResult } from './sqs-queue.js';
import type { MessageAttributeValue } from './sqs-rules.js';

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';
const JSON_10 = 'application/x-amz-json-1.0';

/** The request as the JSON protocol would carry it; the Query adapter builds the same shape. */
export type Input = Record<string, unknown>;

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Undefined when absent; NaN (rejected by range checks) when present but not a number. */
export const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : typeof v === 'number' ? v : Number(v));
export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

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

export function fromQuery(params: URLSearchParams): Input {
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

export function fromJson(body: Input): Input {
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

/** A successful answer: JSON as the SDK reads it, or Query XML with the action's Result element. */
export function writeAnswer(res: ServerResponse, json: boolean, action: string, out: Record<string, unknown>, requestId: string): void {
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
}

/** An error answer: `name` is the JSON shape name, `queryCode` the Query protocol's code for it. */
export function writeError(
  res: ServerResponse,
  json: boolean,
  error: { name: string; queryCode: string; status: number; message: string },
  requestId: string,
): void {
  const { name, queryCode, status, message } = error;
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
