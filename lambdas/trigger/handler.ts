// Lambda entry point for S3 ObjectCreated events: validates the event, runs the use case per object.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { Context } from 'aws-lambda';
import * as v from 'valibot';
import { DynamoDbUploadsStore } from '../adapters/dynamodb-uploads-store.js';
import { FpsHttpApi } from '../adapters/fps-http-api.js';
import { accessKeyCredentials, assumedRoleCredentials, type SigningCredentials } from '../adapters/presign-credentials.js';
import { S3ObjectStore } from '../adapters/s3-object-store.js';
import { snsFinalStatusPublisher } from '../adapters/sns-status-publisher.js';
import { loggerLog, powertoolsTelemetry } from '../adapters/telemetry.js';
import { systemClock } from '../adapters/clock.js';
import { callbackTokens } from '../adapters/tokens.js';
import { decodeS3EventKey } from '../core/naming.js';
import { handleObjectCreated, type TriggerOutcome } from '../core/submit-upload.js';
import { METRICS_NAMESPACE, ServiceName } from '../shared/contract.js';
import { invocationDeadline, readTriggerConfig, triggerSettingsFrom, urlSigningFrom } from './settings.js';

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
// Short timeouts: a notification is not worth holding up the upload's own work.
const notifyFinalStatus = snsFinalStatusPublisher(
  new SNSClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } }),
  config.statusTopicArn,
  logger,
);
const api = new FpsHttpApi({
  endpointUrl: config.endpointUrl,
  partnerName: config.partnerName,
  token: async () => {
    // Cached for tokenCacheSeconds, so a rotated token is picked up without a redeploy.
    const value = await getSecret(config.tokenSecretId, { maxAge: config.tokenCacheSeconds });
    if (typeof value !== 'string' || value.trim() === '') throw new Error('The FPS token secret is empty');
    return value.trim();
  },
});

const S3EventSchema = v.object({
  Records: v.array(
    v.object({
      eventName: v.optional(v.string()),
      s3: v.object({
        bucket: v.object({ name: v.string() }),
        object: v.object({
          key: v.string(),
          size: v.optional(v.number()),
          versionId: v.optional(v.string()),
          sequencer: v.optional(v.string()),
          eTag: v.optional(v.string()),
        }),
      }),
    }),
  ),
});

export const handler = async (event: unknown, context: Context): Promise<{ outcomes: TriggerOutcome[] }> => {
  logger.addContext(context);
  const parsed = v.safeParse(S3EventSchema, event);
  if (!parsed.success) {
    // Not an S3 object event (e.g. s3:TestEvent): nothing to record, nothing to retry.
    logger.warn('ignored an event that is not an S3 object notification', { issue: parsed.issues[0]?.message });
    return { outcomes: [] };
  }
  const outcomes: TriggerOutcome[] = [];
  const errors: Error[] = [];
  try {
    for (const record of parsed.output.Records) {
      const object = record.s3.object;
      logger.resetKeys();
      try {
        outcomes.push(
          await handleObjectCreated(
            {
              bucket: record.s3.bucket.name,
              key: decodeS3EventKey(object.key),
              size: object.size ?? 0,
              versionId: object.versionId || undefined,
              sequencer: object.sequencer,
              eTag: object.eTag,
            },
            settings,
            {
              store,
              objects,
              api,
              clock: systemClock,
              tokens: callbackTokens,
              telemetry: powertoolsTelemetry(metrics, logger, notifyFinalStatus),
              log: loggerLog(logger),
            },
            invocationDeadline(Date.now(), context.getRemainingTimeInMillis()),
          ),
        );
      } catch (error) {
        logger.error('upload not finished', error as Error);
        errors.push(error as Error);
      }
    }
  } finally {
    metrics.publishStoredMetrics();
  }
  // Throwing hands the event back to Lambda's retries; handled objects are no-ops the next time.
  if (errors.length) throw errors[0];
  return { outcomes };
};
