// A local SNS endpoint answering Publish for the template's topics, so the real SDK client works offline; it keeps what was published.
import { randomUUID } from 'node:crypto';
import { QueryError, startQueryServer, xmlEscape } from './aws-query.js';

export interface PublishedMessage {
  topicArn: string;
  subject: string | undefined;
  message: string;
  /** Message attributes, name → string value. */
  attributes: Record<string, string>;
  messageId: string;
}

export interface LocalSns {
  /** Pass as `endpoint` to `new SNSClient(...)`, or as AWS_ENDPOINT_URL_SNS. */
  endpoint: string;
  /** Every message published, in order. */
  readonly messages: PublishedMessage[];
  /** While on, Publish answers 500, as an SNS outage would. */
  setFailing(failing: boolean): void;
  stop(): Promise<void>;
}

/** SNS's own limits on a subject. */
const SUBJECT = /^[\x20-\x7E]{1,99}$/;

export interface LocalSnsOptions {
  /** Topic ARNs that exist. */
  topics: string[];
  /** Called with each message as it is published (serve mode prints them and appends them to a file). */
  onPublish?: (message: PublishedMessage) => void;
  /** @default a free port */
  port?: number;
}

export async function startLocalSns(options: LocalSnsOptions): Promise<LocalSns> {
  const topics = new Set(options.topics);
  const messages: PublishedMessage[] = [];
  let failing = false;
  const server = await startQueryServer('http://sns.amazonaws.com/doc/2010-03-31/', (action, params) => {
    if (action !== 'Publish') throw new QueryError(400, 'InvalidAction', `Unsupported action ${action}.`);
    if (failing) throw new QueryError(500, 'InternalError', 'The local SNS is set to fail.');
    const topicArn = params.get('TopicArn') ?? '';
    if (!topics.has(topicArn)) throw new QueryError(404, 'NotFound', 'Topic does not exist');
    const message = params.get('Message');
    if (!message) throw new QueryError(400, 'InvalidParameter', 'Invalid parameter: Empty message');
    const subject = params.get('Subject') ?? undefined;
    if (subject !== undefined && !SUBJECT.test(subject)) throw new QueryError(400, 'InvalidParameter', 'Invalid parameter: Subject');
    const attributes: Record<string, string> = {};
    for (let i = 1; params.has(`MessageAttributes.entry.${i}.Name`); i++) {
      attributes[params.get(`MessageAttributes.entry.${i}.Name`) as string] = params.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
    }
    const messageId = randomUUID();
    const published = { topicArn, subject, message, attributes, messageId };
    messages.push(published);
    options.onPublish?.(published);
    return `<MessageId>${xmlEscape(messageId)}</MessageId>`;
  }, options.port);
  return {
    endpoint: server.endpoint,
    messages,
    setFailing: (on) => {
      failing = on;
    },
    stop: server.stop,
  };
}
