// Tests how the FPS simulator judges a downloaded file as Insider would (text or not, counts, formats) and what it then calls back, without sockets.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { judgeFile, plannedCallbacks, UploadProcessor } from '../../local/fps-processing.js';
import { countValues, inferAttributeType, isValidValue, readText } from '../../local/fps-values.js';
import { WorkTracker } from '../../local/work-tracker.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('attribute types', () => {
  it.each([
    ['Email Address', 'email'],
    ['email', 'email'],
    ['em', 'email'],
    [' EM ', 'email'],
    ['Phone Number', 'phone'],
    ['phone_number', 'phone'],
    ['pn', 'phone'],
    ['PN', 'phone'],
    ['work_email', 'email'],
    ['mobile phone', 'phone'],
    ['Store ID', 'identifier'],
    ['pnr', 'identifier'],
  ])('%s is %s', (name, type) => {
    expect(inferAttributeType(name)).toBe(type);
  });
});

describe('email syntax', () => {
  it.each(['a@b.co', 'first.last+tag@example.com', "o'brien@sub.example.org", 'x_y-z@a-b.example', `${'l'.repeat(64)}@example.com`])('%s is valid', (value) => {
    expect(isValidValue(value, 'email')).toBe(true);
  });

  it.each([
    'a@b',
    'plainaddress',
    '@example.com',
    'a@@example.com',
    'a b@example.com',
    'a@example..com',
    'a@-example.com',
    'a@example.com.',
    'a@exam_ple.com',
    `${'l'.repeat(65)}@example.com`,
    `a@${Array.from({ length: 5 }, () => 'd'.repeat(60)).join('.')}.com`,
    'müşteri@örnek.com',
    'Email Address',
  ])('%s is invalid', (value) => {
    expect(isValidValue(value, 'email')).toBe(false);
  });
});

describe('E.164 phones (libphonenumber-js)', () => {
  it.each(['+905321234567', '+14155550123', '+4915112345678', '+61491570156', '+6598765432'])('%s is valid', (value) => {
    expect(isValidValue(value, 'phone')).toBe(true);
  });

  it.each([
    ['no +', '905321234567'],
    ['a national number', '05321234567'],
    ['spaces', '+90 532 123 45 67'],
    ['dashes', '+90-532-123-4567'],
    ['a leading 0 country code', '+0123456789'],
    ['too short for its country', '+90532123'],
    ['too long', '+9053212345678901'],
    ['an unallocated range', '+447700900123'],
    ['the header', 'Phone Number'],
  ])('%s is invalid (%s)', (_label, value) => {
    expect(isValidValue(value, 'phone')).toBe(false);
  });
});

describe('countValues: Insider\'s counting, with no header handling of its own', () => {
  it('counts a header row as a value, valid or invalid by the attribute\'s type', () => {
    expect(countValues('email\na@b.co\nc@d.io\n', 'email')).toEqual({ valid: 2, invalid: 1, total: 3 });
    expect(countValues('Phone Number\n+905321234567\n', 'phone')).toEqual({ valid: 1, invalid: 1, total: 2 });
    expect(countValues('Store ID\nid1\nid2\n', 'identifier')).toEqual({ valid: 3, invalid: 0, total: 3 });
  });

  it('does not count blank or whitespace-only lines', () => {
    expect(countValues('\n\na@b.co\n\n   \n\t\nc@d.io\n\n', 'email')).toEqual({ valid: 2, invalid: 0, total: 2 });
    expect(countValues(',\n , \n', 'identifier')).toEqual({ valid: 0, invalid: 0, total: 0 });
  });

  it('reads CRLF, LF and lone CR line ends, mixed in one file', () => {
    expect(countValues('a@b.co\r\nc@d.io\ne@f.io\rbad\r\n', 'email')).toEqual({ valid: 3, invalid: 1, total: 4 });
  });

  it('drops a leading BOM; a BOM-only or empty file has no values', () => {
    expect(countValues('\uFEFFa@b.co\n', 'email')).toEqual({ valid: 1, invalid: 0, total: 1 });
    expect(countValues('\uFEFF', 'email')).toEqual({ valid: 0, invalid: 0, total: 0 });
    expect(countValues('\uFEFF\r\n\r\n', 'email')).toEqual({ valid: 0, invalid: 0, total: 0 });
  });

  it('judges the first column, trimmed, and keeps quoted line breaks in one value', () => {
    expect(countValues(' a@b.co ,x\n"c@d.io",y\n"two\nlines",z\n', 'email')).toEqual({ valid: 2, invalid: 1, total: 3 });
  });

  it('counts duplicates once per row', () => {
    expect(countValues('a@b.co\na@b.co\n', 'email')).toEqual({ valid: 2, invalid: 0, total: 2 });
  });
});

describe('readText: a download that is not text', () => {
  it('reads UTF-8, BOM and non-ASCII included', () => {
    expect(readText(bytes('\uFEFFMüşteri\n'))).toEqual({ ok: true, text: '\uFEFFMüşteri\n' });
    expect(readText(new Uint8Array())).toEqual({ ok: true, text: '' });
  });

  it.each([
    ['gzip', gzipSync('a@b.co\n'), /gzip/],
    ['NUL bytes', bytes('a@b.co\u0000\n'), /NUL/],
    ['UTF-16', Buffer.from('\uFEFFa@b.co\n', 'utf16le'), /NUL/],
    ['invalid UTF-8 (Windows-1254)', Buffer.from([0x4d, 0xfc, 0x9f, 0x74, 0x65, 0x72, 0x69, 0x0a]), /not valid UTF-8/],
    ['a truncated UTF-8 sequence', Buffer.from([0x61, 0xc3]), /not valid UTF-8/],
  ])('refuses %s', (_label, data, error) => {
    const result = readText(data);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });
});

describe('judgeFile', () => {
  it('counts by the configured type first, then the known names, then inference', () => {
    expect(judgeFile(bytes('1\nx\n'), 'Store ID', { ' store id ': 'number' })).toEqual({ kind: 'counted', counts: { valid: 1, invalid: 1, total: 2 } });
    expect(judgeFile(bytes('+905321234567\n05321234567\n'), 'pn')).toEqual({ kind: 'counted', counts: { valid: 1, invalid: 1, total: 2 } });
  });

  it('tells a file that is not text from one that is not parseable', () => {
    expect(judgeFile(gzipSync('a@b.co\n'), 'em')).toMatchObject({ kind: 'notText' });
    expect(judgeFile(bytes('"unterminated\n'), 'em')).toMatchObject({ kind: 'unparseable', error: expect.stringMatching(/^unparseable CSV/) });
  });
});

describe('plannedCallbacks', () => {
  const counts = { valid: 2, invalid: 1, total: 3 };
  const body = { segment_name: 'S', valid_values_count: 2, invalid_values_count: 1, total_entered_values: 3 };

  it('one callback with Insider\'s field names; none when dropped', () => {
    expect(plannedCallbacks('S', counts, [])).toEqual([{ kind: 'original', body }]);
    expect(plannedCallbacks('S', counts, ['callbackDropped'])).toEqual([]);
  });

  it('a duplicate, then a conflicting one with one more valid value', () => {
    expect(plannedCallbacks('S', counts, ['callbackDelayed', 'callbackDuplicated', 'callbackConflicting'])).toEqual([
      { kind: 'original', body },
      { kind: 'duplicate', body },
      { kind: 'conflicting', body: { ...body, valid_values_count: 3, total_entered_values: 4 } },
    ]);
  });
});

describe('UploadProcessor with a file already downloaded', () => {
  const settings = {
    maxFileBytes: 1000,
    outboundTimeoutMs: 1000,
    allowNonLoopbackUrls: false,
    downloadDelayMs: 0,
    callbackDelayMs: 0,
    callbackDelayedMs: 0,
    attributeTypes: {},
  };
  // The callback URL is never fetched in these cases: a refused host would show up as a logged callback.
  const payload = { segmentName: 'S', fileUrl: 'https://example.invalid/x.csv', callbackUrl: 'https://example.invalid/cb', attributeName: 'em' };

  it('records an error and sends no callback for a file that is not text', async () => {
    const processor = new UploadProcessor(settings, new WorkTracker(), []);
    const data = gzipSync('a@b.co\n');
    const log = { callbackFaults: [] };
    await processor.process(log, payload, { ok: true, body: data, bytes: data.length });
    expect(log).toEqual({ callbackFaults: [], processingError: 'not text: gzip-compressed data' });
    expect(processor.callbacks).toEqual([]);
  });

  it('records the counts of a text file before calling back', async () => {
    const processor = new UploadProcessor(settings, new WorkTracker(), []);
    const data = bytes('email\na@b.co\n\n');
    const log = { callbackFaults: ['callbackDropped' as const] };
    await processor.process(log, payload, { ok: true, body: data, bytes: data.length });
    expect(log).toEqual({ callbackFaults: ['callbackDropped'], counts: { valid: 1, invalid: 1, total: 2 } });
    expect(processor.callbacks).toEqual([]);
  });

  it('calls back (with zeros) for a file it could not download', async () => {
    const processor = new UploadProcessor(settings, new WorkTracker(), []);
    const log = { callbackFaults: [] };
    await processor.process(log, payload, { ok: false, tooLarge: false, error: 'download failed: HTTP 403' });
    expect(log).toEqual({ callbackFaults: [], processingError: 'download failed: HTTP 403' });
    expect(processor.callbacks).toMatchObject([{ kind: 'original', status: null, error: expect.stringMatching(/non-loopback/), body: { total_entered_values: 0 } }]);
  });
});
