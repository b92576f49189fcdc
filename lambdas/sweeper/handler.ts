// Lambda entry point for the scheduled sweep: times out uploads with no callback and fails ones with no retry left.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDbUploadsStore } from '../adapters/dynamodb-uploads-store.js';
import { snsFinalStatusPublisher, statusTopicClient } from '../adapters/sns-status-publisher.js';
import { powertoolsTelemetry } from '../adapters/telemetry.js';
import * as v from 'valibot';
import { systemClock } from '../adapters/clock.js';
import { type SweepResult, sweepStaleUploads } from '../core/sweep.js';
import { METRICS_NAMESPACE, ServiceName, SweeperEnv } from '../shared/contract.js';
import { envInt, envNumber, envString, readEnv } from '../shared/env.js';
import { Limits } from '../shared/limits.js';

const config = readEnv(process.env, {
  tableName: [SweeperEnv.tableName, envString],
  submittedTimeoutHours: [SweeperEnv.submittedTimeoutHours, envInt(Limits.submittedTimeoutHours)],
  receivedTimeoutHours: [SweeperEnv.receivedTimeoutHours, envNumber(0)],
  statusTopicArn: [SweeperEnv.statusTopicArn, envString],
});
const logger = new Logger({ serviceName: ServiceName.sweeper });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.sweeper });
const notifyFinalStatus = snsFinalStatusPublisher(
  statusTopicClient(),
  config.statusTopicArn,
  logger,
);
const store = new DynamoDbUploadsStore(new DynamoDBClient({}), config.tableName, systemClock);

/** EventBridge scheduled events carry the time they were scheduled for. */
const ScheduledEvent = v.object({ time: v.optional(v.pipe(v.string(), v.isoTimestamp())) });

export const handler = async (event: unknown): Promise<SweepResult> => {
  const parsed = v.safeParse(ScheduledEvent, event);
  // Judge staleness as of the scheduled time: a delayed delivery then errs on the side of waiting.
  const scheduledAt = parsed.success && parsed.output.time ? new Date(parsed.output.time) : undefined;
  const clock = scheduledAt ? { ...systemClock, now: () => scheduledAt } : systemClock;
  try {
    const result = await sweepStaleUploads(
      { submittedTimeoutHours: config.submittedTimeoutHours, receivedTimeoutHours: config.receivedTimeoutHours },
      { store, clock, telemetry: powertoolsTelemetry(metrics, logger, notifyFinalStatus) },
    );
    logger.info('sweep done', { timedOut: result.timedOut.length, failed: result.failed.length });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
