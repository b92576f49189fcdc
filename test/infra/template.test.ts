// The local stack's template reader on hand-made templates: functions found by their role, queues, event source mappings and notifications, values resolved like CloudFormation.
import { describe, expect, it } from 'vitest';
import { FUNCTION_ROLE_METADATA, FunctionRole } from '../../lambdas/shared/contract.js';
import { triggerConcurrency, UNCAPPED_MAPPING_ENVIRONMENTS } from '../../local/stack-functions.js';
import { type CfnResource, type CfnTemplate, derivedValue, readTemplate, resolveValue, UnsupportedTemplateError } from '../../local/template.js';

const lambda = (metadata: Record<string, string>): CfnResource => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x', Timeout: 60, MemorySize: 256, Environment: { Variables: { A: 'b' } } },
  Metadata: { 'aws:asset:path': 'asset.abc', ...metadata },
});
const read = (resources: Record<string, CfnResource>) => readTemplate({ Resources: resources } satisfies CfnTemplate, '/out');

describe('readTemplate: functions', () => {
  it('takes the functions marked with a role, whatever their construct path, and skips the rest', () => {
    const { functions } = read({
      Worker1234: lambda({ [FUNCTION_ROLE_METADATA]: FunctionRole.trigger, 'aws:cdk:path': 'Stack/Anything/Resource' }),
      // CDK's own custom-resource handler: bundled, but no role.
      BucketNotificationsHandler: lambda({ 'aws:cdk:path': 'Stack/BucketNotificationsHandler/Function/Resource' }),
    });
    expect(functions).toEqual([
      expect.objectContaining({ logicalId: 'Worker1234', role: 'trigger', assetDir: '/out/asset.abc', handler: 'index.handler', timeoutSeconds: 60 }),
    ]);
  });

  it('stops on a role it does not know', () => {
    expect(() => read({ Fn: lambda({ [FUNCTION_ROLE_METADATA]: 'uploader' }) })).toThrow(UnsupportedTemplateError);
  });

  it('stops on two functions with one role', () => {
    const trigger = lambda({ [FUNCTION_ROLE_METADATA]: FunctionRole.trigger });
    expect(() => read({ A: trigger, B: trigger })).toThrow(/More than one function has the role trigger/);
  });

  it('stops on a marked function with no bundle to run', () => {
    expect(() => read({ Fn: { Type: 'AWS::Lambda::Function', Metadata: { [FUNCTION_ROLE_METADATA]: FunctionRole.sweeper } } })).toThrow(/no bundled asset/);
  });
});

describe('readTemplate: queues, mappings and notifications', () => {
  const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  const queues = (): Record<string, CfnResource> => ({
    Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true } },
    Events: {
      Type: 'AWS::SQS::Queue',
      Properties: { VisibilityTimeout: 360, MessageRetentionPeriod: 345600, RedrivePolicy: { deadLetterTargetArn: arn('Dlq'), maxReceiveCount: 3 } },
    },
  });
  const mapping = (extra: Record<string, unknown> = {}): CfnResource => ({
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: {
      EventSourceArn: arn('Events'),
      FunctionName: { Ref: 'Fn' },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 7 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ...extra,
    } as CfnResource['Properties'],
  });
  const notifications = (configuration: Record<string, unknown>): CfnResource => ({
    Type: 'Custom::S3BucketNotifications',
    Properties: { BucketName: { Ref: 'Bucket' }, NotificationConfiguration: configuration } as CfnResource['Properties'],
  });

  it('gives the trigger\'s concurrency from its mapping, the caller\'s override, or the local default when uncapped', () => {
    const withMapping = (extra: Record<string, unknown> = {}) =>
      read({ ...queues(), Fn: lambda({ [FUNCTION_ROLE_METADATA]: FunctionRole.trigger }), Mapping: mapping(extra) });
    expect(triggerConcurrency(withMapping(), undefined)).toBe(7);
    expect(triggerConcurrency(withMapping(), 2)).toBe(2);
    expect(triggerConcurrency(withMapping({ ScalingConfig: undefined }), undefined)).toBe(UNCAPPED_MAPPING_ENVIRONMENTS);
  });

  it('reads queues with their attributes and redrive policy, mappings and queue notifications', () => {
    const stack = read({
      ...queues(),
      Fn: lambda({ [FUNCTION_ROLE_METADATA]: FunctionRole.trigger }),
      Mapping: mapping(),
      Notifications: notifications({ QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: arn('Events') }] }),
    });
    expect(stack.queues).toEqual([
      { logicalId: 'Dlq', attributes: { MessageRetentionPeriod: '1209600', SqsManagedSseEnabled: 'true' }, redrive: undefined },
      { logicalId: 'Events', attributes: { VisibilityTimeout: '360', MessageRetentionPeriod: '345600' }, redrive: { deadLetterQueueLogicalId: 'Dlq', maxReceiveCount: 3 } },
    ]);
    expect(stack.eventSourceMappings).toEqual([
      { logicalId: 'Mapping', queueLogicalId: 'Events', functionLogicalId: 'Fn', batchSize: 1, maximumConcurrency: 7, reportBatchItemFailures: true },
    ]);
    expect(stack.notifications).toEqual([{ bucketLogicalId: 'Bucket', queueLogicalId: 'Events', events: ['s3:ObjectCreated:*'], filterRules: [] }]);
  });

  it.each([
    ['a FIFO queue', { Q: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } } }, /Queue Q: the local stack does not know the property FifoQueue/],
    ['a mapping with a filter', { ...queues(), Mapping: mapping({ FilterCriteria: { Filters: [] } }) }, /Mapping: the local stack does not know FilterCriteria/],
    ['a mapping on a queue outside the template', { ...queues(), Mapping: mapping({ EventSourceArn: 'arn:aws:sqs:eu-west-1:1:other' }) }, /must read a queue of the template/],
    [
      'a notification to a function',
      { ...queues(), Notifications: notifications({ LambdaFunctionConfigurations: [{ Events: ['s3:ObjectCreated:*'], LambdaFunctionArn: arn('Fn') }] }) },
      /delivers S3 events only to queues, not LambdaFunctionConfigurations/,
    ],
    ['asynchronous invocation settings', { Config: { Type: 'AWS::Lambda::EventInvokeConfig', Properties: {} } }, /no asynchronous invocation settings/],
  ])('stops on %s', (_what, resources, message) => {
    expect(() => read(resources as Record<string, CfnResource>)).toThrow(message);
  });
});

describe('resolveValue', () => {
  const context = {
    region: 'eu-west-1',
    accountId: '123456789012',
    lookup: (logicalId: string, attribute?: string) => (attribute ? `${logicalId}.${attribute}` : `ref:${logicalId}`),
  };

  it('passes literals through as strings', () => {
    expect([resolveValue('x', context), resolveValue(3, context), resolveValue(true, context)]).toEqual(['x', '3', 'true']);
  });

  it('asks the lookup for Ref and Fn::GetAtt', () => {
    expect(resolveValue({ Ref: 'Table' }, context)).toBe('ref:Table');
    expect(resolveValue({ 'Fn::GetAtt': ['Api', 'ApiEndpoint'] }, context)).toBe('Api.ApiEndpoint');
  });

  it('fills in the pseudo parameters and joins, nested', () => {
    const arn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:x-??????']],
    };
    expect(resolveValue(arn, context)).toBe('arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-??????');
    expect(resolveValue({ 'Fn::Join': ['.', ['execute-api', { Ref: 'AWS::URLSuffix' }]] }, context)).toBe('execute-api.amazonaws.com');
  });

  it('substitutes Fn::Sub variables, pseudo parameters, Refs and attributes, and keeps escaped literals', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
    expect(resolveValue({ 'Fn::Sub': 'cdk-assets-${AWS::AccountId}-${AWS::Region}' }, context)).toBe('cdk-assets-123456789012-eu-west-1');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
    const withVariables = { 'Fn::Sub': ['${Table}/${Role.Arn}/${x}/${!Literal}', { x: { Ref: 'Queue' } }] };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: what Fn::Sub makes of an escaped literal
    expect(resolveValue(withVariables, context)).toBe('ref:Table/Role.Arn/ref:Queue/${Literal}');
  });

  it('stops on an intrinsic it does not know', () => {
    expect(() => resolveValue({ 'Fn::Select': [0, ['a', 'b']] }, context)).toThrow(UnsupportedTemplateError);
  });
});

describe('derivedValue: the ARNs and Refs AWS builds from a physical name', () => {
  const env = { region: 'us-east-1', accountId: '000000000000' };

  it.each([
    ['AWS::IAM::Role', 'Arn', 'arn:aws:iam::000000000000:role/name'],
    ['AWS::IAM::Role', undefined, 'name'],
    ['AWS::S3::Bucket', 'Arn', 'arn:aws:s3:::name'],
    ['AWS::DynamoDB::Table', 'Arn', 'arn:aws:dynamodb:us-east-1:000000000000:table/name'],
    ['AWS::Logs::LogGroup', 'Arn', 'arn:aws:logs:us-east-1:000000000000:log-group:name:*'],
    ['AWS::Lambda::Function', 'Arn', 'arn:aws:lambda:us-east-1:000000000000:function:name'],
    ['AWS::Events::Rule', 'Arn', 'arn:aws:events:us-east-1:000000000000:rule/name'],
    ['AWS::SNS::Topic', undefined, 'arn:aws:sns:us-east-1:000000000000:name'],
    ['AWS::ApiGatewayV2::Api', undefined, 'name'],
    ['AWS::S3::Bucket', 'DomainName', undefined],
    ['AWS::CloudWatch::Alarm', undefined, undefined],
  ])('%s %s', (type, attribute, expected) => {
    expect(derivedValue(type, 'name', attribute, env)).toBe(expected);
  });
});
