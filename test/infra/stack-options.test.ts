// The stack with every optional setting used: an imported secret (by ARN), a concurrency reservation, alerts.
import type { Template } from 'aws-cdk-lib/assertions';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TriggerEnv } from '../../lambdas/shared/contract.js';
import { type CfnResource, functionStatements, type Json, logicalIdOf, type Synthesized, synth } from './synth.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fps/token-AbCdEf';

let synthesized: Synthesized;
let template: Template;
let resources: Record<string, CfnResource>;
const id = (constructPath: string) => logicalIdOf(resources, constructPath);
const triggerEnv = () =>
  ((resources[id('Trigger/Function/Resource')]?.Properties?.Environment ?? {}) as { Variables: Record<string, Json> }).Variables;

beforeAll(() => {
  // Strings, as `-c key=value` passes them.
  synthesized = synth({
    partnerName: 'mybrand',
    tokenSecretArn: SECRET_ARN,
    triggerMaxConcurrency: '12',
    triggerReservedConcurrency: '12',
    defaultAttributeName: 'email',
    fpsEndpointUrl: 'http://127.0.0.1:4010/fps/v1/upload',
    maxFileBytes: '10485760',
    retentionDays: '7',
    notificationEmail: 'ops@example.com',
  }, { bundle: false });
  ({ template, resources } = synthesized);
});
afterAll(() => synthesized.cleanUp());

it('uses the imported secret: none created, its ARN in the env, the output and the grant', () => {
  template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  expect(triggerEnv()[TriggerEnv.tokenSecretId]).toBe(SECRET_ARN);
  expect(functionStatements(resources, 'Trigger/Function')).toContainEqual({
    Effect: 'Allow',
    Action: 'secretsmanager:GetSecretValue',
    Resource: SECRET_ARN,
  });
  expect((template.toJSON().Outputs as Record<string, { Value: Json }>).TokenSecretName?.Value).toBe(SECRET_ARN);
});

it('caps the event source mapping at triggerMaxConcurrency, and reserves triggerReservedConcurrency', () => {
  expect(resources[id('Trigger/Function/Resource')]?.Properties?.ReservedConcurrentExecutions).toBe(12);
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 12 } });
});

it('passes the optional and coerced settings to the trigger', () => {
  expect(triggerEnv()).toMatchObject({
    [TriggerEnv.defaultAttributeName]: 'email',
    [TriggerEnv.endpointUrl]: 'http://127.0.0.1:4010/fps/v1/upload',
    [TriggerEnv.maxFileBytes]: '10485760',
  });
});

it('expires dropped files after retentionDays, access logs after at least 90 days', () => {
  expect(resources[id('DropBucket/Resource')]?.Properties?.LifecycleConfiguration).toEqual({
    Rules: [expect.objectContaining({ ExpirationInDays: 7, NoncurrentVersionExpiration: { NoncurrentDays: 7 } })],
  });
  expect(resources[id('AccessLogBucket/Resource')]?.Properties?.LifecycleConfiguration).toEqual({
    Rules: [expect.objectContaining({ ExpirationInDays: 90 })],
  });
});

it('subscribes the email to both the alarms and the final statuses', () => {
  for (const topic of ['AlertsTopic', 'StatusTopic']) {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: id(`${topic}/Resource`) },
    });
  }
  template.resourceCountIs('AWS::SNS::Subscription', 2);
});

it('emails when the failed-uploads queue holds a message', () => {
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Namespace: 'AWS/SQS',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id('FailedUploadsQueue/Resource'), 'QueueName'] } }],
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    AlarmActions: [{ Ref: id('AlertsTopic/Resource') }],
  });
  template.hasResourceProperties('AWS::SNS::TopicPolicy', {
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    },
  });
});
