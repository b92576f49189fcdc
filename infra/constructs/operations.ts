// What people watching the pipeline get: the status and alerts topics, an optional email subscription, and the alarms.
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, MetricName, ServiceName } from '../../lambdas/shared/contract.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';

export interface OperationsProps {
  /**
   * Subscribed to both topics (AWS emails a confirmation link first).
   * @default - nobody is subscribed
   */
  readonly notificationEmail?: string;
}

/** The parts of the pipeline `monitor` watches. */
export interface MonitoredParts {
  /** The events queue's dead-letter queue: a message there is an S3 event the trigger gave up on. */
  readonly failedUploadsQueue: sqs.IQueue;
  readonly triggerFunction: lambda.IFunction;
  readonly callbackFunction: lambda.IFunction;
  readonly sweeperFunction: lambda.IFunction;
}

/**
 * Two topics: statuses go to whoever follows uploads (one message per file), alarms to whoever runs
 * the stack; only the statuses can be encrypted with the AWS managed key. Create this first (the
 * functions publish to `statusTopic`), then call `monitor` once the parts it watches exist.
 */
export class Operations extends Construct {
  /** Every final status, as JSON: subscribe email, Slack (AWS Chatbot) or a queue. */
  readonly statusTopic: sns.Topic;
  /** Alarm notifications. */
  readonly alertsTopic: sns.Topic;
  private monitored = false;

  constructor(scope: Construct, id: string, props: OperationsProps = {}) {
    super(scope, id);
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
    if (props.notificationEmail !== undefined) {
      for (const topic of [this.statusTopic, this.alertsTopic]) {
        topic.addSubscription(new snsSubscriptions.EmailSubscription(props.notificationEmail));
      }
    }
    // Subscribers outside the stack hold these ARNs; an email subscription moved to a new logical
    // id would be unsubscribed when CloudFormation deletes the old one.
    keepStackLevelLogicalIds(this.statusTopic);
    keepStackLevelLogicalIds(this.alertsTopic);
  }

  /** Lets `grantee` publish final statuses (sns:Publish on the status topic only). */
  grantPublishStatus(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.statusTopic.topicArn] });
  }

  /** Adds the alarms on `parts`, each notifying the alerts topic. Call once. */
  monitor(parts: MonitoredParts): void {
    if (this.monitored) throw new Error(`${this.node.path}: monitor() was already called; pass every part in one call`);
    this.monitored = true;
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
      'An S3 event could not be processed after every attempt; see FailedUploadsQueue, the upload\'s record and README "Redrive"',
      parts.failedUploadsQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );
    const functionAlarms: [string, lambda.IFunction, string][] = [
      ['TriggerErrorsAlarm', parts.triggerFunction, 'The trigger threw: AWS unreachable or a bug (Insider trouble is retried without errors); see its log group'],
      ['CallbackErrorsAlarm', parts.callbackFunction, 'The callback function threw: a callback may be lost; see its log group'],
      ['TimeoutSweeperErrorsAlarm', parts.sweeperFunction, 'The timeout sweeper threw: stuck uploads are not being closed; see its log group'],
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
  }
}
