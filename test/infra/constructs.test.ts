// The constructs on their own: props that conflict stop the synth with a message that says what to do.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { CallbackEndpoint } from '../../infra/constructs/callback-endpoint.js';
import { DropStorage } from '../../infra/constructs/drop-storage.js';
import { FpsTokenSecret } from '../../infra/constructs/fps-token-secret.js';
import { Operations } from '../../infra/constructs/operations.js';
import { Trigger, type TriggerProps } from '../../infra/constructs/trigger.js';
import { UploadsTable } from '../../infra/constructs/uploads-table.js';

// No esbuild (these tests read no bundle); server access logs by bucket policy, as the app sets it.
const newStack = (region?: string) =>
  new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true } }), 'Test', {
    env: region === undefined ? undefined : { region },
  });
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b6f1a4e-1111-2222-3333-444455556666';

describe('FpsTokenSecret', () => {
  it('refuses both a name and an ARN', () => {
    expect(() => new FpsTokenSecret(newStack(), 'Token', { secretName: 'fps/token', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fps/token' })).toThrow(
      'Test/Token: give secretName or secretArn, not both (or neither, to create the secret)',
    );
  });

  it('refuses a KMS key for the secret it creates', () => {
    expect(() => new FpsTokenSecret(newStack(), 'Token', { kmsKeyArn: KEY_ARN })).toThrow(
      'Test/Token: kmsKeyArn applies only to an imported secret (secretName or secretArn); the created secret uses the AWS managed key',
    );
  });

  it("refuses a key outside the secret's Region: the stack's for a name, the ARN's for an ARN", () => {
    expect(() => new FpsTokenSecret(newStack('us-east-1'), 'Token', { secretName: 'fps/token', kmsKeyArn: KEY_ARN })).toThrow(
      "Test/Token: kmsKeyArn is in eu-west-1 but the secret is in us-east-1; Secrets Manager uses a key in the secret's own Region",
    );
    const otherRegionSecret = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:fps/token-AbCdEf';
    expect(() => new FpsTokenSecret(newStack(), 'Token', { secretArn: otherRegionSecret, kmsKeyArn: KEY_ARN })).toThrow('kmsKeyArn is in eu-west-1 but the secret is in us-east-1');
    expect(new FpsTokenSecret(newStack('eu-west-1'), 'Token', { secretName: 'fps/token', kmsKeyArn: KEY_ARN }).kmsKeyArn).toBe(KEY_ARN);
  });
});

describe('Trigger', () => {
  const props = (stack: Stack, concurrency: Pick<TriggerProps, 'maxConcurrency' | 'reservedConcurrency'>): TriggerProps => {
    const uploads = new UploadsTable(stack, 'Uploads');
    const operations = new Operations(stack, 'Operations');
    return {
      storage: new DropStorage(stack, 'Storage', { retentionDays: 30, preparedRetentionDays: 2 }),
      uploads,
      tokenSecret: new FpsTokenSecret(stack, 'Token'),
      operations,
      callbackBaseUrl: new CallbackEndpoint(stack, 'Callback', { uploads, operations }).url,
      partnerName: 'mybrand',
      fpsEndpointUrl: 'https://contact.useinsider.com/fps/v1/upload',
      maxFileBytes: 1024,
      presignExpiresSeconds: 3600,
      fpsTimeoutMs: 10_000,
      tokenCacheSeconds: 300,
      ...concurrency,
    };
  };

  it.each([0, 2.5])('refuses a reserved concurrency of %s, saying to leave it out for none', (reservedConcurrency) => {
    const stack = newStack();
    const triggerProps = props(stack, { reservedConcurrency });
    expect(() => new Trigger(stack, 'Trigger', triggerProps)).toThrow(
      'Test/Trigger: reservedConcurrency must be a whole number ≥ 1; leave it out to reserve none',
    );
  });

  it('refuses a reservation below the maximum concurrency, which would throttle the queue\'s invocations', () => {
    const stack = newStack();
    const triggerProps = props(stack, { maxConcurrency: 20, reservedConcurrency: 10 });
    expect(() => new Trigger(stack, 'Trigger', triggerProps)).toThrow(
      "Test/Trigger: reservedConcurrency (10) must be at least maxConcurrency (20), or Lambda throttles the queue's invocations; leave it out to reserve none",
    );
  });

  it.each([1, 1001, 2.5])('refuses a maximum concurrency of %s, outside what an SQS event source mapping takes', (maxConcurrency) => {
    const stack = newStack();
    const triggerProps = props(stack, { maxConcurrency });
    expect(() => new Trigger(stack, 'Trigger', triggerProps)).toThrow('Test/Trigger: maxConcurrency must be a whole number from 2 to 1000');
  });

  it('takes a reservation that covers the maximum concurrency', () => {
    const stack = newStack();
    expect(new Trigger(stack, 'Trigger', props(stack, { maxConcurrency: 3, reservedConcurrency: 3 })).function.node.path).toBe('Test/Trigger/Function');
  });
});

describe('Operations', () => {
  it('adds the alarms once, and says so when asked twice', () => {
    const stack = newStack();
    const uploads = new UploadsTable(stack, 'Uploads');
    const operations = new Operations(stack, 'Operations');
    const callback = new CallbackEndpoint(stack, 'Callback', { uploads, operations }).function;
    const parts = { failedUploadsQueue: new sqs.Queue(stack, 'Queue'), triggerFunction: callback, callbackFunction: callback, sweeperFunction: callback };
    operations.monitor(parts);
    expect(() => operations.monitor(parts)).toThrow('Test/Operations: monitor() was already called; pass every part in one call');
  });

  it('charts another queue, its depth and oldest message, from one entry in `queues`', () => {
    const stack = newStack();
    const uploads = new UploadsTable(stack, 'Uploads');
    const operations = new Operations(stack, 'Operations');
    const callback = new CallbackEndpoint(stack, 'Callback', { uploads, operations }).function;
    const uploadEvents = new sqs.Queue(stack, 'UploadEventsQueue');
    operations.monitor({
      failedUploadsQueue: new sqs.Queue(stack, 'Queue'),
      triggerFunction: callback,
      callbackFunction: callback,
      sweeperFunction: callback,
      queues: [{ title: 'Upload events (bucket → trigger)', queue: uploadEvents }],
    });

    const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const parts = (dashboards[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const queueName = { 'Fn::GetAtt': [stack.getLogicalId(uploadEvents.node.defaultChild as sqs.CfnQueue), 'QueueName'] };
    /** The metric's array in the body ends a text part; the queue's name is the next part. */
    const chartsOnQueue = (metric: string) =>
      parts.some((part, i) => typeof part === 'string' && part.endsWith(`"AWS/SQS","${metric}","QueueName","`) && JSON.stringify(parts[i + 1]) === JSON.stringify(queueName));
    expect(parts.some((part) => typeof part === 'string' && part.includes('"title":"Upload events (bucket → trigger)"'))).toBe(true);
    expect(chartsOnQueue('ApproximateNumberOfMessagesVisible')).toBe(true);
    expect(chartsOnQueue('ApproximateAgeOfOldestMessage')).toBe(true);
  });
});
