// The README's bad-input table, row by row, through the local stack: what a user sees for each bad drop or callback.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig } from '../../infra/config.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const MAX_FILE_BYTES = 1024;
let stack: LocalStack;

beforeAll(async () => {
  // Insider never calls back here, so each upload stays submitted and its callback URL can be probed.
  stack = await startLocalStack({ context: { maxFileBytes: MAX_FILE_BYTES }, simulator: { faults: { callbackDropped: 1 } } });
});

afterAll(async () => {
  await stack?.stop();
});

interface DropCase {
  /** The row's first cell in the README table, verbatim. */
  row: string;
  key: string;
  body?: string;
  metadata?: Record<string, string>;
  expect: Partial<UploadRecord> | 'no record';
  reason?: RegExp;
}

const rfc2047 = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

const DROPS: DropCase[] = [
  { row: 'File not in a folder, no default attribute', key: 'VIP.csv', expect: { status: 'rejected' }, reason: /No attribute name.*"Email Address\/VIP.csv"/ },
  { row: 'Segment name over 40 characters', key: `em/${'x'.repeat(41)}.csv`, expect: { status: 'rejected' }, reason: /41 characters; Insider allows at most 40/ },
  { row: 'Empty segment name (`em/.csv`)', key: 'em/.csv', expect: { status: 'rejected' }, reason: /Segment name from the file name is empty/ },
  { row: 'Empty file (0 bytes)', key: 'em/Empty.csv', body: '', expect: { status: 'rejected' }, reason: /The file is empty/ },
  { row: 'File over the size limit', key: 'em/Big.csv', body: 'x'.repeat(MAX_FILE_BYTES + 1), expect: { status: 'rejected' }, reason: /Insider accepts at most 1 KB\. Split it/ },
  { row: 'Upper-case extension `.CSV`', key: 'em/Upper.CSV', expect: { status: 'rejected' }, reason: /rename it to end in lower-case "\.csv"/ },
  { row: 'Not a CSV (`.txt`)', key: 'em/notes.txt', expect: { status: 'rejected' }, reason: /File name "notes\.txt" does not end in "\.csv": only \.csv files are sent to Insider/ },
  { row: 'Metadata `segment-name` blank', key: 'em/m1.csv', metadata: { 'segment-name': ' ' }, expect: { status: 'rejected' }, reason: /metadata "segment-name" is empty/ },
  { row: 'Metadata `segment-name` over 40 characters', key: 'em/m2.csv', metadata: { 'segment-name': 'y'.repeat(45) }, expect: { status: 'rejected' }, reason: /from metadata "segment-name" has 45 characters/ },
  { row: 'Metadata `attribute-name` blank', key: 'em/m3.csv', metadata: { 'attribute-name': '' }, expect: { status: 'rejected' }, reason: /metadata "attribute-name" is empty/ },
  { row: 'Key with `+` and `=` (`em/1+1=2.csv`)', key: 'em/1+1=2.csv', expect: { status: 'submitted', segmentName: '1+1=2' } },
  { row: 'Key with `%` and parentheses (`em/100% (v2).csv`)', key: 'em/100% (v2).csv', expect: { status: 'submitted', segmentName: '100% (v2)' } },
  { row: 'Key with unicode (`em/Müşteri ü.csv`)', key: 'em/Müşteri ü.csv', expect: { status: 'submitted', segmentName: 'Müşteri ü' } },
  { row: 'Metadata `segment-name` with unicode (RFC 2047)', key: 'em/m4.csv', metadata: { 'segment-name': rfc2047('Sadık müşteriler') }, expect: { status: 'submitted', segmentName: 'Sadık müşteriler' } },
];

describe('bad drops', () => {
  it.each(DROPS)('$row', async (c) => {
    await stack.put(c.key, c.body ?? 'someone@example.com\n', c.metadata);
    if (c.expect === 'no record') {
      await stack.idle();
      expect((await stack.records()).filter((r) => r.key === c.key)).toEqual([]);
      return;
    }
    const [record] = await stack.waitForFinal([c.key], { acceptSubmitted: true });
    expect(record).toMatchObject(c.expect);
    if (c.reason) expect(record?.reason).toMatch(c.reason);
  });

  it('Upper-case partner name (`-c partnerName=MyBrand`)', () => {
    expect(() => parsePipelineConfig({ partnerName: 'MyBrand' })).toThrow(ConfigError);
    expect(() => parsePipelineConfig({ partnerName: 'MyBrand' })).toThrow(/partnerName must be lowercase/);
  });
});

describe('bad callbacks', () => {
  let url = '';
  let uploadId = '';
  const body = { segment_name: 'Callback target', valid_values_count: 1, invalid_values_count: 0, total_entered_values: 1 };
  const post = (target: string, payload: unknown) =>
    fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  beforeAll(async () => {
    await stack.put('em/Callback target.csv', 'someone@example.com\n');
    const [record] = await stack.waitForFinal(['em/Callback target.csv'], { acceptSubmitted: true });
    uploadId = record?.uploadId ?? '';
    url = stack.simulator.requests.find((q) => q.segmentName === 'Callback target' && q.accepted)?.callbackUrl ?? '';
    expect(url).toContain(uploadId);
  });

  const status = async () => (await stack.records()).find((r) => r.uploadId === uploadId)?.status;

  it.each([
    ['Body is not JSON', () => post(url, '{not json'), 400, /not valid JSON/],
    ['Empty body', () => post(url, ''), 400, /body is empty/],
    ['Negative count', () => post(url, { ...body, valid_values_count: -1 }), 400, /valid_values_count must not be negative/],
    ['Non-integer count (`1.5`)', () => post(url, { ...body, total_entered_values: 1.5 }), 400, /total_entered_values must be a whole number/],
    ['Count as a string (`"7"`)', () => post(url, { ...body, invalid_values_count: '7' }), 400, /invalid_values_count must be a number/],
    ['Missing field', () => post(url, { segment_name: 'Callback target' }), 400, /valid_values_count/],
    ['Wrong token', () => post(url.replace(/[^/]+$/, 'guessed'), body), 403, /Invalid callback token/],
    ['Unknown upload id', () => post(url.replace(uploadId, 'f'.repeat(32)), body), 404, /Unknown upload/],
    ['Body over 4 KB', () => post(url, { ...body, padding: 'p'.repeat(5000) }), 413, /larger than 4096 bytes/],
    ['Body over 10 MB', () => post(url, 'p'.repeat(10 * 1024 * 1024 + 1)), 413, /Request Entity Too Large/],
    ['`segment_name` of another segment', () => post(url, { ...body, segment_name: 'Someone else' }), 409, /does not match/],
  ])('%s', async (_row, send, code, message) => {
    const response = await send();
    expect(response.status).toBe(code);
    expect(JSON.stringify(await response.json())).toMatch(message);
    expect(await status()).toBe('submitted');
  });

  it('GET instead of POST', async () => {
    expect((await fetch(url)).status).toBe(404);
    expect(await status()).toBe('submitted');
  });

  it('Extra fields', async () => {
    const response = await post(url, { ...body, insider_extra: 'ignored' });
    expect(response.status).toBe(200);
    expect(await status()).toBe('completed');
  });

  it('Different counts for a completed upload', async () => {
    const response = await post(url, { ...body, valid_values_count: 0 });
    expect(response.status).toBe(409);
    expect((await stack.records()).find((r) => r.uploadId === uploadId)?.validValuesCount).toBe(1);
  });
});

describe('the README', () => {
  it('lists every row tested here in its bad-input table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Bad input'));
    const rows = [
      ...DROPS.map((c) => c.row),
      'Upper-case partner name (`-c partnerName=MyBrand`)',
      'Body is not JSON', 'Empty body', 'Negative count', 'Non-integer count (`1.5`)', 'Count as a string (`"7"`)', 'Missing field',
      'Wrong token', 'Unknown upload id', 'Body over 4 KB', 'Body over 10 MB', '`segment_name` of another segment',
      'GET instead of POST', 'Extra fields', 'Different counts for a completed upload',
    ];
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) expect(section, row).toContain(`| ${row} |`);
  });
});
