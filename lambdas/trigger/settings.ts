// The trigger's configuration: its environment schema and the settings the use case gets, importable without the handler's clients.
import { DEFAULT_RETRY_POLICY } from '../core/fps-submission.js';
import type { TriggerSettings } from '../core/submit-upload.js';
import { TriggerEnv } from '../shared/contract.js';
import { ConfigurationError, envInt, envOptionalString, envString, envUrl, readEnv } from '../shared/env.js';
import { Limits, presignLifetimeFits, presignMaxSeconds, type UrlSigner } from '../shared/limits.js';

/** Time kept back from the function's timeout for the final DynamoDB writes. */
export const SAFETY_MARGIN_MS = 8_000;

const TRIGGER_ENV = {
  tableName: [TriggerEnv.tableName, envString],
  partnerName: [TriggerEnv.partnerName, envString],
  tokenSecretId: [TriggerEnv.tokenSecretId, envString],
  endpointUrl: [TriggerEnv.endpointUrl, envUrl],
  callbackBaseUrl: [TriggerEnv.callbackBaseUrl, envUrl],
  defaultAttributeName: [TriggerEnv.defaultAttributeName, envOptionalString],
  maxFileBytes: [TriggerEnv.maxFileBytes, envInt(Limits.maxFileBytes)],
  presignExpiresSeconds: [TriggerEnv.presignExpiresSeconds, envInt(Limits.presignExpiresSeconds)],
  presignRoleArn: [TriggerEnv.presignRoleArn, envOptionalString],
  presignAccessKeySecretId: [TriggerEnv.presignAccessKeySecretId, envOptionalString],
  statusTopicArn: [TriggerEnv.statusTopicArn, envString],
  fpsTimeoutMs: [TriggerEnv.fpsTimeoutMs, envInt(Limits.fpsTimeoutMs)],
  tokenCacheSeconds: [TriggerEnv.tokenCacheSeconds, envInt(Limits.tokenCacheSeconds)],
  maxReceives: [TriggerEnv.maxReceives, envInt(Limits.maxReceives)],
  eventsQueueUrl: [TriggerEnv.eventsQueueUrl, envString],
} as const;

export type TriggerConfig = ReturnType<typeof readTriggerConfig>;

/** Reads and checks the trigger's environment; throws `ConfigurationError` naming every bad variable. */
export function readTriggerConfig(env: NodeJS.ProcessEnv) {
  return readEnv(env, TRIGGER_ENV);
}

/** What the use case needs from the configuration. */
export function triggerSettingsFrom(config: TriggerConfig): TriggerSettings {
  return {
    callbackBaseUrl: config.callbackBaseUrl,
    defaultAttributeName: config.defaultAttributeName || undefined,
    maxFileBytes: config.maxFileBytes,
    presignExpiresSeconds: config.presignExpiresSeconds,
    maxReceives: config.maxReceives,
    retryPolicy: { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: config.fpsTimeoutMs },
  };
}

/** Who signs file URLs, and with what. */
export type UrlSigning = { signer: 'assumedRole'; roleArn: string } | { signer: 'accessKey'; secretId: string };

const SIGNER_NAME: Record<UrlSigner, string> = { assumedRole: 'an assumed role', accessKey: 'an access key' };

/** Exactly one of the two signing settings, and a URL lifetime that signer can honour, so the recorded expiry is the real one. */
export function urlSigningFrom(config: Pick<TriggerConfig, 'presignRoleArn' | 'presignAccessKeySecretId' | 'presignExpiresSeconds'>): UrlSigning {
  const { presignRoleArn, presignAccessKeySecretId, presignExpiresSeconds } = config;
  if (presignAccessKeySecretId && presignRoleArn) {
    throw new ConfigurationError(`Set ${TriggerEnv.presignRoleArn} or ${TriggerEnv.presignAccessKeySecretId}, not both`);
  }
  const signing: UrlSigning | undefined = presignAccessKeySecretId
    ? { signer: 'accessKey', secretId: presignAccessKeySecretId }
    : presignRoleArn
      ? { signer: 'assumedRole', roleArn: presignRoleArn }
      : undefined;
  if (!signing) {
    throw new ConfigurationError(`Set ${TriggerEnv.presignRoleArn} or ${TriggerEnv.presignAccessKeySecretId}: file URLs need a signer`);
  }
  if (!presignLifetimeFits(presignExpiresSeconds, signing.signer)) {
    throw new ConfigurationError(
      `${TriggerEnv.presignExpiresSeconds}=${presignExpiresSeconds}: a URL signed by ${SIGNER_NAME[signing.signer]} lives at most ${presignMaxSeconds(signing.signer)} s`,
    );
  }
  return signing;
}

/** Epoch ms by which an invocation with `remainingMs` left must have finished its work. */
export function invocationDeadline(nowMs: number, remainingMs: number): number {
  return nowMs + remainingMs - SAFETY_MARGIN_MS;
}
