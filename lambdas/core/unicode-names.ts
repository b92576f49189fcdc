// Pure Unicode rules for names sent to Insider: NFC, trimming, a conservative length measure, invisible characters.

/** Made on first use: a cold start that names an ASCII file never loads ICU's break rules. */
let graphemeSegmenter: Intl.Segmenter | undefined;

/**
 * What a user sees as characters (grapheme clusters: 👨‍👩‍👧, 🇹🇷, a letter with its accents).
 * The default rules are locale-independent, so one segmenter serves every call.
 */
export function graphemes(text: string): string[] {
  // Printable ASCII has one character per code unit: no segmenter needed.
  if (/^[\x20-\x7e]*$/.test(text)) return text.split('');
  graphemeSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  return Array.from(graphemeSegmenter.segment(text), (s) => s.segment);
}

/**
 * Unicode property patterns are built on first use, not written as literals: V8 parses every regex
 * literal when the bundle loads, and these cost the trigger's cold start about 4 MB (measured).
 */
export function lazyRegExp(source: string, flags: string): () => RegExp {
  let re: RegExp | undefined;
  return () => {
    re ??= new RegExp(source, flags);
    re.lastIndex = 0;
    return re;
  };
}

const SURROUNDING_WHITE_SPACE = lazyRegExp('^\\p{White_Space}+|\\p{White_Space}+$', 'gu');

/**
 * Removes surrounding Unicode White_Space (spaces, tabs, line breaks, no-break spaces). Unlike
 * `String.prototype.trim` it keeps U+FEFF, so a stray byte order mark is reported, not hidden.
 */
export function trimName(text: string): string {
  return text.replace(SURROUNDING_WHITE_SPACE(), '');
}

const TRAILING_WHITE_SPACE = lazyRegExp('\\p{White_Space}+$', 'u');

/** Removes trailing Unicode White_Space only (before a `…` is added to a shortened name). */
export function trimNameEnd(text: string): string {
  return text.replace(TRAILING_WHITE_SPACE(), '');
}

/**
 * The form every segment and attribute name takes before any check, lock or request: NFC, so the
 * decomposed names macOS writes (NFD) and their composed twins are one name, then trimmed.
 */
export function normalizeName(text: string): string {
  return trimName(text.normalize('NFC'));
}

/** Callback names: equal once both are NFC and without surrounding white space. */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

/** A name measured three ways. */
export interface NameLength {
  /** Unicode code points (what `[...text].length` counts). */
  codePoints: number;
  /** UTF-16 code units (JavaScript's and Java's `length`): emoji and other astral characters count 2. */
  utf16Units: number;
  /** Characters as a person sees them (grapheme clusters). */
  visible: number;
  /**
   * The measure held against Insider's limit: the larger of code points and UTF-16 units, because
   * Insider does not say which it counts. Every code point is one or two units, so this is `utf16Units`.
   */
  counted: number;
}

export function measureName(text: string): NameLength {
  const codePoints = [...text].length;
  const utf16Units = text.length;
  return { codePoints, utf16Units, visible: graphemes(text).length, counted: Math.max(codePoints, utf16Units) };
}

/**
 * "has 41 characters" when every measure agrees; otherwise the counted figure, what the user sees,
 * and why the two differ, with the first character of the name that counts as more than one.
 */
export function describeNameLength(text: string): string {
  const m = measureName(text);
  if (m.counted === m.visible) return `has ${m.counted} characters`;
  const why: string[] = [];
  if (m.utf16Units > m.codePoints) why.push('emoji and some symbols count as two');
  const example = graphemes(text).find((g) => g.length > 1 && [...g].length > 1);
  if (example) why.push(`"${example}" counts as ${example.length}`);
  return `has ${m.counted} characters as Insider may count them, though you see ${m.visible} (${why.join('; ')})`;
}

/** Why `text` is over `max` characters, or undefined when it fits (conservative measure). */
export function nameLengthProblem(text: string, max: number): string | undefined {
  return measureName(text).counted > max ? describeNameLength(text) : undefined;
}

/** A character that must not be in a name: invisible, a control, or a sign of damaged text. */
export interface InvisibleCharacter {
  /** `U+200B`. */
  codePoint: string;
  /** `ZERO WIDTH SPACE`, or a description when the character has no entry in the table below. */
  name: string;
  /** 1-based position counted in visible characters: the character sits before this one. */
  position: number;
  /** Up to 12 visible characters before it ('' at the start of the name). */
  after: string;
}

/** Names of the characters a user is likely to meet; others are described by their class. */
const CHARACTER_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, 'NULL'],
  [0x09, 'CHARACTER TABULATION (tab)'],
  [0x0a, 'LINE FEED'],
  [0x0d, 'CARRIAGE RETURN'],
  [0x1b, 'ESCAPE'],
  [0x7f, 'DELETE'],
  [0x85, 'NEXT LINE'],
  [0xad, 'SOFT HYPHEN'],
  [0x34f, 'COMBINING GRAPHEME JOINER'],
  [0x61c, 'ARABIC LETTER MARK'],
  [0x115f, 'HANGUL CHOSEONG FILLER'],
  [0x1160, 'HANGUL JUNGSEONG FILLER'],
  [0x17b4, 'KHMER VOWEL INHERENT AQ'],
  [0x17b5, 'KHMER VOWEL INHERENT AA'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x2060, 'WORD JOINER'],
  [0x2061, 'FUNCTION APPLICATION'],
  [0x2062, 'INVISIBLE TIMES'],
  [0x2063, 'INVISIBLE SEPARATOR'],
  [0x2064, 'INVISIBLE PLUS'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x3164, 'HANGUL FILLER'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE (byte order mark)'],
  [0xffa0, 'HALFWIDTH HANGUL FILLER'],
  [0xfffd, 'REPLACEMENT CHARACTER (text damaged by a wrong encoding)'],
  [0xe0001, 'LANGUAGE TAG'],
  [0xe007f, 'CANCEL TAG'],
]);

function characterName(cp: number): string {
  const known = CHARACTER_NAMES.get(cp);
  if (known) return known;
  if (cp >= 0xfe00 && cp <= 0xfe0f) return `VARIATION SELECTOR-${cp - 0xfe00 + 1}`;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return `VARIATION SELECTOR-${cp - 0xe0100 + 17}`;
  if (cp >= 0x180b && cp <= 0x180f) return 'MONGOLIAN FREE VARIATION SELECTOR';
  if (cp >= 0xe0020 && cp <= 0xe007e) return `TAG ${String.fromCodePoint(cp - 0xe0000)}`;
  if (cp >= 0xd800 && cp <= 0xdfff) return 'a lone surrogate (half of a broken emoji or symbol)';
  if (CONTROL().test(String.fromCodePoint(cp))) return 'a control character';
  if (NONCHARACTER().test(String.fromCodePoint(cp))) return 'a noncharacter';
  return 'an invisible formatting character';
}

/**
 * Characters a name must not contain. Default_Ignorable_Code_Point covers the zero-width, joiner,
 * soft-hyphen, variation-selector, filler and tag characters; Bidi_Control the direction marks,
 * embeddings, overrides and isolates. Controls, line/paragraph separators, noncharacters and
 * U+FFFD and lone surrogates join them: none can be told apart on screen, so two names that look the same would
 * be two segments.
 */
const SUSPECT = lazyRegExp('[\\p{Default_Ignorable_Code_Point}\\p{Bidi_Control}\\p{Cc}\\p{Cs}\\p{Zl}\\p{Zp}\\p{Noncharacter_Code_Point}\\uFFFD]', 'u');
const PICTOGRAPHIC = lazyRegExp('\\p{Extended_Pictographic}', 'u');
const EMOJI_MODIFIER = lazyRegExp('\\p{Emoji_Modifier}', 'u');
const VARIATION_SELECTOR = lazyRegExp('\\p{Variation_Selector}', 'u');
const WHITE_SPACE = lazyRegExp('\\p{White_Space}', 'u');
const CONTROL = lazyRegExp('\\p{Cc}', 'u');
const NONCHARACTER = lazyRegExp('\\p{Noncharacter_Code_Point}', 'u');
/** Subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿): a black flag, tag letters, a cancel tag. */
const TAG_SEQUENCE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu;
const ZWJ = 0x200d;

/**
 * Whether the ignorable character at `i` is a legitimate part of an emoji or a variation sequence:
 * a zero width joiner between two pictographs (👨‍👩‍👧, 🏳️‍🌈), a variation selector right after a
 * visible base character (❤️, 1️⃣, 葛󠄀), or a tag inside a subdivision flag.
 */
function partOfSequence(cps: readonly number[], i: number, inTagSequence: ReadonlySet<number>): boolean {
  const cp = cps[i] as number;
  const ch = String.fromCodePoint(cp);
  if (inTagSequence.has(i)) return true;
  if (cp === ZWJ) {
    let j = i - 1;
    while (j >= 0 && (EMOJI_MODIFIER().test(String.fromCodePoint(cps[j] as number)) || cps[j] === 0xfe0f)) j--;
    const before = cps[j];
    const after = cps[i + 1];
    return before !== undefined && after !== undefined && PICTOGRAPHIC().test(String.fromCodePoint(before)) && PICTOGRAPHIC().test(String.fromCodePoint(after));
  }
  if (VARIATION_SELECTOR().test(ch)) {
    const before = cps[i - 1];
    if (before === undefined) return false;
    const base = String.fromCodePoint(before);
    return !SUSPECT().test(base) && !WHITE_SPACE().test(base);
  }
  return false;
}

/** Every invisible, control or damaged character in `text` (already NFC), in order. */
export function findInvisibleCharacters(text: string): InvisibleCharacter[] {
  if (!SUSPECT().test(text)) return [];
  const cps = Array.from(text, (c) => c.codePointAt(0) as number);
  const inTagSequence = new Set<number>();
  let offset = 0;
  const cpIndexAt = new Map<number, number>();
  cps.forEach((cp, i) => {
    cpIndexAt.set(offset, i);
    offset += cp > 0xffff ? 2 : 1;
  });
  for (const m of text.matchAll(TAG_SEQUENCE)) {
    const start = cpIndexAt.get(m.index) ?? 0;
    for (let k = 0; k < [...m[0]].length; k++) inTagSequence.add(start + k);
  }
  const found: InvisibleCharacter[] = [];
  let visibleBefore = '';
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] as number;
    const ch = String.fromCodePoint(cp);
    if (SUSPECT().test(ch) && !partOfSequence(cps, i, inTagSequence)) {
      const seen = graphemes(visibleBefore);
      found.push({
        codePoint: `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`,
        name: characterName(cp),
        position: seen.length + 1,
        after: seen.slice(-12).join(''),
      });
    } else {
      visibleBefore += ch;
    }
  }
  return found;
}

/**
 * `U+200B ZERO WIDTH SPACE at character 4 (after "VIP")`, for up to three characters and a count
 * of the rest, or undefined when there is none.
 */
export function describeInvisibleCharacters(text: string): string | undefined {
  const found = findInvisibleCharacters(text);
  if (found.length === 0) return undefined;
  const shown = found.slice(0, 3).map((f) => {
    const where = f.after === '' ? 'at the start' : `at character ${f.position} (after "${f.after}")`;
    return `${f.codePoint} ${f.name} ${where}`;
  });
  const more = found.length > 3 ? `, and ${found.length - 3} more` : '';
  return `${shown.join(', ')}${more}`;
}

/** Levenshtein distance, for "did you mean" hints on short names (metadata keys, time zones). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
