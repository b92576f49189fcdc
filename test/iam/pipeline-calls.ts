// The AWS calls the pipeline makes today, listed by hand from lambdas/ until the end-to-end tests record them.
import type { CfnResource, Json } from '../infra/synth.js';
import { logicalIdOf } from '../infra/synth.js';
import { FUNCTION_ROLE_METADATA, FunctionRole, TriggerEnv } from '../../lambdas/shared/contract.js';
import type { AwsCall } from '../support/iam/evaluate.js';
import type { Resolve } from '../support/iam/template-iam.js';

/** A key as people drop them: a folder named after the attribute, spaces and non-ASCII in the name. */
const DROPPED_KEY = 'Email Address/Müşteri VIP customers.csv';
/** A cleaned copy's key: the upload id and `.csv` (lambdas/core/submit-upload.ts `preparedKeyFor`). */
const PREPARED_KEY = '0123456789abcdef0123456789abcdef.csv';
/** The session name `assumedRoleCredentials` gives the presign role (lambdas/adapters/presign-credentials.ts). */
const PRESIGN_SESSION = 'fps-presign';
const LOG_STREAM = '2026/05/01/[$LATEST]0123456789abcdef0123456789abcdef';
/** The suffix Secrets Manager would have added to an imported secret's name. */
const IMPORTED_SECRET_SUFFIX = 'AbCdEf';

/** The logical id of the pipeline function the stack marked with `role`. */
function functionIdOf(resources: Record<string, CfnResource>, role: FunctionRole): string {
  const match = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[FUNCTION_ROLE_METADATA] === role);
  if (!match) throw new Error(`No function marked ${FUNCTION_ROLE_METADATA}=${role}`);
  return match[0];
}

export function pipelineCalls(resources: Record<string, CfnResource>, resolve: Resolve): AwsCall[] {
  const text = (value: Json) => {
    const resolved = resolve(value);
    if (typeof resolved !== 'string') throw new Error(`${JSON.stringify(value)} did not resolve to a string`);
    return resolved;
  };
  const idAt = (path: string) => logicalIdOf(resources, path);
  const arnOf = (logicalId: string) => text({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  const accountId = text({ Ref: 'AWS::AccountId' });
  const region = text({ Ref: 'AWS::Region' });
  const partition = text({ Ref: 'AWS::Partition' });

  /** A function's ARN, its execution role's ARN, and a stream in its own log group, read from its resource. */
  const fn = (role: FunctionRole) => {
    const logicalId = functionIdOf(resources, role);
    const props = resources[logicalId]?.Properties ?? {};
    const logGroup = (props.LoggingConfig as { LogGroup?: Json } | undefined)?.LogGroup;
    const logGroupArn = text({ 'Fn::GetAtt': [String((logGroup as { Ref: string }).Ref), 'Arn'] });
    return {
      arn: arnOf(logicalId),
      role: { kind: 'role', roleArn: text(props.Role ?? null) } as const,
      logStreamArn: `${logGroupArn.replace(/:\*$/, '')}:log-stream:${LOG_STREAM}`,
    };
  };
  const trigger = fn(FunctionRole.trigger);
  const callback = fn(FunctionRole.callback);
  const sweeper = fn(FunctionRole.sweeper);

  const dropBucketArn = arnOf(idAt('DropBucket/Resource'));
  const droppedObject = `${dropBucketArn}/${DROPPED_KEY}`;
  // The cleaned copy of an upload (issue 8): `<uploadId>.csv` in the prepared bucket.
  const preparedCopy = `${arnOf(idAt('PreparedBucket/Resource'))}/${PREPARED_KEY}`;
  const tableArn = arnOf(idAt('UploadsTable/Resource'));
  const statusTopicArn = text({ Ref: idAt('StatusTopic/Resource') });
  const tokenSecretArn = tokenSecretArnOf(resources, resolve);
  const eventsQueueArn = arnOf(idAt('UploadEventsQueue/Resource'));
  const presignRoleArn = arnOf(idAt('PresignRole/Resource'));
  const apiId = text({ Ref: idAt('CallbackApi/Resource') });

  const call = (principal: AwsCall['principal'], action: string, resource: string): AwsCall => ({ principal, action, resource });
  const logs = (f: typeof trigger) => [
    call(f.role, 'logs:CreateLogStream', f.logStreamArn),
    call(f.role, 'logs:PutLogEvents', f.logStreamArn),
  ];
  const lambdaService = { kind: 'service', service: 'lambda.amazonaws.com' } as const;

  return [
    // Lambda assumes each execution role to run the function.
    ...[trigger, callback, sweeper].map((f) => call(lambdaService, 'sts:AssumeRole', f.role.roleArn)),

    // S3 sends each object-created event to the events queue, as the queue policy allows it.
    { principal: { kind: 'service', service: 's3.amazonaws.com', sourceArn: dropBucketArn, sourceAccount: accountId }, action: 'sqs:SendMessage', resource: eventsQueueArn },
    // Lambda's poller for the event source mapping: it reads the queue's attributes when the mapping
    // is created, receives, and deletes what the trigger finished, all with the execution role.
    call(trigger.role, 'sqs:GetQueueAttributes', eventsQueueArn),
    call(trigger.role, 'sqs:ReceiveMessage', eventsQueueArn),
    call(trigger.role, 'sqs:DeleteMessage', eventsQueueArn),

    // Trigger (lambdas/trigger/handler.ts). The bucket is versioned, so every event carries a
    // versionId and HeadObject and the pre-flight's GetObject ask for that version:
    // s3:GetObjectVersion, never s3:GetObject.
    call(trigger.role, 's3:GetObjectVersion', droppedObject),
    // The cleaned copy, through lib-storage's Upload: PutObject (a small copy, or each part of a
    // multipart upload: CreateMultipartUpload, UploadPart and CompleteMultipartUpload are authorized as
    // s3:PutObject), and AbortMultipartUpload when the file is rejected or unchanged after all.
    call(trigger.role, 's3:PutObject', preparedCopy),
    call(trigger.role, 's3:AbortMultipartUpload', preparedCopy),
    call(trigger.role, 'dynamodb:PutItem', tableArn), // claim the object version
    call(trigger.role, 'dynamodb:GetItem', tableArn), // the existing claim, the segment lock's holder
    call(trigger.role, 'dynamodb:UpdateItem', tableArn), // segment lock and its creator, the {n} counter, status changes
    call(trigger.role, 'secretsmanager:GetSecretValue', tokenSecretArn),
    call(trigger.role, 'sts:AssumeRole', presignRoleArn),
    call(trigger.role, 'sns:Publish', statusTopicArn),
    // A message to retry comes back after the wait the trigger sets (SQS moves one to the failure
    // queue by its redrive policy, not by anyone's SendMessage).
    call(trigger.role, 'sqs:ChangeMessageVisibility', eventsQueueArn),
    ...logs(trigger),

    // Insider downloads the file through the URL the presign role's session signed, for one version,
    // or its cleaned copy (the prepared bucket has no versions).
    call({ kind: 'assumedRole', roleArn: presignRoleArn, sessionName: PRESIGN_SESSION }, 's3:GetObjectVersion', droppedObject),
    call({ kind: 'assumedRole', roleArn: presignRoleArn, sessionName: PRESIGN_SESSION }, 's3:GetObject', preparedCopy),

    // Callback (lambdas/callback/handler.ts), invoked by the HTTP API's POST route.
    {
      principal: {
        kind: 'service',
        service: 'apigateway.amazonaws.com',
        sourceArn: `arn:${partition}:execute-api:${region}:${accountId}:${apiId}/$default/POST/callbacks/{uploadId}/{token}`,
      },
      action: 'lambda:InvokeFunction',
      resource: callback.arn,
    },
    call(callback.role, 'dynamodb:GetItem', tableArn),
    call(callback.role, 'dynamodb:UpdateItem', tableArn),
    call(callback.role, 'sns:Publish', statusTopicArn),
    ...logs(callback),

    // Sweeper (lambdas/sweeper/handler.ts), invoked by its schedule.
    {
      principal: { kind: 'service', service: 'events.amazonaws.com', sourceArn: arnOf(idAt('TimeoutSweeper/Schedule/Resource')) },
      action: 'lambda:InvokeFunction',
      resource: sweeper.arn,
    },
    call(sweeper.role, 'dynamodb:Query', `${tableArn}/index/byStatus`),
    call(sweeper.role, 'dynamodb:UpdateItem', tableArn),
    call(sweeper.role, 'sns:Publish', statusTopicArn),
    ...logs(sweeper),

    // S3 writes the drop bucket's access logs.
    {
      principal: { kind: 'service', service: 'logging.s3.amazonaws.com', sourceArn: dropBucketArn, sourceAccount: accountId },
      action: 's3:PutObject',
      resource: `${arnOf(idAt('AccessLogBucket/Resource'))}/drop-bucket/2026-05-01-12-00-00-0123456789ABCDEF`,
    },
    // CDK's custom resource writes the notification configuration at deploy time.
    call(
      { kind: 'role', roleArn: text(resources[idAt(`${bucketNotificationsHandlerId(resources)}/Resource`)]?.Properties?.Role ?? null) },
      's3:PutBucketNotification',
      dropBucketArn,
    ),
  ];
}

/**
 * The token secret's complete ARN: the created secret's, or for an imported one (no secret resource)
 * the ARN its name or given ARN stands for, as the trigger's `SecretId` names it.
 */
export function tokenSecretArnOf(resources: Record<string, CfnResource>, resolve: Resolve): string {
  const text = (value: Json) => String(resolve(value));
  const created = Object.entries(resources).find(([, r]) => String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith('/FpsTokenSecret/Resource'));
  if (created) return text({ Ref: created[0] });
  const env = (resources[functionIdOf(resources, FunctionRole.trigger)]?.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables;
  const secretId = text(env?.[TriggerEnv.tokenSecretId] ?? null);
  if (/^arn:.*-[A-Za-z0-9]{6}$/.test(secretId)) return secretId;
  if (secretId.startsWith('arn:')) return `${secretId}-${IMPORTED_SECRET_SUFFIX}`;
  const [partition, region, account] = ['AWS::Partition', 'AWS::Region', 'AWS::AccountId'].map((p) => text({ Ref: p }));
  return `arn:${partition}:secretsmanager:${region}:${account}:secret:${secretId}-${IMPORTED_SECRET_SUFFIX}`;
}

/** CDK names its bucket-notifications handler with a hash: find it by its prefix. */
function bucketNotificationsHandlerId(resources: Record<string, CfnResource>): string {
  const path = Object.values(resources)
    .map((r) => String(r.Metadata?.['aws:cdk:path'] ?? ''))
    .find((p) => /\/BucketNotificationsHandler[0-9a-f]+\/Resource$/.test(p));
  if (!path) throw new Error('No BucketNotificationsHandler function in the template');
  return path.split('/').slice(-2)[0]!;
}
