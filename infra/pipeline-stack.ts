// The pipeline: drop bucket → trigger function → Insider FPS; Insider's callback → API → uploads table.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
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
  METRICS_NAMESPACE,
  MetricName,
  ServiceName,
  SweeperEnv,
  TRIGGER_ASYNC_RETRY_ATTEMPTS,
  TriggerEnv,
  UploadsTable,
} from '../lambdas/shared/contract.js';
import type { PipelineConfig } from './config.js';
import { NodeFunction, type NodeFunctionProps } from './node-function.js';

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
  /** Every final status, as JSON: subscribe email, Slack (AWS Chatbot) or a queue. */
  readonly statusTopic: sns.Topic;
  /** Alarm notifications. */
  readonly alertsTopic: sns.Topic;
  /** The trigger's VPC, with `fixedEgressIp`. */
  readonly egressVpc: ec2.Vpc | undefined;
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
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "The FPS token is issued in Insider's admin panel and cannot be rotated by a Lambda function; an administrator rotates it there and puts the new value in this secret, which the trigger re-reads within tokenCacheSeconds.",
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

    // ---- Notifications -------------------------------------------------------------------
    // Two topics: statuses go to whoever follows uploads (one message per file), alarms to whoever
    // runs the stack; and only the statuses can be encrypted with the AWS managed key.
    this.statusTopic = new sns.Topic(this, 'StatusTopic', {
      displayName: 'FPS upload statuses',
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });
    this.alertsTopic = new sns.Topic(this, 'AlertsTopic', { displayName: 'FPS pipeline alarms', enforceSSL: true });
    Validations.of(this.alertsTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the messages hold only alarm names and states; a customer managed key would cost more than the data is worth protecting.',
    });
    if (config.notificationEmail !== undefined) {
      for (const topic of [this.statusTopic, this.alertsTopic]) {
        topic.addSubscription(new snsSubscriptions.EmailSubscription(config.notificationEmail));
      }
    }
    const publishStatus = () =>
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.statusTopic.topicArn] });

    // ---- Callback API and function -------------------------------------------------------
    this.callbackFunction = new NodeFunction(this, 'CallbackFunction', {
      entry: 'lambdas/callback/handler.ts',
      description: 'Records the counts Insider posts back for an upload',
      timeout: Duration.seconds(10),
      environment: {
        [CallbackEnv.tableName]: this.table.tableName,
        [CallbackEnv.statusTopicArn]: this.statusTopic.topicArn,
      },
    });
    this.callbackFunction.addToRolePolicy(publishStatus());
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
    const [callbackRoute] = this.api.addRoutes({
      path: CALLBACK_ROUTE,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('CallbackIntegration', this.callbackFunction),
    });
    if (!callbackRoute) throw new Error('CallbackApi has no callback route');
    Validations.of(callbackRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        "Insider's callback carries no credentials and no signature; the unguessable per-upload token in the path is the authorization, checked against its SHA-256 hash by the callback function.",
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
    Validations.of(this.failedUploadsQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the trigger's dead-letter destination (Lambda's on-failure destination); a queue behind it would only move the same messages again.",
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
      [TriggerEnv.statusTopicArn]: this.statusTopic.topicArn,
    };
    if (config.defaultAttributeName !== undefined) {
      triggerEnvironment[TriggerEnv.defaultAttributeName] = config.defaultAttributeName;
    }

    // ---- Fixed egress IP (optional) -------------------------------------------------------
    let egressIp: ec2.CfnEIP | undefined;
    let triggerNetwork: Pick<NodeFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> = {};
    if (config.fixedEgressIp) {
      // Its own resource, so the address stays the same whatever happens to the VPC around it.
      egressIp = new ec2.CfnEIP(this, 'EgressElasticIp', { domain: 'vpc' });
      // One AZ keeps it to one NAT gateway: if that AZ fails, Lambda's retries and the failure queue hold the files.
      this.egressVpc = new ec2.Vpc(this, 'EgressVpc', {
        ipAddresses: ec2.IpAddresses.cidr('10.0.0.0/24'),
        maxAzs: 1,
        natGateways: 1,
        natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [egressIp.attrAllocationId] }),
        subnetConfiguration: [
          { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 28 },
          { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 26 },
        ],
        // Free, and they keep S3 and DynamoDB calls off the NAT gateway's per-GB charge.
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
      });
      this.egressVpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(this, 'EgressVpcFlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
        ),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
      const securityGroup = new ec2.SecurityGroup(this, 'TriggerSecurityGroup', {
        vpc: this.egressVpc,
        description: 'Trigger function: HTTPS out only (Insider and AWS APIs), nothing in',
        allowAllOutbound: false,
      });
      securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Insider and AWS APIs');
      triggerNetwork = {
        vpc: this.egressVpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [securityGroup],
      };
    }

    this.triggerFunction = new NodeFunction(this, 'TriggerFunction', {
      ...triggerNetwork,
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
    const triggerRole = this.triggerFunction.role;
    if (!triggerRole) throw new Error('TriggerFunction has no role');
    // Object keys are whatever people drop, so no narrower pattern would hold.
    const dropObjectsFinding = `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`;
    this.triggerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // HeadObject (names and size from metadata) needs s3:GetObject; the body is never read.
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    Validations.of(triggerRole).acknowledge({
      id: dropObjectsFinding,
      reason:
        "The trigger reads the metadata of any object dropped in the drop bucket, whose keys people choose; the grant covers that bucket's objects and nothing else.",
    });
    this.triggerFunction.addToRolePolicy(publishStatus());

    // Who signs the file URLs Insider downloads, so that the recorded expiry is the one S3 enforces.
    if (config.presignAccessKeySecretName === undefined) {
      // The trigger assumes this role for each URL: STS returns the session's exact expiry, which
      // the function's own credentials do not carry. Role chaining caps the session at one hour.
      const presignRole = new iam.Role(this, 'PresignRole', {
        assumedBy: new iam.ArnPrincipal(triggerRole.roleArn),
        description: 'Signs the file URLs Insider downloads; assumed by the trigger function for each URL',
        maxSessionDuration: Duration.hours(1),
      });
      presignRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:GetObjectVersion'],
          resources: [this.bucket.arnForObjects('*')],
        }),
      );
      Validations.of(presignRole).acknowledge({
        id: dropObjectsFinding,
        reason:
          "A file URL can fetch any object dropped in the drop bucket, whose keys people choose; each URL is signed for one object version, and this role can read that bucket's objects and nothing else.",
      });
      this.triggerFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [presignRole.roleArn] }),
      );
      this.triggerFunction.addEnvironment(TriggerEnv.presignRoleArn, presignRole.roleArn);
    } else {
      const keySecret = secretsmanager.Secret.fromSecretNameV2(
        this,
        'PresignAccessKeySecret',
        config.presignAccessKeySecretName,
      );
      this.triggerFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [`${keySecret.secretArn}-??????`],
        }),
      );
      this.triggerFunction.addEnvironment(TriggerEnv.presignAccessKeySecretId, config.presignAccessKeySecretName);
    }

    if (this.egressVpc) {
      // What AWSLambdaVPCAccessExecutionRole grants for ENIs, minus its logs:* on every log group.
      this.triggerFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          resources: ['*'],
        }),
      );
      this.triggerFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: [this.formatArn({ service: 'ec2', resource: '*', resourceName: '*' })],
        }),
      );
      Validations.of(triggerRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Lambda creates the VPC function\'s network interfaces with its role; ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets accept no resource but "*" (Lambda developer guide, VPC permissions).',
      });
      Validations.of(triggerRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:*/*]',
        reason:
          'Lambda creates and deletes the network interfaces itself, with IDs nobody knows at deploy time; the Lambda developer guide says to allow every resource ID, kept here to this account and Region.',
      });
    }
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
        [SweeperEnv.statusTopicArn]: this.statusTopic.topicArn,
      },
    });
    this.sweeperFunction.addToRolePolicy(publishStatus());
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

    // CDK's own handler that writes the bucket's notification configuration at deploy time.
    const notificationsHandlerRole = this.node.children
      .find((child) => child.node.id.startsWith('BucketNotificationsHandler'))
      ?.node.tryFindChild('Role');
    if (!notificationsHandlerRole) throw new Error('The bucket notifications handler has no role to acknowledge');
    Validations.of(notificationsHandlerRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket-notifications custom resource runs only during deployments; its role is created inside aws-cdk-lib and the managed policy only lets it write its own logs.",
    });

    // ---- Alarms --------------------------------------------------------------------------
    const alarmAction = new cloudwatchActions.SnsAction(this.alertsTopic);
    const alarm = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
    alarm(
      'FailedUploadsAlarm',
      'An S3 event could not be processed after every retry; see FailedUploadsQueue and README "Redrive"',
      this.failedUploadsQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );
    const functionAlarms: [string, NodeFunction, string][] = [
      ['TriggerErrorsAlarm', this.triggerFunction, 'The trigger threw: Insider unreachable or throttling (Lambda retries), or a bug; see its log group'],
      ['CallbackErrorsAlarm', this.callbackFunction, 'The callback function threw: a callback may be lost; see its log group'],
      ['TimeoutSweeperErrorsAlarm', this.sweeperFunction, 'The timeout sweeper threw: stuck uploads are not being closed; see its log group'],
    ];
    for (const [id, fn, description] of functionAlarms) {
      alarm(id, description, fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }));
    }
    alarm(
      'UploadsTimedOutAlarm',
      "Insider accepted a file but never called back within submittedTimeoutHours; check the segment in Insider's panel",
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.filesTimedOut,
        dimensionsMap: { service: ServiceName.sweeper },
        statistic: cloudwatch.Stats.SUM,
        // The sweeper runs every 15 minutes.
        period: Duration.minutes(15),
      }),
    );

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
    new CfnOutput(this, 'StatusTopicArn', {
      description: 'Every final upload status, as JSON: subscribe email, Slack or a queue',
      value: this.statusTopic.topicArn,
    });
    new CfnOutput(this, 'AlertsTopicArn', {
      description: 'CloudWatch alarm notifications',
      value: this.alertsTopic.topicArn,
    });
    if (egressIp) {
      new CfnOutput(this, 'EgressIp', {
        description: "The trigger's fixed egress IP: add it to the API key's trusted IP addresses in Insider",
        value: egressIp.attrPublicIp,
      });
    }
  }
}
