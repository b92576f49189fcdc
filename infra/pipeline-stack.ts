// The pipeline: drop bucket → trigger function → Insider FPS; Insider's callback → API → uploads table.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  CALLBACK_ROUTE,
  CallbackEnv,
  SweeperEnv,
  TRIGGER_ASYNC_RETRY_ATTEMPTS,
  TriggerEnv,
  UploadsTable,
} from '../lambdas/shared/contract.js';
import type { PipelineConfig } from './config.js';
import { NodeFunction } from './node-function.js';

export interface PipelineStackProps extends StackProps {
  /** Validated settings, from `readConfig`. */
  readonly config: PipelineConfig;
}

/** Lambda drops a trigger event (to FailedUploadsQueue) once it is this old, retried or not. */
const TRIGGER_MAX_EVENT_AGE = Duration.hours(6);

/**
 * A record still `received` this long after its last update has no invocation left: the event
 * is past its max age, plus an hour so a last attempt that started just in time can finish.
 */
const RECEIVED_TIMEOUT_HOURS = TRIGGER_MAX_EVENT_AGE.toHours() + 1;

/** Server access logs are audit evidence for the files, so they outlive them. */
const MIN_ACCESS_LOG_DAYS = 90;

// Only fields that cannot leak the callback token: the request path carries it.
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationError: '$context.integrationErrorMessage',
});

export class PipelineStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;
  readonly tokenSecret: secretsmanager.ISecret;
  readonly api: HttpApi;
  readonly failedUploadsQueue: sqs.Queue;
  readonly triggerFunction: NodeFunction;
  readonly callbackFunction: NodeFunction;
  readonly sweeperFunction: NodeFunction;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;

    // ---- Storage -------------------------------------------------------------------------
    const accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // S3 server access logging can deliver only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: Duration.days(Math.max(config.retentionDays, MIN_ACCESS_LOG_DAYS)),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'DropBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // An overwritten file stays recoverable: what Insider was sent is kept until the lifecycle ends it.
      versioned: true,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: 'drop-bucket/',
      lifecycleRules: [
        {
          id: 'ExpireDroppedFiles',
          expiration: Duration.days(config.retentionDays),
          noncurrentVersionExpiration: Duration.days(config.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new dynamodb.Table(this, 'UploadsTable', {
      partitionKey: { name: UploadsTable.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: UploadsTable.bySegmentIndex,
      partitionKey: { name: UploadsTable.bySegmentPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: UploadsTable.bySegmentSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: UploadsTable.byStatusIndex,
      partitionKey: { name: UploadsTable.byStatusPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: UploadsTable.byStatusSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // ---- Token secret --------------------------------------------------------------------
    const tokenSecret = config.tokenSecret;
    let secretId: string;
    let secretOutput: string;
    if (tokenSecret.kind === 'create') {
      const created = new secretsmanager.Secret(this, 'FpsTokenSecret', {
        description:
          'Insider One FPS API token for the segment upload pipeline. Replace the generated placeholder with your token (plain string).',
        // A random placeholder keeps the real token out of the template; the user overwrites it.
        generateSecretString: { passwordLength: 32, excludePunctuation: true },
        removalPolicy: RemovalPolicy.RETAIN,
      });
      this.tokenSecret = created;
      secretId = created.secretArn;
      secretOutput = created.secretName;
    } else if (tokenSecret.kind === 'name') {
      this.tokenSecret = secretsmanager.Secret.fromSecretNameV2(this, 'FpsTokenSecret', tokenSecret.name);
      // The name is a valid SecretId; the partial ARN CDK derives from it is not exact.
      secretId = tokenSecret.name;
      secretOutput = tokenSecret.name;
    } else {
      // A complete ARN ends in the 6-character suffix Secrets Manager adds to the name.
      this.tokenSecret = /-[A-Za-z0-9]{6}$/.test(tokenSecret.arn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'FpsTokenSecret', tokenSecret.arn)
        : secretsmanager.Secret.fromSecretPartialArn(this, 'FpsTokenSecret', tokenSecret.arn);
      secretId = tokenSecret.arn;
      secretOutput = tokenSecret.arn;
    }
    const secretResourceArn = this.tokenSecret.secretFullArn ?? `${this.tokenSecret.secretArn}-??????`;

    // ---- Callback API and function -------------------------------------------------------
    this.callbackFunction = new NodeFunction(this, 'CallbackFunction', {
      entry: 'lambdas/callback/handler.ts',
      description: 'Records the counts Insider posts back for an upload',
      timeout: Duration.seconds(10),
      environment: { [CallbackEnv.tableName]: this.table.tableName },
    });
    this.callbackFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );

    this.api = new HttpApi(this, 'CallbackApi', {
      description: 'Receives Insider FPS upload callbacks',
      createDefaultStage: true,
    });
    this.api.addRoutes({
      path: CALLBACK_ROUTE,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('CallbackIntegration', this.callbackFunction),
    });
    const apiAccessLogs = new logs.LogGroup(this, 'CallbackApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
    });
    // HttpApi offers no options for the stage it creates itself, so set them on the L1.
    const defaultStage = this.api.defaultStage?.node.defaultChild;
    if (!(defaultStage instanceof CfnStage)) {
      throw new Error('CallbackApi has no default stage to configure');
    }
    // Insider sends one callback per upload; the limit only caps what a leaked URL can cost.
    defaultStage.defaultRouteSettings = { throttlingRateLimit: 50, throttlingBurstLimit: 100 };
    defaultStage.accessLogSettings = {
      destinationArn: apiAccessLogs.logGroupArn,
      format: ACCESS_LOG_FORMAT,
    };

    // ---- Trigger -------------------------------------------------------------------------
    this.failedUploadsQueue = new sqs.Queue(this, 'FailedUploadsQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const triggerEnvironment: Record<string, string> = {
      [TriggerEnv.tableName]: this.table.tableName,
      [TriggerEnv.partnerName]: config.partnerName,
      [TriggerEnv.tokenSecretId]: secretId,
      [TriggerEnv.endpointUrl]: config.fpsEndpointUrl,
      // The API endpoint itself (the $default stage has no path segment); the local stack resolves this GetAtt.
      [TriggerEnv.callbackBaseUrl]: this.api.apiEndpoint,
      [TriggerEnv.maxFileBytes]: String(config.maxFileBytes),
      [TriggerEnv.presignExpiresSeconds]: String(config.presignExpiresSeconds),
      [TriggerEnv.fpsTimeoutMs]: String(config.fpsTimeoutMs),
      [TriggerEnv.tokenCacheSeconds]: String(config.tokenCacheSeconds),
      [TriggerEnv.maxInvocations]: String(1 + TRIGGER_ASYNC_RETRY_ATTEMPTS),
    };
    if (config.defaultAttributeName !== undefined) {
      triggerEnvironment[TriggerEnv.defaultAttributeName] = config.defaultAttributeName;
    }

    this.triggerFunction = new NodeFunction(this, 'TriggerFunction', {
      entry: 'lambdas/trigger/handler.ts',
      description: 'Submits each CSV dropped in the bucket to Insider FPS',
      // The handler's retries of the FPS call (each capped by fpsTimeoutMs) must finish well
      // inside this, so a slow Insider ends in a recorded failure rather than a killed invocation.
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions:
        config.triggerReservedConcurrency > 0 ? config.triggerReservedConcurrency : undefined,
      environment: triggerEnvironment,
    });
    this.triggerFunction.configureAsyncInvoke({
      retryAttempts: TRIGGER_ASYNC_RETRY_ATTEMPTS,
      maxEventAge: TRIGGER_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.failedUploadsQueue),
    });
    this.triggerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // Presigned URLs carry the role's signature, so the role itself must be able to read the object.
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    this.triggerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
        ],
        resources: [this.table.tableArn],
      }),
    );
    this.triggerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretResourceArn],
      }),
    );

    // Every ObjectCreated event, not just Put: multipart uploads arrive as CompleteMultipartUpload.
    const triggerDestination = new LambdaDestination(this.triggerFunction);
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, triggerDestination, { suffix: '.csv' });
    // Suffix filters are case-sensitive; `.CSV` files reach the trigger to be rejected on the record.
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, triggerDestination, { suffix: '.CSV' });

    // ---- Timeout sweeper -----------------------------------------------------------------
    this.sweeperFunction = new NodeFunction(this, 'TimeoutSweeperFunction', {
      entry: 'lambdas/sweeper/handler.ts',
      description: 'Marks submitted uploads that Insider never called back for as timed out',
      timeout: Duration.seconds(60),
      environment: {
        [SweeperEnv.tableName]: this.table.tableName,
        [SweeperEnv.submittedTimeoutHours]: String(config.submittedTimeoutHours),
        [SweeperEnv.receivedTimeoutHours]: String(RECEIVED_TIMEOUT_HOURS),
      },
    });
    this.sweeperFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${UploadsTable.byStatusIndex}`],
      }),
    );
    this.sweeperFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );
    new events.Rule(this, 'TimeoutSweeperSchedule', {
      description: 'Runs the timeout sweeper',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.sweeperFunction)],
    });

    // ---- Alerts --------------------------------------------------------------------------
    if (config.notificationEmail !== undefined) {
      // No SSE on the topic: CloudWatch alarms cannot publish to one encrypted with the AWS managed key.
      const alerts = new sns.Topic(this, 'AlertsTopic', { enforceSSL: true });
      alerts.addSubscription(new snsSubscriptions.EmailSubscription(config.notificationEmail));
      const failedUploadsAlarm = new cloudwatch.Alarm(this, 'FailedUploadsAlarm', {
        alarmDescription: 'An S3 event could not be processed after every retry; see FailedUploadsQueue',
        metric: this.failedUploadsQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      failedUploadsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alerts));
    }

    // ---- Outputs -------------------------------------------------------------------------
    new CfnOutput(this, 'BucketName', {
      description: 'Drop CSV files here',
      value: this.bucket.bucketName,
    });
    new CfnOutput(this, 'TableName', {
      description: 'Upload records',
      value: this.table.tableName,
    });
    new CfnOutput(this, 'CallbackBaseUrl', {
      description: 'Base URL of the callback route Insider posts to',
      value: this.api.apiEndpoint,
    });
    new CfnOutput(this, 'TokenSecretName', {
      description:
        tokenSecret.kind === 'arn'
          ? 'ARN of the secret holding the FPS API token'
          : 'Name of the secret holding the FPS API token: put your token in it',
      value: secretOutput,
    });
    new CfnOutput(this, 'FailedUploadsQueueUrl', {
      description: 'S3 events the trigger gave up on',
      value: this.failedUploadsQueue.queueUrl,
    });
  }
}
