// Lambda entry point for the scheduled sweep: times out uploads with no callback and fails ones with no retry left.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDbUploadsStore } from '../adapters/dynamodb-uploads-store.js';
import { powertoolsTelemetry } from '../adapters/telemetry.js';
import { systemClock } from '../adapters/tokens.js';
import { type SweepResult, sweepStaleUploads } from '../core/sweep.js';
import { SweeperEnv } from '../shared/contract.js';
import { envNumber, envString, readEnv } from '../shared/env.js';

const config = readEnv(process.env, {
  tableName: [SweeperEnv.tableName, envString],
  submittedTimeoutHours: [SweeperEnv.submittedTimeoutHours, envNumber(0)],
  receivedTimeoutHours: [SweeperEnv.receivedTimeoutHours, envNumber(0)],
});
const logger = new Logger({ serviceName: 'fps-sweeper' });
const metrics = new Metrics({ namespace: 'FpsPipeline', serviceName: 'fps-sweeper' });
const store = new DynamoDbUploadsStore(new DynamoDBClient({}), config.tableName);

export const handler = async (): Promise<SweepResult> => {
  try {
    const result = await sweepStaleUploads(
      { submittedTimeoutHours: config.submittedTimeoutHours, receivedTimeoutHours: config.receivedTimeoutHours },
      { store, clock: systemClock, telemetry: powertoolsTelemetry(metrics, logger) },
    );
    logger.info('sweep done', { timedOut: result.timedOut.length, failed: result.failed.length });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
