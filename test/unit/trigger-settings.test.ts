// Unit tests of the shared limits and the trigger's configuration: synth and load accept the same values, and the settings the use case gets.
import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../infra/config.js';
import { DEFAULT_RETRY_POLICY } from '../../lambdas/core/fps-submission.js';
import { DEFAULT_ATTRIBUTE_FORMATS, PRESIGN_MAX_SECONDS, PRESIGN_ROLE_MAX_SECONDS, TRIGGER_MAX_RECEIVES, TriggerEnv } from '../../lambdas/shared/contract.js';
import { ConfigurationError } from '../../lambdas/shared/env.js';
import { Limits, presignLifetimeFits, presignMaxSeconds } from '../../lambdas/shared/limits.js';
import { invocationDeadline, readTriggerConfig, SAFETY_MARGIN_MS, triggerSettingsFrom, urlSigningFrom } from '../../lambdas/trigger/settings.js';

const env: Record<string, string> = {
  [TriggerEnv.tableName]: 'uploads',
  [TriggerEnv.partnerName]: 'mybrand',
  [TriggerEnv.tokenSecretId]: 'fps/token',
  [TriggerEnv.endpointUrl]: 'https://contact.useinsider.com/fps/v1/upload',
  [TriggerEnv.callbackBaseUrl]: 'https://abc.execute-api.eu-west-1.amazonaws.com',
  [TriggerEnv.maxFileBytes]: '1000',
  [TriggerEnv.presignExpiresSeconds]: '3600',
  [TriggerEnv.presignRoleArn]: 'arn:aws:iam::123456789012:role/signer',
  [TriggerEnv.statusTopicArn]: 'arn:aws:sns:eu-west-1:123456789012:status',
  [TriggerEnv.fpsTimeoutMs]: '10000',
  [TriggerEnv.tokenCacheSeconds]: '300',
  [TriggerEnv.maxReceives]: '3',
  [TriggerEnv.eventsQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/UploadEvents',
  [TriggerEnv.preparedBucketName]: 'prepared-bucket',
};

/** Whether synth (CDK context) and load (the trigger's environment) accept `value` for a setting both read. */
function accepted(contextKey: 'maxFileBytes' | 'presignExpiresSeconds' | 'fpsTimeoutMs' | 'tokenCacheSeconds', envName: string, value: number) {
  const atSynth = (() => {
    try {
      parsePipelineConfig({ partnerName: 'b', presignAccessKeySecretName: 'fps/b/key', [contextKey]: String(value) });
      return true;
    } catch {
      return false;
    }
  })();
  const atLoad = (() => {
    try {
      readTriggerConfig({ ...env, [envName]: String(value) });
      return true;
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      return false;
    }
  })();
  return { atSynth, atLoad };
}

describe('limits', () => {
  it.each([
    ['maxFileBytes', TriggerEnv.maxFileBytes, Limits.maxFileBytes],
    ['presignExpiresSeconds', TriggerEnv.presignExpiresSeconds, Limits.presignExpiresSeconds],
    ['fpsTimeoutMs', TriggerEnv.fpsTimeoutMs, Limits.fpsTimeoutMs],
    ['tokenCacheSeconds', TriggerEnv.tokenCacheSeconds, Limits.tokenCacheSeconds],
  ] as const)('%s: synth and load accept the same range', (key, envName, limit) => {
    for (const value of [limit.min, limit.default, limit.max]) expect(accepted(key, envName, value), `${value}`).toEqual({ atSynth: true, atLoad: true });
    for (const value of [limit.min - 1, limit.max + 1]) expect(accepted(key, envName, value), `${value}`).toEqual({ atSynth: false, atLoad: false });
  });

  it('caps the FPS request timeout at 30 s, at synth and at load alike', () => {
    expect(Limits.fpsTimeoutMs.max).toBe(30_000);
    expect(accepted('fpsTimeoutMs', TriggerEnv.fpsTimeoutMs, 60_000)).toEqual({ atSynth: false, atLoad: false });
  });

  it('gives the defaults synth writes when the context says nothing', () => {
    expect(parsePipelineConfig({ partnerName: 'b' })).toMatchObject({
      maxFileBytes: Limits.maxFileBytes.default,
      presignExpiresSeconds: Limits.presignExpiresSeconds.default,
      fpsTimeoutMs: Limits.fpsTimeoutMs.default,
      tokenCacheSeconds: Limits.tokenCacheSeconds.default,
      triggerMaxConcurrency: Limits.triggerMaxConcurrency.default,
      triggerReservedConcurrency: Limits.triggerReservedConcurrency.default,
      submittedTimeoutHours: Limits.submittedTimeoutHours.default,
      retentionDays: Limits.retentionDays.default,
    });
    expect(DEFAULT_RETRY_POLICY.requestTimeoutMs).toBe(Limits.fpsTimeoutMs.default);
  });

  it('reads the receive count the stack sets from the redrive policy, within what SQS allows', () => {
    expect(Limits.maxReceives.default).toBe(TRIGGER_MAX_RECEIVES);
    expect(readTriggerConfig(env).maxReceives).toBe(TRIGGER_MAX_RECEIVES);
    expect(() => readTriggerConfig({ ...env, [TriggerEnv.maxReceives]: '0' })).toThrow(TriggerEnv.maxReceives);
    expect(() => readTriggerConfig({ ...env, [TriggerEnv.maxReceives]: '1001' })).toThrow(TriggerEnv.maxReceives);
  });

  it('needs the events queue URL', () => {
    expect(readTriggerConfig(env).eventsQueueUrl).toBe(env[TriggerEnv.eventsQueueUrl]);
    expect(() => readTriggerConfig({ ...env, [TriggerEnv.eventsQueueUrl]: undefined })).toThrow(`${TriggerEnv.eventsQueueUrl}=(unset)`);
  });

  it('allows no reservation, or one that covers the maximum concurrency', () => {
    expect(parsePipelineConfig({ partnerName: 'b' })).toMatchObject({ triggerReservedConcurrency: 0 });
    expect(parsePipelineConfig({ partnerName: 'b', triggerMaxConcurrency: '20', triggerReservedConcurrency: '20' })).toMatchObject({
      triggerMaxConcurrency: 20,
      triggerReservedConcurrency: 20,
    });
    expect(() => parsePipelineConfig({ partnerName: 'b', triggerMaxConcurrency: '20', triggerReservedConcurrency: '10' })).toThrow(
      'context triggerReservedConcurrency must be 0 (no reservation) or at least triggerMaxConcurrency',
    );
  });

  it('lets a role-signed URL live an hour and any URL 7 days', () => {
    expect(presignMaxSeconds('assumedRole')).toBe(PRESIGN_ROLE_MAX_SECONDS);
    expect(presignMaxSeconds('accessKey')).toBe(PRESIGN_MAX_SECONDS);
    expect(presignLifetimeFits(3600, 'assumedRole')).toBe(true);
    expect(presignLifetimeFits(3601, 'assumedRole')).toBe(false);
    expect(presignLifetimeFits(604_800, 'accessKey')).toBe(true);
    expect(presignLifetimeFits(604_801, 'accessKey')).toBe(false);
  });
});

describe('trigger settings', () => {
  it('turns the environment into the use case\'s settings', () => {
    expect(triggerSettingsFrom(readTriggerConfig({ ...env, [TriggerEnv.fpsTimeoutMs]: '5000', [TriggerEnv.defaultAttributeName]: 'email' }))).toEqual({
      callbackBaseUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      defaultAttributeName: 'email',
      maxFileBytes: 1000,
      presignExpiresSeconds: 3600,
      maxReceives: 3,
      retryPolicy: { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: 5000 },
      preparedBucket: 'prepared-bucket',
      naming: { template: '{name}', timeZone: 'UTC' },
      preflight: { formats: DEFAULT_ATTRIBUTE_FORMATS, maxInvalidShare: 0.5, normalize: false },
    });
    expect(triggerSettingsFrom(readTriggerConfig(env)).defaultAttributeName).toBeUndefined();
  });

  it('reads the template, time zone, formats and normalization the stack sets', () => {
    const settings = triggerSettingsFrom(
      readTriggerConfig({
        ...env,
        [TriggerEnv.segmentNameTemplate]: '{name} {date}',
        [TriggerEnv.timeZone]: 'Europe/Istanbul',
        [TriggerEnv.attributeFormats]: '{"crm_email":"email"}',
        [TriggerEnv.maxInvalidShare]: '0.25',
        [TriggerEnv.normalizeValues]: 'true',
        [TriggerEnv.phoneDefaultRegion]: 'TR',
      }),
    );
    expect(settings).toMatchObject({
      naming: { template: '{name} {date}', timeZone: 'Europe/Istanbul' },
      preflight: { formats: { crm_email: 'email' }, maxInvalidShare: 0.25, normalize: { phoneDefaultRegion: 'TR' } },
    });
  });

  it.each([
    [TriggerEnv.segmentNameTemplate, '{date}', 'is not a valid segment name template'],
    [TriggerEnv.timeZone, 'Mars/Olympus', 'is not an IANA time zone'],
    [TriggerEnv.attributeFormats, '{"em":"phone"}', 'ATTRIBUTE_FORMATS'],
    [TriggerEnv.attributeFormats, 'email', 'is not JSON'],
    [TriggerEnv.maxInvalidShare, '2', 'MAX_INVALID_SHARE'],
    [TriggerEnv.normalizeValues, 'yes', 'NORMALIZE_VALUES'],
  ])('refuses %s=%s at load', (name, value, message) => {
    expect(() => readTriggerConfig({ ...env, [name]: value })).toThrow(ConfigurationError);
    expect(() => readTriggerConfig({ ...env, [name]: value })).toThrow(message);
  });

  it('keeps the safety margin back from the time left', () => {
    expect(invocationDeadline(1_000_000, 60_000)).toBe(1_060_000 - SAFETY_MARGIN_MS);
  });

  it('names the URL signer, and refuses a lifetime it cannot honour', () => {
    const config = readTriggerConfig(env);
    expect(urlSigningFrom(config)).toEqual({ signer: 'assumedRole', roleArn: 'arn:aws:iam::123456789012:role/signer' });
    expect(urlSigningFrom({ ...config, presignRoleArn: undefined, presignAccessKeySecretId: 'fps/key', presignExpiresSeconds: 86_400 })).toEqual({
      signer: 'accessKey',
      secretId: 'fps/key',
    });
    expect(() => urlSigningFrom({ ...config, presignExpiresSeconds: 3601 })).toThrow('a URL signed by an assumed role lives at most 3600 s');
    expect(() => urlSigningFrom({ ...config, presignAccessKeySecretId: 'fps/key' })).toThrow('not both');
    expect(() => urlSigningFrom({ ...config, presignRoleArn: undefined })).toThrow('file URLs need a signer');
  });
});
