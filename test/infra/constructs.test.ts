// The constructs on their own: props that conflict stop the synth with a message that says what to do.
import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { CallbackEndpoint } from '../../infra/constructs/callback-endpoint.js';
import { DropStorage } from '../../infra/constructs/drop-storage.js';
import { FpsTokenSecret } from '../../infra/constructs/fps-token-secret.js';
import { Operations } from '../../infra/constructs/operations.js';
import { Trigger, type TriggerProps } from '../../infra/constructs/trigger.js';
import { UploadsTable } from '../../infra/constructs/uploads-table.js';

// No esbuild (these tests read no bundle); server access logs by bucket policy, as the app sets it.
const newStack = () =>
  new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true } }), 'Test');

describe('FpsTokenSecret', () => {
  it('refuses both a name and an ARN', () => {
    expect(() => new FpsTokenSecret(newStack(), 'Token', { secretName: 'fps/token', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fps/token' })).toThrow(
      'Test/Token: give secretName or secretArn, not both (or neither, to create the secret)',
    );
  });
});

describe('Trigger', () => {
  const props = (stack: Stack, concurrency: Pick<TriggerProps, 'maxConcurrency' | 'reservedConcurrency'>): TriggerProps => {
    const uploads = new UploadsTable(stack, 'Uploads');
    const operations = new Operations(stack, 'Operations');
    return {
      storage: new DropStorage(stack, 'Storage', { retentionDays: 30 }),
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
});
