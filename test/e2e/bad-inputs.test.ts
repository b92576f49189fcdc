// The README's bad-input table, row by row, through the local stack: what a user sees for each bad drop or callback.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig } from '../../infra/config.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

const MAX_FILE_BYTES = 1024;
let stack: LocalStack;

beforeAll(async () => {
  // Insider never calls back here, so each upload stays submitted and its callback URL can be probed.
  stack = await startLocalStack({ context: { maxFileBytes: MAX_FILE_BYTES }, simulator: { faults: { callbackDropped: 1 } } });
});

// Every AWS call the functions and the platform made here must be allowed by the template's IAM.
afterAll(() => stopAfterCheckingCalls(stack));

interface DropCase {
  /** The row's first cell in the README table, verbatim. */
  row: string;
  key: string;
  body?: string | Uint8Array;
  metadata?: Record<string, string>;
  expect: Partial<UploadRecord> | 'no record';
  reason?: RegExp;
  note?: RegExp;
  /** Requests the drop may make to Insider (checked when set). */
  requests?: number;
  /** What Insider downloads through the URL it was sent (checked when set). */
  sent?: string;
}

const rfc2047 = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;
/** A long value as S3 returns it: several encoded words, each under 75 characters. */
const rfc2047Words = (...parts: string[]) => parts.map(rfc2047).join(' ');
/** The first bytes of a ZIP archive, as an Excel workbook starts. */
const XLSX_BYTES = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]), Buffer.from('[Content_Types].xml')]);

const DROPS: DropCase[] = [
  { row: 'File not in a folder, no default attribute', key: 'VIP.csv', expect: { status: 'rejected' }, reason: /No attribute name.*"Email Address\/VIP.csv"/ },
  { row: 'Segment name over 40 characters', key: `em/${'x'.repeat(41)}.csv`, expect: { status: 'rejected' }, reason: /41 characters; Insider allows at most 40/ },
  { row: 'Empty segment name (`em/.csv`)', key: 'em/.csv', expect: { status: 'rejected' }, reason: /Segment name from the file name is empty/ },
  { row: 'Empty file (0 bytes)', key: 'em/Empty.csv', body: '', expect: { status: 'rejected' }, reason: /The file is empty/ },
  { row: 'File over the size limit', key: 'em/Big.csv', body: 'x'.repeat(MAX_FILE_BYTES + 1), expect: { status: 'rejected' }, reason: /Insider accepts at most 1 KB\. Split it/ },
  { row: 'Upper-case extension `.CSV`', key: 'em/Upper.CSV', expect: { status: 'submitted', segmentName: 'Upper' }, note: /^Insider was sent a cleaned copy \([0-9a-f]{32}\.csv in the prepared bucket\): renamed to end in "\.csv"\.$/, requests: 1 },
  { row: 'Not a CSV (`.txt`)', key: 'em/notes.txt', expect: { status: 'rejected' }, reason: /File name "notes\.txt" does not end in "\.csv" \(it ends in "\.txt"\); only \.csv and \.csv\.gz files are sent to Insider/ },
  { row: 'Metadata `segment-name` blank', key: 'em/m1.csv', metadata: { 'segment-name': ' ' }, expect: { status: 'rejected' }, reason: /metadata "segment-name" is empty/ },
  { row: 'Metadata `segment-name` over 40 characters', key: 'em/m2.csv', metadata: { 'segment-name': 'y'.repeat(45) }, expect: { status: 'rejected' }, reason: /from metadata "segment-name" has 45 characters/ },
  { row: 'Metadata `attribute-name` blank', key: 'em/m3.csv', metadata: { 'attribute-name': '' }, expect: { status: 'rejected' }, reason: /metadata "attribute-name" is empty/ },
  { row: 'Key with `+` and `=` (`em/1+1=2.csv`)', key: 'em/1+1=2.csv', expect: { status: 'submitted', segmentName: '1+1=2' } },
  { row: 'Key with `%` and parentheses (`em/100% (v2).csv`)', key: 'em/100% (v2).csv', expect: { status: 'submitted', segmentName: '100% (v2)' } },
  { row: 'Key with unicode (`em/Müşteri ü.csv`)', key: 'em/Müşteri ü.csv', expect: { status: 'submitted', segmentName: 'Müşteri ü' } },
  { row: 'Metadata `segment-name` with unicode (RFC 2047)', key: 'em/m4.csv', metadata: { 'segment-name': rfc2047('Sadık müşteriler') }, expect: { status: 'submitted', segmentName: 'Sadık müşteriler' } },
  // Issue 8: what the pre-flight check refuses before Insider sees the file (its name stays free).
  { row: 'File of blank lines only', key: 'em/Blank lines.csv', body: '\n\r\n\n', expect: { status: 'rejected' }, reason: /^The file has no values: it holds only 3 blank lines\. Put one value per line/, requests: 0 },
  { row: 'File of white space only', key: 'em/Spaces.csv', body: '   \t  \n  \n', expect: { status: 'rejected' }, reason: /^The file has no values/, requests: 0 },
  { row: 'File holding only a byte order mark', key: 'em/Bom.csv', body: '\ufeff', expect: { status: 'rejected' }, reason: /^The file has no values: it holds only a byte-order mark\./, requests: 0 },
  { row: 'Header row and nothing else', key: 'Email Address/Header only.csv', body: 'Email Address\r\n', expect: { status: 'rejected' }, reason: /^The file has no values: it holds only a header row \(line 1\)/, requests: 0 },
  { row: 'Phone numbers dropped in the email folder', key: 'em/Phones.csv', body: '+905321234567\n+905551234567\n0555 123 45 67\n', expect: { status: 'rejected' }, reason: /^3 of 3 values are not email addresses \(lines 1, 2 and 3\)\. 3 of them look like phone numbers: check the folder/, requests: 0 },
  { row: 'Phone numbers Excel saved in scientific notation (`9.05321E+11`)', key: 'phone_number/Excel phones.csv', body: 'Phone\r\n9.05321E+11\r\n9.05551E+11\r\n', expect: { status: 'rejected' }, reason: /^2 of 2 values are not phone numbers in E\.164 format \(\+ and country code\) \(lines 2 and 3\)\. 2 of them are numbers Excel saved in scientific notation \(like 9\.05E\+11\), their last digits likely lost: export the file again from its source/, requests: 0 },
  { row: 'Addresses pasted on one line (`ann@…, bob@…, cid@…`)', key: 'em/Pasted list.csv', body: 'ann@example.com, bob@example.com, cid@example.com\r\n', expect: { status: 'rejected' }, reason: /^Most of the file's email addresses would not reach Insider: its first row holds 3, separated by commas, and only each row's first value is sent \(here 1\)\. Put one value per line\. If the file is a table of several columns, give it a header row\.$/, requests: 0 },
  { row: 'Excel workbook renamed `.csv`', key: 'em/Workbook.csv', body: XLSX_BYTES, expect: { status: 'rejected' }, reason: /^The file is a ZIP archive \(an Excel \.xlsx file is one\), not a CSV/, requests: 0 },
  { row: 'Gzip bomb (`.csv.gz`, 544 bytes that decompress to 512 KB)', key: 'em/Bomb.csv.gz', body: gzipSync(Buffer.alloc(512 * 1024, 0x30)), expect: { status: 'rejected' }, reason: /^The file is over 1 KB once decompressed \(reading stopped there\); Insider accepts at most 1 KB/, requests: 0 },
  { row: '`.csv.gz` that is not gzip', key: 'em/Fake.csv.gz', body: 'a@example.com\n', expect: { status: 'rejected' }, reason: /the file is not valid gzip data/, requests: 0 },
  { row: 'Value with a quote inside (`pii-O"Brien`)', key: 'customer_id/Quote inside.csv', body: 'pii-O"Brien\npii-id-5\npii-id-6\n', expect: { status: 'submitted', preflight: expect.objectContaining({ values: 3, bareQuotes: { count: 1, lines: [1] } }) }, note: /^Insider was sent a cleaned copy \([0-9a-f]{32}\.csv in the prepared bucket\): put quotes around 1 value with a quote mark inside \(line 1\)\.$/, sent: '"pii-O""Brien"\npii-id-5\npii-id-6\n', requests: 1 },
  { row: 'Quoted value with a line break inside', key: 'customer_id/Line break.csv', body: '"pii-id-1\npii-id-2"\npii-id-3\n', expect: { status: 'submitted', preflight: expect.objectContaining({ values: 1, unparseableRows: { count: 1, lines: [1] } }) }, note: /^Insider was sent a cleaned copy \([0-9a-f]{32}\.csv in the prepared bucket\): dropped 1 row with a line break inside a quoted value \(line 1\)\.$/, sent: 'pii-id-3\n', requests: 1 },
  { row: 'Line breaks inside most quoted values', key: 'customer_id/Line breaks.csv', body: '"pii-id-1\npii-id-2"\n"pii-id-3\r\npii-id-4"\npii-id-5\n', expect: { status: 'rejected' }, reason: /^The file is not valid CSV: 2 of 3 rows cannot be read \(lines 1 and 3\): a line break inside a quoted value \(Insider reads one value per line\)\.$/, requests: 0 },
  { row: 'Semicolon-separated export (Excel in Turkish, German, French…)', key: 'Email Address/Excel semicolons.csv', body: '\ufeffemail;first_name\r\nann@example.com;Ann\r\nbob@example.com;Smith, Bob\r\n', expect: { status: 'submitted', preflight: expect.objectContaining({ delimiter: 'semicolon', values: 2, header: { line: 1, matches: 'word' } }) }, note: /^Insider was sent a cleaned copy \([0-9a-f]{32}\.csv in the prepared bucket\): .*kept only the first column of 3 rows \(its fields are separated by semicolons\)/, sent: 'ann@example.com\nbob@example.com\n', requests: 1 },
  { row: 'Semicolon export with two address columns (`email;email2`)', key: 'em/Excel two emails.csv', body: 'email;email2\r\nann@example.com;ann@work.example\r\nbob@example.com;bob@work.example\r\n', expect: { status: 'submitted', preflight: expect.objectContaining({ delimiter: 'semicolon', values: 2, header: { line: 1, matches: 'word' } }) }, note: /kept only the first column of 3 rows \(its fields are separated by semicolons\)/, sent: 'ann@example.com\nbob@example.com\n', requests: 1 },
  { row: 'Excel\'s separator line (`sep=;`) on line 1', key: 'em/Sep line.csv', body: 'sep=;\r\nemail;name\r\nann@example.com;Ann\r\n', expect: { status: 'submitted', preflight: expect.objectContaining({ delimiter: 'semicolon', separatorLine: true, header: { line: 2, matches: 'word' }, values: 1 }) }, note: /dropped Excel's separator line \(line 1\) and the header row \(line 2\)/, sent: 'ann@example.com\n', requests: 1 },
  { row: 'Tab-separated export', key: 'em/Tabs.csv', body: 'a@example.com\tAnn\nb@example.com\tBob\n', expect: { status: 'submitted', preflight: expect.objectContaining({ delimiter: 'tab', values: 2 }) }, note: /: kept only the first column of 2 rows \(its fields are separated by tabs\)\.$/, sent: 'a@example.com\nb@example.com\n', requests: 1 },
  { row: 'Title line above the header (a report export)', key: 'em/Report export.csv', body: 'Customer export generated 2026-11-29\n\nEmail\na@example.com\nb@example.com\nc@example.com\nd@example.com\n', expect: { status: 'submitted', preflight: expect.objectContaining({ values: 6, invalidValues: { count: 2, lines: [1, 3] } }) }, note: /dropped 1 blank line\. 2 values fail the email format \(lines 1, 3\) and were sent as they are: Insider will likely count them invalid\.$/, requests: 1 },
  { row: 'Space after a closing quote (`"b@example.com" `)', key: 'em/Space after quote.csv', body: 'a@example.com\n"b@example.com" \nc@example.com\nd@example.com\n', expect: { status: 'submitted', preflight: expect.objectContaining({ values: 3, unparseableRows: { count: 1, lines: [2] } }) }, note: /: dropped 1 row with text after the closing quote of its value, where even a space counts \(line 2\)\.$/, sent: 'a@example.com\nc@example.com\nd@example.com\n', requests: 1 },
  { row: 'Gzip data named `.csv`', key: 'em/Packed.csv', body: gzipSync('a@example.com\n'), expect: { status: 'rejected' }, reason: /gzip-compressed but its name does not end in "\.gz"/, requests: 0 },
  // Issue 9 §2: names as text, not bytes.
  { row: 'Segment name of 40 emoji', key: `em/${'😀'.repeat(40)}.csv`, expect: { status: 'rejected' }, reason: /has 80 characters as Insider may count them, though you see 40 \(emoji and some symbols count as two/, requests: 0 },
  { row: 'Invisible character in the name (`em/VIP\\u200B.csv`)', key: 'em/VIP\u200B.csv', expect: { status: 'rejected' }, reason: /invisible or control characters: U\+200B ZERO WIDTH SPACE at character 4 \(after "VIP"\)/, requests: 0 },
  { row: 'Key with a `..` folder (`em/../Dots.csv`)', key: 'em/../Dots.csv', expect: { status: 'rejected' }, reason: /has a "\." or "\.\." folder: web clients rewrite such paths/, requests: 0 },
  { row: 'Blank folder name (`em/ /Blank folder.csv`)', key: 'em/ /Blank folder.csv', expect: { status: 'submitted', attributeName: 'em', segmentName: 'Blank folder' }, note: /^The folder name above the file is blank, so the attribute was taken from the nearest named folder, "em"\./ },
  { row: 'Near-miss metadata key (`segment_name`)', key: 'em/Near miss.csv', metadata: { segment_name: 'Gold' }, expect: { status: 'submitted', segmentName: 'Near miss' }, note: /^Metadata segment_name was ignored; did you mean segment-name\?/ },
  { row: 'Metadata `segment-name` as several RFC 2047 words', key: 'em/m5.csv', metadata: { 'segment-name': rfc2047Words('Sadık müşteriler ', 'Kasım dönemi özel') }, expect: { status: 'submitted', segmentName: 'Sadık müşteriler Kasım dönemi özel' } },
  { row: 'Metadata `segment-name` in ISO-8859-1 (RFC 2047 Q)', key: 'em/m6.csv', metadata: { 'segment-name': '=?ISO-8859-1?Q?Caf=E9_cr=E8me?=' }, expect: { status: 'submitted', segmentName: 'Café crème' } },
  { row: 'Metadata `segment-name` in Windows-1254 (RFC 2047 Q)', key: 'em/m7.csv', metadata: { 'segment-name': '=?windows-1254?Q?M=FC=FEteri_listesi?=' }, expect: { status: 'submitted', segmentName: 'Müşteri listesi' } },
  { row: 'Metadata `segment-name` with invalid UTF-8 (RFC 2047)', key: 'em/m8.csv', metadata: { 'segment-name': `=?UTF-8?B?${Buffer.from([0x56, 0x49, 0xc3, 0x28]).toString('base64')}?=` }, expect: { status: 'rejected' }, reason: /^Metadata "segment-name" could not be decoded: .*not valid UTF-8/, requests: 0 },
  // Issue 9 §5: every object gets a record, except folder placeholders and ignored files.
  { row: 'Key ending `.csv ` (trailing space)', key: 'em/Trailing.csv ', expect: { status: 'rejected' }, reason: /it has white space after "\.csv": remove it/, requests: 0 },
  { row: 'Key ending `.csv.csv` (Windows double extension)', key: 'em/VIP.csv.csv', expect: { status: 'rejected' }, reason: /^File name "VIP\.csv\.csv" ends in "\.csv" twice: rename it "VIP\.csv" \(or set metadata "segment-name"\)\.$/, requests: 0 },
  { row: 'Key with Windows backslashes (`Email Address\\VIP win.csv`), no default attribute', key: 'Email Address\\VIP win.csv', expect: { status: 'rejected' }, reason: /^No attribute name: the key "Email Address\\VIP win\.csv" uses "\\" where S3 separates folders with "\/", so the file is not in a folder and no default attribute is configured\. Drop it as "Email Address\/VIP win\.csv" to put it in the folder "Email Address" \(the Insider attribute\), or set metadata "attribute-name"\.$/, requests: 0 },
  { row: 'Key ending `.csv.txt`', key: 'em/Report.csv.txt', expect: { status: 'rejected' }, reason: /it ends in "\.txt" after "\.csv": remove "\.txt"/, requests: 0 },
  { row: 'macOS `.DS_Store`', key: 'em/.DS_Store', body: 'Bud1', expect: 'no record', requests: 0 },
  { row: 'Folder placeholder (`em/`)', key: 'Email Address/', body: '', expect: 'no record', requests: 0 },
  // Issue 8 §4: dry runs never reach Insider.
  { row: 'Dry run by metadata (`dry-run: true`)', key: 'em/Trial.csv', metadata: { 'dry-run': 'true' }, expect: { status: 'dry_run', dryRunVerdict: 'would-submit', insiderSegmentName: 'Trial' }, reason: /^Dry run: nothing was sent to Insider\. A real drop would send "Trial" with attribute "em": 1 value\./, requests: 0 },
  { row: 'Dry run by folder (`dry-run/em/Trial.csv`)', key: 'dry-run/em/Trial folder.csv', expect: { status: 'dry_run', dryRunVerdict: 'would-submit', attributeName: 'em', segmentName: 'Trial folder' }, requests: 0 },
  // A look-alike of a dry run is refused, never sent: sent, it would use the name in Insider for good.
  { row: 'Near-miss dry-run folder (`dryrun/em/X.csv`)', key: 'dryrun/em/Near dry.csv', expect: { status: 'rejected' }, reason: /^The folder "dryrun" looks like the dry-run folder but is not named exactly "dry-run"\. For a dry run, put the file under the top folder "dry-run\/" \("dry-run\/em\/Near dry\.csv"\); if "dryrun" is really an attribute or folder name, rename it\. Nothing was sent to Insider\.$/, requests: 0 },
  { row: 'Dry-run folder with a trailing space (`dry-run /em/X.csv`)', key: 'dry-run /em/Spaced dry.csv', expect: { status: 'dry_run', dryRunVerdict: 'would-submit', attributeName: 'em', segmentName: 'Spaced dry' }, requests: 0 },
  { row: 'Dry-run folder below the top (`exports/dry-run/em/X.csv`)', key: 'exports/dry-run/em/Deep dry.csv', expect: { status: 'rejected' }, reason: /^The folder "dry-run" looks like the dry-run folder but is not the top folder\. For a dry run, put the file under the top folder "dry-run\/" \("dry-run\/exports\/em\/Deep dry\.csv"\)/, requests: 0 },
  { row: 'Near-miss dry-run metadata key (`dryrun: true`)', key: 'em/Meta dry.csv', metadata: { dryrun: 'true' }, expect: { status: 'rejected' }, reason: /^Metadata "dryrun" looks like "dry-run": set metadata "dry-run" to "true" for a dry run, or remove "dryrun" for a real upload\. Nothing was sent to Insider\.$/, requests: 0 },
  { row: 'Near-miss dry-run metadata key (`dry_run: yes`)', key: 'em/Meta dry 2.csv', metadata: { dry_run: 'yes' }, expect: { status: 'rejected' }, reason: /^Metadata "dry_run" looks like "dry-run"/, requests: 0 },
  { row: 'Metadata `dry-run: maybe`', key: 'em/Maybe.csv', metadata: { 'dry-run': 'maybe' }, expect: { status: 'rejected' }, reason: /^Metadata "dry-run" is "maybe": set it to "true" for a dry run/, requests: 0 },
  { row: 'Metadata `segment-name-template` with a combining mark after `{name}` (`{name}\\u0301 {date}`)', key: 'em/Accent.csv', metadata: { 'segment-name-template': rfc2047('{name}\u0301 {date}') }, expect: { status: 'rejected' }, reason: /^Metadata "segment-name-template" is not a valid template: The text after a placeholder starts with a combining mark \(U\+0301\)/, requests: 0 },
  { row: 'Metadata `segment-name-template` without `{name}`', key: 'em/No name.csv', metadata: { 'segment-name-template': '{date}' }, expect: { status: 'rejected' }, reason: /^Metadata "segment-name-template" is not a valid template: The template has no \{name\}/, requests: 0 },
];

/** Drops `key` and waits for the record of this object version (a key dropped again is a new one). */
async function dropAndWait(key: string, body: string, metadata?: Record<string, string>, eventTime?: Date, acceptSubmitted = false): Promise<UploadRecord> {
  const known = new Set((await stack.records()).filter((r) => r.key === key).map((r) => r.uploadId));
  await stack.put(key, body, metadata, { eventTime });
  for (let tries = 0; tries < 300; tries++) {
    const fresh = (await stack.waitForFinal([key], { acceptSubmitted })).find((r) => !known.has(r.uploadId));
    if (fresh) return fresh;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no new record for ${key}`);
}

describe('bad drops', () => {
  it.each(DROPS)('$row', async (c) => {
    const requestsBefore = stack.simulator.requests.length;
    await stack.put(c.key, c.body ?? 'someone@example.com\n', c.metadata);
    if (c.expect === 'no record') {
      await stack.idle();
      expect((await stack.records()).filter((r) => r.key === c.key)).toEqual([]);
    } else {
      const [record] = await stack.waitForFinal([c.key], { acceptSubmitted: true });
      expect(record).toMatchObject(c.expect);
      if (c.reason) expect(record?.reason).toMatch(c.reason);
      if (c.note) expect(record?.note).toMatch(c.note);
      if (c.sent !== undefined) {
        const request = stack.simulator.requests.find((r) => r.segmentName === record?.insiderSegmentName);
        const response = await fetch(request?.fileUrl ?? 'http://127.0.0.1:9/no-request');
        expect(await response.text()).toBe(c.sent);
      }
    }
    if (c.requests !== undefined) {
      await stack.idle();
      expect(stack.simulator.requests.length - requestsBefore).toBe(c.requests);
    }
  });

  it('NFD and NFC twins (`Müşteri` from macOS and from elsewhere)', async () => {
    const nfd = 'em/Mu\u0308s\u0327teri twins.csv';
    const nfc = nfd.normalize('NFC');
    expect(nfc).not.toBe(nfd);
    await stack.put(nfd, 'someone@example.com\n');
    const [first] = await stack.waitForFinal([nfd], { acceptSubmitted: true });
    await stack.put(nfc, 'someone@example.com\n');
    const [second] = await stack.waitForFinal([nfc]);
    expect(first).toMatchObject({ status: 'submitted', segmentName: 'Müşteri twins' });
    expect(second).toMatchObject({ status: 'rejected', segmentName: 'Müşteri twins' });
    expect(second?.reason).toMatch(new RegExp(`^Another upload of segment "Müşteri twins" is in flight \\(upload ${first?.uploadId}`));
    expect(stack.simulator.requests.filter((r) => r.segmentName?.normalize('NFC') === 'Müşteri twins').map((r) => r.segmentName)).toEqual(['Müşteri twins']);
  });

  it('Same key overwritten while the first upload is in flight', async () => {
    // Insider never calls back here, so the first upload stays submitted: in flight.
    const key = 'em/Overwrite.csv';
    const first = await dropAndWait(key, 'a@example.com\nb@example.com\n', undefined, undefined, true);
    const second = await dropAndWait(key, 'a@example.com\n', undefined, undefined, true);
    expect(first).toMatchObject({ status: 'submitted', insiderSegmentName: 'Overwrite' });
    expect(second).toMatchObject({ status: 'rejected', segmentName: 'Overwrite' });
    expect(second.reason).toBe(
      `Another upload of segment "Overwrite" is in flight (upload ${first.uploadId}, s3://${stack.bucket}/${key}, submitted). If it succeeds, the name is taken for good: to send this file too, rename it or use a segment name template with {n} (e.g. metadata segment-name-template "{name} {n}"). If it fails, drop this file again.`,
    );
    expect(stack.simulator.requests.filter((r) => r.segmentName === 'Overwrite')).toHaveLength(1);
  });

  it.each([
    ['Invalid segment name template (`-c segmentNameTemplate={date}`)', { segmentNameTemplate: '{date}' }, /context segmentNameTemplate "\{date\}" is not a valid template: The template has no \{name\}/],
    ['Unknown time zone (`-c timeZone=Istanbul`)', { timeZone: 'Istanbul' }, /context timeZone "Istanbul" is not an IANA time zone name: use a name such as "Europe\/Istanbul"/],
  ])('%s', (_row, context, message) => {
    expect(() => parsePipelineConfig({ partnerName: 'mybrand', ...context })).toThrow(ConfigError);
    expect(() => parsePipelineConfig({ partnerName: 'mybrand', ...context })).toThrow(message);
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
    // Today's DynamoDB marshalling would throw on it (a 500); it must be refused before anything is written.
    ['Count above 2^53−1 (`9007199254740992`)', () => post(url, { ...body, valid_values_count: 2 ** 53 }), 400, /valid_values_count must be at most 9007199254740991/],
  ])('%s', async (_row, send, code, message) => {
    const before = (await stack.records()).find((r) => r.uploadId === uploadId);
    const response = await send();
    expect(response.status).toBe(code);
    expect(JSON.stringify(await response.json())).toMatch(message);
    expect(before?.status).toBe('submitted');
    expect((await stack.records()).find((r) => r.uploadId === uploadId)).toEqual(before);
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

const post = (target: string, payload: unknown) =>
  fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
const acceptedRequest = (segment: string) => stack.simulator.requests.find((q) => q.segmentName === segment && q.accepted);

describe('counts that do not add up', () => {
  it.each([
    ['valid > total', 'Odd counts A', { valid_values_count: 5, invalid_values_count: 0, total_entered_values: 3 }, 1, /valid \(5\) is more than the total \(3\)/],
    ['valid + invalid ≠ total', 'Odd counts B', { valid_values_count: 2, invalid_values_count: 1, total_entered_values: 5 }, 0.4, /= 3, not the total \(5\)/],
  ])('Counts that don\'t add up: %s', async (_case, segment, counts, rate, note) => {
    const key = `em/${segment}.csv`;
    await stack.put(key, 'someone@example.com\n');
    const [submitted] = await stack.waitForFinal([key], { acceptSubmitted: true });
    expect(submitted?.status).toBe('submitted');
    const response = await post(acceptedRequest(segment)?.callbackUrl ?? '', { segment_name: segment, ...counts });
    expect(response.status).toBe(200);
    const record = (await stack.records()).find((r) => r.key === key);
    expect(record).toMatchObject({
      status: 'completed',
      validValuesCount: counts.valid_values_count,
      invalidValuesCount: counts.invalid_values_count,
      totalEnteredValues: counts.total_entered_values,
      matchRate: rate,
    });
    expect(record?.note).toMatch(/Insider's counts don't add up/);
    expect(record?.note).toMatch(note);
  });
});

describe('a genuine callback for a rejected upload', () => {
  afterAll(() => stack.simulator.setScript(undefined));

  it('Genuine callback for a `rejected` upload', async () => {
    const segment = 'Rejected then called';
    stack.simulator.setScript((payload) => (payload.segmentName === segment ? { status: 405, body: { error: 'Invalid Payload.' } } : undefined));
    const key = `em/${segment}.csv`;
    await stack.put(key, 'someone@example.com\n');
    const [rejected] = await stack.waitForFinal([key]);
    expect(rejected).toMatchObject({ status: 'rejected', fpsHttpStatus: 405 });
    // The token handed to Insider with the refused request: only Insider could call back with it.
    const callbackUrl = stack.simulator.requests.find((q) => q.segmentName === segment)?.callbackUrl ?? '';
    expect(callbackUrl).toContain(rejected?.uploadId);
    const response = await post(callbackUrl, { segment_name: segment, valid_values_count: 3, invalid_values_count: 1, total_entered_values: 4 });
    expect(response.status).toBe(200);
    const record = (await stack.records()).find((r) => r.key === key);
    expect(record).toMatchObject({ status: 'completed', validValuesCount: 3, invalidValuesCount: 1, totalEnteredValues: 4, matchRate: 0.75 });
    expect(record?.note).toMatch(/recorded rejected after Insider answered HTTP 405 "Invalid Payload\.": Insider did accept the file/);
    // A replay changes nothing.
    expect((await post(callbackUrl, { segment_name: segment, valid_values_count: 3, invalid_values_count: 1, total_entered_values: 4 })).status).toBe(200);
    expect((await stack.records()).find((r) => r.key === key)).toEqual(record);
  });
});

describe('lost replies', () => {
  // Insider accepts, then its answer is lost; the callback comes after the trigger's retry (replyLostCallbackDelayMs).
  afterAll(() => stack.simulator.setFaults({ callbackDropped: 1 }));

  it.each([
    ['Insider accepted, reply lost as a gateway `502`', 'acceptedReplyLost502', 'Lost reply 502', 502],
    ['Insider accepted, reply lost as a gateway `504`', 'acceptedReplyLost504', 'Lost reply 504', 504],
    ['Insider accepted, connection reset before the reply', 'acceptedReplyLostReset', 'Lost reply reset', null],
  ] as const)('%s', async (_row, fault, segment, lostStatus) => {
    stack.simulator.setFaults({ [fault]: 1 });
    const key = `em/${segment}.csv`;
    await stack.put(key, 'a@example.com\nb@example.com\nnot-an-email\n');
    const [record] = await stack.waitForFinal([key], { timeoutMs: 20_000 });
    await stack.idle();

    const requests = stack.simulator.requests.filter((q) => q.segmentName === segment);
    const [first, retry] = requests;
    expect(first).toMatchObject({ accepted: true, fault, status: lostStatus });
    expect(retry).toMatchObject({ accepted: false, status: 400 });
    expect(record).toMatchObject({
      status: 'completed',
      possiblyAccepted: true,
      fpsHttpStatus: 400,
      fpsMessage: 'segment name already in use',
      validValuesCount: first?.counts?.valid,
      invalidValuesCount: first?.counts?.invalid,
      totalEnteredValues: first?.counts?.total,
    });
    expect([record?.validValuesCount, record?.invalidValuesCount, record?.totalEnteredValues]).toEqual([2, 1, 3]);
    expect(record?.note).toMatch(/probably succeeded/);
    // Never rejected on the way: a completion from `rejected` would have said so in the note.
    expect(record?.note).not.toMatch(/rejected/);
    const callbacks = stack.simulator.callbacks.filter((c) => c.url === first?.callbackUrl);
    expect(callbacks.length).toBeGreaterThan(0);
    expect(callbacks.map((c) => c.status)).toEqual(callbacks.map(() => 200));
    // The callback came after the retry had been answered, as the defect needs.
    expect(Math.min(...callbacks.map((c) => c.time))).toBeGreaterThan(retry?.time ?? Number.POSITIVE_INFINITY);
  });
});

describe('drops Insider answers and calls back for', () => {
  // Insider calls back here: the first upload of a name completes, so the lock is free and Insider judges the second.
  beforeAll(() => stack.simulator.setFaults({}));
  afterAll(() => stack.simulator.setFaults({ callbackDropped: 1 }));

  it('Same file dropped again (default `{name}`)', async () => {
    const key = 'em/Every day.csv';
    const first = await dropAndWait(key, 'a@example.com\n');
    const second = await dropAndWait(key, 'b@example.com\n');
    expect(first).toMatchObject({ status: 'completed', insiderSegmentName: 'Every day' });
    expect(second).toMatchObject({ status: 'rejected', fpsHttpStatus: 400 });
    expect(second.reason).toBe(
      `Insider says the segment name "Every day" is already in use: "Every day" was already created by the upload of s3://${stack.bucket}/${key} at ${first.submittedAt} (upload ${first.uploadId}, completed). Insider cannot update or replace a segment, so a file dropped again needs a new name each time: set a segment name template with a date or a counter (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} {date}" or "{name} {n}"), or rename the file.`,
    );
  });

  it('Same file name under another attribute (`Email Address/` and `phone_number/`)', async () => {
    const first = await dropAndWait('Email Address/Weekly VIP.csv', 'a@example.com\n');
    const second = await dropAndWait('phone_number/Weekly VIP.csv', '+905321234567\n');
    expect(first).toMatchObject({ status: 'completed', insiderSegmentName: 'Weekly VIP' });
    expect(second).toMatchObject({ status: 'rejected', fpsHttpStatus: 400, attributeName: 'phone_number' });
    expect(second.reason).toBe(
      `Insider says the segment name "Weekly VIP" is already in use: "Weekly VIP" was already created by the upload of s3://${stack.bucket}/Email Address/Weekly VIP.csv at ${first.submittedAt} (upload ${first.uploadId}, completed). That upload was for the attribute "Email Address", this one is for "phone_number", and Insider's segment names are unique across attributes: put {attribute} in the segment name template (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} ({attribute})"), or rename the file.`,
    );
  });

  it('Second drop on one day (metadata `segment-name-template: {name} {date}`)', async () => {
    const key = 'em/Twice a day.csv';
    const metadata = { 'segment-name-template': '{name} {date}' };
    const first = await dropAndWait(key, 'a@example.com\n', metadata, new Date('2026-11-29T08:00:00Z'));
    const second = await dropAndWait(key, 'b@example.com\n', metadata, new Date('2026-11-29T16:00:00Z'));
    expect(first).toMatchObject({ status: 'completed', insiderSegmentName: 'Twice a day 2026-11-29', segmentName: 'Twice a day' });
    expect(second).toMatchObject({ status: 'rejected', insiderSegmentName: 'Twice a day 2026-11-29' });
    expect(second.reason).toMatch(
      /^Insider says the segment name "Twice a day 2026-11-29" is already in use: "Twice a day 2026-11-29" was already created by the upload of s3:\/\/[^ ]+\/em\/Twice a day\.csv at .* \(upload [0-9a-f]{32}, completed\)\. The template "\{name\} \{date\}" gives one name a day: for more than one drop a day add \{time\} or \{n\}/,
    );
  });

  it('Low match rate (`customer_age/` values that are not numbers)', async () => {
    // No format is known for the attribute, so the pre-flight passes them; Insider (a number attribute) matches 1 of 3.
    const record = await dropAndWait('customer_age/Ages.csv', '34\nthirty\nforty\n');
    expect(record).toMatchObject({ status: 'completed', validValuesCount: 1, invalidValuesCount: 2, matchRate: 0.3333 });
    expect(record.warning).toMatch(/^Low match rate: Insider matched 33\.3% of the values, below the 50% this deployment expects \(minMatchRate\)\. Check that the folder \(or metadata "attribute-name"\) names the attribute/);
  });
});

describe('a wrong token in the secret, then fixed', () => {
  // This stack keeps the default token cache (tokenCacheSeconds: 300): longer than the whole case takes.
  const secretId = () => stack.synth.secrets[0] as string;
  afterAll(() => stack.secrets.setSecret(secretId(), stack.token));
  const requestsFor = (segment: string) => stack.simulator.requests.filter((q) => q.segmentName === segment).map((q) => q.status);

  it('Wrong FPS token in the secret, fixed, then dropped again at once', async () => {
    // 1. The trigger is warm, with the right token in its cache.
    await stack.put('em/Token warm.csv', 'someone@example.com\n');
    expect((await stack.waitForFinal(['em/Token warm.csv'], { acceptSubmitted: true }))[0]).toMatchObject({ status: 'submitted', fpsRequests: 1 });

    // 2. A wrong token is put in the secret. Lambda starting a fresh environment stands in for the cache running out.
    stack.secrets.setSecret(secretId(), 'wrong-token');
    await stack.idle();
    await stack.functions.trigger.recycle();
    await stack.put('em/Token wrong.csv', 'someone@example.com\n');
    const [wrong] = await stack.waitForFinal(['em/Token wrong.csv'], { timeoutMs: 30_000 });
    expect(wrong).toMatchObject({ status: 'failed', fpsHttpStatus: 401, reason: expect.stringMatching(/Unauthorized: check the token secret/) });
    // Each delivery read the token again after its 401, found the same one, and asked no more.
    expect(wrong?.fpsRequests).toBe(3);
    expect(requestsFor('Token wrong')).toEqual([401, 401, 401]);

    // 3. The right token is put back; the warm trigger still caches the wrong one, for up to 300 s.
    stack.secrets.setSecret(secretId(), stack.token);
    const started = Date.now();
    await stack.put('em/Token fixed.csv', 'someone@example.com\n');
    const [fixed] = await stack.waitForFinal(['em/Token fixed.csv'], { acceptSubmitted: true });
    expect(fixed).toMatchObject({ status: 'submitted', fpsHttpStatus: 200, invocations: 1 });
    // A warm environment's cached wrong token was refused, the token read again, and the same invocation
    // sent it at once ([401, 200]). If the event went to an environment started after the fix (the local
    // runtime may start one, as Lambda may), it read the right token first ([200]). Never a retry later.
    const sent = requestsFor('Token fixed');
    expect([[401, 200], [200]]).toContainEqual(sent);
    expect(fixed?.fpsRequests).toBe(sent.length);
    expect(Date.now() - started).toBeLessThan(20_000);
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
      'Count above 2^53−1 (`9007199254740992`)', 'Counts that don\'t add up', 'Genuine callback for a `rejected` upload',
      'Insider accepted, reply lost as a gateway `502`', 'Insider accepted, reply lost as a gateway `504`',
      'Insider accepted, connection reset before the reply',
      'NFD and NFC twins (`Müşteri` from macOS and from elsewhere)',
      'Invalid segment name template (`-c segmentNameTemplate={date}`)',
      'Unknown time zone (`-c timeZone=Istanbul`)',
      'Same file dropped again (default `{name}`)',
      'Same key overwritten while the first upload is in flight',
      'Same file name under another attribute (`Email Address/` and `phone_number/`)',
      'Second drop on one day (metadata `segment-name-template: {name} {date}`)',
      'Low match rate (`customer_age/` values that are not numbers)',
      'Wrong FPS token in the secret, fixed, then dropped again at once',
    ];
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) expect(section, row).toContain(`| ${row} |`);
  });
});
