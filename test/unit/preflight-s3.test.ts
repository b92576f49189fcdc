// The pre-flight scan as the trigger uses it, on s3rver: the object read and the clean copy written through the trigger's S3ObjectStore (GetObject; a multipart Upload).
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lambdas/adapters/s3-object-store.js';
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

/** What the trigger does (checkFile): stream the dropped object through the scan into the copy's multipart upload, and keep the copy only when it is needed. */
async function prepare(key: string, attributeName: string): Promise<{ report: PreflightReport; copyKey: string; writesWaited: number }> {
  const objects = new S3ObjectStore(s3);
  const body = await objects.read(DROP, key);
  if (!body) throw new Error(`s3://${DROP}/${key} does not exist`);
  const copyKey = `copies/${key.replace(/\.gz$/, '')}`;
  // One part in flight: the upload holds at most 5 MB, so the scan must wait for it.
  const copy = objects.writeCopy(PREPARED, copyKey);
  let writesWaited = 0;
  copy.sink.on('drain', () => writesWaited++);
  const report = await preflight(body, { attributeName, gzip: key.endsWith('.gz'), maxBytes: 50 * MB, sink: copy.sink });
  if (report.verdict === 'accept' && report.changed) await copy.complete();
  else await copy.abort();
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
