// Telemetry for the use cases: Powertools Metrics (EMF) and a log line for every final status.
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Log } from '../core/submit-upload.js';
import type { Telemetry, UploadRecord } from '../core/ports.js';
import { MetricName } from '../shared/contract.js';

const FINAL_METRIC: Record<string, string> = {
  completed: MetricName.filesCompleted,
  rejected: MetricName.filesRejected,
  failed: MetricName.filesFailed,
  timed_out: MetricName.filesTimedOut,
};

export function powertoolsTelemetry(metrics: Metrics, logger: Logger, onFinal?: (record: UploadRecord) => Promise<void>): Telemetry {
  return {
    count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
    timing: (name, value) =>
      metrics.addMetric(name, name.endsWith('Rate') ? MetricUnit.Percent : MetricUnit.Milliseconds, value),
    finalStatus: async (record) => {
      const metric = FINAL_METRIC[record.status];
      // The callback use case counts completions itself.
      if (metric && metric !== MetricName.filesCompleted) metrics.addMetric(metric, MetricUnit.Count, 1);
      // The sweeper handles many uploads per invocation: name this one on the line itself.
      logger.info('final status', {
        uploadId: record.uploadId,
        objectKey: record.key,
        segmentName: record.segmentName,
        status: record.status,
        reason: record.reason,
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
