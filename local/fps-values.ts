// How the simulator judges a file's values as Insider would: text or not, the attribute's type, each value's validity, the counts.
import { parse } from 'csv-parse/sync';
import { isValidPhoneNumber } from 'libphonenumber-js';

export type AttributeType = 'email' | 'phone' | 'number' | 'identifier' | 'text';

export interface ValueCounts {
  valid: number;
  invalid: number;
  total: number;
}

/**
 * Attributes whose format is known: Insider's default attributes by display name (`Email Address`,
 * `Phone Number`), the names its sample and partners use (`em`, `email`, `phone_number`) and the
 * short phone key `pn`. Matched trimmed and case-insensitive.
 */
export const KNOWN_ATTRIBUTE_TYPES: Readonly<Record<string, AttributeType>> = {
  'email address': 'email',
  email: 'email',
  em: 'email',
  'phone number': 'phone',
  phone_number: 'phone',
  pn: 'phone',
};

const NUMBER_WORDS = new Set(['age', 'count', 'number', 'amount', 'score']);

/**
 * The UCD type of an attribute: a known attribute's, else guessed from its name. Number keywords
 * are matched as whole words (split on separators and camelCase) because plain substring matching
 * would make `account_id` (count) or `page_url` (age) numeric.
 */
export function inferAttributeType(name: string): AttributeType {
  const lower = name.trim().toLowerCase();
  const known = KNOWN_ATTRIBUTE_TYPES[lower];
  if (known) return known;
  if (lower.includes('email')) return 'email';
  if (lower.includes('phone') || lower.includes('gsm')) return 'phone';
  const words = name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.some((w) => NUMBER_WORDS.has(w))) return 'number';
  return 'identifier';
}

/** The configured type of an attribute (names compared trimmed and case-insensitive), else the inferred one. */
export function attributeTypeOf(attributeName: string, configured: Readonly<Record<string, AttributeType>> = {}): AttributeType {
  const key = attributeName.trim().toLowerCase();
  for (const [name, type] of Object.entries(configured)) {
    if (name.trim().toLowerCase() === key) return type;
  }
  return inferAttributeType(attributeName);
}

// Insider does not document its email rule. This is the syntax browsers accept for
// <input type="email"> (WHATWG HTML), with a dotted domain, within SMTP's length limits
// (64 before the @, 254 in all). Internationalised addresses are invalid under it.
const EMAIL_RE =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
// E.164 as Insider's identifier APIs require it: a `+`, then up to 15 digits with no separators;
// libphonenumber-js then checks that the number fits its country's numbering plan.
const E164_RE = /^\+[1-9]\d{1,14}$/;
// Plain decimal notation only: Number() would also accept hex, binary and "Infinity".
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function isValidValue(value: string, type: AttributeType): boolean {
  if (value === '') return false;
  switch (type) {
    case 'email':
      return value.length <= 254 && EMAIL_RE.test(value);
    case 'phone':
      return E164_RE.test(value) && isValidPhoneNumber(value);
    case 'number':
      return NUMBER_RE.test(value) && Number.isFinite(Number(value));
    case 'identifier':
    case 'text':
      return true;
  }
}

/**
 * The file as text, or why it is not text. Insider documents only CSV and not what it does with
 * anything else; we assume it reads UTF-8 and gives up on bytes that cannot be text: gzip (a
 * warehouse export sent compressed), NUL bytes (binary data, or UTF-16), invalid UTF-8.
 */
export function readText(bytes: Uint8Array): { ok: true; text: string } | { ok: false; error: string } {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return { ok: false, error: 'not text: gzip-compressed data' };
  if (bytes.includes(0)) return { ok: false, error: 'not text: the file contains NUL bytes' };
  try {
    // The BOM is kept so that countValues deals with it like any CSV reader would.
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { ok: false, error: 'not text: the file is not valid UTF-8' };
  }
}

/**
 * Counts a CSV's values the way Insider's callback reports them. Insider does not document how it
 * reads the file; we assume what a mainstream CSV reader does: a UTF-8 BOM at the start is dropped,
 * CRLF, LF and a lone CR all end a row (mixed in one file too), values are trimmed, a row with no
 * text in any column is a blank line (not a value), and only the first column is the value.
 * There is no header handling: Insider's page says the file has none, so a header row is a value,
 * valid or invalid by the attribute's type.
 * Throws on CSV that cannot be parsed (e.g. an unterminated quote).
 */
export function countValues(csvText: string, type: AttributeType): ValueCounts {
  const rows = parse(csvText, {
    bom: true,
    trim: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  }) as string[][];
  let valid = 0;
  let invalid = 0;
  for (const row of rows) {
    if (row.every((cell) => cell === '')) continue;
    if (isValidValue(row[0] ?? '', type)) valid++;
    else invalid++;
  }
  return { valid, invalid, total: valid + invalid };
}
