// Unit tests of segment name templates: parsing, time zones (DST, date line), rendering and shortening within 40.
import { describe, expect, it } from 'vitest';
import {
  formatEventTime,
  isNameOnly,
  isValidTimeZone,
  parseSegmentNameTemplate,
  type RenderInput,
  renderSegmentName,
  segmentNameTemplate,
  timeZoneProblem,
  usesCounter,
} from '../../lambdas/core/segment-name-template.js';
import { measureName } from '../../lambdas/core/unicode-names.js';

const AT = new Date('2026-11-29T14:05:09Z');
const render = (over: Partial<RenderInput>) => renderSegmentName({ template: '{name} {date}', name: 'VIP', attribute: 'Email Address', eventTime: AT, ...over });

describe('parseSegmentNameTemplate', () => {
  it('splits a template into text and placeholders, with {{ and }} as literal braces', () => {
    expect(parseSegmentNameTemplate('  {name} {{v2}} {date}  ')).toEqual({
      ok: true,
      template: { source: '{name} {{v2}} {date}', parts: [{ placeholder: 'name' }, { literal: ' {v2} ' }, { placeholder: 'date' }] },
    });
    for (const t of ['{name}', '{name} {date}', '{attribute}: {name} {datetime}', '{name} #{n}', '{name} {time}']) {
      expect(parseSegmentNameTemplate(t).ok).toBe(true);
    }
  });

  it.each([
    ['{name} {Date}', ['Unknown placeholder {Date}: did you mean {date}?']],
    ['{ name } {date}', ['Unknown placeholder { name }: did you mean {name}?']],
    ['{name} {counter}', ['Unknown placeholder {counter}: did you mean {n}?']],
    ['{name} {week}', ['Unknown placeholder {week}: use one of {name}, {attribute}, {date}, {time}, {datetime}, {n}.']],
    ['{name} {date', ['"{" at position 8 is never closed: write a placeholder such as {date}, or "{{" for a literal brace.']],
    ['{name} date}', ['"}" at position 12 closes nothing: write "}}" for a literal brace.']],
    ['{name {date}', ['"{" at position 1 is never closed: write a placeholder such as {date}, or "{{" for a literal brace.', expect.stringMatching(/has no \{name\}/)]],
    ['{date}', ['The template has no {name}: every file would get the same segment name. Add {name}, e.g. "{name} {date}" (for one fixed name, set metadata "segment-name").']],
    ['{{name}}', [expect.stringMatching(/^The template has no \{name\}/)]],
    ['{name} {name}', ['{name} appears 2 times: use it once.']],
    ['{name}\u200B{date}', ['The template contains invisible or control characters: U+200B ZERO WIDTH SPACE at character 7 (after "{name}"). Remove them.']],
    [`{name} ${'x'.repeat(21)} {datetime}`, ["The template's fixed text and dates take 39 of Insider's 40 characters, leaving no room for {name}: shorten the text around it."]],
    ['{name}\u0301 {date}', ["The text after a placeholder starts with a combining mark (U+0301), which would join the placeholder's last letter: put a space or other text before it."]],
    ['{date}\u0303{name}', ["The text after a placeholder starts with a combining mark (U+0303), which would join the placeholder's last letter: put a space or other text before it."]],
  ])('%j is refused with what to fix', (template, errors) => {
    expect(parseSegmentNameTemplate(template)).toEqual({ ok: false, errors });
  });

  it('leaves room for one character and "…" at most', () => {
    expect(parseSegmentNameTemplate(`{name}${'x'.repeat(38)}`).ok).toBe(true);
    expect(parseSegmentNameTemplate(`{name}${'x'.repeat(39)}`).ok).toBe(false);
  });

  it('throws from segmentNameTemplate for configuration that was not validated', () => {
    expect(() => segmentNameTemplate('{nmae}')).toThrow(/Invalid segment name template "\{nmae\}": Unknown placeholder \{nmae\}/);
  });

  it('tells whether a counter is needed and whether the template is {name} alone', () => {
    expect(usesCounter('{name} #{n}')).toBe(true);
    expect(usesCounter('{name} {date}')).toBe(false);
    expect(isNameOnly('{name}')).toBe(true);
    expect(isNameOnly(' {name} ')).toBe(true);
    expect(isNameOnly('{name}!')).toBe(false);
  });
});

describe('time zones', () => {
  it.each(['UTC', 'utc', 'Europe/Istanbul', 'America/New_York', 'Etc/GMT+3', 'Asia/Kathmandu'])('%s is valid', (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
    expect(timeZoneProblem(zone)).toBeUndefined();
  });

  it.each(['', 'Mars/Olympus', 'GMT+3', 'Europe/Istambul'])('%j is not', (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });

  it('suggests the nearest IANA name', () => {
    expect(timeZoneProblem('Europe/Istambul')).toBe('timeZone "Europe/Istambul" is not an IANA time zone name: use a name such as "Europe/Istanbul" or "UTC".');
    expect(timeZoneProblem('Mars/Olympus')).toMatch(/use a name such as "Europe\/Istanbul" or "UTC"/);
  });

  it.each([
    ['UTC', '2026-11-29T14:05:09Z', '2026-11-29', '14:05'],
    ['UTC', '2026-11-29T00:00:00Z', '2026-11-29', '00:00'],
    ['Europe/Istanbul', '2026-11-29T21:30:00Z', '2026-11-30', '00:30'],
    ['Asia/Kathmandu', '2026-11-29T14:05:00Z', '2026-11-29', '19:50'],
    // New York leaves daylight saving time at 02:00 on 2026-11-01: 01:30 happens twice.
    ['America/New_York', '2026-11-01T05:30:00Z', '2026-11-01', '01:30'],
    ['America/New_York', '2026-11-01T06:30:00Z', '2026-11-01', '01:30'],
    // Berlin enters it at 02:00 on 2026-03-29: 02:xx never happens.
    ['Europe/Berlin', '2026-03-29T00:59:00Z', '2026-03-29', '01:59'],
    ['Europe/Berlin', '2026-03-29T01:00:00Z', '2026-03-29', '03:00'],
    // The date line: one instant, two calendar days apart.
    ['Pacific/Kiritimati', '2026-11-29T10:30:00Z', '2026-11-30', '00:30'],
    ['Pacific/Pago_Pago', '2026-11-29T10:30:00Z', '2026-11-28', '23:30'],
  ])('in %s, %s is %s %s', (zone, instant, date, time) => {
    expect(formatEventTime(new Date(instant), zone)).toEqual({ date, time, datetime: `${date} ${time}` });
  });
});

describe('renderSegmentName', () => {
  it('fills every placeholder', () => {
    expect(render({ template: '{attribute}: {name} {datetime} #{n}', counter: 12 })).toEqual({
      ok: true,
      segmentName: 'Email Address: VIP 2026-11-29 14:05 #12',
      shortened: false,
    });
    expect(render({ template: '{name} {time}', timeZone: 'Europe/Istanbul' })).toMatchObject({ segmentName: 'VIP 17:05' });
    expect(render({ template: '{name} {date}', timeZone: 'Pacific/Kiritimati', eventTime: new Date('2026-11-29T10:30:00Z') })).toMatchObject({
      segmentName: 'VIP 2026-11-30',
    });
  });

  it('gives today\'s name for {name}, and refuses rather than shortens an over-long one', () => {
    expect(render({ template: '{name}', name: 'x'.repeat(40) })).toMatchObject({ ok: true, segmentName: 'x'.repeat(40), shortened: false });
    expect(render({ template: '{name}', name: 'x'.repeat(45) })).toEqual({ ok: false, reason: 'The segment name has 45 characters; Insider allows at most 40.' });
  });

  it('throws when the template needs a counter the caller did not give', () => {
    expect(() => render({ template: '{name} #{n}' })).toThrow(/uses \{n\}: pass a positive whole counter \(got undefined\)/);
    expect(() => render({ template: '{name} #{n}', counter: 0 })).toThrow(/got 0/);
    expect(() => render({ template: '{name} #{n}', counter: 1.5 })).toThrow(/got 1.5/);
  });

  it('shortens only {name}, visibly and the same way every time, when the rendered name is over 40', () => {
    const name = 'Customers who opened the November newsletter';
    expect(render({ name, template: '{name} {date}' })).toEqual({
      ok: true,
      segmentName: 'Customers who opened the Nov… 2026-11-29',
      shortened: true,
      rule: "{name} shortened from 44 to 29 characters to fit Insider's 40-character limit",
    });
    const first = render({ name, template: '{name} {date}' });
    expect(render({ name, template: '{name} {date}' })).toEqual(first);
    // Cut where a space falls: the space goes, the "…" stays next to the word.
    expect(render({ name: 'Customers who opened the November letter', template: '{name} -- {date}' })).toMatchObject({
      segmentName: 'Customers who opened the… -- 2026-11-29',
    });
  });

  it('keeps the date and counter whole', () => {
    const result = render({ name: 'n'.repeat(60), template: '{name} {datetime} #{n}', counter: 123456 });
    expect(result).toMatchObject({ ok: true, shortened: true });
    if (result.ok) {
      expect(result.segmentName).toBe(`${'n'.repeat(14)}… 2026-11-29 14:05 #123456`);
      expect(result.segmentName).toHaveLength(40);
    }
  });

  it('does not shorten a name that fits exactly', () => {
    expect(render({ name: 'x'.repeat(29), template: '{name} {date}' })).toMatchObject({ shortened: false, segmentName: `${'x'.repeat(29)} 2026-11-29` });
    expect(render({ name: 'x'.repeat(30), template: '{name} {date}' })).toMatchObject({ shortened: true, segmentName: `${'x'.repeat(28)}… 2026-11-29` });
  });

  it('shortens Turkish names at a character boundary, dropping white space before "…"', () => {
    const name = 'Sadık müşteriler İstanbul şubesi kasım kampanyası';
    const result = render({ name, template: '{name} {date}' });
    expect(result).toEqual({
      ok: true,
      segmentName: 'Sadık müşteriler İstanbul şu… 2026-11-29',
      shortened: true,
      rule: "{name} shortened from 49 to 29 characters to fit Insider's 40-character limit",
    });
  });

  it('shortens emoji names without splitting an emoji, counting each as two', () => {
    const result = render({ name: '🎉'.repeat(30), template: '{name} {date}' });
    expect(result).toMatchObject({ ok: true, shortened: true, rule: "{name} shortened from 30 to 15 characters to fit Insider's 40-character limit; emoji and some symbols count as two" });
    if (result.ok) {
      expect(result.segmentName).toBe(`${'🎉'.repeat(14)}… 2026-11-29`);
      expect(measureName(result.segmentName).counted).toBe(40);
      expect(result.segmentName).not.toMatch(/\p{Cs}/u);
    }
    const families = render({ name: '👨‍👩‍👧'.repeat(6), template: '{name} {date}' });
    expect(families).toMatchObject({ ok: true, segmentName: `${'👨‍👩‍👧'.repeat(3)}… 2026-11-29` });
  });

  it('never separates a combining mark from its letter (one with no precomposed form survives NFC)', () => {
    // q + U+0303 COMBINING TILDE has no precomposed character: two code points, one visible letter.
    const letter = 'q\u0303';
    const result = render({ name: `${letter}x`.repeat(20), template: '{name} {date}' });
    expect(result).toMatchObject({ ok: true, shortened: true });
    if (result.ok) {
      const kept = result.segmentName.slice(0, result.segmentName.indexOf('…'));
      // Cut only after a whole "q̃x" or after a whole "q̃", never between q and its tilde.
      expect(kept).toMatch(/^(q\u0303x)+(q\u0303)?$/u);
      expect(measureName(result.segmentName).counted).toBeLessThanOrEqual(40);
    }
  });

  it('refuses when the fixed parts alone leave no room, saying which parts', () => {
    const result = render({ template: '{attribute} {datetime} {name}', attribute: 'A very long attribute name for tests' });
    expect(result).toEqual({
      ok: false,
      reason:
        'The segment name template "{attribute} {datetime} {name}" leaves no room for the name: its other parts ' +
        '({attribute} = "A very long attribute name for tests", " ", {datetime} = "2026-11-29 14:05", " ") take 54 of Insider\'s 40 characters. Use a shorter template or attribute.',
    });
  });
});
