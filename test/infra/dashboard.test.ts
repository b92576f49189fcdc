// The operations dashboard: one per stack, charting every pipeline metric from the functions that emit it, and its name as an output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, MetricName, ServiceName } from '../../lambdas/shared/contract.js';
import { type CfnResource, type Json, logicalIdOf, type Synthesized, synth } from './synth.js';

interface Widget {
  type: string;
  width: number;
  properties: {
    title?: string;
    view?: string;
    metrics?: (string | Record<string, unknown>)[][];
    alarms?: string[];
    annotations?: { alarms?: string[]; horizontal?: { value: number; label?: string }[] };
    setPeriodToTimeRange?: boolean;
  };
}

/**
 * Each metric, from the function that emits it (read from lambdas/: the trigger's submit-upload use
 * case, the callback's record-callback, the sweeper's sweep, and the final statuses each of them reaches).
 */
const EMITTED: [metric: string, service: string][] = [
  [MetricName.filesReceived, ServiceName.trigger],
  [MetricName.filesSubmitted, ServiceName.trigger],
  [MetricName.filesRejected, ServiceName.trigger],
  [MetricName.filesFailed, ServiceName.trigger],
  [MetricName.fpsLatency, ServiceName.trigger],
  [MetricName.filesCompleted, ServiceName.callback],
  [MetricName.callbackMatchRate, ServiceName.callback],
  [MetricName.filesFailed, ServiceName.sweeper],
  [MetricName.filesTimedOut, ServiceName.sweeper],
  [MetricName.filesDryRun, ServiceName.trigger],
  [MetricName.lowMatchRate, ServiceName.callback],
];

const FUNCTION_IDS = ['Trigger/Function', 'Callback/Function', 'TimeoutSweeper/Function'] as const;

let synthesized: Synthesized;
let resources: Record<string, CfnResource>;
let widgets: Widget[];
const id = (constructPath: string) => logicalIdOf(resources, constructPath);

/** Intrinsics as readable placeholders (`ref:<id>`, `<id>.<attribute>`), so the body parses as JSON. */
function placeholders(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if (typeof value.Ref === 'string') return `ref:${value.Ref}`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return getAtt.join('.');
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map(placeholders).join(join[0]);
  }
  throw new Error(`Unexpected intrinsic in the dashboard: ${JSON.stringify(value)}`);
}

/** Every metric array of every widget, with the widget's title. */
function chartedMetrics(): { title: string; namespace: string; name: string; dimensions: string[]; stat: unknown }[] {
  return widgets.flatMap((w) =>
    (w.properties.metrics ?? []).map((m) => {
      const options = (typeof m.at(-1) === 'object' ? m.at(-1) : {}) as Record<string, unknown>;
      const [namespace, name, ...dimensions] = m.filter((part): part is string => typeof part === 'string');
      // CDK leaves out CloudWatch's default statistic.
      return { title: w.properties.title ?? '', namespace: namespace ?? '', name: name ?? '', dimensions, stat: options.stat ?? 'Average' };
    }),
  );
}

beforeAll(() => {
  synthesized = synth({ partnerName: 'mybrand' }, { bundle: false });
  ({ resources } = synthesized);
  const dashboards = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  const body = JSON.parse(placeholders(dashboards[0]?.Properties?.DashboardBody ?? null)) as { widgets: Widget[] };
  widgets = body.widgets;
});
afterAll(() => synthesized.cleanUp());

describe('the operations dashboard', () => {
  it('exists once, named after the stack and its Region, and the DashboardName output names it', () => {
    synthesized.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboardId = id('Operations/Dashboard/Resource');
    expect(resources[dashboardId]?.Properties?.DashboardName).toEqual({ 'Fn::Join': ['', ['FpsPipeline-', { Ref: 'AWS::Region' }]] });
    const outputs = synthesized.template.toJSON().Outputs as Record<string, { Value: Json }>;
    expect(outputs.DashboardName?.Value).toEqual({ Ref: dashboardId });
  });

  it.each(EMITTED)(`charts %s from service %s in namespace ${METRICS_NAMESPACE}`, (metric, service) => {
    const lines = chartedMetrics().filter((m) => m.name === metric && m.dimensions.join('=') === `service=${service}`);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((m) => m.namespace === METRICS_NAMESPACE)).toBe(true);
  });

  it('charts no pipeline metric from a function that does not emit it', () => {
    const charted = new Set(
      chartedMetrics()
        .filter((m) => m.namespace === METRICS_NAMESPACE)
        .map((m) => `${m.name} ${m.dimensions.join('=')}`),
    );
    expect([...charted].sort()).toEqual(EMITTED.map(([metric, service]) => `${metric} service=${service}`).sort());
  });

  it('shows files by status as counts per period and as totals over the time range', () => {
    const byStatus = widgets.filter((w) => w.properties.title?.startsWith('Files by status'));
    expect(byStatus.map((w) => w.properties.view)).toEqual(['timeSeries', 'singleValue']);
    expect(byStatus[1]?.properties.setPeriodToTimeRange).toBe(true);
    expect(new Set(chartedMetrics().filter((m) => m.title.startsWith('Files by status')).map((m) => m.stat))).toEqual(new Set(['Sum']));
    const statuses = [
      MetricName.filesReceived,
      MetricName.filesSubmitted,
      MetricName.filesCompleted,
      MetricName.filesRejected,
      MetricName.filesFailed,
      MetricName.filesTimedOut,
      MetricName.filesDryRun,
      // Completed uploads whose match rate is below minMatchRate, beside the completions.
      MetricName.lowMatchRate,
    ];
    for (const widget of byStatus) {
      expect(new Set(widget.properties.metrics?.map((m) => m[1]))).toEqual(new Set(statuses));
    }
  });

  it('shows FPS latency as p50, p90 and maximum, and the match rate as average and lowest', () => {
    const stats = (metric: string) => chartedMetrics().filter((m) => m.name === metric).map((m) => m.stat);
    expect(stats(MetricName.fpsLatency)).toEqual(['p50', 'p90', 'Maximum']);
    expect(stats(MetricName.callbackMatchRate)).toEqual(['Average', 'Minimum']);
  });

  it.each(['Errors', 'Throttles'])('shows %s per function, summed', (metric) => {
    const lines = chartedMetrics().filter((m) => m.namespace === 'AWS/Lambda' && m.name === metric);
    expect(lines.map((m) => m.dimensions)).toEqual(FUNCTION_IDS.map((f) => ['FunctionName', `ref:${id(`${f}/Resource`)}`]));
    expect(new Set(lines.map((m) => m.title)).size).toBe(1);
    expect(lines.every((m) => m.stat === 'Sum')).toBe(true);
  });

  it("shows the failed-uploads queue's depth and oldest message, with its alarm's threshold", () => {
    const queue = ['QueueName', `${id('FailedUploadsQueue/Resource')}.QueueName`];
    const events = ['QueueName', `${id('UploadEventsQueue/Resource')}.QueueName`];
    const lines = chartedMetrics().filter((m) => m.namespace === 'AWS/SQS');
    expect(lines.map((m) => [m.name, ...m.dimensions])).toEqual([
      ['ApproximateNumberOfMessagesVisible', ...queue],
      ['ApproximateAgeOfOldestMessage', ...queue],
      // The events queue (bucket → trigger) is charted too, without an alarm.
      ['ApproximateNumberOfMessagesVisible', ...events],
      ['ApproximateAgeOfOldestMessage', ...events],
    ]);
    const widget = widgets.find((w) => w.properties.title === lines[0]?.title);
    expect(widget?.properties.annotations?.horizontal).toEqual([expect.objectContaining({ value: 1, label: 'FailedUploadsAlarm' })]);
  });

  it('shows timed-out uploads through their alarm, and every alarm in a status row', () => {
    const alarmArn = (name: string) => `${id(`Operations/${name}/Resource`)}.Arn`;
    const timedOut = widgets.find((w) => w.properties.annotations?.alarms?.includes(alarmArn('UploadsTimedOutAlarm')));
    expect(timedOut?.properties.title).toMatch(/^Timed-out uploads/);
    const status = widgets.find((w) => w.type === 'alarm');
    expect(status?.width).toBe(24);
    expect(status?.properties.alarms).toEqual(
      ['FailedUploadsAlarm', 'TriggerErrorsAlarm', 'CallbackErrorsAlarm', 'TimeoutSweeperErrorsAlarm', 'UploadsTimedOutAlarm', 'LowMatchRateAlarm'].map(alarmArn),
    );
  });
});
