// The redrive command's pure core: arguments, choosing uploads, the copy that keeps metadata, and failure-queue message matching.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { namesFromOutputs, normalizeSince, parseRedriveArgs, UsageError } from '../../local/redrive-args.js';
import {
  copySource,
  newestFirst,
  objectsInMessage,
  type ObjectProperties,
  planCopy,
  printable,
  refMatchesUpload,
  POSSIBLY_ACCEPTED_HELD,
  selectUploads,
  splitRedriven,
  uploadsForMessage,
  uploadsTable,
} from '../../local/redrive-core.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const destinationRecord = fixture('dlq-destination-record.json');
const s3Event = fixture('dlq-s3-event.json');
const BUCKET = 'fpspipeline-dropbucket-1x2y3z';

function record(overrides: Partial<UploadRecord> = {}): UploadRecord {
  return {
    uploadId: 'u1',
    bucket: BUCKET,
    key: 'Email Address/export 2026-11 (all).csv',
    versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
    sequencer: '0068F1A2B3C4D5E6F7',
    size: 1843,
    segmentName: 'Gold',
    status: 'failed',
    reason: 'Unauthorized: check the token secret',
    receivedAt: '2026-11-20T09:02:42.000Z',
    updatedAt: '2026-11-20T09:12:44.000Z',
    ...overrides,
  };
}

describe('parseRedriveArgs', () => {
  it('lists failed uploads of a stack by default, changing nothing', () => {
    expect(parseRedriveArgs(['--stack', 'FpsPipeline'])).toEqual({
      names: { stack: 'FpsPipeline', table: undefined, bucket: undefined, queueUrl: undefined },
      statuses: ['failed'],
      since: undefined,
      choice: { kind: 'list' },
      yes: false,
    });
  });

  it('takes names from flags, several statuses (repeated or comma-separated), a since date and a choice', () => {
    const options = parseRedriveArgs([
      '--table', 't', '--bucket', 'b', '--queue-url', 'http://127.0.0.1:1/000000000000/q',
      '--status', 'rejected,failed', '--status', 'timed_out', '--status', 'failed',
      '--since', '2026-11-01', '--upload-id', 'a', '--upload-id', 'b', '--upload-id', 'a', '--yes',
    ]);
    expect(options).toEqual({
      names: { stack: undefined, table: 't', bucket: 'b', queueUrl: 'http://127.0.0.1:1/000000000000/q' },
      statuses: ['rejected', 'failed', 'timed_out'],
      since: '2026-11-01T00:00:00.000Z',
      choice: { kind: 'ids', uploadIds: ['a', 'b'] },
      yes: true,
    });
    expect(parseRedriveArgs(['--stack', 's', '--all'])?.choice).toEqual({ kind: 'all' });
  });

  it('returns undefined for --help', () => {
    expect(parseRedriveArgs(['--help'])).toBeUndefined();
  });

  it.each([
    [[], /Name the stack/],
    [['--stack', 's', '--status', 'completed'], /--status must be one of failed, rejected, timed_out, not "completed"/],
    [['--stack', 's', '--all', '--upload-id', 'x'], /not both/],
    [['--stack', 's', '--since', 'last week'], /--since must be an ISO date/],
    [['--stack', 's', '--since', '2026-11-01T10:00'], /needs its zone/],
    [['--stack', 's', 'extra'], /Unexpected argument "extra"/],
    [['--stack', 's', '--frobnicate'], /frobnicate/],
    [['--stack', ''], /--stack needs a value/],
    [['--stack', 's', '--upload-id', ' '], /--upload-id needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseRedriveArgs(argv)).toThrow(UsageError);
    expect(() => parseRedriveArgs(argv)).toThrow(message);
  });
});

describe('normalizeSince', () => {
  it('gives the stored ISO form, so it compares with updatedAt as a string', () => {
    expect(normalizeSince('2026-11-01T09:30:00+03:00')).toBe('2026-11-01T06:30:00.000Z');
    expect(normalizeSince('2026-11-01T09:30Z')).toBe('2026-11-01T09:30:00.000Z');
    expect(() => normalizeSince('2026-13-45')).toThrow(UsageError);
  });
});

describe('namesFromOutputs', () => {
  const outputs = [
    { OutputKey: 'TableName', OutputValue: 'FpsPipeline-Uploads' },
    { OutputKey: 'BucketName', OutputValue: 'fps-drop' },
    { OutputKey: 'FailedUploadsQueueUrl', OutputValue: 'https://sqs.eu-west-1.amazonaws.com/1/Failed' },
    { OutputKey: 'StatusTopicArn', OutputValue: 'arn:aws:sns:eu-west-1:1:Status' },
  ];

  it('reads the three outputs, a flag overriding its output', () => {
    expect(namesFromOutputs(outputs, { stack: 'FpsPipeline', bucket: 'other' })).toEqual({
      table: 'FpsPipeline-Uploads',
      bucket: 'other',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/Failed',
    });
  });

  it('names the outputs a stack lacks', () => {
    expect(() => namesFromOutputs(outputs.slice(0, 1), { stack: 'Other' })).toThrow('Stack Other has no output BucketName, FailedUploadsQueueUrl');
  });
});

describe('choosing uploads', () => {
  const a = record({ uploadId: 'a', updatedAt: '2026-11-20T10:00:00.000Z', status: 'failed' });
  const b = record({ uploadId: 'b', updatedAt: '2026-11-21T10:00:00.000Z', status: 'rejected' });
  const c = record({ uploadId: 'c', updatedAt: '2026-11-19T10:00:00.000Z', status: 'timed_out' });

  it('merges statuses newest first', () => {
    expect(newestFirst([a, b, c]).map((r) => r.uploadId)).toEqual(['b', 'a', 'c']);
  });

  it('chooses nothing when listing, everything with --all, and only listed ids with --upload-id', () => {
    expect(selectUploads([a, b], { kind: 'list' })).toEqual({ chosen: [], unknownIds: [], held: [] });
    expect(selectUploads([a, b], { kind: 'all' })).toEqual({ chosen: [a, b], unknownIds: [], held: [] });
    expect(selectUploads([a, b], { kind: 'ids', uploadIds: ['b', 'c'] })).toEqual({ chosen: [b], unknownIds: ['c'], held: [] });
  });

  it('holds back from --all an upload Insider may already have; chosen by its id, it is redriven', () => {
    const maybe = record({ uploadId: 'maybe', possiblyAccepted: true });
    expect(selectUploads([a, maybe], { kind: 'all' })).toEqual({ chosen: [a], unknownIds: [], held: [{ uploadId: 'maybe', reason: POSSIBLY_ACCEPTED_HELD }] });
    expect(selectUploads([a, maybe], { kind: 'ids', uploadIds: ['maybe'] }).chosen).toEqual([maybe]);
  });

  it('lists apart the uploads an earlier run redrove', () => {
    const done = record({ uploadId: 'done', redrivenAt: '2026-11-22T10:00:00.000Z', redrivenAs: 'f'.repeat(32) });
    expect(splitRedriven([a, done, b])).toEqual({ open: [a, b], redriven: [done] });
  });

  it('prints a table with the columns a person chooses by, without control characters', () => {
    const text = uploadsTable([b, record({ uploadId: 'd', key: 'em/\u202Egpj.csv\u001b[2J' })]);
    const [header, , first, second] = text.split('\n');
    expect(header).toMatch(/^uploadId\s+status\s+updatedAt\s+segment\s+key\s+reason$/);
    expect(first).toContain('b  ');
    expect(first).toContain('2026-11-21T10:00:00.000Z');
    expect(first).toContain('Email Address/export 2026-11 (all).csv');
    expect(second).toContain('em/\\u{202E}gpj.csv\\u{1B}[2J');
    expect(printable('Gold é 👨‍👩‍👧')).toBe('Gold é 👨‍👩‍👧');
  });
});

describe('planCopy: the copy keeps what the user set', () => {
  const head: ObjectProperties = {
    metadata: { 'segment-name': 'Gold', 'attribute-name': 'email', note: '=?UTF-8?B?w7xiZXI=?=' },
    contentType: 'text/csv; charset=utf-8',
    contentEncoding: 'identity',
    contentDisposition: 'attachment; filename="export.csv"',
    cacheControl: 'no-store',
    contentLanguage: undefined,
    size: 1843,
    lastModified: new Date('2026-11-20T09:02:41.000Z'),
  };

  it('re-sends the version\'s metadata (encoded words as S3 gave them) and content headers with REPLACE', () => {
    expect(planCopy(record(), head)).toEqual({
      kind: 'copy',
      input: {
        Bucket: BUCKET,
        Key: 'Email Address/export 2026-11 (all).csv',
        CopySource: `${BUCKET}/Email%20Address/export%202026-11%20(all).csv?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY`,
        MetadataDirective: 'REPLACE',
        // The user's metadata as S3 gave it, and which upload this redrives (its name keeps that upload's time).
        Metadata: { 'segment-name': 'Gold', 'attribute-name': 'email', note: '=?UTF-8?B?w7xiZXI=?=', 'redrive-of': record().uploadId },
        ContentType: 'text/csv; charset=utf-8',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="export.csv"',
        CacheControl: 'no-store',
      },
      note: undefined,
    });
  });

  it('sends only the headers the object has', () => {
    const plan = planCopy(record(), { metadata: {}, contentType: 'text/csv' });
    expect(plan.kind === 'copy' && plan.input).toEqual({
      Bucket: BUCKET,
      Key: 'Email Address/export 2026-11 (all).csv',
      CopySource: expect.stringContaining('?versionId='),
      MetadataDirective: 'REPLACE',
      Metadata: { 'redrive-of': record().uploadId },
      ContentType: 'text/csv',
    });
  });

  it('copies the current object, and says so, when the record\'s version is the event\'s sequencer', () => {
    const plan = planCopy(record({ versionId: '0068F1A2B3C4D5E6F7' }), head);
    expect(plan.kind).toBe('copy');
    if (plan.kind !== 'copy') return;
    expect(plan.input.CopySource).toBe(`${BUCKET}/Email%20Address/export%202026-11%20(all).csv`);
    expect(plan.note).toMatch(/keeps no versions .* current object is copied/);
  });

  it('skips an object that no longer exists, naming the version', () => {
    expect(planCopy(record(), undefined)).toEqual({
      kind: 'skip',
      reason: `object version 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY of s3://${BUCKET}/Email Address/export 2026-11 (all).csv no longer exists (deleted or expired); nothing to copy`,
    });
    expect(planCopy(record({ versionId: undefined }), undefined)).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/^s3:\/\/.* no longer exists/) });
  });

  it('skips, without versions, an object replaced after the upload (it has its own record)', () => {
    const unversioned = record({ versionId: '0068F1A2B3C4D5E6F7' });
    expect(planCopy(unversioned, { ...head, lastModified: new Date('2026-11-20T09:05:00.000Z') })).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/was replaced after this upload/) });
    expect(planCopy(unversioned, { ...head, size: 99 })).toMatchObject({ kind: 'skip' });
    // A real version is immutable: its later LastModified can't happen, and size is not compared.
    expect(planCopy(record(), { ...head, size: 99 }).kind).toBe('copy');
  });

  it('encodes each key segment of the copy source, keeping the slashes', () => {
    expect(copySource('b', 'a+b/ü ?&=.csv', 'v/1+')).toBe('b/a%2Bb/%C3%BC%20%3F%26%3D.csv?versionId=v%2F1%2B');
  });
});

describe('failure-queue messages', () => {
  it('reads the object from Lambda\'s on-failure destination record, key decoded as the trigger does', () => {
    expect(objectsInMessage(destinationRecord)).toEqual([
      { bucket: BUCKET, key: 'Email Address/export 2026-11 (all).csv', versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY', sequencer: '0068F1A2B3C4D5E6F7' },
    ]);
  });

  it('reads the object from an S3 event notification (the SQS transport\'s dead-letter queue)', () => {
    expect(objectsInMessage(s3Event)).toEqual([
      { bucket: BUCKET, key: 'phone_number/SMS opt-ins ü.csv', versionId: 'Wm1Ja3pVZ3BmX2V4YW1wbGVfdmVyc2lvbg', sequencer: '0068F1B0C0D0E0F001' },
    ]);
  });

  it('finds no object in other messages', () => {
    expect(objectsInMessage('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}')).toEqual([]);
    expect(objectsInMessage('not json')).toEqual([]);
    expect(objectsInMessage(undefined)).toEqual([]);
    expect(objectsInMessage('{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"%E0%A4%A.csv"}}}]}')).toEqual([]);
  });

  it('matches by bucket and key, and by version id and sequencer where both sides have them', () => {
    const [ref] = objectsInMessage(destinationRecord);
    if (!ref) throw new Error('no ref');
    expect(refMatchesUpload(ref, record())).toBe(true);
    expect(refMatchesUpload(ref, record({ bucket: 'other' }))).toBe(false);
    expect(refMatchesUpload(ref, record({ key: 'Email Address/export 2026-11 (all).CSV' }))).toBe(false);
    // A later version of the same key (e.g. a redriven copy that failed again) is another upload.
    expect(refMatchesUpload(ref, record({ versionId: 'newerVersion' }))).toBe(false);
    expect(refMatchesUpload(ref, record({ sequencer: '0068F1FFFFFFFFFFFF' }))).toBe(false);
    expect(refMatchesUpload({ ...ref, versionId: undefined, sequencer: undefined }, record({ versionId: 'x', sequencer: 'y' }))).toBe(true);
  });

  it('matches an unversioned bucket\'s message by sequencer (the record\'s version is that sequencer)', () => {
    const unversioned = record({ versionId: 'SEQ1', sequencer: 'SEQ1' });
    expect(refMatchesUpload({ bucket: BUCKET, key: unversioned.key, sequencer: 'SEQ1' }, unversioned)).toBe(true);
    expect(refMatchesUpload({ bucket: BUCKET, key: unversioned.key, sequencer: 'SEQ2' }, unversioned)).toBe(false);
  });

  it('names a message\'s uploads only when every object it names is one of them', () => {
    const first = record({ uploadId: 'first' });
    const second = record({ uploadId: 'second', key: 'phone_number/SMS opt-ins ü.csv', versionId: 'Wm1Ja3pVZ3BmX2V4YW1wbGVfdmVyc2lvbg', sequencer: '0068F1B0C0D0E0F001' });
    const refs = [...objectsInMessage(destinationRecord), ...objectsInMessage(s3Event)];
    expect(uploadsForMessage(refs, [first, second])).toEqual([first, second]);
    expect(uploadsForMessage(refs, [first])).toBeUndefined();
    expect(uploadsForMessage([], [first])).toBeUndefined();
    expect(uploadsForMessage(objectsInMessage(s3Event), [first, second])).toEqual([second]);
  });
});
