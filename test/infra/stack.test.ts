// The synthesized pipeline stack with default settings: wiring, security defaults and least privilege.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_ID } from '../../infra/app.js';
import {
  CALLBACK_ROUTE,
  CallbackEnv,
  DEFAULT_FPS_ENDPOINT,
  DEFAULT_MAX_FILE_BYTES,
  FUNCTION_ROLE_METADATA,
  FunctionRole,
  METRICS_NAMESPACE,
  MetricName,
  PRESIGN_ROLE_MAX_SECONDS,
  RECEIVED_TIMEOUT_HOURS,
  ServiceName,
  SweeperEnv,
  DEFAULT_ATTRIBUTE_FORMATS,
  TRIGGER_MAX_RECEIVES,
  TRIGGER_MEMORY_MB,
  TriggerEnv,
  UploadsTable,
} from '../../lambdas/shared/contract.js';
import { Limits } from '../../lambdas/shared/limits.js';
import {
  actionsOf,
  allPolicyStatements,
  type CfnResource,
  exportTypeInNode,
  functionStatements,
  type Json,
  logicalIdOf,
  resolveForTest,
  type Synthesized,
  synth,
} from './synth.js';

const FUNCTION_IDS = ['Trigger/Function', 'Callback/Function', 'TimeoutSweeper/Function'] as const;

let synthesized: Synthesized;
let template: Template;
let resources: Record<string, CfnResource>;
const id = (constructPath: string) => logicalIdOf(resources, constructPath);
const fn = (functionId: string) => resources[id(`${functionId}/Resource`)] as CfnResource;
const queuePolicyStatements = (queueId: string) =>
  (resources[id(`${queueId}/Policy/Resource`)]?.Properties?.PolicyDocument as { Statement: Record<string, Json>[] } | undefined)?.Statement ?? [];
const dependsOn = (constructPath: string) => (resources[id(constructPath)] as { DependsOn?: string[] } | undefined)?.DependsOn;

beforeAll(() => {
  synthesized = synth({ partnerName: 'mybrand' });
  ({ template, resources } = synthesized);
});
afterAll(() => synthesized.cleanUp());

describe('functions', () => {
  it.each(FUNCTION_IDS)('%s runs index.handler on nodejs24.x, arm64, from a bundled asset', (functionId) => {
    expect(fn(functionId).Type).toBe('AWS::Lambda::Function');
    expect(fn(functionId).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      // The trigger reads each file (the pre-flight check): CPU comes with memory.
      MemorySize: functionId === 'Trigger/Function' ? TRIGGER_MEMORY_MB : 256,
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
    expect(fn(functionId).Metadata?.['aws:asset:path']).toMatch(/^asset\.[0-9a-f]{64}$/);
  });

  it.each(FUNCTION_IDS)("%s's bundle exports the handler the stack names, and loads with the stack's env", (functionId) => {
    const metadata = fn(functionId).Metadata ?? {};
    const bundle = join(synthesized.outdir, String(metadata['aws:asset:path']), 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    const variables = ((fn(functionId).Properties?.Environment ?? {}) as { Variables: Record<string, Json> }).Variables;
    // The handlers read their settings at load and throw on a missing one: load with what the stack sets.
    const env: Record<string, string> = { AWS_REGION: 'eu-west-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    for (const [name, value] of Object.entries(variables)) env[name] = resolveForTest(value);
    expect(exportTypeInNode(bundle, 'handler', env)).toBe('function');
  });

  it("marks each pipeline function with its role, and none of CDK's own functions", () => {
    const roles = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([logicalId, r]) => [logicalId, r.Metadata?.[FUNCTION_ROLE_METADATA]] as const);
    expect(Object.fromEntries(roles.filter(([, role]) => role !== undefined))).toEqual({
      [id('Trigger/Function/Resource')]: FunctionRole.trigger,
      [id('Callback/Function/Resource')]: FunctionRole.callback,
      [id('TimeoutSweeper/Function/Resource')]: FunctionRole.sweeper,
    });
    // The bucket-notifications handler is CDK's, deploy-time only.
    expect(roles.filter(([, role]) => role === undefined)).toHaveLength(1);
  });

  it('trigger gets every setting it reads, with the defaults', () => {
    const env = ((fn('Trigger/Function').Properties?.Environment ?? {}) as { Variables: Record<string, Json> }).Variables;
    expect(env).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      [TriggerEnv.tableName]: { Ref: id('UploadsTable/Resource') },
      [TriggerEnv.partnerName]: 'mybrand',
      [TriggerEnv.tokenSecretId]: { Ref: id('FpsTokenSecret/Resource') },
      [TriggerEnv.endpointUrl]: DEFAULT_FPS_ENDPOINT,
      // Exactly this GetAtt: the local stack resolves it to its own API's URL.
      [TriggerEnv.callbackBaseUrl]: { 'Fn::GetAtt': [id('CallbackApi/Resource'), 'ApiEndpoint'] },
      [TriggerEnv.maxFileBytes]: String(DEFAULT_MAX_FILE_BYTES),
      [TriggerEnv.presignExpiresSeconds]: String(PRESIGN_ROLE_MAX_SECONDS),
      [TriggerEnv.fpsTimeoutMs]: '10000',
      [TriggerEnv.tokenCacheSeconds]: '300',
      [TriggerEnv.maxReceives]: String(TRIGGER_MAX_RECEIVES),
      [TriggerEnv.eventsQueueUrl]: { Ref: id('UploadEventsQueue/Resource') },
      [TriggerEnv.statusTopicArn]: { Ref: id('StatusTopic/Resource') },
      [TriggerEnv.presignRoleArn]: { 'Fn::GetAtt': [id('PresignRole/Resource'), 'Arn'] },
      [TriggerEnv.preparedBucketName]: { Ref: id('PreparedBucket/Resource') },
      [TriggerEnv.segmentNameTemplate]: '{name}',
      [TriggerEnv.timeZone]: 'UTC',
      [TriggerEnv.attributeFormats]: JSON.stringify(DEFAULT_ATTRIBUTE_FORMATS),
      [TriggerEnv.maxInvalidShare]: '0.5',
      [TriggerEnv.normalizeValues]: 'false',
    });
    expect(env).not.toHaveProperty(TriggerEnv.presignAccessKeySecretId);
    expect(env).not.toHaveProperty(TriggerEnv.defaultAttributeName);
    expect(env).not.toHaveProperty(TriggerEnv.phoneDefaultRegion);
  });

  it('callback gets the minimum match rate', () => {
    const env = ((fn('Callback/Function').Properties?.Environment ?? {}) as { Variables: Record<string, Json> }).Variables;
    expect(env[CallbackEnv.minMatchRate]).toBe('0.5');
  });

  it('trigger: 60 s timeout, no reserved concurrency, no asynchronous invocation settings', () => {
    expect(fn('Trigger/Function').Properties).toMatchObject({ Timeout: 60 });
    // A reservation fails the first deploy on accounts whose concurrency quota is 10.
    expect(fn('Trigger/Function').Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 0);
  });

  it('trigger reads the events queue one message at a time, at most the default concurrency at once, reporting failed items', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [id('UploadEventsQueue/Resource'), 'Arn'] },
      FunctionName: { Ref: id('Trigger/Function/Resource') },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: Limits.triggerMaxConcurrency.default },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('the events queue: SSE-SQS, 6 × the trigger timeout to stay hidden, 4 days, then the failed-uploads queue after the last receive', () => {
    expect(resources[id('UploadEventsQueue/Resource')]?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 60,
      MessageRetentionPeriod: 4 * 24 * 3600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id('FailedUploadsQueue/Resource'), 'Arn'] }, maxReceiveCount: TRIGGER_MAX_RECEIVES },
    });
    expect(resources[id('FailedUploadsQueue/Resource')]?.Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it.each(['UploadEventsQueue', 'FailedUploadsQueue'])('%s refuses plain HTTP', (queueId) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id(`${queueId}/Resource`) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('only S3, for the drop bucket in this account, may send to the events queue, and only SendMessage', () => {
    const statements = queuePolicyStatements('UploadEventsQueue');
    expect(statements.filter((st) => st.Effect === 'Allow')).toEqual([
      {
        Sid: 'S3DropBucketEvents',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [id('UploadEventsQueue/Resource'), 'Arn'] },
        Condition: {
          ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [id('DropBucket/Resource'), 'Arn'] } },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
      },
    ]);
    // The failure queue takes messages only from its source queue's redrive policy.
    const failures = queuePolicyStatements('FailedUploadsQueue');
    expect(failures.map((st) => st.Effect)).toEqual(['Deny']);
  });

  it('callback and sweeper get the table name (and the sweeper its windows)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Timeout: 10,
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          [CallbackEnv.tableName]: { Ref: id('UploadsTable/Resource') },
          [CallbackEnv.statusTopicArn]: { Ref: id('StatusTopic/Resource') },
        },
      },
    });
    expect(fn('TimeoutSweeper/Function').Properties?.Environment).toEqual({
      Variables: {
        NODE_OPTIONS: '--enable-source-maps',
        [SweeperEnv.tableName]: { Ref: id('UploadsTable/Resource') },
        [SweeperEnv.submittedTimeoutHours]: '6',
        [SweeperEnv.receivedTimeoutHours]: String(RECEIVED_TIMEOUT_HOURS),
        [SweeperEnv.statusTopicArn]: { Ref: id('StatusTopic/Resource') },
      },
    });
  });

  it('each function logs to its own log group, kept one month', () => {
    for (const functionId of FUNCTION_IDS) {
      expect(fn(functionId).Properties?.LoggingConfig).toEqual({ LogGroup: { Ref: id(`${functionId}LogGroup/Resource`) } });
      expect(resources[id(`${functionId}LogGroup/Resource`)]?.Properties?.RetentionInDays).toBe(30);
    }
  });

  it('the sweeper runs every 15 minutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      Targets: Match.arrayWith([
        Match.objectLike({ Arn: { 'Fn::GetAtt': [id('TimeoutSweeper/Function/Resource'), 'Arn'] } }),
      ]),
    });
  });
});

describe('drop bucket', () => {
  it('sends every ObjectCreated event, whatever the key, to the events queue (and nothing to a function)', () => {
    template.resourceCountIs('Custom::S3BucketNotifications', 1);
    const notifications = Object.values(resources).find((r) => r.Type === 'Custom::S3BucketNotifications');
    expect(notifications?.Properties?.BucketName).toEqual({ Ref: id('DropBucket/Resource') });
    expect(notifications?.Properties?.NotificationConfiguration).toEqual({
      QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: { 'Fn::GetAtt': [id('UploadEventsQueue/Resource'), 'Arn'] } }],
    });
    // S3 sends an s3:TestEvent when the configuration is written: the queue policy must exist first.
    expect(dependsOn('DropBucket/Notifications/Resource')).toEqual(expect.arrayContaining([id('UploadEventsQueue/Policy/Resource')]));
    template.resourceCountIs('AWS::Lambda::Permission', 2);
    template.allResourcesProperties('AWS::Lambda::Permission', { Principal: Match.not('s3.amazonaws.com') });
  });

  it('blocks public access, is versioned and encrypted, logs access, and expires files', () => {
    const bucket = resources[id('DropBucket/Resource')];
    expect(bucket?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: id('AccessLogBucket/Resource') } },
      LifecycleConfiguration: {
        Rules: [expect.objectContaining({ ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
      },
    });
    expect(resources[id('DropBucket/Resource')]).toMatchObject({ DeletionPolicy: 'Retain' });
  });

  it('the prepared bucket is private, encrypted, logs access, keeps copies a day past the longest file URL, and notifies nobody', () => {
    const bucket = resources[id('PreparedBucket/Resource')];
    expect(bucket).toMatchObject({ Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain' });
    expect(bucket?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: id('AccessLogBucket/Resource') }, LogFilePrefix: 'prepared-bucket/' },
      // URLs live an hour by default: one day, plus one.
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 2, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })] },
    });
    expect(bucket?.Properties).not.toHaveProperty('VersioningConfiguration');
    expect(bucket?.Properties).not.toHaveProperty('NotificationConfiguration');
    const notifications = Object.values(resources).filter((r) => r.Type === 'Custom::S3BucketNotifications');
    expect(notifications.map((n) => n.Properties?.BucketName)).toEqual([{ Ref: id('DropBucket/Resource') }]);
  });

  it.each(['DropBucket', 'AccessLogBucket', 'PreparedBucket'])('%s denies requests without TLS', (bucketId) => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id(`${bucketId}/Resource`) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('the access log bucket is private, encrypted and expires its logs', () => {
    expect(resources[id('AccessLogBucket/Resource')]?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 90 })] },
    });
  });
});

describe('uploads table', () => {
  it('is keyed by uploadId, on demand, with PITR and SSE, and retained', () => {
    const table = resources[id('UploadsTable/Resource')];
    expect(table).toMatchObject({ Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain' });
    expect(table?.Properties).toMatchObject({
      KeySchema: [{ AttributeName: UploadsTable.partitionKey, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has the bySegment and byStatus indexes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: UploadsTable.bySegmentIndex,
          KeySchema: [
            { AttributeName: UploadsTable.bySegmentPartitionKey, KeyType: 'HASH' },
            { AttributeName: UploadsTable.bySegmentSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: UploadsTable.byStatusIndex,
          KeySchema: [
            { AttributeName: UploadsTable.byStatusPartitionKey, KeyType: 'HASH' },
            { AttributeName: UploadsTable.byStatusSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]),
    });
  });
});

describe('callback API', () => {
  it('has exactly one route, POST to the callback path, integrated with the callback function', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: `POST ${CALLBACK_ROUTE}`,
    });
    expect(CALLBACK_ROUTE).toBe('/callbacks/{uploadId}/{token}');
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [id('Callback/Function/Resource'), 'Arn'] },
    });
  });

  it('throttles the default stage and logs access without the request path', () => {
    const stage = resources[id('CallbackApi/DefaultStage/Resource')]?.Properties ?? {};
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [id('Callback/AccessLogs/Resource'), 'Arn'] } },
    });
    const format = (stage.AccessLogSettings as { Format: string }).Format;
    expect(Object.keys(JSON.parse(format))).toEqual([
      'requestId',
      'ip',
      'requestTime',
      'httpMethod',
      'routeKey',
      'status',
      'responseLength',
      'integrationError',
    ]);
    // The path carries the callback token.
    expect(format).not.toMatch(/\$context\.(path|resourcePath)|\$context\.requestPath|rawPath/);
  });
});

describe('IAM', () => {
  it('no statement grants on every resource (X-Ray tracing is off: its actions accept only "*")', () => {
    const statements = allPolicyStatements(resources);
    expect(statements.length).toBeGreaterThan(0);
    const everywhere = statements.filter(({ statement }) =>
      (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).includes('*'),
    );
    expect(everywhere).toEqual([]);
    for (const functionId of FUNCTION_IDS) expect(fn(functionId).Properties).not.toHaveProperty('TracingConfig');
  });

  it.each(FUNCTION_IDS)('%s may publish to the status topic and no other', (functionId) => {
    const sns = functionStatements(resources, functionId).filter((s) => actionsOf(s).some((a) => a.startsWith('sns:')));
    expect(sns).toEqual([{ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: id('StatusTopic/Resource') } }]);
  });

  it('trigger may assume only the presign role, which may only read versions of drop-bucket objects and trusts only the trigger', () => {
    const presignRole = { 'Fn::GetAtt': [id('PresignRole/Resource'), 'Arn'] };
    const sts = functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')));
    expect(sts).toEqual([{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: presignRole }]);
    const role = resources[id('PresignRole/Resource')]?.Properties;
    expect(role?.MaxSessionDuration).toBe(PRESIGN_ROLE_MAX_SECONDS);
    expect(role?.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { AWS: { 'Fn::GetAtt': [id('Trigger/FunctionRole/Resource'), 'Arn'] } },
        },
      ],
    });
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: id('PresignRole/Resource') }]),
    );
    expect(policies.map((p) => (p.Properties?.PolicyDocument as { Statement: unknown } | undefined)?.Statement)).toEqual([
      [
        {
          Effect: 'Allow',
          Action: 's3:GetObjectVersion',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id('DropBucket/Resource'), 'Arn'] }, '/*']] },
        },
        // The cleaned copies: the presign role is their only reader.
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id('PreparedBucket/Resource'), 'Arn'] }, '/*.csv']] },
        },
      ],
    ]);
  });

  it('nothing but the presign role may read the prepared bucket, and nothing but the trigger write it', () => {
    const touching = allPolicyStatements(resources).filter(({ statement }) => JSON.stringify(statement.Resource ?? '').includes(id('PreparedBucket/Resource')));
    expect(touching.map(({ policy, statement }) => [policy, [...actionsOf(statement)].sort()]).filter(([, actions]) => (actions as string[]).some((a) => a.startsWith('s3:')))).toEqual([
      [id('Trigger/FunctionRole/DefaultPolicy/Resource'), ['s3:AbortMultipartUpload', 's3:PutObject']],
      [id('Trigger/PresignRole/DefaultPolicy/Resource'), ['s3:GetObject']],
    ]);
  });

  it('trigger may only consume the events queue and set its messages\' visibility; nothing on the failure queue', () => {
    const sqs = functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    expect(sqs).toEqual([
      {
        Effect: 'Allow',
        // Lambda's poller: receive, delete, queue attributes; the trigger: ChangeMessageVisibility. No GetQueueUrl, no SendMessage.
        Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
        Resource: { 'Fn::GetAtt': [id('UploadEventsQueue/Resource'), 'Arn'] },
      },
    ]);
  });

  it("the event source mapping waits for the role's policy (Lambda checks it when creating the mapping)", () => {
    expect(dependsOn('Trigger/Function/UploadEvents/Resource')).toEqual(expect.arrayContaining([id('Trigger/FunctionRole/DefaultPolicy/Resource')]));
  });

  it('every statement of the three functions is one this file checks', () => {
    // sqs: the events queue, checked above.
    const known = /^(logs|s3|dynamodb|secretsmanager|sns|sts|sqs):/;
    for (const functionId of FUNCTION_IDS) {
      for (const statement of functionStatements(resources, functionId)) {
        expect(actionsOf(statement).filter((a) => !known.test(a)), functionId).toEqual([]);
      }
    }
  });

  it.each(FUNCTION_IDS)('%s has no AWS managed policy (its log permissions name its own log group)', (functionId) => {
    const roleId = (fn(functionId).Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.['Fn::GetAtt'][0] ?? '';
    expect(resources[roleId]?.Properties?.ManagedPolicyArns).toBeUndefined();
    expect(functionStatements(resources, functionId)).toContainEqual(
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [id(`${functionId}LogGroup/Resource`), 'Arn'] },
      }),
    );
  });

  it("trigger reads only versions of the drop bucket's objects, and only writes cleaned copies to the prepared bucket", () => {
    const s3 = functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObjectVersion',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id('DropBucket/Resource'), 'Arn'] }, '/*']] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id('PreparedBucket/Resource'), 'Arn'] }, '/*.csv']] },
      },
    ]);
  });

  it('trigger reads and writes items of the uploads table only', () => {
    const ddb = functionStatements(resources, 'Trigger/Function').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(ddb).toEqual([
      {
        Effect: 'Allow',
        // No DeleteItem, ConditionCheckItem or transactions: the recorded calls need none (test/e2e/iam.test.ts).
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [id('UploadsTable/Resource'), 'Arn'] },
      },
    ]);
  });

  it('trigger may read the token secret and no other', () => {
    const secrets = functionStatements(resources, 'Trigger/Function').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secrets).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: id('FpsTokenSecret/Resource') } },
    ]);
  });

  it('callback may only get and update items of the table', () => {
    const ddb = functionStatements(resources, 'Callback/Function').filter((s) =>
      actionsOf(s).some((a) => !a.startsWith('logs:') && !a.startsWith('sns:')),
    );
    expect(ddb).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [id('UploadsTable/Resource'), 'Arn'] },
      },
    ]);
  });

  it('sweeper may query the byStatus index and update items', () => {
    const table = { 'Fn::GetAtt': [id('UploadsTable/Resource'), 'Arn'] };
    const ddb = functionStatements(resources, 'TimeoutSweeper/Function').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    expect(ddb).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [table, `/index/${UploadsTable.byStatusIndex}`]] },
      },
      { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: table },
    ]);
  });
});

describe('alarms and notifications', () => {
  it('encrypts the status topic with the AWS managed key; both topics refuse plain HTTP', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    expect(JSON.stringify(resources[id('StatusTopic/Resource')]?.Properties?.KmsMasterKeyId)).toMatch(/":alias\/aws\/sns"\]\]\}$/);
    // CloudWatch alarms cannot publish to a topic under the AWS managed key.
    expect(resources[id('AlertsTopic/Resource')]?.Properties).not.toHaveProperty('KmsMasterKeyId');
    for (const topic of ['StatusTopic', 'AlertsTopic']) {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: id(`${topic}/Resource`) }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });

  it('subscribes nobody unless an email is configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('has six alarms, every one notifying the alerts topic', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        AlarmActions: [{ Ref: id('AlertsTopic/Resource') }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on a message in the failed-uploads queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id('FailedUploadsQueue/Resource'), 'QueueName'] } }],
    });
  });

  it.each(FUNCTION_IDS)("alarms on %s's errors", (functionId) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 300,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(`${functionId}/Resource`) } }],
    });
  });

  it("alarms on a completed upload's low match rate, read from the callback's EMF metric", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: MetricName.lowMatchRate,
      Dimensions: [{ Name: 'service', Value: ServiceName.callback }],
      Statistic: 'Sum',
      Period: 900,
    });
  });

  it("alarms on uploads timed out, read from the sweeper's EMF metric", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: MetricName.filesTimedOut,
      Dimensions: [{ Name: 'service', Value: ServiceName.sweeper }],
      Statistic: 'Sum',
      Period: 900,
    });
  });
});

describe('token secret and outputs', () => {
  it('creates the secret with a generated placeholder: no secret value in the template', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({}),
      Description: Match.stringLikeRegexp('FPS API token'),
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('"SecretString"');
  });

  it('exports what a user needs', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: Json }>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlertsTopicArn',
        'BucketName',
        'DashboardName',
        'CallbackBaseUrl',
        'FailedUploadsQueueUrl',
        'UploadEventsQueueUrl',
        'StatusTopicArn',
        'TableName',
        'PreparedBucketName',
        'TokenSecretName',
      ].sort(),
    );
    expect(outputs.PreparedBucketName?.Value).toEqual({ Ref: id('PreparedBucket/Resource') });
    expect(outputs.CallbackBaseUrl?.Value).toEqual({ 'Fn::GetAtt': [id('CallbackApi/Resource'), 'ApiEndpoint'] });
    expect(outputs.BucketName?.Value).toEqual({ Ref: id('DropBucket/Resource') });
    expect(outputs.UploadEventsQueueUrl?.Value).toEqual({ Ref: id('UploadEventsQueue/Resource') });
    expect(outputs.FailedUploadsQueueUrl?.Value).toEqual({ Ref: id('FailedUploadsQueue/Resource') });
  });

  it('has no VPC unless a fixed egress IP is asked for', () => {
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    expect(fn('Trigger/Function').Properties).not.toHaveProperty('VpcConfig');
  });

  it(`names the stack ${STACK_ID}`, () => {
    expect(String(resources[id('Trigger/Function/Resource')]?.Metadata?.['aws:cdk:path'])).toBe(
      `${STACK_ID}/Trigger/Function/Resource`,
    );
  });
});
