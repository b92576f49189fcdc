// The pieces the CDK context schema is built from: one valibot schema per kind of setting, each failing with a message that says how to fix it.
import * as v from 'valibot';
import { DEFAULT_ATTRIBUTE_FORMATS, ValueFormat } from '../lambdas/shared/contract.js';
import type { Limit } from '../lambdas/shared/limits.js';
import type { ContextKey } from './config.js';

// `-c key=value` hands every value over as a string, cdk.json may hold real numbers.
const coerceNumber = (input: unknown): unknown =>
  typeof input === 'string' && input.trim() !== '' ? Number(input.trim()) : input;

/**
 * A whole-number setting within `limit` (shared with the function that reads it), defaulting to
 * `limit.default`. `rule` says what a valid value is, phrased to follow "must be".
 */
export function integerSetting(key: ContextKey, limit: Limit, rule: string) {
  const message = `context ${key} must be ${rule}: use -c ${key}=${limit.default}`;
  return v.optional(
    v.pipe(
      v.unknown(),
      v.transform(coerceNumber),
      v.number(message),
      v.integer(message),
      v.check((n) => n >= limit.min && n <= limit.max, message),
    ),
    limit.default,
  );
}

/** A share from 0 to 1 (a fraction), defaulting to `limit.default`. */
export function fractionSetting(key: ContextKey, limit: Limit, meaning: string) {
  const message = `context ${key} must be a number from ${limit.min} to ${limit.max} (${meaning}): use -c ${key}=${limit.default}`;
  return v.optional(
    v.pipe(v.unknown(), v.transform(coerceNumber), v.number(message), v.check((n) => Number.isFinite(n) && n >= limit.min && n <= limit.max, message)),
    limit.default,
  );
}

/** What `attributeFormats` may map an attribute to: a format, or `none` to check no format for it. */
const FORMAT_CHOICES = [...Object.values(ValueFormat), 'none'] as const;
export const attributeFormatsHint = `context attributeFormats must be a JSON object mapping attribute names to ${FORMAT_CHOICES.map((f) => `"${f}"`).join(', ')}: use -c 'attributeFormats={"crm_email":"email","Phone Number":"none"}'`;

/** Context `attributeFormats` (JSON text from `-c`, an object from cdk.json) merged over the defaults; `none` removes an attribute. */
export function mergedFormats(raw: unknown): Record<string, ValueFormat> | undefined {
  let given: unknown = raw;
  if (typeof raw === 'string') {
    try {
      given = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (given === undefined) return { ...DEFAULT_ATTRIBUTE_FORMATS };
  if (typeof given !== 'object' || given === null || Array.isArray(given)) return undefined;
  const merged: Record<string, ValueFormat> = { ...DEFAULT_ATTRIBUTE_FORMATS };
  for (const [name, format] of Object.entries(given)) {
    if (name.trim() === '' || !(FORMAT_CHOICES as readonly unknown[]).includes(format)) return undefined;
    // The check matches names case-insensitively: a given spelling replaces any default one.
    for (const known of Object.keys(merged)) if (known.trim().toLowerCase() === name.trim().toLowerCase()) delete merged[known];
    if (format !== 'none') merged[name.trim()] = format as ValueFormat;
  }
  return merged;
}

export function optionalFlag(key: ContextKey) {
  const message = `context ${key} must be true or false: use -c ${key}=true`;
  return v.optional(
    v.pipe(
      v.unknown(),
      // `-c key=true` arrives as a string.
      v.transform((input) => (input === 'true' ? true : input === 'false' ? false : input)),
      v.boolean(message),
    ),
    false,
  );
}

export function optionalText(key: ContextKey, example: string) {
  return v.optional(v.pipe(v.string(`context ${key} must be a string: use -c ${key}=${example}`), v.trim()));
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);

export function isAllowedEndpoint(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  // Plain http only for a local stand-in: the request carries the API token.
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname));
}

export const SECRET_ARN = /^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
/** A key's ARN: IAM authorizes kms:Decrypt on the key, never on an alias or a bare key id. */
export const KMS_KEY_ARN = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
export const regionOfArn = (arn: string) => arn.split(':')[3];
export const kmsKeyHint = 'use -c tokenSecretKmsKeyArn=arn:aws:kms:<region>:<account>:key/<key id> (the KmsKeyId that aws secretsmanager describe-secret shows)';

export const partnerNameHint = 'use -c partnerName=mybrand';
