// How the simulator judges a file's values as Insider would: the attribute's type, each value's validity, the counts.
import { parse } from 'csv-parse/sync';

export type AttributeType = 'email' | 'phone' | 'number' | 'identifier' | 'text';

export interface ValueCounts {
  valid: number;
  invalid: number;
  total: number;
}

const NUMBER_WORDS = new Set(['age', 'count', 'number', 'amount', 'score']);

/**
 * Guesses the UCD type of an attribute from its name. Number keywords are matched as whole
 * words (split on separators and camelCase) because plain substring matching would make
 * `account_id` (count) or `page_url` (age) numeric.
 */
export function inferAttributeType(name: string): AttributeType {
  const lower = name.trim().toLowerCase();
  if (lower.includes('email') || lower === 'em') return 'email';
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

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_RE = /^\+[1-9]\d{6,14}$/;
// Plain decimal notation only: Number() would also accept hex, binary and "Infinity".
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function isValidValue(value: string, type: AttributeType): boolean {
  if (value === '') return false;
  switch (type) {
    case 'email':
      return EMAIL_RE.test(value);
    case 'phone':
      return PHONE_RE.test(value);
    case 'number':
      return NUMBER_RE.test(value) && Number.isFinite(Number(value));
    case 'identifier':
    case 'text':
      return true;
  }
}

/**
 * Counts a CSV's values the way Insider's callback reports them. Insider's files have no
 * header row, so every non-blank row is a value and only its first column matters.
 * Throws on CSV that cannot be parsed (e.g. an unterminated quote).
 */
export function countValues(csvText: string, type: AttributeType): ValueCounts {
  const rows = parse(csvText, {
    bom: true,
    trim: true,
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
