// CDK context validation: defaults, coercion of `-c` strings, and errors that say what to fix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.js';
import { ConfigError, parsePipelineConfig, readConfig } from '../../infra/config.js';
import { DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_FPS_ENDPOINT, DEFAULT_MAX_FILE_BYTES } from '../../lambdas/shared/contract.js';
import { Limits } from '../../lambdas/shared/limits.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fps/token-AbCdEf';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b6f1a4e-1111-2222-3333-444455556666';

function problemsOf(raw: Record<string, unknown>): readonly string[] {
  try {
    parsePipelineConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parsePipelineConfig', () => {
  it('fills in every default from a partner name alone', () => {
    expect(parsePipelineConfig({ partnerName: 'mybrand' })).toEqual({
      partnerName: 'mybrand',
      tokenSecret: { kind: 'create' },
      fpsEndpointUrl: DEFAULT_FPS_ENDPOINT,
      defaultAttributeName: undefined,
      maxFileBytes: DEFAULT_MAX_FILE_BYTES,
      presignExpiresSeconds: 3600,
      presignAccessKeySecretName: undefined,
      fixedEgressIp: false,
      triggerMaxConcurrency: Limits.triggerMaxConcurrency.default,
      triggerReservedConcurrency: 0,
      submittedTimeoutHours: 6,
      fpsTimeoutMs: 10_000,
      tokenCacheSeconds: 300,
      retentionDays: 30,
      notificationEmail: undefined,
      segmentNameTemplate: '{name}',
      timeZone: 'UTC',
      attributeFormats: DEFAULT_ATTRIBUTE_FORMATS,
      maxInvalidShare: 0.5,
      normalizeValues: false,
      phoneDefaultRegion: undefined,
      minMatchRate: 0.5,
    });
  });

  it('reads the naming and pre-flight settings, merging attributeFormats over the defaults', () => {
    const config = parsePipelineConfig({
      partnerName: 'mybrand',
      segmentNameTemplate: ' {name} {date} ',
      timeZone: 'Europe/Istanbul',
      // From -c: JSON text. "phone number" replaces the default "Phone Number" (names match case-insensitively).
      attributeFormats: '{"crm_email":"email","phone number":"none","em":"e164"}',
      maxInvalidShare: '0.2',
      normalizeValues: 'true',
      phoneDefaultRegion: 'tr',
      minMatchRate: 0.75,
    });
    expect(config).toMatchObject({ segmentNameTemplate: '{name} {date}', timeZone: 'Europe/Istanbul', maxInvalidShare: 0.2, normalizeValues: true, phoneDefaultRegion: 'TR', minMatchRate: 0.75 });
    expect(config.attributeFormats).toEqual({ 'Email Address': 'email', email: 'email', em: 'e164', phone_number: 'e164', pn: 'e164', crm_email: 'email' });
    // From cdk.json: an object.
    expect(parsePipelineConfig({ partnerName: 'b', attributeFormats: { loyalty_id: 'none' } }).attributeFormats).toEqual(DEFAULT_ATTRIBUTE_FORMATS);
  });

  it('coerces numbers given as strings by -c, and accepts real numbers from cdk.json', () => {
    const config = parsePipelineConfig({
      partnerName: 'mybrand',
      maxFileBytes: '10485760',
      presignExpiresSeconds: ' 3600 ',
      triggerReservedConcurrency: '0',
      retentionDays: 7,
    });
    expect(config).toMatchObject({
      maxFileBytes: 10_485_760,
      presignExpiresSeconds: 3600,
      triggerReservedConcurrency: 0,
      retentionDays: 7,
    });
  });

  it('allows file URLs up to 7 days only with an access key to sign them', () => {
    expect(
      parsePipelineConfig({ partnerName: 'b', presignExpiresSeconds: '604800', presignAccessKeySecretName: 'fps/b/presign-key' }),
    ).toMatchObject({ presignExpiresSeconds: 604_800, presignAccessKeySecretName: 'fps/b/presign-key' });
    expect(parsePipelineConfig({ partnerName: 'b', presignExpiresSeconds: '3600' }).presignExpiresSeconds).toBe(3600);
    expect(problemsOf({ partnerName: 'b', presignExpiresSeconds: '43200' })).toEqual([
      'context presignExpiresSeconds above 3600 needs an IAM user\'s access key to sign with (a URL signed by an assumed role dies within an hour): set -c presignAccessKeySecretName=fps/mybrand/presign-key (see README "File URL lifetime"), or use -c presignExpiresSeconds=3600',
    ]);
  });

  it('reads fixedEgressIp from -c strings and cdk.json booleans', () => {
    expect(parsePipelineConfig({ partnerName: 'b', fixedEgressIp: 'true' }).fixedEgressIp).toBe(true);
    expect(parsePipelineConfig({ partnerName: 'b', fixedEgressIp: false }).fixedEgressIp).toBe(false);
  });

  it('reads an imported secret by name or by ARN, and treats an empty value as unset', () => {
    expect(parsePipelineConfig({ partnerName: 'b', tokenSecretName: 'fps/token' }).tokenSecret).toEqual({
      kind: 'name',
      name: 'fps/token',
    });
    expect(parsePipelineConfig({ partnerName: 'b', tokenSecretArn: SECRET_ARN, tokenSecretName: '' }).tokenSecret).toEqual(
      { kind: 'arn', arn: SECRET_ARN },
    );
  });

  it('allows plain http only for a local endpoint', () => {
    for (const url of ['http://127.0.0.1:4010/fps/v1/upload', 'http://localhost:4010/x', 'https://fps.example.com/u']) {
      expect(parsePipelineConfig({ partnerName: 'b', fpsEndpointUrl: url }).fpsEndpointUrl).toBe(url);
    }
    expect(problemsOf({ partnerName: 'b', fpsEndpointUrl: 'http://fps.example.com/u' })).toEqual([
      `context fpsEndpointUrl must be an https URL (http only for 127.0.0.1 or localhost): use -c fpsEndpointUrl=${DEFAULT_FPS_ENDPOINT}`,
    ]);
    expect(problemsOf({ partnerName: 'b', fpsEndpointUrl: 'not a url' })).toHaveLength(1);
  });

  it('rejects an upper-case partner name, saying Insider requires lowercase', () => {
    expect(() => parsePipelineConfig({ partnerName: 'MyBrand' })).toThrow(
      'context partnerName must be lowercase (Insider requires it): use -c partnerName=mybrand',
    );
  });

  it.each([undefined, '', '   '])('requires a partner name (given %j)', (partnerName) => {
    expect(() => parsePipelineConfig({ partnerName })).toThrow(
      'context partnerName is required (your Insider partner name): use -c partnerName=mybrand',
    );
  });

  it('rejects a secret name and ARN together', () => {
    expect(() => parsePipelineConfig({ partnerName: 'b', tokenSecretName: 'fps/token', tokenSecretArn: SECRET_ARN })).toThrow(
      'context tokenSecretName and tokenSecretArn are mutually exclusive: set one of them, or neither to have the stack create the secret',
    );
  });

  it('reads the KMS key of an imported secret, by name or by ARN (a multi-Region key too)', () => {
    expect(parsePipelineConfig({ partnerName: 'b', tokenSecretName: 'fps/token', tokenSecretKmsKeyArn: ` ${KEY_ARN} ` }).tokenSecret).toEqual({
      kind: 'name',
      name: 'fps/token',
      kmsKeyArn: KEY_ARN,
    });
    const mrk = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef';
    expect(parsePipelineConfig({ partnerName: 'b', tokenSecretArn: SECRET_ARN, tokenSecretKmsKeyArn: mrk }).tokenSecret).toEqual({
      kind: 'arn',
      arn: SECRET_ARN,
      kmsKeyArn: mrk,
    });
  });

  it('refuses a KMS key without an imported secret, saying to import one or leave the key out', () => {
    expect(problemsOf({ partnerName: 'b', tokenSecretKmsKeyArn: KEY_ARN })).toEqual([
      'context tokenSecretKmsKeyArn applies only to a token secret you import: set -c tokenSecretName=fps/mybrand/token or -c tokenSecretArn=arn:… with it, or leave it out (the secret the stack creates uses the AWS managed key, which needs no grant)',
    ]);
  });

  it.each([
    ['an alias ARN', 'arn:aws:kms:eu-west-1:123456789012:alias/fps-token'],
    ['a bare key id', '0b6f1a4e-1111-2222-3333-444455556666'],
    ['a secret ARN', SECRET_ARN],
  ])('refuses %s as tokenSecretKmsKeyArn, saying what a key ARN looks like', (_, value) => {
    expect(problemsOf({ partnerName: 'b', tokenSecretName: 'fps/token', tokenSecretKmsKeyArn: value })).toEqual([
      'context tokenSecretKmsKeyArn must be a KMS key ARN, not an alias or a bare key id: use -c tokenSecretKmsKeyArn=arn:aws:kms:<region>:<account>:key/<key id> (the KmsKeyId that aws secretsmanager describe-secret shows)',
    ]);
  });

  it("refuses a key in another Region than the secret's ARN", () => {
    expect(problemsOf({ partnerName: 'b', tokenSecretArn: SECRET_ARN, tokenSecretKmsKeyArn: KEY_ARN.replace('eu-west-1', 'us-east-1') })[0]).toMatch(
      /^context tokenSecretKmsKeyArn must be in the Region of tokenSecretArn \(Secrets Manager encrypts a secret only with a key in its own Region\): use -c tokenSecretKmsKeyArn=/,
    );
  });

  it('rejects a malformed secret ARN', () => {
    expect(problemsOf({ partnerName: 'b', tokenSecretArn: 'fps/token' })[0]).toMatch(
      /^context tokenSecretArn must be a Secrets Manager secret ARN: use -c tokenSecretArn=arn:aws:secretsmanager:/,
    );
  });

  it.each([
    ['maxFileBytes', 'ten', 'context maxFileBytes must be a positive whole number of bytes: use -c maxFileBytes=52428800'],
    ['maxFileBytes', '0', 'context maxFileBytes must be a positive whole number of bytes'],
    ['presignExpiresSeconds', '30', 'context presignExpiresSeconds must be a whole number of seconds from 60 to 604800'],
    ['presignExpiresSeconds', '604801', 'from 60 to 604800 (7 days)'],
    ['presignExpiresSeconds', '3601', 'context presignExpiresSeconds above 3600 needs an IAM user\'s access key to sign with'],
    ['fixedEgressIp', 'yes', 'context fixedEgressIp must be true or false: use -c fixedEgressIp=true'],
    ['triggerReservedConcurrency', '-1', 'context triggerReservedConcurrency must be a whole number, at least 1, or 0'],
    ['triggerReservedConcurrency', '2.5', 'use -c triggerReservedConcurrency=0'],
    ['triggerReservedConcurrency', '5', 'context triggerReservedConcurrency must be 0 (no reservation) or at least triggerMaxConcurrency'],
    ['triggerMaxConcurrency', '1', 'context triggerMaxConcurrency must be a whole number from 2 to 1000'],
    ['triggerMaxConcurrency', '1001', "(the SQS event source mapping's maximum concurrency)"],
    ['fpsTimeoutMs', '60000', 'the trigger retries within a 60 s timeout'],
    ['retentionDays', true, 'context retentionDays must be a whole number of days, at least 1: use -c retentionDays=30'],
    ['notificationEmail', 'ops', 'context notificationEmail must be an email address'],
    ['segmentNameTemplate', '{date}', 'context segmentNameTemplate "{date}" is not a valid template: The template has no {name}'],
    ['segmentNameTemplate', '{name} {day}', 'Unknown placeholder {day}: did you mean {date}?'],
    ['timeZone', 'Istanbul', 'context timeZone "Istanbul" is not an IANA time zone name: use a name such as "Europe/Istanbul" or "UTC".'],
    ['attributeFormats', '{"em":"phone"}', 'context attributeFormats must be a JSON object mapping attribute names to "email", "e164", "none"'],
    ['attributeFormats', 'em=email', "use -c 'attributeFormats={\"crm_email\":\"email\",\"Phone Number\":\"none\"}'"],
    ['maxInvalidShare', '1.5', 'context maxInvalidShare must be a number from 0 to 1'],
    ['minMatchRate', '-0.1', 'context minMatchRate must be a number from 0 to 1 (the match rate below which a completed upload carries a warning): use -c minMatchRate=0.5'],
    ['normalizeValues', 'on', 'context normalizeValues must be true or false'],
    ['phoneDefaultRegion', 'TR', 'context phoneDefaultRegion applies only when values are normalized: add -c normalizeValues=true'],
  ])('rejects %s=%j with a message that says what to use', (key, value, message) => {
    expect(() => parsePipelineConfig({ partnerName: 'b', [key]: value })).toThrow(message);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ partnerName: 'MyBrand', maxFileBytes: 'x', retentionDays: '0' });
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.split(' ')[1])).toEqual(['partnerName', 'maxFileBytes', 'retentionDays']);
  });
});

describe('readConfig', () => {
  it('reads through a lookup function', () => {
    const context: Record<string, string> = { partnerName: 'mybrand', fpsTimeoutMs: '5000' };
    expect(readConfig((key) => context[key])).toMatchObject({ partnerName: 'mybrand', fpsTimeoutMs: 5000 });
  });

  it('makes buildApp fail before any synthesis when context is wrong', () => {
    // An App without an outdir makes its own temporary one; give it one we remove.
    const outdir = mkdtempSync(join(tmpdir(), 'fps-infra-config-'));
    try {
      expect(() => buildApp({ context: { partnerName: 'MyBrand' }, outdir })).toThrow(ConfigError);
      expect(() => buildApp({ context: {}, outdir })).toThrow('use -c partnerName=mybrand');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
