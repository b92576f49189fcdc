// The trigger's configuration: its environment schema and the settings the use case gets, importable without the handler's clients.
import type { CountryCode } from 'libphonenumber-js/core';
import * as v from 'valibot';
import { DEFAULT_RETRY_POLICY } from '../core/fps-submission.js';
import { parseSegmentNameTemplate, timeZoneProblem } from '../core/segment-name-template.js';
import type { TriggerSettings } from '../core/trigger-types.js';
import { DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_SEGMENT_NAME_TEMPLATE, DEFAULT_TIME_ZONE, TriggerEnv, ValueFormat } from '../shared/contract.js';
import { ConfigurationError, envBoolean, envFraction, envInt, envOptionalString, envString, envUrl, readEnv } from '../shared/env.js';
import { FractionLimits, Limits, presignLifetimeFits, presignMaxSeconds, type UrlSigner } from '../shared/limits.js';

/** A segment name template, checked as the context was at synth. */
const envTemplate = v.optional(
  v.pipe(
    v.string(),
    v.check((text) => parseSegmentNameTemplate(text).ok, 'is not a valid segment name template'),
  ),
  DEFAULT_SEGMENT_NAME_TEMPLATE,
);
const envTimeZone = v.optional(v.pipe(v.string(), v.trim(), v.check((zone) => timeZoneProblem(zone) === undefined, 'is not an IANA time zone')), DEFAULT_TIME_ZONE);
/** JSON: attribute name → `email` or `e164`. */
const envFormats = v.optional(
  v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return JSON.parse(dataset.value) as unknown;
      } catch {
        addIssue({ message: 'is not JSON' });
        return NEVER;
      }
    }),
    v.record(v.string(), v.picklist(Object.values(ValueFormat))),
  ),
  JSON.stringify(DEFAULT_ATTRIBUTE_FORMATS),
);

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
  preparedBucketName: [TriggerEnv.preparedBucketName, envString],
  segmentNameTemplate: [TriggerEnv.segmentNameTemplate, envTemplate],
  timeZone: [TriggerEnv.timeZone, envTimeZone],
  attributeFormats: [TriggerEnv.attributeFormats, envFormats],
  maxInvalidShare: [TriggerEnv.maxInvalidShare, v.optional(envFraction(FractionLimits.maxInvalidShare), String(FractionLimits.maxInvalidShare.default))],
  normalizeValues: [TriggerEnv.normalizeValues, v.optional(envBoolean, 'false')],
  phoneDefaultRegion: [TriggerEnv.phoneDefaultRegion, envOptionalString],
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
    preparedBucket: config.preparedBucketName,
    naming: { template: config.segmentNameTemplate, timeZone: config.timeZone },
    preflight: {
      formats: config.attributeFormats,
      maxInvalidShare: config.maxInvalidShare,
      normalize: config.normalizeValues ? { phoneDefaultRegion: (config.phoneDefaultRegion || undefined) as CountryCode | undefined } : false,
    },
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
