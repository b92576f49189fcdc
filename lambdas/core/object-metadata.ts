// Pure rules for S3 user metadata: RFC 2047 decoding, near-miss key notes, the dry-run flag's values and look-alikes.
// A CommonJS module whose exports Node cannot list for named imports: take the whole object.
import rfc2047 from 'rfc2047';
import { META_DRY_RUN, NAMING_METADATA_KEYS } from '../shared/contract.js';
import { editDistance } from './unicode-names.js';

export type DecodedMetadataValue = { ok: true; value: string; encoded: boolean } | { ok: false; reason: string };

/** Anything still shaped like an encoded word after decoding, malformed ones included. */
const ENCODED_WORD = /=\?([^?\s]*)\?([^?\s]*)\?([^?]*)\?=/;

function quoteWord(word: string): string {
  return `"${word.length > 60 ? `${word.slice(0, 57)}…` : word}"`;
}

/** Whether the decoder reads `charset` at all, asked of the decoder itself so the two never disagree. */
function charsetKnown(charset: string): boolean {
  return rfc2047.decode(`=?${charset}?Q?A?=`) === 'A';
}

function whyNotDecoded(word: string, charset: string, encoding: string): string {
  if (!/^[bq]$/i.test(encoding)) return `the encoded word ${quoteWord(word)} uses encoding "${encoding}"; only B and Q exist`;
  if (!charsetKnown(charset)) return `the encoded word ${quoteWord(word)} names the character set "${charset}", which the pipeline cannot read`;
  return `the encoded word ${quoteWord(word)} holds bytes that are not valid ${charset} (or a character split across two encoded words)`;
}

/**
 * S3 user metadata is ASCII on the wire: S3 returns other text as RFC 2047 encoded words
 * (`=?UTF-8?B?…?=`), several of them for a long value, which the SDK hands back as is. Decoded with
 * the `rfc2047` package: B and Q encodings, every charset it reads (UTF-8, ISO-8859-*, Windows-125x,
 * Shift_JIS, …), adjacent words joined. What it cannot decode (an unknown charset, bytes that are
 * not valid in their charset, a malformed word) is refused with a reason, so it never becomes a name;
 * so is a U+FFFD the decoding produced.
 */
export function decodeMetadataValue(value: string): DecodedMetadataValue {
  if (!value.includes('=?')) return { ok: true, value, encoded: false };
  const decoded = rfc2047.decode(value);
  const left = ENCODED_WORD.exec(decoded);
  if (left) {
    const [word, charset = '', encoding = ''] = left;
    return { ok: false, reason: `${whyNotDecoded(word, charset, encoding)}. Set the value again as plain UTF-8 text (the AWS CLI and SDKs encode it for you)` };
  }
  if (decoded.includes('\uFFFD') && !value.includes('\uFFFD')) {
    return { ok: false, reason: 'it decodes to U+FFFD REPLACEMENT CHARACTER, a sign of damaged text. Set the value again as plain UTF-8 text' };
  }
  return { ok: true, value: decoded, encoded: decoded !== value };
}

/** Lower case, no `x-amz-meta-` prefix, no `-`, `_`, `.` or white space: `Segment_Name ` → `segmentname`. */
function squash(key: string): string {
  return key
    .trim()
    .toLowerCase()
    .replace(/^x-amz-meta-/, '')
    .replace(/[-_.\s]/g, '');
}

/** The metadata key the pipeline reads that `key` was probably meant to be, if any. */
export function nearMissMetadataKey(key: string, known: readonly string[] = NAMING_METADATA_KEYS): string | undefined {
  if (known.includes(key)) return undefined;
  const squashed = squash(key);
  if (squashed.length < 4) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(squashed, squash(name));
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/**
 * `metadata segment_name was ignored; did you mean segment-name?` for every key that is close to
 * (but not) a key the pipeline reads: other spellings, separators, case, typos, a doubled
 * `x-amz-meta-` prefix. Keys with white space are quoted so the note shows it. Near misses of
 * `dry-run` get no note: they are refused (see {@link dryRunLookalikeKeys}).
 */
export function metadataKeyNotes(metadata: Readonly<Record<string, string>>): string[] {
  const notes: string[] = [];
  for (const key of Object.keys(metadata)) {
    const meant = nearMissMetadataKey(key);
    if (!meant || meant === META_DRY_RUN) continue;
    const shown = /\s/.test(key) ? JSON.stringify(key) : key;
    notes.push(`metadata ${shown} was ignored; did you mean ${meant}?`);
  }
  return notes;
}

/**
 * The keys that are near misses of `dry-run` (`dryrun`, `dry_run`, `dry run`). Ignoring one would
 * send a file its sender meant as a dry run, and use the segment name in Insider for good.
 */
export function dryRunLookalikeKeys(metadata: Readonly<Record<string, string>>): string[] {
  return Object.keys(metadata).filter((key) => nearMissMetadataKey(key) === META_DRY_RUN);
}

/** Why a file with the near miss `key` of `dry-run` was refused, and the two ways on. */
export function dryRunLookalikeKeyReason(key: string): string {
  return `Metadata ${JSON.stringify(key)} looks like "${META_DRY_RUN}": set metadata "${META_DRY_RUN}" to "true" for a dry run, or remove ${JSON.stringify(key)} for a real upload. Nothing was sent to Insider.`;
}

export type DryRunValue = { ok: true; dryRun: boolean } | { ok: false; reason: string };

const TRUE_VALUES = new Set(['true', 'yes', '1']);
const FALSE_VALUES = new Set(['false', 'no', '0']);

/**
 * `true`/`false` in any case (also `yes`/`no`, `1`/`0`). Anything else, an empty value included,
 * is refused rather than guessed: read as "no", a mistyped dry run would use the name for good.
 */
export function readDryRunValue(value: string): DryRunValue {
  const v = value.trim().toLowerCase();
  if (TRUE_VALUES.has(v)) return { ok: true, dryRun: true };
  if (FALSE_VALUES.has(v)) return { ok: true, dryRun: false };
  return {
    ok: false,
    reason: `Metadata "${META_DRY_RUN}" is ${JSON.stringify(value)}: set it to "true" for a dry run, or "false" (or leave it out) for a real upload. Nothing was sent to Insider.`,
  };
}
