// Unit tests of the naming rules: key decoding, folder/file → attribute/segment, overrides and rejections.
import { describe, expect, it } from 'vitest';
import { decodeMetadataValue, decodeS3EventKey, resolveNames } from '../../lambdas/core/naming.js';

const base = { size: 10, metadata: {}, maxFileBytes: 1000 };

describe('decodeS3EventKey', () => {
  it.each([
    ['Email+Address/VIP+customers.csv', 'Email Address/VIP customers.csv'],
    ['a/1%2B1%3D2.csv', 'a/1+1=2.csv'],
    ['em/%C3%BCml%C3%A4ut+%28copy%29.csv', 'em/ümläut (copy).csv'],
    ['em/100%25.csv', 'em/100%.csv'],
  ])('%s → %s', (raw, decoded) => {
    expect(decodeS3EventKey(raw)).toBe(decoded);
  });
});

describe('decodeMetadataValue', () => {
  it('decodes RFC 2047 base64 and Q words and leaves plain text alone', () => {
    expect(decodeMetadataValue(`=?UTF-8?B?${Buffer.from('Müşteri').toString('base64')}?=`)).toBe('Müşteri');
    expect(decodeMetadataValue('=?utf-8?Q?M=C3=BC_ok?=')).toBe('Mü ok');
    expect(decodeMetadataValue('plain')).toBe('plain');
  });
});

describe('resolveNames', () => {
  it('takes the attribute from the folder and the segment from the file name', () => {
    expect(resolveNames({ ...base, key: 'Email Address/VIP customers.csv' })).toEqual({
      ok: true,
      attributeName: 'Email Address',
      segmentName: 'VIP customers',
    });
  });

  it('uses the innermost folder and falls back to the default attribute', () => {
    expect(resolveNames({ ...base, key: 'exports/2026/em/a.csv' })).toMatchObject({ ok: true, attributeName: 'em' });
    expect(resolveNames({ ...base, key: 'a.csv', defaultAttributeName: 'email' })).toMatchObject({ ok: true, attributeName: 'email', segmentName: 'a' });
  });

  it('lets metadata override both names', () => {
    const result = resolveNames({ ...base, key: 'x/y.csv', metadata: { 'segment-name': 'Override', 'attribute-name': 'phone_number' } });
    expect(result).toEqual({ ok: true, segmentName: 'Override', attributeName: 'phone_number' });
  });

  it.each([
    [{ key: 'VIP.csv' }, /not in a folder.*"Email Address\/VIP.csv"/],
    [{ key: 'em/VIP.CSV' }, /lower-case "\.csv"/],
    [{ key: 'em/VIP.txt' }, /only \.csv files/],
    [{ key: 'em/.csv' }, /empty/],
    [{ key: `em/${'x'.repeat(41)}.csv` }, /41 characters; Insider allows at most 40/],
    [{ key: 'em/a.csv', size: 0 }, /file is empty/],
    [{ key: 'em/a.csv', size: 1001 }, /Insider accepts at most 1000 bytes/],
    [{ key: 'em/a.csv', metadata: { 'segment-name': '   ' } }, /metadata "segment-name" is empty/],
    [{ key: 'em/a.csv', metadata: { 'attribute-name': '' } }, /metadata "attribute-name" is empty/],
    [{ key: 'em/a.csv', metadata: { 'segment-name': 'bad\u0007name' } }, /control characters/],
  ])('rejects %o with a reason that says what to do', (input, reason) => {
    const result = resolveNames({ ...base, ...input });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('counts characters, not bytes, against the 40 limit', () => {
    expect(resolveNames({ ...base, key: `em/${'ü'.repeat(40)}.csv` })).toMatchObject({ ok: true });
  });
});
