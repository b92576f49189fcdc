// Lambda entry point for the S3 events queue (SQS event source mapping): the use case per S3 record, the queue told when to deliver again.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { DynamoDbUploadsStore } from '../adapters/dynamodb-uploads-store.js';
import { FpsHttpApi } from '../adapters/fps-http-api.js';
import { accessKeyCredentials, assumedRoleCredentials, type SigningCredentials } from '../adapters/presign-credentials.js';
import { S3ObjectStore } from '../adapters/s3-object-store.js';
import { snsFinalStatusPublisher, statusTopicClient } from '../adapters/sns-status-publisher.js';
import { SqsEventQueue } from '../adapters/sqs-event-queue.js';
import { loggerLog, powertoolsTelemetry } from '../adapters/telemetry.js';
import { systemClock } from '../adapters/clock.js';
import { callbackTokens } from '../adapters/tokens.js';
import { handleObjectCreated } from '../core/submit-upload.js';
import { METRICS_NAMESPACE, ServiceName } from '../shared/contract.js';
import { invocationDeadline, readTriggerConfig, triggerSettingsFrom, urlSigningFrom } from './settings.js';
import { type BatchLog, handleSqsBatch } from './sqs-batch.js';

const config = readTriggerConfig(process.env);
const settings = triggerSettingsFrom(config);

function signingCredentials(): SigningCredentials {
  const signing = urlSigningFrom(config);
  if (signing.signer === 'accessKey') {
    return accessKeyCredentials(() => getSecret(signing.secretId, { transform: 'json', maxAge: config.tokenCacheSeconds }));
  }
  return assumedRoleCredentials(new STSClient({}), signing.roleArn);
}

const logger = new Logger({ serviceName: ServiceName.trigger });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.trigger });
const store = new DynamoDbUploadsStore(new DynamoDBClient({}), config.tableName, systemClock);
const objects = new S3ObjectStore(new S3Client({}), { signingCredentials: signingCredentials() });
const notifyFinalStatus = snsFinalStatusPublisher(
  statusTopicClient(),
  config.statusTopicArn,
  logger,
);
/**
 * Cached for tokenCacheSeconds, so a rotated token is picked up without a redeploy; a 401 reads it
 * again at once (`forceFetch`), so a token fixed in the secret does not wait for the cache.
 */
async function readToken(forceFetch: boolean): Promise<string> {
  const value = await getSecret(config.tokenSecretId, { maxAge: config.tokenCacheSeconds, forceFetch });
  if (typeof value !== 'string' || value.trim() === '') throw new Error('The FPS token secret is empty');
  return value.trim();
}
const api = new FpsHttpApi({
  endpointUrl: config.endpointUrl,
  partnerName: config.partnerName,
  token: { get: () => readToken(false), refresh: () => readToken(true) },
});

const queue = new SqsEventQueue(new SQSClient({}), config.eventsQueueUrl);
const log: BatchLog = {
  ...loggerLog(logger),
  error: (message, error) => logger.error(message, error as Error),
  resetKeys: () => logger.resetKeys(),
};

export const handler = async (event: unknown, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await handleSqsBatch(event, {
      queue,
      log,
      upload: (object, attempt) =>
        handleObjectCreated(
          object,
          settings,
          { store, objects, api, clock: systemClock, tokens: callbackTokens, telemetry: powertoolsTelemetry(metrics, logger, notifyFinalStatus), log },
          { attempt, deadline: invocationDeadline(Date.now(), context.getRemainingTimeInMillis()) },
        ),
    });
  } finally {
    metrics.publishStoredMetrics();
  }
};
