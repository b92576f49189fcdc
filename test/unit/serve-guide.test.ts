// What serve mode prints: endpoints, names and AWS CLI commands that target the local endpoints and quote what the shell would split.
import { describe, expect, it } from 'vitest';
import { awsEnvironment, guideSteps, type ServeInfo, serveBanner, shellQuote } from '../../local/serve-guide.js';
import { notificationLine } from '../../local/serve.js';
import { UploadStatus } from '../../lambdas/shared/contract.js';

const info: ServeInfo = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  endpoints: {
    s3: 'http://127.0.0.1:4600',
    dynamodb: 'http://127.0.0.1:4601',
    secretsManager: 'http://127.0.0.1:4602',
    sns: 'http://127.0.0.1:4603',
    sts: 'http://127.0.0.1:4604',
    sqs: 'http://127.0.0.1:4605',
    api: 'http://127.0.0.1:4606',
    fpsSimulator: 'http://127.0.0.1:4607/fps/v1/upload',
    tableBrowser: 'http://127.0.0.1:4608',
  },
  bucket: 'dropbucket-local',
  preparedBucket: 'preparedbucket-local',
  tableName: 'Uploads-local',
  tableBrowserUrl: 'http://127.0.0.1:4608/tables/Uploads-local',
  tokenSecretName: 'FpsTokenSecret',
  token: 'abc123',
  partnerName: 'localbrand',
  tokenCacheSeconds: 300,
  eventsQueueUrl: 'http://127.0.0.1:4605/000000000000/Events',
  failureQueueUrl: 'http://127.0.0.1:4605/000000000000/Failed',
  statusTopicArn: 'arn:aws:sns:us-east-1:000000000000:Status',
  callbackRoute: '/callbacks/{uploadId}/{token}',
  schedules: [{ name: 'SweeperSchedule', expression: 'rate(15 minutes)', everySeconds: 900, overridden: false }],
  timeScale: 1,
  notificationsFile: '.local/status-notifications.jsonl',
  logDir: '.local/logs/',
  cwd: '/repo',
};

const commands = (title: RegExp) => guideSteps(info).find((s) => title.test(s.title))?.lines.join('\n') ?? '';

describe('shellQuote', () => {
  it.each([
    ['plain', 'plain'],
    ['s3://b/k.csv', 's3://b/k.csv'],
    ['Email Address/VIP customers.csv', `'Email Address/VIP customers.csv'`],
    [`it's`, `'it'\\''s'`],
    ['{"#s":"status"}', `'{"#s":"status"}'`],
    ['', `''`],
  ])('%j → %s', (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });
});

describe('the printed commands', () => {
  it('send every AWS CLI command to its local endpoint', () => {
    expect(commands(/token/)).toMatch(/^aws --endpoint-url http:\/\/127\.0\.0\.1:4602 secretsmanager put-secret-value --secret-id FpsTokenSecret --secret-string abc123$/);
    expect(commands(/Drop/)).toBe(
      `aws --endpoint-url http://127.0.0.1:4600 s3 cp 'examples/Email Address/VIP customers.csv' 's3://dropbucket-local/Email Address/VIP customers.csv' --metadata '{"segment-name":"Gold"}'`,
    );
    expect(commands(/failure queue/)).toBe(
      'aws --endpoint-url http://127.0.0.1:4605 sqs receive-message --queue-url http://127.0.0.1:4605/000000000000/Failed --max-number-of-messages 10 --attribute-names All --visibility-timeout 0',
    );
    expect(commands(/Delete/)).toMatch(/^aws --endpoint-url http:\/\/127\.0\.0\.1:4605 sqs delete-message --queue-url \S+\/Failed --receipt-handle /);
  });

  it('query the indexes newest first, naming the reserved word status with #s', () => {
    expect(commands(/segment's uploads/)).toBe(
      [
        'aws --endpoint-url http://127.0.0.1:4601 dynamodb query --table-name Uploads-local --index-name bySegment \\',
        `  --key-condition-expression 'segmentName = :n' \\`,
        `  --expression-attribute-values '{":n":{"S":"Gold"}}' --no-scan-index-forward`,
      ].join('\n'),
    );
    expect(commands(/one status/)).toBe(
      [
        'aws --endpoint-url http://127.0.0.1:4601 dynamodb query --table-name Uploads-local --index-name byStatus \\',
        `  --key-condition-expression '#s = :s' --expression-attribute-names '{"#s":"status"}' \\`,
        `  --expression-attribute-values '{":s":{"S":"failed"}}' --no-scan-index-forward`,
      ].join('\n'),
    );
  });

  it('give metadata in the JSON form, which the AWS CLI takes with braces in a value, and show a template that way', () => {
    const drop = guideSteps(info).find((s) => /Drop/.test(s.title));
    expect(drop?.lines.join('\n')).toMatch(/ --metadata '\{"segment-name":"Gold"\}'$/);
    expect(drop?.note).toContain('"segment-name-template":"{name} {date}"');
  });

  it('list every other status after the byStatus query, from the contract', () => {
    const note = guideSteps(info).find((s) => /one status/.test(s.title))?.note ?? '';
    expect(note).toBe('Or received, submitted, completed, rejected, timed_out, dry_run.');
    for (const status of Object.values(UploadStatus).filter((s) => s !== 'failed')) expect(note).toContain(status);
  });

  it('run npm run redrive with the local endpoints in its environment and the names as flags', () => {
    const redrive = commands(/Redrive/);
    const env = 'AWS_ENDPOINT_URL_S3=http://127.0.0.1:4600 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4601 AWS_ENDPOINT_URL_SQS=http://127.0.0.1:4605 \\';
    const names = '--table Uploads-local --bucket dropbucket-local --queue-url http://127.0.0.1:4605/000000000000/Failed';
    expect(redrive).toBe([env, `  npm run redrive -- ${names}`, env, `  npm run redrive -- ${names} --all --yes`].join('\n'));
  });

  it('export the emulators’ credentials, both region variables, no pager and s3rver’s checksum settings', () => {
    expect(awsEnvironment(info)).toEqual({
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    });
  });
});

describe('serveBanner', () => {
  const banner = serveBanner(info);

  it('lists every endpoint and name', () => {
    for (const url of Object.values(info.endpoints)) expect(banner).toContain(url);
    for (const name of [info.bucket, info.preparedBucket, info.tableName, info.tokenSecretName, info.eventsQueueUrl, info.failureQueueUrl, info.statusTopicArn, info.tableBrowserUrl]) {
      expect(banner).toContain(name);
    }
    expect(banner).toMatch(/^ {2}PreparedBucketName +preparedbucket-local$/m);
    expect(banner).toMatch(/^ {2}Table browser +http:\/\/127\.0\.0\.1:4608\/tables\/Uploads-local {2}\(dynamodb-admin\)$/m);
  });

  it('numbers the steps and prints the export line once, before them', () => {
    expect(banner.match(/^ {2}# \d+\. /gm)).toHaveLength(7);
    expect(banner.match(/^ {2}export /gm)).toHaveLength(1);
    expect(banner.indexOf('  export ')).toBeLessThan(banner.indexOf('  # 1. '));
  });

  it('says how the schedules and SQS time run', () => {
    expect(banner).toContain('SQS time: real time.');
    expect(banner).toContain('SweeperSchedule: rate(15 minutes), each run judging staleness at its scheduled time');
    const fast = serveBanner({ ...info, timeScale: 0.01, schedules: [{ ...(info.schedules[0] as ServeInfo['schedules'][number]), everySeconds: 2, overridden: true }] });
    expect(fast).toContain('SQS time: × 0.01 (a 60 s wait lasts 0.6 s).');
    expect(fast).toContain('SweeperSchedule: every 2 s (--sweep-every; the template says rate(15 minutes))');
  });

  it('wraps the notes as comments', () => {
    for (const line of banner.split('\n').filter((l) => l.startsWith('  #    '))) expect(line.length).toBeLessThanOrEqual(103);
  });
});

describe('notificationLine', () => {
  const message = (body: Record<string, unknown>) => ({ topicArn: 'arn', subject: 'FPS upload completed: Gold', message: JSON.stringify(body), attributes: { status: String(body.status) }, messageId: 'm' });

  it('shows the status, segment, key, counts and reason', () => {
    const line = notificationLine(
      message({ status: 'completed', segmentName: 'Gold', key: 'em/VIP.csv', reason: 'Insider created the segment.', counts: { valid: 4, invalid: 1, total: 5, matchRate: 0.8 } }),
      new Date('2026-11-29T14:05:03Z'),
    );
    expect(line).toBe('[status 14:05:03Z] completed "Gold" (em/VIP.csv) valid 4 invalid 1 total 5 match 80.0% : Insider created the segment.');
  });

  it('falls back on the subject when the body is not the pipeline’s JSON', () => {
    const line = notificationLine({ topicArn: 'arn', subject: 'Hello', message: 'not json', attributes: {}, messageId: 'm' }, new Date('2026-11-29T14:05:03Z'));
    expect(line).toBe('[status 14:05:03Z] ? Hello');
  });
});
