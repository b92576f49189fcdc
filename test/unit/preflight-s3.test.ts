// The pre-flight scan as the trigger will use it, on s3rver: an S3 GetObject body in, the clean copy out through an @aws-sdk/lib-storage multipart Upload.
import { PassThrough, type Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PreflightReport, preflight } from '../../lambdas/core/preflight.js';
import { startTestS3, type TestS3 } from '../support/local-s3.js';

const DROP = 'drop';
const PREPARED = 'prepared';
const MB = 1024 * 1024;

let local: TestS3;
let s3: S3Client;

beforeAll(async () => {
  local = await startTestS3([DROP, PREPARED]);
  s3 = local.s3;
});

afterAll(async () => {
  await local?.stop();
});

/** What the trigger will do: stream the dropped object through the scan into a multipart upload, and keep the copy only when it is needed. */
async function prepare(key: string, attributeName: string): Promise<{ report: PreflightReport; copyKey: string; writesWaited: number }> {
  const object = await s3.send(new GetObjectCommand({ Bucket: DROP, Key: key }));
  const copyKey = `copies/${key.replace(/\.gz$/, '')}`;
  const copy = new PassThrough({ highWaterMark: 64 * 1024 });
  let writesWaited = 0;
  copy.on('drain', () => writesWaited++);
  // One part in flight: the upload holds at most 5 MB, so the scan must wait for it.
  const upload = new Upload({ client: s3, params: { Bucket: PREPARED, Key: copyKey, Body: copy, ContentType: 'text/csv' }, partSize: 5 * MB, queueSize: 1 });
  const uploaded = upload.done();
  uploaded.catch(() => {});
  const report = await preflight(object.Body as Readable, { attributeName, gzip: key.endsWith('.gz'), maxBytes: 50 * MB, sink: copy });
  if (report.verdict === 'accept' && report.changed) {
    copy.end();
    await uploaded;
  } else {
    await upload.abort();
    copy.destroy();
  }
  return { report, copyKey, writesWaited };
}

const exists = (bucket: string, key: string) => local.exists(bucket, key);

describe('pre-flight on S3', () => {
  it('writes a 9 MB clean copy of a messy gzip export through a multipart upload (two parts), waiting for it', { timeout: 120_000 }, async () => {
    const rows = Array.from({ length: 400_000 }, (_, i) => `" user${i}@example.com ",x${i}`);
    const messy = `\ufeffEmail Address\r\n${rows.join('\r\n')}\r\n${rows[0]}\r\n`;
    await s3.send(new PutObjectCommand({ Bucket: DROP, Key: 'em/VIP.csv.gz', Body: gzipSync(messy) }));

    const { report, copyKey, writesWaited } = await prepare('em/VIP.csv.gz', 'Email Address');

    expect(report).toMatchObject({
      verdict: 'accept',
      changed: true,
      changes: ['gzip', 'bom', 'lineEndings', 'header', 'paddedValues', 'extraColumns', 'duplicates'],
      values: 400_001,
      cleanValues: 400_000,
      duplicates: { count: 1, lines: [400_002] },
    });
    expect(report.cleanBytes).toBeGreaterThan(5 * MB);
    expect(writesWaited).toBeGreaterThan(0);
    const stored = await s3.send(new GetObjectCommand({ Bucket: PREPARED, Key: copyKey }));
    const text = await stored.Body?.transformToString();
    expect(stored.ContentLength).toBe(report.cleanBytes);
    expect(text?.slice(0, 40)).toBe('user0@example.com\nuser1@example.com\nuser');
    expect(text?.split('\n')).toHaveLength(400_001);
    expect(text?.endsWith('user399999@example.com\n')).toBe(true);
  });

  it('keeps no copy of a clean file, nor of a rejected one', async () => {
    await s3.send(new PutObjectCommand({ Bucket: DROP, Key: 'em/clean.csv', Body: 'a@x.com\nb@x.com\n' }));
    await s3.send(new PutObjectCommand({ Bucket: DROP, Key: 'em/blank.csv', Body: '\ufeff\r\n  \r\n' }));

    const clean = await prepare('em/clean.csv', 'em');
    const blank = await prepare('em/blank.csv', 'em');

    expect(clean.report).toMatchObject({ verdict: 'accept', changed: false });
    expect(blank.report).toMatchObject({ verdict: 'reject', rejection: 'empty' });
    expect(await exists(PREPARED, clean.copyKey)).toBe(false);
    expect(await exists(PREPARED, blank.copyKey)).toBe(false);
  });
});
