// The trigger: submits each dropped CSV to Insider; its settings, signer, optional fixed egress, its events queue (retries) and failure queue in one place.
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  FAILED_UPLOADS_RETENTION_DAYS,
  DEFAULT_ATTRIBUTE_FORMATS,
  DEFAULT_SEGMENT_NAME_TEMPLATE,
  DEFAULT_TIME_ZONE,
  FunctionRole,
  TRIGGER_MAX_RECEIVES,
  TRIGGER_MEMORY_MB,
  TRIGGER_TIMEOUT_SECONDS,
  TriggerEnv,
  type ValueFormat,
  UPLOAD_EVENTS_RETENTION_DAYS,
  UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS,
} from '../../lambdas/shared/contract.js';
import { FractionLimits, Limits } from '../../lambdas/shared/limits.js';
import { NodeFunction } from '../node-function.js';
import type { DropStorage } from './drop-storage.js';
import { FixedEgress } from './fixed-egress.js';
import type { FpsTokenSecret } from './fps-token-secret.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';
import type { Operations } from './operations.js';
import type { UploadsTable } from './uploads-table.js';


export interface TriggerProps {
  /** The bucket whose `.csv` objects the trigger submits (it reads their metadata; Insider downloads them). */
  readonly storage: DropStorage;
  /** Where the trigger claims each object version and records the outcome. */
  readonly uploads: UploadsTable;
  /** The FPS token the trigger sends to Insider. */
  readonly tokenSecret: FpsTokenSecret;
  /** Where the trigger publishes the final statuses it reaches. */
  readonly operations: Operations;
  /** The callback API's base URL; each upload's callback URL starts with it. */
  readonly callbackBaseUrl: string;
  /** The Insider partner name, sent as `X-PARTNER-NAME`. */
  readonly partnerName: string;
  /** Insider's upload endpoint. */
  readonly fpsEndpointUrl: string;
  /**
   * Attribute for files dropped at the bucket root.
   * @default - such files are rejected
   */
  readonly defaultAttributeName?: string;
  /** Larger files are rejected before calling Insider. */
  readonly maxFileBytes: number;
  /** Lifetime of the presigned file URL; over an hour needs `presignAccessKeySecretName` (checked by `readConfig`). */
  readonly presignExpiresSeconds: number;
  /** Per-request timeout when calling Insider. */
  readonly fpsTimeoutMs: number;
  /** How long the trigger caches the token. */
  readonly tokenCacheSeconds: number;
  /**
   * Trigger invocations the SQS event source mapping runs at once (2–1000): keeps a burst near
   * Insider's rate limit without reserving concurrency.
   * @default Limits.triggerMaxConcurrency.default
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for the trigger. At least `maxConcurrency`, or Lambda throttles the
   * mapping's invocations and their messages use up receives. A reservation fails the deploy on
   * accounts whose concurrency quota is 10 (new accounts), hence none by default.
   * @default - none reserved
   */
  readonly reservedConcurrency?: number;
  /**
   * A secret holding an IAM user's access key, used only to sign file URLs (for lifetimes over an hour).
   * @default - the trigger signs with a role it assumes for each URL
   */
  readonly presignAccessKeySecretName?: string;
  /**
   * Run the trigger behind a NAT gateway with an Elastic IP, for API keys restricted to trusted IPs.
   * @default false
   */
  readonly fixedEgressIp?: boolean;
  /**
   * How the name sent to Insider is made from the file's (checked by `readConfig`).
   * @default '{name}'
   */
  readonly segmentNameTemplate?: string;
  /**
   * IANA time zone of the template's `{date}`, `{time}` and `{datetime}`.
   * @default 'UTC'
   */
  readonly timeZone?: string;
  /**
   * Attribute name → the value format the pre-flight check holds its values to.
   * @default DEFAULT_ATTRIBUTE_FORMATS
   */
  readonly attributeFormats?: Readonly<Record<string, ValueFormat>>;
  /**
   * Reject a file when more than this share of its values fail the format.
   * @default 0.5
   */
  readonly maxInvalidShare?: number;
  /**
   * Lower-case emails and rewrite phone numbers to E.164 in the clean copy.
   * @default false
   */
  readonly normalizeValues?: boolean;
  /**
   * Region of phone numbers written without a country code, with `normalizeValues`.
   * @default - only numbers written with "+" are rewritten
   */
  readonly phoneDefaultRegion?: string;
}

/**
 * The trigger function with what it needs: read access to dropped objects, the uploads table and the
 * token; a signer for file URLs (a role it assumes, or an access key's secret); and the S3 events, by
 * way of a queue: the drop bucket notifies `eventsQueue`, an event source mapping invokes the trigger
 * with one message at a time at a capped concurrency, the trigger hands a message back with a wait to
 * retry it, and after TRIGGER_MAX_RECEIVES receives SQS moves it to `failedUploadsQueue`.
 */
export class Trigger extends Construct {
  readonly function: NodeFunction;
  /** Every object-created event of the drop bucket, waiting for (or between) the trigger's attempts. */
  readonly eventsQueue: sqs.Queue;
  /** S3 events the trigger gave up on: the events queue's dead-letter queue. */
  readonly failedUploadsQueue: sqs.Queue;
  /** With `fixedEgressIp`: the VPC and Elastic IP it leaves through. */
  readonly egress: FixedEgress | undefined;

  constructor(scope: Construct, id: string, props: TriggerProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? Limits.triggerMaxConcurrency.default;
    const { min, max } = Limits.triggerMaxConcurrency;
    if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= min && maxConcurrency <= max)) {
      throw new Error(`${this.node.path}: maxConcurrency must be a whole number from ${min} to ${max} (an SQS event source mapping's range)`);
    }
    if (props.reservedConcurrency !== undefined && !(Number.isInteger(props.reservedConcurrency) && props.reservedConcurrency >= 1)) {
      throw new Error(`${this.node.path}: reservedConcurrency must be a whole number ≥ 1; leave it out to reserve none`);
    }
    if (props.reservedConcurrency !== undefined && props.reservedConcurrency < maxConcurrency) {
      throw new Error(
        `${this.node.path}: reservedConcurrency (${props.reservedConcurrency}) must be at least maxConcurrency (${maxConcurrency}), or Lambda throttles the queue's invocations; leave it out to reserve none`,
      );
    }

    this.failedUploadsQueue = new sqs.Queue(this, 'FailedUploadsQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(FAILED_UPLOADS_RETENTION_DAYS),
    });
    // It holds the events waiting to be redriven; its policy must stay attached.
    keepStackLevelLogicalIds(this.failedUploadsQueue);
    Validations.of(this.failedUploadsQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the dead-letter queue of the trigger's events queue (its redrive policy); a queue behind it would only move the same messages again.",
    });

    this.eventsQueue = new sqs.Queue(this, 'UploadEventsQueue', {
      // S3 can send to a queue encrypted with SSE-SQS; the AWS managed KMS key would refuse it.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(UPLOAD_EVENTS_VISIBILITY_TIMEOUT_SECONDS),
      retentionPeriod: Duration.days(UPLOAD_EVENTS_RETENTION_DAYS),
      deadLetterQueue: { queue: this.failedUploadsQueue, maxReceiveCount: TRIGGER_MAX_RECEIVES },
    });
    // It holds the events not yet handled, or waiting for their next attempt.
    keepStackLevelLogicalIds(this.eventsQueue);

    this.egress = props.fixedEgressIp ? new FixedEgress(this, 'Egress') : undefined;

    const environment: Record<string, string> = {
      [TriggerEnv.tableName]: props.uploads.tableName,
      [TriggerEnv.partnerName]: props.partnerName,
      [TriggerEnv.tokenSecretId]: props.tokenSecret.secretId,
      [TriggerEnv.endpointUrl]: props.fpsEndpointUrl,
      // The local stack resolves this GetAtt to its own API's URL.
      [TriggerEnv.callbackBaseUrl]: props.callbackBaseUrl,
      [TriggerEnv.maxFileBytes]: String(props.maxFileBytes),
      [TriggerEnv.presignExpiresSeconds]: String(props.presignExpiresSeconds),
      [TriggerEnv.fpsTimeoutMs]: String(props.fpsTimeoutMs),
      [TriggerEnv.tokenCacheSeconds]: String(props.tokenCacheSeconds),
      // The redrive policy's own number: the trigger's last attempt is the one before SQS gives up.
      [TriggerEnv.maxReceives]: String(TRIGGER_MAX_RECEIVES),
      [TriggerEnv.eventsQueueUrl]: this.eventsQueue.queueUrl,
      [TriggerEnv.statusTopicArn]: props.operations.statusTopic.topicArn,
      [TriggerEnv.preparedBucketName]: props.storage.preparedBucket.bucketName,
      [TriggerEnv.segmentNameTemplate]: props.segmentNameTemplate ?? DEFAULT_SEGMENT_NAME_TEMPLATE,
      [TriggerEnv.timeZone]: props.timeZone ?? DEFAULT_TIME_ZONE,
      [TriggerEnv.attributeFormats]: JSON.stringify(props.attributeFormats ?? DEFAULT_ATTRIBUTE_FORMATS),
      [TriggerEnv.maxInvalidShare]: String(props.maxInvalidShare ?? FractionLimits.maxInvalidShare.default),
      [TriggerEnv.normalizeValues]: String(props.normalizeValues ?? false),
    };
    if (props.defaultAttributeName !== undefined) {
      environment[TriggerEnv.defaultAttributeName] = props.defaultAttributeName;
    }
    if (props.phoneDefaultRegion !== undefined) {
      environment[TriggerEnv.phoneDefaultRegion] = props.phoneDefaultRegion;
    }

    this.function = new NodeFunction(this, 'Function', {
      ...this.egress?.network,
      functionRole: FunctionRole.trigger,
      entry: 'lambdas/trigger/handler.ts',
      description: 'Submits each CSV dropped in the bucket to Insider FPS',
      // The handler's retries of the FPS call (each capped by fpsTimeoutMs) must finish well
      // inside this, so a slow Insider ends in a handed-back message rather than a killed invocation.
      timeout: Duration.seconds(TRIGGER_TIMEOUT_SECONDS),
      // CPU comes with memory: the pre-flight scan of a file at the size limit must fit the timeout easily.
      memorySize: TRIGGER_MEMORY_MB,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment,
    });
    const role = this.function.executionRole;
    // Lambda's poller receives, deletes and reads the queue's attributes with the execution role; the
    // trigger itself sets a message's visibility to choose when it comes back. (CDK's SqsEventSource
    // would also grant sqs:GetQueueUrl, which nothing calls.)
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
      resourceArns: [this.eventsQueue.queueArn],
    });
    const mapping = this.function.addEventSourceMapping('UploadEvents', {
      eventSourceArn: this.eventsQueue.queueArn,
      // One upload per invocation: a slow one holds up no other, and each message settles on its own.
      batchSize: 1,
      maxConcurrency,
      reportBatchItemFailures: true,
    });
    // Lambda checks the role's permissions when it creates the mapping.
    mapping.node.addDependency(role);
    props.storage.grantReadObjects(
      role,
      "The trigger reads the metadata and the body (the pre-flight check) of any object dropped in the drop bucket, whose keys people choose; the grant covers that bucket's objects and nothing else.",
    );
    props.storage.grantWritePreparedCopies(
      role,
      'The trigger writes each cleaned copy as <uploadId>.csv in the prepared bucket (ids are made per upload), and may only put it or abort its multipart upload: it never reads or lists the copies.',
    );
    props.operations.grantPublishStatus(this.function);
    this.addFileUrlSigner(props);
    this.egress?.grantNetworkInterfaces(role);
    props.uploads.grantItemWrites(this.function);
    props.tokenSecret.grantRead(this.function);

    props.storage.notifyObjectsCreated(this.eventsQueue);
  }

  /** Who signs the file URLs Insider downloads, so that the recorded expiry is the one S3 enforces. */
  private addFileUrlSigner(props: TriggerProps): void {
    if (props.presignAccessKeySecretName === undefined) {
      // The trigger assumes this role for each URL: STS returns the session's exact expiry, which
      // the function's own credentials do not carry. Role chaining caps the session at one hour.
      const presignRole = new iam.Role(this, 'PresignRole', {
        assumedBy: new iam.ArnPrincipal(this.function.executionRole.roleArn),
        description: 'Signs the file URLs Insider downloads; assumed by the trigger function for each URL',
        maxSessionDuration: Duration.hours(1),
      });
      // URLs already handed to Insider were signed by its sessions, which end if the role is replaced.
      keepStackLevelLogicalIds(presignRole);
      props.storage.grantReadObjects(
        presignRole,
        "A file URL can fetch any object dropped in the drop bucket, whose keys people choose; each URL is signed for one object version, and this role can read that bucket's objects and nothing else.",
      );
      props.storage.grantReadPreparedCopies(
        presignRole,
        'A file URL can fetch the cleaned copy of any upload (<uploadId>.csv in the prepared bucket, ids made per upload); this role is the only reader of that bucket.',
      );
      presignRole.grantAssumeRole(this.function.executionRole);
      this.function.addEnvironment(TriggerEnv.presignRoleArn, presignRole.roleArn);
    } else {
      const keySecret = secretsmanager.Secret.fromSecretNameV2(this, 'PresignAccessKeySecret', props.presignAccessKeySecretName);
      iam.Grant.addToPrincipal({
        grantee: this.function,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [`${keySecret.secretArn}-??????`],
      });
      this.function.addEnvironment(TriggerEnv.presignAccessKeySecretId, props.presignAccessKeySecretName);
    }
  }
}
