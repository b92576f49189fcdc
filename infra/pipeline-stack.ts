// The pipeline: drop bucket → events queue → trigger function → Insider FPS; Insider's callback → API → uploads table.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { preparedCopyRetentionDays } from '../lambdas/shared/contract.js';
import type { PipelineConfig } from './config.js';
import { CallbackEndpoint } from './constructs/callback-endpoint.js';
import { DropStorage } from './constructs/drop-storage.js';
import { FpsTokenSecret } from './constructs/fps-token-secret.js';
import { Operations } from './constructs/operations.js';
import { TimeoutSweeper } from './constructs/timeout-sweeper.js';
import { Trigger } from './constructs/trigger.js';
import { UploadsTable } from './constructs/uploads-table.js';
import type { NodeFunction } from './node-function.js';

export interface PipelineStackProps extends StackProps {
  /** Validated settings, from `readConfig`. */
  readonly config: PipelineConfig;
}

export class PipelineStack extends Stack {
  readonly storage: DropStorage;
  readonly uploads: UploadsTable;
  readonly token: FpsTokenSecret;
  readonly operations: Operations;
  readonly callback: CallbackEndpoint;
  readonly trigger: Trigger;
  readonly sweeper: TimeoutSweeper;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.storage = new DropStorage(this, 'Storage', {
      retentionDays: config.retentionDays,
      preparedRetentionDays: preparedCopyRetentionDays(config.presignExpiresSeconds),
    });
    this.uploads = new UploadsTable(this, 'Uploads');
    this.token = new FpsTokenSecret(this, 'Token', {
      secretName: config.tokenSecret.kind === 'name' ? config.tokenSecret.name : undefined,
      secretArn: config.tokenSecret.kind === 'arn' ? config.tokenSecret.arn : undefined,
      kmsKeyArn: config.tokenSecret.kind === 'create' ? undefined : config.tokenSecret.kmsKeyArn,
    });
    this.operations = new Operations(this, 'Operations', { notificationEmail: config.notificationEmail });

    this.callback = new CallbackEndpoint(this, 'Callback', { uploads: this.uploads, operations: this.operations, minMatchRate: config.minMatchRate });
    this.trigger = new Trigger(this, 'Trigger', {
      storage: this.storage,
      uploads: this.uploads,
      tokenSecret: this.token,
      operations: this.operations,
      callbackBaseUrl: this.callback.url,
      partnerName: config.partnerName,
      fpsEndpointUrl: config.fpsEndpointUrl,
      defaultAttributeName: config.defaultAttributeName,
      maxFileBytes: config.maxFileBytes,
      presignExpiresSeconds: config.presignExpiresSeconds,
      fpsTimeoutMs: config.fpsTimeoutMs,
      tokenCacheSeconds: config.tokenCacheSeconds,
      maxConcurrency: config.triggerMaxConcurrency,
      reservedConcurrency: config.triggerReservedConcurrency > 0 ? config.triggerReservedConcurrency : undefined,
      presignAccessKeySecretName: config.presignAccessKeySecretName,
      fixedEgressIp: config.fixedEgressIp,
      segmentNameTemplate: config.segmentNameTemplate,
      timeZone: config.timeZone,
      attributeFormats: config.attributeFormats,
      maxInvalidShare: config.maxInvalidShare,
      normalizeValues: config.normalizeValues,
      phoneDefaultRegion: config.phoneDefaultRegion,
    });
    this.sweeper = new TimeoutSweeper(this, 'TimeoutSweeper', {
      uploads: this.uploads,
      operations: this.operations,
      submittedTimeoutHours: config.submittedTimeoutHours,
    });

    this.operations.monitor({
      failedUploadsQueue: this.trigger.failedUploadsQueue,
      triggerFunction: this.trigger.function,
      callbackFunction: this.callback.function,
      sweeperFunction: this.sweeper.function,
      queues: [{ title: 'Upload events (bucket → trigger)', queue: this.trigger.eventsQueue }],
    });

    // Output ids are what users read (`cdk deploy` prints them): they stay at the stack's root.
    new CfnOutput(this, 'BucketName', { description: 'Drop CSV files here', value: this.bucket.bucketName });
    new CfnOutput(this, 'TableName', { description: 'Upload records', value: this.table.tableName });
    new CfnOutput(this, 'PreparedBucketName', {
      description: "Cleaned copies Insider downloads instead of a messy or gzip file (a record's preparedKey); they expire within days",
      value: this.storage.preparedBucket.bucketName,
    });
    new CfnOutput(this, 'CallbackBaseUrl', { description: 'Base URL of the callback route Insider posts to', value: this.callback.url });
    new CfnOutput(this, 'TokenSecretName', {
      description:
        config.tokenSecret.kind === 'arn'
          ? 'ARN of the secret holding the FPS API token'
          : 'Name of the secret holding the FPS API token: put your token in it',
      value: this.token.nameOrArn,
    });
    new CfnOutput(this, 'UploadEventsQueueUrl', {
      description: 'S3 events waiting for the trigger, or for their next attempt',
      value: this.trigger.eventsQueue.queueUrl,
    });
    new CfnOutput(this, 'FailedUploadsQueueUrl', {
      description: 'S3 events the trigger gave up on: redrive them from the SQS console (DLQ redrive)',
      value: this.failedUploadsQueue.queueUrl,
    });
    new CfnOutput(this, 'StatusTopicArn', {
      description: 'Every final upload status, as JSON: subscribe email, Slack or a queue',
      value: this.statusTopic.topicArn,
    });
    new CfnOutput(this, 'AlertsTopicArn', { description: 'CloudWatch alarm notifications', value: this.alertsTopic.topicArn });
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard: files by status, match rate, FPS latency, timed-out uploads, errors, throttles, queues',
      value: this.operations.dashboard.dashboardName,
    });
    if (this.trigger.egress) {
      new CfnOutput(this, 'EgressIp', {
        description: "The trigger's fixed egress IP: add it to the API key's trusted IP addresses in Insider",
        value: this.trigger.egress.elasticIp.attrPublicIp,
      });
    }
  }

  // Shortcuts to the parts tests, the local stack and operators reach for most.
  get bucket(): s3.Bucket {
    return this.storage.bucket;
  }
  get table(): dynamodb.Table {
    return this.uploads.table;
  }
  get tokenSecret(): secretsmanager.ISecret {
    return this.token.secret;
  }
  get api(): HttpApi {
    return this.callback.api;
  }
  get failedUploadsQueue(): sqs.Queue {
    return this.trigger.failedUploadsQueue;
  }
  /** Every final status, as JSON: subscribe email, Slack (AWS Chatbot) or a queue. */
  get statusTopic(): sns.Topic {
    return this.operations.statusTopic;
  }
  /** Alarm notifications. */
  get alertsTopic(): sns.Topic {
    return this.operations.alertsTopic;
  }
  /** The trigger's VPC, with `fixedEgressIp`. */
  get egressVpc(): ec2.Vpc | undefined {
    return this.trigger.egress?.vpc;
  }
  get triggerFunction(): NodeFunction {
    return this.trigger.function;
  }
  get callbackFunction(): NodeFunction {
    return this.callback.function;
  }
  get sweeperFunction(): NodeFunction {
    return this.sweeper.function;
  }
}
