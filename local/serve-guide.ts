// What serve mode prints: every endpoint, the stack's names, and copy-paste AWS CLI commands for each README step (pure, so it can be tested).
import { UploadStatus, UploadsTable } from '../lambdas/shared/contract.js';
import type { LocalEndpoints } from './stack.js';

export interface ServeInfo {
  region: string;
  /** What the AWS CLI signs with: s3rver checks signatures against its own key, the other emulators take any. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The AWS services', and the callback API, the FPS simulator's upload URL and the table browser. */
  endpoints: LocalEndpoints & { api: string; fpsSimulator: string; tableBrowser: string };
  bucket: string;
  /** Where the trigger writes the cleaned copies Insider downloads (output PreparedBucketName). */
  preparedBucket: string;
  tableName: string;
  /** The table browser's page for the table. */
  tableBrowserUrl: string;
  tokenSecretName: string;
  /** The token the FPS simulator accepts (a local stand-in, not a real token). */
  token: string;
  partnerName: string;
  /** The trigger's cache age for the token, from its environment. */
  tokenCacheSeconds: number;
  eventsQueueUrl: string;
  failureQueueUrl: string;
  statusTopicArn: string;
  callbackRoute: string;
  schedules: { name: string; expression: string; everySeconds: number; overridden: boolean }[];
  timeScale: number;
  /** Where status notifications are appended. */
  notificationsFile: string;
  logDir: string;
  /** The folder the commands are run from (the repository). */
  cwd: string;
}

/** One README step: a title and the command lines (continued with a trailing backslash). */
export interface GuideStep {
  title: string;
  lines: string[];
  note?: string;
}

/** An example to drop: a sample file, named by metadata. */
export const EXAMPLE_DROP = { file: 'examples/Email Address/VIP customers.csv', key: 'Email Address/VIP customers.csv', segment: 'Gold' } as const;

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The environment the commands expect, as one `export` line. */
export function awsEnvironment(info: Pick<ServeInfo, 'credentials' | 'region'>): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: info.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.credentials.secretAccessKey,
    // The AWS CLI reads AWS_DEFAULT_REGION; the SDK (npm run redrive) reads AWS_REGION.
    AWS_DEFAULT_REGION: info.region,
    AWS_REGION: info.region,
    // AWS CLI v2 pipes long output through a pager otherwise.
    AWS_PAGER: '',
    // s3rver refuses the streamed checksums newer AWS CLIs and SDKs send by default.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

export function guideSteps(info: ServeInfo): GuideStep[] {
  const aws = (endpoint: string, ...rest: string[]) => `aws --endpoint-url ${endpoint} ${rest.join(' ')}`;
  const json = (value: unknown) => shellQuote(JSON.stringify(value));
  const query = (index: string, condition: string, names: Record<string, string> | undefined, values: Record<string, unknown>) => [
    `${aws(info.endpoints.dynamodb, 'dynamodb query')} --table-name ${shellQuote(info.tableName)} --index-name ${index} \\`,
    `  --key-condition-expression ${shellQuote(condition)}${names ? ` --expression-attribute-names ${json(names)}` : ''} \\`,
    `  --expression-attribute-values ${json(values)} --no-scan-index-forward`,
  ];
  const redriveEnv = `AWS_ENDPOINT_URL_S3=${info.endpoints.s3} AWS_ENDPOINT_URL_DYNAMODB=${info.endpoints.dynamodb} AWS_ENDPOINT_URL_SQS=${info.endpoints.sqs}`;
  const queried = UploadStatus.Failed;
  // Every other status, from the contract, so a new one is listed here too.
  const otherStatuses = Object.values(UploadStatus).filter((status) => status !== queried);
  const redriveNames = `--table ${shellQuote(info.tableName)} --bucket ${shellQuote(info.bucket)} --queue-url ${shellQuote(info.failureQueueUrl)}`;
  return [
    {
      title: 'Put the FPS token in the secret (TokenSecretName)',
      lines: [`${aws(info.endpoints.secretsManager, 'secretsmanager put-secret-value')} --secret-id ${shellQuote(info.tokenSecretName)} --secret-string ${shellQuote(info.token)}`],
      note:
        `This is the token the FPS simulator accepts (partner ${info.partnerName}). The trigger caches the token for ${info.tokenCacheSeconds} s (tokenCacheSeconds; ` +
        'start with -c tokenCacheSeconds=5 for less). Put any other value to see an upload fail with 401, reach the failure queue, then put this one back and redrive: ' +
        'no need to wait for the cache, as a 401 makes the trigger read the secret again.',
    },
    {
      title: 'Drop a file (the folder names the attribute; the metadata names the segment)',
      lines: [`${aws(info.endpoints.s3, 's3 cp')} ${shellQuote(EXAMPLE_DROP.file)} ${shellQuote(`s3://${info.bucket}/${EXAMPLE_DROP.key}`)} --metadata ${json({ 'segment-name': EXAMPLE_DROP.segment })}`],
      note:
        'Metadata in the JSON form, which takes any value (the shorthand key=value fails on braces). A recurring segment: ' +
        `${JSON.stringify({ 'segment-name': EXAMPLE_DROP.segment, 'segment-name-template': '{name} {date}' })}; a dry run: add "dry-run":"true".`,
    },
    {
      title: `A segment's uploads, newest first (index ${UploadsTable.bySegmentIndex})`,
      lines: query(UploadsTable.bySegmentIndex, `${UploadsTable.bySegmentPartitionKey} = :n`, undefined, { ':n': { S: EXAMPLE_DROP.segment } }),
    },
    {
      title: `All uploads in one status, newest first (index ${UploadsTable.byStatusIndex}; "status" is a reserved word, hence #s)`,
      lines: query(UploadsTable.byStatusIndex, '#s = :s', { '#s': UploadsTable.byStatusPartitionKey }, { ':s': { S: queried } }),
      note: `Or ${otherStatuses.join(', ')}.`,
    },
    {
      // --visibility-timeout 0: reading hides nothing, so a redrive straight after still finds (and deletes) the messages.
      title: 'Read the failure queue (FailedUploadsQueueUrl: the S3 events the trigger gave up on; reading leaves them visible)',
      lines: [`${aws(info.endpoints.sqs, 'sqs receive-message')} --queue-url ${shellQuote(info.failureQueueUrl)} --max-number-of-messages 10 --attribute-names All --visibility-timeout 0`],
    },
    {
      title: 'Delete a message you have dealt with',
      lines: [`${aws(info.endpoints.sqs, 'sqs delete-message')} --queue-url ${shellQuote(info.failureQueueUrl)} --receipt-handle '<ReceiptHandle from receive-message>'`],
    },
    {
      title: 'Redrive: list the failed uploads, then redrive them (names as flags, endpoints in the environment)',
      lines: [`${redriveEnv} \\`, `  npm run redrive -- ${redriveNames}`, `${redriveEnv} \\`, `  npm run redrive -- ${redriveNames} --all --yes`],
      note: 'Or --upload-id <uploadId> for one; --status rejected or timed_out for those.',
    },
  ];
}

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** The whole banner: endpoints, names, where things are written, and the commands. */
export function serveBanner(info: ServeInfo): string {
  const rows = (pairs: [string, string][]) => {
    const width = Math.max(...pairs.map(([k]) => k.length));
    return pairs.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  };
  const env = Object.entries(awsEnvironment(info))
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(' ');
  const schedules = info.schedules.map(
    (s) =>
      `  ${s.name}: ${s.overridden ? `every ${s.everySeconds} s (--sweep-every; the template says ${s.expression})` : `${s.expression}`}, each run judging staleness at its scheduled time`,
  );
  const lines = [
    'Endpoints (127.0.0.1 only)',
    ...rows([
      ['S3', info.endpoints.s3],
      ['DynamoDB', info.endpoints.dynamodb],
      ['Secrets Manager', info.endpoints.secretsManager],
      ['SNS', info.endpoints.sns],
      ['STS', info.endpoints.sts],
      ['SQS', info.endpoints.sqs],
      ['Callback API', `${info.endpoints.api}  (POST ${info.callbackRoute})`],
      ['FPS simulator', `${info.endpoints.fpsSimulator}  (partner ${info.partnerName})`],
      ['Table browser', `${info.tableBrowserUrl}  (dynamodb-admin)`],
    ]),
    '',
    'Names (the stack outputs, locally)',
    ...rows([
      ['BucketName', info.bucket],
      ['PreparedBucketName', info.preparedBucket],
      ['TableName', info.tableName],
      ['TokenSecretName', info.tokenSecretName],
      ['UploadEventsQueueUrl', info.eventsQueueUrl],
      ['FailedUploadsQueueUrl', info.failureQueueUrl],
      ['StatusTopicArn', info.statusTopicArn],
    ]),
    '',
    `SQS time: ${info.timeScale === 1 ? 'real time' : `× ${info.timeScale} (a 60 s wait lasts ${+(60 * info.timeScale).toFixed(3)} s)`}. Schedules:`,
    ...schedules,
    `Status notifications: printed below as they arrive, and appended to ${info.notificationsFile}`,
    `Function logs: ${info.logDir}`,
    '',
    `In another terminal, from ${info.cwd} (AWS CLI v2; the export sets the emulators' dummy credentials, so keep that terminal for this):`,
    `  export ${env}`,
  ];
  guideSteps(info).forEach((step, i) => {
    lines.push('', `  # ${i + 1}. ${step.title}`, ...step.lines.map((l) => `  ${l}`));
    if (step.note) lines.push(...wrap(step.note, 96).map((l) => `  #    ${l}`));
  });
  return lines.join('\n');
}
