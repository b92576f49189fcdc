// What people watching the pipeline get: the status and alerts topics, an optional email subscription, the alarms and a dashboard.
//
// Hand-written rather than with cdk-monitoring-constructs (10.2.0, considered for issue 10): its facade
// names and creates alarms its own way, so adopting it would replace the six existing alarms (new
// logical ids and names that subscriptions and runbooks refer to) to rebuild what is here; and most of
// what we watch is our own EMF metrics from the contract, a queue and three functions, where its
// per-service monitors would add widgets to turn off. The dashboard is one method, a widget one line.
import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  Metric,
  MetricName,
  type MetricSpec,
  type MetricUnitName,
  ServiceName,
} from '../../lambdas/shared/contract.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';

export interface OperationsProps {
  /**
   * Subscribed to both topics (AWS emails a confirmation link first).
   * @default - nobody is subscribed
   */
  readonly notificationEmail?: string;
}

/** A queue on the dashboard: the messages waiting in it and the age of the oldest. */
export interface ChartedQueue {
  /** The widget's title, e.g. `Upload events (bucket → trigger)`. */
  readonly title: string;
  readonly queue: sqs.IQueue;
}

/** The parts of the pipeline `monitor` watches. */
export interface MonitoredParts {
  /** The events queue's dead-letter queue: a message there is an S3 event the trigger gave up on. */
  readonly failedUploadsQueue: sqs.IQueue;
  readonly triggerFunction: lambda.IFunction;
  readonly callbackFunction: lambda.IFunction;
  readonly sweeperFunction: lambda.IFunction;
  /**
   * More queues to chart, after the failed-uploads queue (no alarm is added for them).
   * @default - none
   */
  readonly queues?: readonly ChartedQueue[];
}

/** The `service` dimension a function's metrics carry. */
type Service = (typeof ServiceName)[keyof typeof ServiceName];

/** A metric the functions emit, charted once per function that emits it (its `service` dimension). */
interface ChartedMetric {
  readonly metric: MetricSpec;
  /** Every function that emits it: a function left out is simply not charted, so keep this true to the code. */
  readonly from: readonly Service[];
  /** @default - by unit: Count → Sum; Milliseconds → p50, p90, Maximum; Percent → Average, Minimum */
  readonly statistics?: readonly string[];
  /** The legend's text. @default - the metric's name */
  readonly label?: string;
}

/** One graph of the functions' own metrics. */
interface PipelineGraph {
  readonly title: string;
  readonly lines: readonly ChartedMetric[];
  readonly leftYAxis?: cloudwatch.YAxisProps;
  /** Also show each line's total over the dashboard's time range, beside the graph. */
  readonly totals?: boolean;
}

const DEFAULT_STATISTICS: Record<MetricUnitName, readonly string[]> = {
  Count: [cloudwatch.Stats.SUM],
  Milliseconds: [cloudwatch.Stats.p(50), cloudwatch.Stats.p(90), cloudwatch.Stats.MAXIMUM],
  Percent: [cloudwatch.Stats.AVERAGE, cloudwatch.Stats.MINIMUM],
};

const { trigger, callback, sweeper } = ServiceName;

/**
 * The dashboard's graphs of the functions' EMF metrics, in order. Where each is counted: the trigger
 * (lambdas/core/submit-upload.ts) counts a file when it claims it, when Insider accepts it, each POST's
 * latency, and the files it ends rejected, failed or as a dry run; the callback (record-callback.ts)
 * completions, their match rate and those below `minMatchRate`; the sweeper (sweep.ts) the uploads it
 * times out or fails. A new metric is one more
 * line in a graph here (a new graph, one more entry).
 */
const PIPELINE_GRAPHS: readonly PipelineGraph[] = [
  {
    title: 'Files by status',
    totals: true,
    lines: [
      { metric: Metric.filesReceived, from: [trigger], label: 'received' },
      { metric: Metric.filesSubmitted, from: [trigger], label: 'submitted' },
      { metric: Metric.filesCompleted, from: [callback], label: 'completed' },
      { metric: Metric.filesRejected, from: [trigger], label: 'rejected' },
      { metric: Metric.filesFailed, from: [trigger, sweeper], label: 'failed' },
      { metric: Metric.filesTimedOut, from: [sweeper], label: 'timed out' },
      { metric: Metric.filesDryRun, from: [trigger], label: 'dry run' },
      { metric: Metric.lowMatchRate, from: [callback], label: 'completed, match rate low' },
    ],
  },
  {
    title: "Match rate: % of a file's values Insider matched",
    lines: [{ metric: Metric.callbackMatchRate, from: [callback], label: 'match rate' }],
    leftYAxis: { min: 0, max: 100, label: '%', showUnits: false },
  },
  {
    title: 'FPS latency: one POST to Insider',
    lines: [{ metric: Metric.fpsLatency, from: [trigger], label: 'latency' }],
    leftYAxis: { min: 0, label: 'ms', showUnits: false },
  },
];

/** The period of every dashboard graph; the alarms keep their own. */
const GRAPH_PERIOD = Duration.minutes(5);

/** One CloudWatch metric per emitting function and statistic. */
function metricsOf(line: ChartedMetric): cloudwatch.Metric[] {
  const statistics = line.statistics ?? DEFAULT_STATISTICS[line.metric.unit];
  const label = line.label ?? line.metric.name;
  return line.from.flatMap((service) =>
    statistics.map(
      (statistic) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: line.metric.name,
          dimensionsMap: { service },
          statistic,
          period: GRAPH_PERIOD,
          label: [label, statistics.length > 1 ? statistic.toLowerCase() : '', line.from.length > 1 ? `(${service})` : ''].filter(Boolean).join(' '),
        }),
    ),
  );
}

/** How often the low match rate alarm looks: callbacks arrive up to an hour after a drop, one per file. */
const LOW_MATCH_RATE_PERIOD = Duration.minutes(15);

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
  /**
   * Files by status, match rate, FPS latency, timed-out uploads, errors, throttles and queues; filled
   * in by `monitor`. Widgets added here with `addWidgets` land below the rest.
   */
  readonly dashboard: cloudwatch.Dashboard;
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
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Dashboards are global to an account, stacks are per Region: the Region keeps two deployments apart.
      dashboardName: `${Stack.of(this).stackName}-${Aws.REGION}`,
      // Files arrive a few times a day, not every minute.
      defaultInterval: Duration.days(1),
    });
  }

  /** Lets `grantee` publish final statuses (sns:Publish on the status topic only). */
  grantPublishStatus(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.statusTopic.topicArn] });
  }

  /**
   * Adds the alarms on `parts`, each notifying the alerts topic, and fills in the dashboard. Call once.
   *
   * Adding to the dashboard is a one-line change: a metric the functions emit is a line in
   * `PIPELINE_GRAPHS` (e.g. `{ metric: Metric.lowMatchRate, from: [ServiceName.callback] }` in the
   * match-rate graph); a queue is an entry in `parts.queues` where the stack calls this (e.g.
   * `queues: [{ title: 'Upload events (bucket → trigger)', queue: this.trigger.eventsQueue }]`);
   * any other widget is `operations.dashboard.addWidgets(widget)`.
   */
  monitor(parts: MonitoredParts): void {
    if (this.monitored) throw new Error(`${this.node.path}: monitor() was already called; pass every part in one call`);
    this.monitored = true;
    const alarmAction = new cloudwatchActions.SnsAction(this.alertsTopic);
    const alarm = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) => {
      const created = new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(alarmAction);
      return created;
    };
    const failedUploadsAlarm = alarm(
      'FailedUploadsAlarm',
      'An S3 event could not be processed after every attempt; see FailedUploadsQueue, the upload\'s record and README "Redrive"',
      parts.failedUploadsQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );
    const functions: [label: string, fn: lambda.IFunction][] = [
      ['trigger', parts.triggerFunction],
      ['callback', parts.callbackFunction],
      ['sweeper', parts.sweeperFunction],
    ];
    const functionAlarms: [string, lambda.IFunction, string][] = [
      ['TriggerErrorsAlarm', parts.triggerFunction, 'The trigger threw: AWS unreachable or a bug (Insider trouble is retried without errors); see its log group'],
      ['CallbackErrorsAlarm', parts.callbackFunction, 'The callback function threw: a callback may be lost; see its log group'],
      ['TimeoutSweeperErrorsAlarm', parts.sweeperFunction, 'The timeout sweeper threw: stuck uploads are not being closed; see its log group'],
    ];
    const errorAlarms = functionAlarms.map(([id, fn, description]) => alarm(id, description, errorsOf(fn)));
    const timedOutAlarm = alarm(
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
    const lowMatchRateAlarm = alarm(
      'LowMatchRateAlarm',
      'Insider matched fewer of a file\'s values than minMatchRate (or none): the folder may name the wrong attribute, or the values are not written as Insider stores them; see the record\'s warning and README "Low match rate"',
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.lowMatchRate,
        dimensionsMap: { service: ServiceName.callback },
        statistic: cloudwatch.Stats.SUM,
        period: LOW_MATCH_RATE_PERIOD,
      }),
    );

    const alarmLine = (label: string): cloudwatch.HorizontalAnnotation => ({ value: 1, label, color: cloudwatch.Color.RED });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms (they notify AlertsTopicArn; README "Operations" says what to do)',
        alarms: [failedUploadsAlarm, ...errorAlarms, timedOutAlarm, lowMatchRateAlarm],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      ...PIPELINE_GRAPHS.flatMap((graph) => {
        const metrics = graph.lines.flatMap(metricsOf);
        const chart = new cloudwatch.GraphWidget({
          title: `${graph.title} (per ${GRAPH_PERIOD.toMinutes()} min)`,
          left: metrics,
          leftYAxis: graph.leftYAxis ?? { min: 0 },
          width: graph.totals ? 16 : 8,
          height: 6,
        });
        if (!graph.totals) return [chart];
        const totals = new cloudwatch.SingleValueWidget({
          title: `${graph.title}: totals over the time range`,
          metrics,
          setPeriodToTimeRange: true,
          width: 8,
          height: 6,
        });
        return [chart, totals];
      }),
      new cloudwatch.AlarmWidget({
        title: 'Timed-out uploads: Insider never called back (UploadsTimedOutAlarm)',
        alarm: timedOutAlarm,
        leftYAxis: { min: 0 },
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Errors per function (each alarms at 1)',
        left: functions.map(([label, fn]) => errorsOf(fn).with({ label })),
        leftAnnotations: [alarmLine('alarm')],
        leftYAxis: { min: 0 },
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Throttles per function (the trigger retries them)',
        left: functions.map(([label, fn]) => fn.metricThrottles({ period: GRAPH_PERIOD, statistic: cloudwatch.Stats.SUM, label })),
        leftYAxis: { min: 0 },
        width: 8,
        height: 6,
      }),
      queueWidget({ title: 'Failed uploads queue (FailedUploadsAlarm at 1)', queue: parts.failedUploadsQueue }, alarmLine('FailedUploadsAlarm')),
      ...(parts.queues ?? []).map((charted) => queueWidget(charted)),
    );
  }
}

/** A function's errors as its alarm reads them: the sum over 5 minutes. */
function errorsOf(fn: lambda.IFunction): cloudwatch.Metric {
  return fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM });
}

/** Messages waiting (left) and the age of the oldest (right). */
function queueWidget({ title, queue }: ChartedQueue, annotation?: cloudwatch.HorizontalAnnotation): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title,
    left: [queue.metricApproximateNumberOfMessagesVisible({ period: GRAPH_PERIOD, label: 'messages waiting' })],
    right: [queue.metricApproximateAgeOfOldestMessage({ period: GRAPH_PERIOD, label: 'oldest message age' })],
    leftAnnotations: annotation ? [annotation] : undefined,
    leftYAxis: { min: 0 },
    rightYAxis: { min: 0, label: 'seconds', showUnits: false },
    width: 8,
    height: 6,
  });
}
