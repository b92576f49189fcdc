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
import { callbackTokens, systemClock } from '../adapters/tokens.js';
import { DEFAULT_RETRY_POLICY } from '../core/fps-submission.js';
import { decodeS3EventKey } from '../core/naming.js';
import { handleObjectCreated, type TriggerOutcome } from '../core/submit-upload.js';
import { METRICS_NAMESPACE, PRESIGN_MAX_SECONDS, PRESIGN_ROLE_MAX_SECONDS, ServiceName, TriggerEnv } from '../shared/contract.js';
import { ConfigurationError, envInt, envOptionalString, envString, envUrl, readEnv } from '../shared/env.js';

const config = readEnv(process.env, {
  tableName: [TriggerEnv.tableName, envString],
  partnerName: [TriggerEnv.partnerName, envString],
  tokenSecretId: [TriggerEnv.tokenSecretId, envString],
  endpointUrl: [TriggerEnv.endpointUrl, envUrl],
  callbackBaseUrl: [TriggerEnv.callbackBaseUrl, envUrl],
  defaultAttributeName: [TriggerEnv.defaultAttributeName, envOptionalString],
  maxFileBytes: [TriggerEnv.maxFileBytes, envInt(1)],
  presignExpiresSeconds: [TriggerEnv.presignExpiresSeconds, envInt(1, PRESIGN_MAX_SECONDS)],
  presignRoleArn: [TriggerEnv.presignRoleArn, envOptionalString],
  presignAccessKeySecretId: [TriggerEnv.presignAccessKeySecretId, envOptionalString],
  statusTopicArn: [TriggerEnv.statusTopicArn, envString],
  fpsTimeoutMs: [TriggerEnv.fpsTimeoutMs, envInt(100, 60_000)],
  tokenCacheSeconds: [TriggerEnv.tokenCacheSeconds, envInt(0, 86_400)],
  maxInvocations: [TriggerEnv.maxInvocations, envInt(1, 3)],
});

/** Who signs file URLs: exactly one of the two settings, so the recorded expiry is the real one. */
function signingCredentials(): SigningCredentials {
  const { presignRoleArn, presignAccessKeySecretId, presignExpiresSeconds } = config;
  if (presignAccessKeySecretId && presignRoleArn) {
    throw new ConfigurationError(`Set ${TriggerEnv.presignRoleArn} or ${TriggerEnv.presignAccessKeySecretId}, not both`);
  }
  if (presignAccessKeySecretId) {
    return accessKeyCredentials(() => getSecret(presignAccessKeySecretId, { transform: 'json', maxAge: config.tokenCacheSeconds }));
  }
  if (!presignRoleArn) {
    throw new ConfigurationError(`Set ${TriggerEnv.presignRoleArn} or ${TriggerEnv.presignAccessKeySecretId}: file URLs need a signer`);
  }
  if (presignExpiresSeconds > PRESIGN_ROLE_MAX_SECONDS) {
    throw new ConfigurationError(
      `${TriggerEnv.presignExpiresSeconds}=${presignExpiresSeconds}: a URL signed by an assumed role lives at most ${PRESIGN_ROLE_MAX_SECONDS} s`,
    );
  }
  return assumedRoleCredentials(new STSClient({}), presignRoleArn);
}

const logger = new Logger({ serviceName: ServiceName.trigger });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.trigger });
const store = new DynamoDbUploadsStore(new DynamoDBClient({}), config.tableName);
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

/** Time kept back from the function's timeout for the final DynamoDB writes. */
const SAFETY_MARGIN_MS = 8_000;

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
            {
              callbackBaseUrl: config.callbackBaseUrl,
              defaultAttributeName: config.defaultAttributeName || undefined,
              maxFileBytes: config.maxFileBytes,
              presignExpiresSeconds: config.presignExpiresSeconds,
              maxInvocations: config.maxInvocations,
              retryPolicy: { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: config.fpsTimeoutMs },
            },
            {
              store,
              objects,
              api,
              clock: systemClock,
              tokens: callbackTokens,
              telemetry: powertoolsTelemetry(metrics, logger, notifyFinalStatus),
              log: loggerLog(logger),
            },
            Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
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
