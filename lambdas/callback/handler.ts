// Lambda entry point for Insider's callback (API Gateway HTTP API, payload 2.0): maps the request to the use case and back.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoDbUploadsStore } from '../adapters/dynamodb-uploads-store.js';
import { snsFinalStatusPublisher, statusTopicClient } from '../adapters/sns-status-publisher.js';
import { powertoolsTelemetry } from '../adapters/telemetry.js';
import { systemClock } from '../adapters/clock.js';
import { callbackTokens } from '../adapters/tokens.js';
import { recordCallback } from '../core/record-callback.js';
import type { UploadRecord } from '../core/ports.js';
import { CallbackEnv, METRICS_NAMESPACE, ServiceName } from '../shared/contract.js';
import { envFraction, envString, readEnv } from '../shared/env.js';
import { FractionLimits } from '../shared/limits.js';
import * as v from 'valibot';
import { httpAnswer, toHttpResponse } from './http.js';

const config = readEnv(process.env, {
  tableName: [CallbackEnv.tableName, envString],
  statusTopicArn: [CallbackEnv.statusTopicArn, envString],
  minMatchRate: [CallbackEnv.minMatchRate, v.optional(envFraction(FractionLimits.minMatchRate), String(FractionLimits.minMatchRate.default))],
});
const logger = new Logger({ serviceName: ServiceName.callback });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.callback });

/** Once the record is read, every later line of the invocation names its segment and object. */
class KeyedUploadsStore extends DynamoDbUploadsStore {
  override async get(uploadId: string): Promise<UploadRecord | undefined> {
    const record = await super.get(uploadId);
    if (record) logger.appendKeys({ segmentName: record.segmentName, insiderSegmentName: record.insiderSegmentName, objectKey: record.key });
    return record;
  }
}
const store = new KeyedUploadsStore(new DynamoDBClient({}), config.tableName, systemClock);
const notifyFinalStatus = snsFinalStatusPublisher(
  statusTopicClient(),
  config.statusTopicArn,
  logger,
);

export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  logger.resetKeys();
  const method = event.requestContext?.http?.method;
  if (method !== 'POST') return toHttpResponse({ kind: 'methodNotAllowed', message: 'Only POST is accepted.' });
  const uploadId = event.pathParameters?.uploadId;
  // The token is a credential: it is never logged.
  logger.appendKeys({ uploadId });
  const body = event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    const outcome = await recordCallback(
      { uploadId, token: event.pathParameters?.token, body },
      { store, tokens: callbackTokens, clock: systemClock, telemetry: powertoolsTelemetry(metrics, logger, notifyFinalStatus), minMatchRate: config.minMatchRate },
    );
    const { statusCode } = httpAnswer(outcome);
    const line = { outcome: outcome.kind, statusCode, answer: outcome.message };
    if (statusCode >= 400) logger.warn('callback refused', line);
    else logger.info('callback handled', line);
    return toHttpResponse(outcome);
  } finally {
    metrics.publishStoredMetrics();
  }
};
