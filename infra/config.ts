// Reads the pipeline's settings from CDK context and rejects bad ones at synth, saying how to fix them.
import type { Node } from 'constructs';
import { isSupportedCountry } from 'libphonenumber-js';
import * as v from 'valibot';
import { parseSegmentNameTemplate, timeZoneProblem } from '../lambdas/core/segment-name-template.js';
import { DEFAULT_FPS_ENDPOINT, DEFAULT_SEGMENT_NAME_TEMPLATE, DEFAULT_TIME_ZONE, type ValueFormat } from '../lambdas/shared/contract.js';
import { FractionLimits, Limits, presignLifetimeFits, presignMaxSeconds } from '../lambdas/shared/limits.js';
import {
  attributeFormatsHint,
  fractionSetting,
  integerSetting,
  isAllowedEndpoint,
  KMS_KEY_ARN,
  kmsKeyHint,
  mergedFormats,
  optionalFlag,
  optionalText,
  partnerNameHint,
  regionOfArn,
  SECRET_ARN,
} from './config-settings.js';

/**
 * Where the FPS API token lives. The token itself never passes through CDK. An imported secret may be
 * encrypted with a customer managed KMS key (`kmsKeyArn`), which the trigger then needs to decrypt with.
 */
export type TokenSecretSource =
  | { readonly kind: 'create' }
  | { readonly kind: 'name'; readonly name: string; readonly kmsKeyArn?: string }
  | { readonly kind: 'arn'; readonly arn: string; readonly kmsKeyArn?: string };

/** Validated settings for `PipelineStack`. */
export interface PipelineConfig {
  readonly partnerName: string;
  readonly tokenSecret: TokenSecretSource;
  readonly fpsEndpointUrl: string;
  readonly defaultAttributeName: string | undefined;
  readonly maxFileBytes: number;
  readonly presignExpiresSeconds: number;
  /**
   * A secret holding an IAM user's access key, to sign file URLs that live longer than an hour.
   * Unset: the trigger signs with a role it assumes, and URLs live at most an hour.
   */
  readonly presignAccessKeySecretName: string | undefined;
  /** Run the trigger in a VPC whose NAT gateway has one Elastic IP, for Insider's IP allow list. */
  readonly fixedEgressIp: boolean;
  /** Trigger invocations the SQS event source mapping runs at once. */
  readonly triggerMaxConcurrency: number;
  /** 0 means no reservation; otherwise at least `triggerMaxConcurrency`. */
  readonly triggerReservedConcurrency: number;
  readonly submittedTimeoutHours: number;
  readonly fpsTimeoutMs: number;
  readonly tokenCacheSeconds: number;
  readonly retentionDays: number;
  readonly notificationEmail: string | undefined;
  /** How segment names are made; metadata `segment-name-template` overrides it per file. */
  readonly segmentNameTemplate: string;
  /** IANA time zone of `{date}`, `{time}` and `{datetime}`. */
  readonly timeZone: string;
  /** Attribute name → value format checked by the pre-flight (the defaults with context `attributeFormats` merged in). */
  readonly attributeFormats: Readonly<Record<string, ValueFormat>>;
  /** Reject a file when more than this share of its values fail the format. */
  readonly maxInvalidShare: number;
  /** Lower-case emails and rewrite phones to E.164 in the clean copy. */
  readonly normalizeValues: boolean;
  /** Region of phone numbers written without a country code, with `normalizeValues`. */
  readonly phoneDefaultRegion: string | undefined;
  /** A completed upload below this match rate carries a warning, a metric and an alarm. */
  readonly minMatchRate: number;
}

/** A context value is missing or malformed; the message lists every problem and its fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid CDK context:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The context keys this app reads. */
export const CONTEXT_KEYS = [
  'partnerName',
  'tokenSecretName',
  'tokenSecretArn',
  'tokenSecretKmsKeyArn',
  'fpsEndpointUrl',
  'defaultAttributeName',
  'maxFileBytes',
  'presignExpiresSeconds',
  'presignAccessKeySecretName',
  'fixedEgressIp',
  'triggerMaxConcurrency',
  'triggerReservedConcurrency',
  'submittedTimeoutHours',
  'fpsTimeoutMs',
  'tokenCacheSeconds',
  'retentionDays',
  'notificationEmail',
  'segmentNameTemplate',
  'timeZone',
  'attributeFormats',
  'maxInvalidShare',
  'normalizeValues',
  'phoneDefaultRegion',
  'minMatchRate',
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

const ContextSchema = v.pipe(
  v.object({
    partnerName: v.pipe(
      v.string(`context partnerName is required (your Insider partner name): ${partnerNameHint}`),
      v.trim(),
      v.nonEmpty(`context partnerName is required (your Insider partner name): ${partnerNameHint}`),
      v.check(
        (s) => s === s.toLowerCase(),
        `context partnerName must be lowercase (Insider requires it): ${partnerNameHint}`,
      ),
      v.regex(/^\S+$/, `context partnerName must not contain spaces: ${partnerNameHint}`),
    ),
    tokenSecretName: optionalText('tokenSecretName', 'fps/mybrand/token'),
    tokenSecretArn: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.regex(
          SECRET_ARN,
          'context tokenSecretArn must be a Secrets Manager secret ARN: use -c tokenSecretArn=arn:aws:secretsmanager:<region>:<account>:secret:<name>',
        ),
      ),
    ),
    tokenSecretKmsKeyArn: v.optional(
      v.pipe(
        v.string(`context tokenSecretKmsKeyArn must be a string: ${kmsKeyHint}`),
        v.trim(),
        v.regex(KMS_KEY_ARN, `context tokenSecretKmsKeyArn must be a KMS key ARN, not an alias or a bare key id: ${kmsKeyHint}`),
      ),
    ),
    fpsEndpointUrl: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.check(
          isAllowedEndpoint,
          `context fpsEndpointUrl must be an https URL (http only for 127.0.0.1 or localhost): use -c fpsEndpointUrl=${DEFAULT_FPS_ENDPOINT}`,
        ),
      ),
      DEFAULT_FPS_ENDPOINT,
    ),
    defaultAttributeName: optionalText('defaultAttributeName', 'email'),
    maxFileBytes: integerSetting('maxFileBytes', Limits.maxFileBytes, 'a positive whole number of bytes'),
    presignExpiresSeconds: integerSetting(
      'presignExpiresSeconds',
      Limits.presignExpiresSeconds,
      // The signer's own cap (an assumed role's URL dies within the hour) is checked below.
      `a whole number of seconds from ${Limits.presignExpiresSeconds.min} to ${Limits.presignExpiresSeconds.max} (7 days)`,
    ),
    presignAccessKeySecretName: optionalText('presignAccessKeySecretName', 'fps/mybrand/presign-key'),
    fixedEgressIp: optionalFlag('fixedEgressIp'),
    triggerMaxConcurrency: integerSetting(
      'triggerMaxConcurrency',
      Limits.triggerMaxConcurrency,
      `a whole number from ${Limits.triggerMaxConcurrency.min} to ${Limits.triggerMaxConcurrency.max} (the SQS event source mapping's maximum concurrency)`,
    ),
    triggerReservedConcurrency: integerSetting(
      'triggerReservedConcurrency',
      Limits.triggerReservedConcurrency,
      'a whole number, at least 1, or 0 to reserve none',
    ),
    submittedTimeoutHours: integerSetting(
      'submittedTimeoutHours',
      Limits.submittedTimeoutHours,
      `a whole number of hours, at least ${Limits.submittedTimeoutHours.min}`,
    ),
    fpsTimeoutMs: integerSetting(
      'fpsTimeoutMs',
      Limits.fpsTimeoutMs,
      `a whole number of milliseconds from ${Limits.fpsTimeoutMs.min} to ${Limits.fpsTimeoutMs.max} (the trigger retries within a 60 s timeout)`,
    ),
    tokenCacheSeconds: integerSetting(
      'tokenCacheSeconds',
      Limits.tokenCacheSeconds,
      `a whole number of seconds from ${Limits.tokenCacheSeconds.min} (no cache) to ${Limits.tokenCacheSeconds.max}`,
    ),
    retentionDays: integerSetting('retentionDays', Limits.retentionDays, `a whole number of days, at least ${Limits.retentionDays.min}`),
    notificationEmail: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.email('context notificationEmail must be an email address: use -c notificationEmail=ops@example.com'),
      ),
    ),
    segmentNameTemplate: v.optional(
      v.pipe(
        v.string(`context segmentNameTemplate must be a string: use -c 'segmentNameTemplate={name} {date}'`),
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const parsed = parseSegmentNameTemplate(dataset.value);
          if (!parsed.ok) {
            addIssue({ message: `context segmentNameTemplate "${dataset.value}" is not a valid template: ${parsed.errors.join(' ')} For example: -c 'segmentNameTemplate={name} {date}'` });
          }
        }),
        // As the trigger reads it: NFC, trimmed.
        v.transform((text) => (parseSegmentNameTemplate(text) as { ok: true; template: { source: string } }).template.source),
      ),
      DEFAULT_SEGMENT_NAME_TEMPLATE,
    ),
    timeZone: v.optional(
      v.pipe(
        v.string('context timeZone must be a string: use -c timeZone=Europe/Istanbul'),
        v.trim(),
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const problem = timeZoneProblem(dataset.value);
          if (problem) addIssue({ message: `context ${problem}` });
        }),
      ),
      DEFAULT_TIME_ZONE,
    ),
    attributeFormats: v.pipe(
      v.unknown(),
      v.transform(mergedFormats),
      v.check((formats) => formats !== undefined, attributeFormatsHint),
      v.transform((formats) => formats as Record<string, ValueFormat>),
    ),
    maxInvalidShare: fractionSetting('maxInvalidShare', FractionLimits.maxInvalidShare, 'the share of values that may fail the attribute\'s format before a file is rejected'),
    normalizeValues: optionalFlag('normalizeValues'),
    phoneDefaultRegion: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.toUpperCase(),
        v.check((code) => isSupportedCountry(code), 'context phoneDefaultRegion must be a two-letter ISO 3166 region code libphonenumber knows: use -c phoneDefaultRegion=TR'),
      ),
    ),
    minMatchRate: fractionSetting('minMatchRate', FractionLimits.minMatchRate, 'the match rate below which a completed upload carries a warning'),
  }),
  v.forward(
    v.partialCheck(
      [['tokenSecretName'], ['tokenSecretArn']],
      (input) => input.tokenSecretName === undefined || input.tokenSecretArn === undefined,
      'context tokenSecretName and tokenSecretArn are mutually exclusive: set one of them, or neither to have the stack create the secret',
    ),
    ['tokenSecretArn'],
  ),
  v.forward(
    v.partialCheck(
      [['tokenSecretKmsKeyArn'], ['tokenSecretName'], ['tokenSecretArn']],
      (input) => input.tokenSecretKmsKeyArn === undefined || input.tokenSecretName !== undefined || input.tokenSecretArn !== undefined,
      'context tokenSecretKmsKeyArn applies only to a token secret you import: set -c tokenSecretName=fps/mybrand/token or -c tokenSecretArn=arn:… with it, or leave it out (the secret the stack creates uses the AWS managed key, which needs no grant)',
    ),
    ['tokenSecretKmsKeyArn'],
  ),
  v.forward(
    v.partialCheck(
      [['tokenSecretKmsKeyArn'], ['tokenSecretArn']],
      (input) =>
        input.tokenSecretKmsKeyArn === undefined ||
        input.tokenSecretArn === undefined ||
        regionOfArn(input.tokenSecretKmsKeyArn) === regionOfArn(input.tokenSecretArn),
      `context tokenSecretKmsKeyArn must be in the Region of tokenSecretArn (Secrets Manager encrypts a secret only with a key in its own Region): ${kmsKeyHint}`,
    ),
    ['tokenSecretKmsKeyArn'],
  ),
  v.forward(
    v.partialCheck(
      [['triggerMaxConcurrency'], ['triggerReservedConcurrency']],
      (input) => input.triggerReservedConcurrency === 0 || input.triggerReservedConcurrency >= input.triggerMaxConcurrency,
      // A reservation below the mapping's maximum makes Lambda throttle the mapping's invokes: the
      // messages come back after the visibility timeout, use up receives and can reach the failure queue.
      'context triggerReservedConcurrency must be 0 (no reservation) or at least triggerMaxConcurrency, or Lambda throttles the queue\'s invocations: use -c triggerReservedConcurrency=0, or raise it to triggerMaxConcurrency',
    ),
    ['triggerReservedConcurrency'],
  ),
  v.forward(
    v.partialCheck(
      [['phoneDefaultRegion'], ['normalizeValues']],
      (input) => input.phoneDefaultRegion === undefined || input.normalizeValues,
      'context phoneDefaultRegion applies only when values are normalized: add -c normalizeValues=true, or leave phoneDefaultRegion out',
    ),
    ['phoneDefaultRegion'],
  ),
  v.forward(
    v.partialCheck(
      [['presignExpiresSeconds'], ['presignAccessKeySecretName']],
      (input) => presignLifetimeFits(input.presignExpiresSeconds, input.presignAccessKeySecretName === undefined ? 'assumedRole' : 'accessKey'),
      `context presignExpiresSeconds above ${presignMaxSeconds('assumedRole')} needs an IAM user's access key to sign with (a URL signed by an assumed role dies within an hour): set -c presignAccessKeySecretName=fps/mybrand/presign-key (see README "File URL lifetime"), or use -c presignExpiresSeconds=${presignMaxSeconds('assumedRole')}`,
    ),
    ['presignExpiresSeconds'],
  ),
);

/** Validates raw context values (strings from `-c`, or JSON values from cdk.json). Throws `ConfigError`. */
export function parsePipelineConfig(raw: Readonly<Record<string, unknown>>): PipelineConfig {
  const input: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value = raw[key];
    // `-c tokenSecretName=` means "not set", the same as leaving it out.
    input[key] = value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value;
  }
  const result = v.safeParse(ContextSchema, input);
  if (!result.success) {
    throw new ConfigError([...new Set(result.issues.map((issue) => issue.message))]);
  }
  const c = result.output;
  const key = c.tokenSecretKmsKeyArn !== undefined ? { kmsKeyArn: c.tokenSecretKmsKeyArn } : {};
  const tokenSecret: TokenSecretSource =
    c.tokenSecretArn !== undefined
      ? { kind: 'arn', arn: c.tokenSecretArn, ...key }
      : c.tokenSecretName !== undefined
        ? { kind: 'name', name: c.tokenSecretName, ...key }
        : { kind: 'create' };
  return {
    partnerName: c.partnerName,
    tokenSecret,
    fpsEndpointUrl: c.fpsEndpointUrl,
    defaultAttributeName: c.defaultAttributeName,
    maxFileBytes: c.maxFileBytes,
    presignExpiresSeconds: c.presignExpiresSeconds,
    presignAccessKeySecretName: c.presignAccessKeySecretName,
    fixedEgressIp: c.fixedEgressIp,
    triggerMaxConcurrency: c.triggerMaxConcurrency,
    triggerReservedConcurrency: c.triggerReservedConcurrency,
    submittedTimeoutHours: c.submittedTimeoutHours,
    fpsTimeoutMs: c.fpsTimeoutMs,
    tokenCacheSeconds: c.tokenCacheSeconds,
    retentionDays: c.retentionDays,
    notificationEmail: c.notificationEmail,
    segmentNameTemplate: c.segmentNameTemplate,
    timeZone: c.timeZone,
    attributeFormats: c.attributeFormats,
    maxInvalidShare: c.maxInvalidShare,
    normalizeValues: c.normalizeValues,
    phoneDefaultRegion: c.phoneDefaultRegion,
    minMatchRate: c.minMatchRate,
  };
}

/** Reads and validates the context from a construct node (usually `app.node`) or a lookup function. */
export function readConfig(source: Node | ((key: ContextKey) => unknown)): PipelineConfig {
  const lookup = typeof source === 'function' ? source : (key: ContextKey) => source.tryGetContext(key);
  return parsePipelineConfig(Object.fromEntries(CONTEXT_KEYS.map((key) => [key, lookup(key)])));
}
