// Telemetry for the use cases: Powertools Metrics (EMF) in each metric's declared unit, and a log line for every final status.
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Log, Telemetry, UploadRecord } from '../core/ports.js';
import { Metric, type UploadStatus } from '../shared/contract.js';

/** Counted when an upload reaches the status; the callback use case counts completions itself. */
const FINAL_METRIC: Partial<Record<UploadStatus, Metric>> = {
  rejected: Metric.filesRejected,
  failed: Metric.filesFailed,
  timed_out: Metric.filesTimedOut,
  dry_run: Metric.filesDryRun,
};

export function powertoolsTelemetry(metrics: Metrics, logger: Logger, onFinal?: (record: UploadRecord) => Promise<void>): Telemetry {
  const add = (metric: Metric, value: number) => metrics.addMetric(metric.name, MetricUnit[metric.unit], value);
  return {
    metric: (metric, value = 1) => add(metric, value),
    finalStatus: async (record) => {
      const metric = FINAL_METRIC[record.status];
      if (metric) add(metric, 1);
      // The sweeper handles many uploads per invocation: name this one on the line itself.
      logger.info('final status', {
        uploadId: record.uploadId,
        objectKey: record.key,
        segmentName: record.segmentName,
        insiderSegmentName: record.insiderSegmentName,
        status: record.status,
        reason: record.reason,
        warning: record.warning,
      });
      await onFinal?.(record);
    },
  };
}

export function loggerLog(logger: Logger): Log {
  return {
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    addKeys: (keys) => logger.appendKeys(keys),
  };
}
