// Value formats the pre-flight check knows (email, E.164 phone): fast tests and optional normalization.
import { type CountryCode, Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/core';
import metadata from 'libphonenumber-js/min/metadata';
import { DEFAULT_ATTRIBUTE_FORMATS, ValueFormat } from '../shared/contract.js';
import { lazyRegExp } from './unicode-names.js';

/** The format an attribute's values must have, if any (attribute names match trimmed and case-insensitive). */
export function formatForAttribute(
  attributeName: string,
  formats: Readonly<Record<string, ValueFormat>> = DEFAULT_ATTRIBUTE_FORMATS,
): ValueFormat | undefined {
  const wanted = attributeName.trim().toLowerCase();
  for (const [name, format] of Object.entries(formats)) {
    if (name.trim().toLowerCase() === wanted) return format;
  }
  return undefined;
}

/** What values in a format are, as a plural noun. */
export const FORMAT_NOUNS: Readonly<Record<ValueFormat, string>> = {
  email: 'email addresses',
  e164: 'phone numbers in E.164 format',
};

/** How a reason names values that fail a format: "812 of 1,000 values <are not …>". */
export const FORMAT_FAILURE_WORDS: Readonly<Record<ValueFormat, string>> = {
  email: 'are not email addresses',
  e164: 'are not phone numbers in E.164 format (+ and country code)',
};

// WHATWG's "valid email address" (what browsers accept), with a dot required in the domain: a bare host
// is no address a marketing list can reach; no label starts or ends with "-", none is over 63
// characters, and the whole is at most 254. ASCII values (nearly all) are checked a byte at a time
// against a class table (`isEmailBytes`), which reads a file's bytes where they lie; the unit tests
// prove it equal, on random values, to the two regular expressions it replaced. Values with other
// characters take the Unicode expression.
const EMAIL_SHAPE_UNICODE = lazyRegExp("^[\\p{L}\\p{N}\\p{M}.!#$%&'*+/=?^_`{|}~-]+@[\\p{L}\\p{N}\\p{M}-]+(?:\\.[\\p{L}\\p{N}\\p{M}-]+)+$", 'u');
const EMAIL_MAX_LENGTH = 254;
const LABEL_MAX_LENGTH = 63;
const LOCAL = 1;
const LABEL = 2;
/** Per byte: LOCAL if it may be in the local part, LABEL if in a domain label. Bytes past ASCII are neither. */
const EMAIL_CLASS = new Uint8Array(256);
for (const c of ".!#$%&'*+/=?^_`{|}~-") EMAIL_CLASS[c.charCodeAt(0)] = LOCAL;
for (const range of ['AZ', 'az', '09']) {
  for (let c = range.charCodeAt(0); c <= range.charCodeAt(1); c++) EMAIL_CLASS[c] = LOCAL | LABEL;
}
EMAIL_CLASS[0x2d] = LOCAL | LABEL; // "-"

/** A value's UTF-16 code units when all are ASCII, for the byte checks; reused (the checks never nest). */
const scratch = Buffer.alloc(EMAIL_MAX_LENGTH);

/** Copies `value` into `scratch` if it is ASCII and fits; false otherwise. */
function asciiIntoScratch(value: string): boolean {
  if (value.length > scratch.length) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return false;
    scratch[i] = c;
  }
  return true;
}

/**
 * The email rule for the ASCII bytes `[start, end)` of `bytes`: a local part of allowed characters, one
 * "@", then at least two labels of letters, digits and "-" (not first or last, at most 63 each)
 * joined by single dots. A byte past ASCII fails: callers pass ASCII only.
 */
export function isEmailBytes(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > EMAIL_MAX_LENGTH) return false;
  let i = start;
  while (i < end && ((EMAIL_CLASS[bytes[i] as number] as number) & LOCAL) !== 0) i++;
  if (i === start || i === end || bytes[i] !== 0x40) return false;
  i++;
  for (let labels = 1; ; labels++) {
    const label = i;
    while (i < end && ((EMAIL_CLASS[bytes[i] as number] as number) & LABEL) !== 0) i++;
    if (i === label || i - label > LABEL_MAX_LENGTH || bytes[label] === 0x2d || bytes[i - 1] === 0x2d) return false;
    if (i === end) return labels > 1;
    if (bytes[i] !== 0x2e) return false;
    i++;
  }
}

/** The domain's labels (after `at`) neither start nor end with "-" and are at most 63 characters. */
function labelsOk(value: string, at: number): boolean {
  if (value.indexOf('-', at) !== -1) {
    if (value.charCodeAt(at + 1) === 0x2d || value.charCodeAt(value.length - 1) === 0x2d) return false;
    if (value.indexOf('-.', at) !== -1 || value.indexOf('.-', at) !== -1) return false;
  }
  if (value.length - at - 1 <= LABEL_MAX_LENGTH) return true;
  let start = at + 1;
  for (let dot = value.indexOf('.', start); ; dot = value.indexOf('.', start)) {
    const end = dot === -1 ? value.length : dot;
    if (end - start > LABEL_MAX_LENGTH) return false;
    if (dot === -1) return true;
    start = dot + 1;
  }
}

export function isEmail(value: string): boolean {
  if (value.length > EMAIL_MAX_LENGTH) return false;
  if (asciiIntoScratch(value)) return isEmailBytes(scratch, 0, value.length);
  return EMAIL_SHAPE_UNICODE().test(value) && labelsOk(value, value.lastIndexOf('@'));
}

/** E.164's shape: "+", a first digit 1–9, then 1 to 14 digits. */
const E164_MIN_LENGTH = 3;
const E164_MAX_LENGTH = 16;

/**
 * For each country calling code libphonenumber-js knows, two bit masks of national number lengths: those
 * that some plan sharing the code allows (`some`), and those that every plan sharing it allows
 * (`every`). Indexed by `CODE_OFFSET[digits] + code` (one range per code length: codes are
 * prefix-free); `KNOWN` marks the codes that exist. Built from the library's own metadata on the first
 * phone number checked (an email-only run never pays for it).
 */
const CODE_OFFSET = [0, 0, 10, 110] as const;
const KNOWN = 1 << 30;
let callingCodes: { some: Int32Array; every: Int32Array } | undefined;
function buildCallingCodes(): { some: Int32Array; every: Int32Array } {
  const some = new Int32Array(1110);
  const every = new Int32Array(1110);
  const plans = new Metadata(metadata);
  const add = (code: string, selector: string) => {
    plans.selectNumberingPlan(selector as CountryCode);
    let mask = 0;
    for (const length of plans.numberingPlan?.possibleLengths() ?? []) mask |= 1 << length;
    const at = (CODE_OFFSET[code.length as 1 | 2 | 3] as number) + Number(code);
    const known = ((some[at] as number) & KNOWN) !== 0;
    every[at] = known ? (every[at] as number) & mask : mask;
    some[at] = (some[at] as number) | mask | KNOWN;
  };
  for (const [code, countries] of Object.entries(metadata.country_calling_codes)) {
    for (const country of countries) add(code, country);
  }
  for (const code of Object.keys(metadata.nonGeographic ?? {})) add(code, code);
  return { some, every };
}

/** What libphonenumber-js itself says: the value parses, is already in canonical E.164 form, and has a possible length. */
export function isE164ByLibrary(value: string): boolean {
  const phone = parsePhoneNumberFromString(value, metadata);
  return phone !== undefined && phone.number === value && phone.isPossible();
}

/**
 * E.164: `+`, a country calling code libphonenumber-js knows, and a national number of a length
 * possible for it. libphonenumber-js takes 6–10 µs a number (a 50 MB list would take half a minute), so
 * the length is looked up in its metadata (tens of ns), and the library is asked only where that cannot
 * decide: countries sharing the code disagree about the length (+44 with 9 digits: GB yes, Jersey no),
 * or the national number starts with 0 (a trunk prefix written after the country code, as in
 * `+330612345678`, is not E.164). The remaining difference from asking the library about every value
 * is other trunk or carrier prefixes written after the code (e.g. `+375 8…`, `+55 90…`): 41 of
 * 788,400 random numbers over every calling code and length (the unit test sweeps a sample), counted valid here.
 * This reads the ASCII bytes `[start, end)` of `bytes`; `isE164` takes a string.
 */
export function isE164Bytes(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < E164_MIN_LENGTH || length > E164_MAX_LENGTH || bytes[start] !== 0x2b || bytes[start + 1] === 0x30) return false;
  for (let i = start + 1; i < end; i++) {
    const b = bytes[i] as number;
    if (b < 0x30 || b > 0x39) return false;
  }
  callingCodes ??= buildCallingCodes();
  const { some, every } = callingCodes;
  let code = 0;
  for (let digits = 1; digits <= 3 && digits < length; digits++) {
    code = code * 10 + (bytes[start + digits] as number) - 0x30;
    const at = (CODE_OFFSET[digits] as number) + code;
    const lengths = some[at] as number;
    if ((lengths & KNOWN) === 0) continue;
    const bit = 1 << (length - 1 - digits);
    if ((lengths & bit) === 0) return false;
    const trunkZero = start + 1 + digits < end && bytes[start + 1 + digits] === 0x30;
    if (((every[at] as number) & bit) !== 0 && !trunkZero) return true;
    return isE164ByLibrary(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end));
  }
  // Calling codes are prefix-free and 1–3 digits long: none matched, so the code does not exist.
  return false;
}

/** `isE164Bytes` for a string. */
export function isE164(value: string): boolean {
  return value.length <= E164_MAX_LENGTH && asciiIntoScratch(value) && isE164Bytes(scratch, 0, value.length);
}

export function checkFormat(format: ValueFormat, value: string): boolean {
  return format === ValueFormat.email ? isEmail(value) : isE164(value);
}

/** Normalization is off unless asked for; when on, these settings apply. */
export interface NormalizeOptions {
  /**
   * Region for phone numbers written without a country code (`0612 345678` with `FR`). Without it,
   * only numbers written with `+` and the code are rewritten (spaces, dashes and brackets removed).
   */
  phoneDefaultRegion?: CountryCode | undefined;
}

/**
 * The value as the clean copy should hold it: emails lower-cased; phones rewritten to E.164 when
 * libphonenumber-js can read them as a possible number. Anything it cannot read is left as it is (and
 * then fails the format check). Insider documents no matching rules, so this is off by default:
 * lower-casing helps if Insider stores addresses lower-cased and hurts if it matches them case-sensitively.
 */
export function normalizeValue(format: ValueFormat | undefined, value: string, options: NormalizeOptions): string {
  if (format === ValueFormat.email) return value.toLowerCase();
  if (format === ValueFormat.e164) {
    if (isE164(value)) return value;
    const phone = parsePhoneNumberFromString(value, { defaultCountry: options.phoneDefaultRegion }, metadata);
    return phone?.isPossible() ? phone.number : value;
  }
  return value;
}

const PHONE_LIKE = /^\+?[\d\s().\-/]{6,20}$/;
/** A number as Excel saves it once its column shows it rounded: 9.05321E+11, or 9,05321E+11 with a decimal comma. */
const EXCEL_SCIENTIFIC = /^[+-]?\d(?:[.,]\d+)?E\+\d{1,3}$/i;
/** What `looksLike` says of such numbers: named in a reason even when they are not most of the values failing (they cannot be fixed by hand). */
export const EXCEL_SCIENTIFIC_WORDS =
  'are numbers Excel saved in scientific notation (like 9.05E+11), their last digits likely lost: export the file again from its source, or format the column as Text in Excel and type the numbers with + and the country code';

/**
 * What a value failing `format` looks like instead, as the end of "800 of them …", for the reason a
 * person reads (a phone list dropped in the email folder is the common case). Undefined: nothing clear.
 */
export function looksLike(format: ValueFormat, value: string): string | undefined {
  if (format === ValueFormat.email) {
    return PHONE_LIKE.test(value) ? 'look like phone numbers: check the folder, it names the attribute' : undefined;
  }
  if (isEmail(value)) return 'look like email addresses: check the folder, it names the attribute';
  if (EXCEL_SCIENTIFIC.test(value)) return EXCEL_SCIENTIFIC_WORDS;
  if (PHONE_LIKE.test(value)) {
    return 'look like phone numbers without "+" and the country code, or with spaces or punctuation: write them as +<country code><number>';
  }
  return undefined;
}
