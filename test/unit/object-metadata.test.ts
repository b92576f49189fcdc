// Unit tests of the metadata rules: RFC 2047 decoding with the rfc2047 package, near-miss keys, dry-run values.
import { describe, expect, it } from 'vitest';
import { decodeMetadataValue, dryRunLookalikeKeyReason, dryRunLookalikeKeys, metadataKeyNotes, nearMissMetadataKey, readDryRunValue } from '../../lambdas/core/object-metadata.js';

const word = (charset: string, encoding: 'B' | 'Q', bytes: Buffer | number[]): string => {
  const buffer = Buffer.from(bytes);
  const text = encoding === 'B' ? buffer.toString('base64') : [...buffer].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return `=?${charset}?${encoding}?${text}?=`;
};
/** "Müşteri İğdır" in Windows-1254 (Turkish): ü FC, ş FE, İ DD, ğ F0, ı FD. */
const WINDOWS_1254 = [0x4d, 0xfc, 0xfe, 0x74, 0x65, 0x72, 0x69, 0x20, 0xdd, 0xf0, 0x64, 0xfd, 0x72];

describe('decodeMetadataValue', () => {
  it('leaves plain values alone, "=?" that starts no encoded word included', () => {
    expect(decodeMetadataValue('Gold')).toEqual({ ok: true, value: 'Gold', encoded: false });
    expect(decodeMetadataValue('a =? b')).toEqual({ ok: true, value: 'a =? b', encoded: false });
  });

  it.each([
    ['UTF-8, B', `=?UTF-8?B?${Buffer.from('Sadık müşteriler').toString('base64')}?=`, 'Sadık müşteriler'],
    ['UTF-8, Q with _ for space', '=?UTF-8?Q?M=C3=BC_ok?=', 'Mü ok'],
    ['lower-case charset and encoding', '=?utf-8?q?M=C3=BC?=', 'Mü'],
    ['UTF-8, Q with a literal %', '=?UTF-8?Q?100%_M=C3=BC?=', '100% Mü'],
    ['ISO-8859-1, Q with a literal %', '=?ISO-8859-1?Q?M=FCller_100%?=', 'Müller 100%'],
    ['ISO-8859-1, B', word('ISO-8859-1', 'B', [0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]), 'Müller'],
    ['Windows-1254, B', word('windows-1254', 'B', WINDOWS_1254), 'Müşteri İğdır'],
    ['Windows-1254, Q', word('Windows-1254', 'Q', WINDOWS_1254), 'Müşteri İğdır'],
    ['ISO-8859-9, Q', word('ISO-8859-9', 'Q', WINDOWS_1254), 'Müşteri İğdır'],
    ['Shift_JIS, B', word('Shift_JIS', 'B', [0x93, 0xfa, 0x96, 0x7b]), '日本'],
    ['an encoded word between plain text', `VIP ${word('UTF-8', 'B', Buffer.from('müşteri'))} 2026`, 'VIP müşteri 2026'],
  ])('decodes %s', (_, value, expected) => {
    expect(decodeMetadataValue(value)).toEqual({ ok: true, value: expected, encoded: true });
  });

  it('joins the several encoded words S3 splits a long value into', () => {
    const name = 'Sadık müşteriler İstanbul şubesi kasım kampanyası';
    const chunks = name.match(/.{1,9}/gu) ?? [];
    expect(chunks.length).toBeGreaterThan(4);
    const bWords = chunks.map((c) => word('UTF-8', 'B', Buffer.from(c)));
    expect(decodeMetadataValue(bWords.join(' '))).toMatchObject({ ok: true, value: name });
    expect(decodeMetadataValue(bWords.join('\r\n '))).toMatchObject({ ok: true, value: name });
    const qWords = chunks.map((c) => word('UTF-8', 'Q', Buffer.from(c)));
    expect(decodeMetadataValue(qWords.join(' '))).toMatchObject({ ok: true, value: name });
  });

  it.each([
    ['an unknown charset', '=?x-unknown?Q?abc?=', /"=\?x-unknown\?Q\?abc\?=" names the character set "x-unknown", which the pipeline cannot read/],
    ['an RFC 2231 language suffix', '=?UTF-8*tr?Q?abc?=', /names the character set "UTF-8\*tr"/],
    ['invalid UTF-8 bytes', word('UTF-8', 'B', [0xff, 0x41]), /holds bytes that are not valid UTF-8/],
    ['half of a UTF-8 character', word('UTF-8', 'B', [0xc3]), /holds bytes that are not valid UTF-8/],
    ['a byte Windows-1254 leaves undefined', word('windows-1254', 'Q', [0x81]), /not valid windows-1254/],
    ['an unknown encoding letter', '=?UTF-8?X?abc?=', /uses encoding "X"; only B and Q exist/],
    ['malformed base64', '=?UTF-8?B?not base64!!?=', /"=\?UTF-8\?B\?not base64!!\?="/],
    ['one bad word among good ones', `=?UTF-8?Q?ok?= ${word('UTF-8', 'B', [0xff])}`, /not valid UTF-8/],
  ])('refuses %s with a reason, and never returns the raw word as a value', (_, value, reason) => {
    const result = decodeMetadataValue(value);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toMatch(reason);
      expect(result.reason).toMatch(/Set the value again as plain UTF-8 text/);
    }
  });

  it('refuses a decoded U+FFFD, a sign of damaged text', () => {
    const result = decodeMetadataValue('=?UTF-8?Q?VIP_=EF=BF=BD?=');
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/U\+FFFD REPLACEMENT CHARACTER/) });
  });
});

describe('near-miss metadata keys', () => {
  it.each([
    ['segment_name', 'segment-name'],
    ['segmentname', 'segment-name'],
    ['Segment-Name ', 'segment-name'],
    ['SEGMENT NAME', 'segment-name'],
    ['segment-nme', 'segment-name'],
    ['x-amz-meta-segment-name', 'segment-name'],
    ['attribute_name', 'attribute-name'],
    ['atribute-name', 'attribute-name'],
    ['segment-name-tmplate', 'segment-name-template'],
    ['segment_name_template', 'segment-name-template'],
    ['dryrun', 'dry-run'],
    ['dry_run', 'dry-run'],
  ])('%j → did you mean %s?', (key, meant) => {
    expect(nearMissMetadataKey(key)).toBe(meant);
  });

  it.each(['segment-name', 'attribute-name', 'segment-name-template', 'dry-run', 'content-type', 'segment', 'source', 'owner', 'dr'])('%s is no near miss', (key) => {
    expect(nearMissMetadataKey(key)).toBeUndefined();
  });

  it('writes one note per near miss, quoting keys with white space, but none for near misses of dry-run (they are refused)', () => {
    expect(metadataKeyNotes({ segment_name: 'Gold', 'Segment-Name ': 'x', 'attribute-name': 'em', owner: 'me', dryrun: 'true', atribute_name: 'em' })).toEqual([
      'metadata segment_name was ignored; did you mean segment-name?',
      'metadata "Segment-Name " was ignored; did you mean segment-name?',
      'metadata atribute_name was ignored; did you mean attribute-name?',
    ]);
  });
});

describe('near misses of dry-run', () => {
  it('finds every key the near-miss rule maps to dry-run, and nothing else', () => {
    expect(dryRunLookalikeKeys({ dryrun: 'true', dry_run: 'yes', 'dry run': '1', 'dry-run ': 'true', 'Dry-Run': 'true', 'x-amz-meta-dry-run': 'true', 'dry-rn': 'true' })).toEqual([
      'dryrun',
      'dry_run',
      'dry run',
      'dry-run ',
      'Dry-Run',
      'x-amz-meta-dry-run',
      'dry-rn',
    ]);
    expect(dryRunLookalikeKeys({ 'dry-run': 'true', segment_name: 'Gold', owner: 'me', dry: 'x' })).toEqual([]);
  });

  it('says how to ask for a dry run and how to send for real, quoting the key as written', () => {
    expect(dryRunLookalikeKeyReason('dryrun')).toBe(
      'Metadata "dryrun" looks like "dry-run": set metadata "dry-run" to "true" for a dry run, or remove "dryrun" for a real upload. Nothing was sent to Insider.',
    );
    expect(dryRunLookalikeKeyReason('dry-run ')).toMatch(/^Metadata "dry-run " looks like "dry-run": .* remove "dry-run " for a real upload\./);
  });
});

describe('readDryRunValue', () => {
  it.each(['true', 'TRUE', ' True ', 'yes', '1'])('%j is a dry run', (value) => {
    expect(readDryRunValue(value)).toEqual({ ok: true, dryRun: true });
  });

  it.each(['false', 'No', '0'])('%j is a real upload', (value) => {
    expect(readDryRunValue(value)).toEqual({ ok: true, dryRun: false });
  });

  it.each(['', 'ture', 'maybe', 'on'])('%j is refused rather than guessed', (value) => {
    const result = readDryRunValue(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe(`Metadata "dry-run" is ${JSON.stringify(value)}: set it to "true" for a dry run, or "false" (or leave it out) for a real upload. Nothing was sent to Insider.`);
  });
});
