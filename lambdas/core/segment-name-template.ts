// Pure segment name templates (issue 8): parse and validate, format event times in a time zone, render within Insider's limit.
import { DEFAULT_TIME_ZONE, SEGMENT_NAME_MAX_LENGTH } from '../shared/contract.js';
import { describeInvisibleCharacters, editDistance, graphemes, lazyRegExp, measureName, nameLengthProblem, normalizeName, trimNameEnd } from './unicode-names.js';

/**
 * The placeholders and what each renders (times are the object's event time in the configured zone):
 * - `{name}`: the logical segment name (the file name without its extension, or metadata `segment-name`);
 * - `{attribute}`: the attribute name;
 * - `{date}`: `2026-11-29`; `{time}`: `14:05` (24-hour); `{datetime}`: `2026-11-29 14:05`;
 * - `{n}`: the counter the caller supplies, in decimal without padding (`1`, `2`, … `10`).
 * `{{` and `}}` write a literal brace.
 */
export const PLACEHOLDERS = ['name', 'attribute', 'date', 'time', 'datetime', 'n'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Rendered widths of the placeholders whose width does not depend on the file. */
const FIXED_WIDTH: Partial<Record<Placeholder, number>> = { date: 10, time: 5, datetime: 16 };

export type TemplatePart = { literal: string } | { placeholder: Placeholder };

export interface SegmentNameTemplate {
  /** The template as given, trimmed and NFC. */
  source: string;
  parts: readonly TemplatePart[];
}

export type TemplateParseResult = { ok: true; template: SegmentNameTemplate } | { ok: false; errors: string[] };

const ELLIPSIS = '…';

function closest(word: string): Placeholder | undefined {
  const w = word.trim().toLowerCase().replace(/[^a-z]/g, '');
  if ((PLACEHOLDERS as readonly string[]).includes(w)) return w as Placeholder;
  const aliases: Record<string, Placeholder> = { filename: 'name', file: 'name', segment: 'name', counter: 'n', number: 'n', count: 'n', attr: 'attribute', day: 'date', timestamp: 'datetime' };
  return aliases[w];
}

/**
 * Parses a `segmentNameTemplate` (context) or a `segment-name-template` (metadata). Rules, each
 * error saying what to fix:
 * - placeholders are the six of {@link PLACEHOLDERS}, lower case, no spaces inside the braces;
 * - `{{` / `}}` are literal braces; any other `{` or `}` must open or close a placeholder;
 * - `{name}` must appear exactly once: without it every file would get the same name (and the same
 *   name each time, so only the first drop would succeed); twice, it could not be shortened cleanly;
 *   a fixed name for one file is metadata `segment-name`, which then fills `{name}`;
 * - no invisible or control characters (as for names), and no combining mark right after a placeholder;
 * - the fixed text, with `{date}`, `{time}`, `{datetime}` at their widths, must leave room for at
 *   least one character of `{name}` and its `…` within Insider's 40 characters.
 * Surrounding white space is dropped.
 */
/** Built on first use, as every Unicode property pattern here (see `lazyRegExp`). */
const LEADING_MARK = lazyRegExp('^\\p{M}', 'u');

export function parseSegmentNameTemplate(input: string): TemplateParseResult {
  const source = normalizeName(input);
  const errors: string[] = [];
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    const next = source[i + 1];
    if ((ch === '{' && next === '{') || (ch === '}' && next === '}')) {
      literal += ch;
      i += 2;
      continue;
    }
    if (ch === '}') {
      errors.push(`"}" at position ${i + 1} closes nothing: write "}}" for a literal brace.`);
      i += 1;
      continue;
    }
    if (ch !== '{') {
      literal += ch;
      i += 1;
      continue;
    }
    const end = source.indexOf('}', i + 1);
    const nextOpen = source.indexOf('{', i + 1);
    if (end === -1 || (nextOpen !== -1 && nextOpen < end)) {
      errors.push(`"{" at position ${i + 1} is never closed: write a placeholder such as {date}, or "{{" for a literal brace.`);
      i += 1;
      continue;
    }
    const word = source.slice(i + 1, end);
    if ((PLACEHOLDERS as readonly string[]).includes(word)) {
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ placeholder: word as Placeholder });
    } else {
      const meant = closest(word);
      const hint = meant ? `did you mean {${meant}}?` : `use one of ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`;
      errors.push(`Unknown placeholder {${word}}: ${hint}`);
    }
    i = end + 1;
  }
  if (literal) parts.push({ literal });

  const names = parts.filter((p) => 'placeholder' in p && p.placeholder === 'name').length;
  if (names === 0 && !errors.some((e) => e.includes('did you mean {name}'))) {
    errors.push('The template has no {name}: every file would get the same segment name. Add {name}, e.g. "{name} {date}" (for one fixed name, set metadata "segment-name").');
  }
  if (names > 1) errors.push(`{name} appears ${names} times: use it once.`);
  const invisible = describeInvisibleCharacters(source);
  if (invisible) errors.push(`The template contains invisible or control characters: ${invisible}. Remove them.`);
  // A combining mark after a placeholder would join the placeholder's last letter ("{name}\u0301" makes
  // "Hello" "Helló"), and could be cut away from it when {name} is shortened.
  parts.forEach((part, at) => {
    if ('literal' in part && at > 0 && LEADING_MARK().test(part.literal)) {
      const code = (part.literal.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      errors.push(`The text after a placeholder starts with a combining mark (U+${code}), which would join the placeholder's last letter: put a space or other text before it.`);
    }
  });
  const fixed = fixedWidth(parts);
  if (fixed > SEGMENT_NAME_MAX_LENGTH - 2) {
    errors.push(
      `The template's fixed text and dates take ${fixed} of Insider's ${SEGMENT_NAME_MAX_LENGTH} characters, leaving no room for {name}: shorten the text around it.`,
    );
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, template: { source, parts } };
}

function fixedWidth(parts: readonly TemplatePart[]): number {
  return parts.reduce((sum, p) => sum + ('literal' in p ? measureName(p.literal).counted : (FIXED_WIDTH[p.placeholder] ?? 0)), 0);
}

/** Parses, or throws with every error: for templates already validated (configuration read at load). */
export function segmentNameTemplate(input: string): SegmentNameTemplate {
  const parsed = parseSegmentNameTemplate(input);
  if (!parsed.ok) throw new Error(`Invalid segment name template "${input}": ${parsed.errors.join(' ')}`);
  return parsed.template;
}

/** Templates already parsed: a trigger sees one or two, on every upload. */
const parsed = new Map<string, SegmentNameTemplate>();

function parsedOf(template: string | SegmentNameTemplate): SegmentNameTemplate {
  if (typeof template !== 'string') return template;
  let known = parsed.get(template);
  if (!known) {
    known = segmentNameTemplate(template);
    if (parsed.size < 100) parsed.set(template, known);
  }
  return known;
}

function has(template: SegmentNameTemplate, placeholder: Placeholder): boolean {
  return template.parts.some((p) => 'placeholder' in p && p.placeholder === placeholder);
}

/** Whether rendering needs a counter (the caller then issues the next number for the base name). */
export function usesCounter(template: string | SegmentNameTemplate): boolean {
  return has(parsedOf(template), 'n');
}

/** Whether the name sent carries the attribute, so that one file name under two attributes gives two names. */
export function usesAttribute(template: string | SegmentNameTemplate): boolean {
  return has(parsedOf(template), 'attribute');
}

/** Whether the template is `{name}` and nothing else: today's names, and today's rejection when too long. */
export function isNameOnly(template: string | SegmentNameTemplate): boolean {
  const parsedTemplate = parsedOf(template);
  return parsedTemplate.parts.length === 1 && has(parsedTemplate, 'name');
}

/** An IANA time zone name the runtime knows (`Europe/Istanbul`, `UTC`, `America/New_York`). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A message for configuration when `timeZone` is not valid, with the nearest IANA name; undefined when it is. */
export function timeZoneProblem(timeZone: string): string | undefined {
  if (isValidTimeZone(timeZone)) return undefined;
  const city = (zone: string) => zone.slice(zone.lastIndexOf('/') + 1).toLowerCase();
  const wanted = city(timeZone.trim());
  const near = Intl.supportedValuesOf('timeZone')
    .map((zone) => ({ zone, distance: editDistance(wanted, city(zone)) }))
    .filter((z) => z.distance <= 2)
    .sort((a, b) => a.distance - b.distance)[0]?.zone;
  const example = near ? `"${near}"` : '"Europe/Istanbul"';
  return `timeZone "${timeZone}" is not an IANA time zone name: use a name such as ${example} or "UTC".`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** `{date}`, `{time}` and `{datetime}` for an instant in a time zone (h23 clock: midnight is 00:00). */
export function formatEventTime(instant: Date, timeZone: string = DEFAULT_TIME_ZONE): { date: string; time: string; datetime: string } {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const date = `${part('year').padStart(4, '0')}-${part('month')}-${part('day')}`;
  const time = `${part('hour')}:${part('minute')}`;
  return { date, time, datetime: `${date} ${time}` };
}

export interface RenderInput {
  template: string | SegmentNameTemplate;
  /** The logical name, already normalized (NFC, trimmed) and checked. */
  name: string;
  /** The attribute name, already normalized and checked. */
  attribute: string;
  /** The object's event time. */
  eventTime: Date;
  /** IANA name; default UTC. */
  timeZone?: string | undefined;
  /** Required when the template uses `{n}`: a positive whole number. */
  counter?: number | undefined;
  /** Default: Insider's 40. */
  maxLength?: number | undefined;
}

export type RenderResult =
  | {
      ok: true;
      /** The name to send to Insider (NFC). */
      segmentName: string;
      /** Whether `{name}` was shortened. */
      shortened: boolean;
      /** When shortened: what was done, in a sentence for the record. */
      rule?: string;
    }
  | { ok: false; reason: string };

/**
 * Renders a segment name. The length limit (counted as in unicode-names: the larger of code points
 * and UTF-16 units) applies to the rendered name. When the template adds anything to `{name}`, the
 * `{name}` part alone is shortened to fit: whole visible characters from its start, trailing white
 * space dropped, then `…`; the date, time, counter, attribute and fixed text are never cut, and the
 * same input always gives the same name. A template of `{name}` alone is never shortened: the user
 * chose the name itself, so an over-long one is refused with a reason, as before templates existed.
 * If the fixed parts leave no room for one character of `{name}` and `…`, the reason says so.
 */
export function renderSegmentName(input: RenderInput): RenderResult {
  const template = parsedOf(input.template);
  const max = input.maxLength ?? SEGMENT_NAME_MAX_LENGTH;
  if (has(template, 'n') && (input.counter === undefined || !Number.isSafeInteger(input.counter) || input.counter < 1)) {
    throw new Error(`The template "${template.source}" uses {n}: pass a positive whole counter (got ${String(input.counter)})`);
  }
  const times = has(template, 'date') || has(template, 'time') || has(template, 'datetime') ? formatEventTime(input.eventTime, input.timeZone ?? DEFAULT_TIME_ZONE) : undefined;
  const value = (p: Placeholder): string => {
    switch (p) {
      case 'name':
        return input.name;
      case 'attribute':
        return input.attribute;
      case 'n':
        return String(input.counter);
      default:
        return times?.[p] ?? '';
    }
  };
  const assemble = (name: string) => template.parts.map((p) => ('literal' in p ? p.literal : p.placeholder === 'name' ? name : value(p.placeholder))).join('').normalize('NFC');

  const full = assemble(input.name);
  const tooLong = nameLengthProblem(full, max);
  if (!tooLong) return { ok: true, segmentName: full, shortened: false };
  if (isNameOnly(template)) {
    return { ok: false, reason: `The segment name ${tooLong}; Insider allows at most ${max}.` };
  }

  const fixedText = assemble('');
  const room = max - measureName(fixedText).counted;
  const kept: string[] = [];
  let used = 0;
  for (const g of graphemes(input.name)) {
    if (used + g.length + ELLIPSIS.length > room) break;
    kept.push(g);
    used += g.length;
  }
  const stem = trimNameEnd(kept.join(''));
  if (stem === '') {
    const fixedParts = template.parts.filter((p) => !('placeholder' in p && p.placeholder === 'name'));
    const shown = fixedParts.map((p) => ('literal' in p ? JSON.stringify(p.literal) : `{${p.placeholder}} = ${JSON.stringify(value(p.placeholder))}`)).join(', ');
    return {
      ok: false,
      reason: `The segment name template "${template.source}" leaves no room for the name: its other parts (${shown}) take ${max - room} of Insider's ${max} characters. Use a shorter template or attribute.`,
    };
  }
  const shortenedName = `${stem}${ELLIPSIS}`;
  const segmentName = assemble(shortenedName);
  if (measureName(segmentName).counted > max) throw new Error(`Shortening "${input.name}" did not fit ${max} characters`);
  const before = measureName(input.name);
  const after = measureName(shortenedName);
  const counting = before.utf16Units > before.codePoints ? '; emoji and some symbols count as two' : before.counted > before.visible ? '; some characters you see as one count as several' : '';
  return {
    ok: true,
    segmentName,
    shortened: true,
    rule: `{name} shortened from ${before.visible} to ${after.visible} characters to fit Insider's ${max}-character limit${counting}`,
  };
}
