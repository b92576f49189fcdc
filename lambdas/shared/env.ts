// Reads a function's configuration from its environment once, at load, and fails fast with a clear message.
import * as v from 'valibot';
import type { Limit } from './limits.js';

const text = v.pipe(v.string(), v.trim(), v.nonEmpty());
export const envString = text;
export const envOptionalString = v.optional(v.pipe(v.string(), v.trim()));
export const envUrl = v.pipe(text, v.url());
/** A whole number within `limit` (from `Limits`, the same range the CDK context accepts). */
export const envInt = (limit: Pick<Limit, 'min' | 'max'>) =>
  v.pipe(text, v.transform(Number), v.number(), v.integer(), v.minValue(limit.min), v.maxValue(limit.max));
export const envNumber = (min: number) => v.pipe(text, v.transform(Number), v.number(), v.minValue(min));
/** Any number within `limit` (a share such as 0.5). */
export const envFraction = (limit: Pick<Limit, 'min' | 'max'>) =>
  v.pipe(text, v.transform(Number), v.number(), v.minValue(limit.min), v.maxValue(limit.max));
/** `true` or `false`. */
export const envBoolean = v.pipe(text, v.picklist(['true', 'false']), v.transform((s) => s === 'true'));

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Parses `env` against `entries` (field → [variable name, schema]); names every bad variable. */
export function readEnv<T extends Record<string, readonly [string, v.GenericSchema<string | undefined, unknown>]>>(
  env: NodeJS.ProcessEnv,
  entries: T,
): { [K in keyof T]: v.InferOutput<T[K][1]> } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [field, [name, schema]] of Object.entries(entries)) {
    const raw = env[name];
    const parsed = v.safeParse(schema, raw === '' ? undefined : raw);
    if (parsed.success) out[field] = parsed.output;
    else problems.push(`${name}=${raw === undefined ? '(unset)' : JSON.stringify(raw)}: ${parsed.issues[0]?.message}`);
  }
  if (problems.length) throw new ConfigurationError(`Invalid function configuration: ${problems.join('; ')}`);
  return out as { [K in keyof T]: v.InferOutput<T[K][1]> };
}
