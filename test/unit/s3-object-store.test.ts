// The S3 ObjectStore's pre-flight side on s3rver: an object version streamed once, cleaned copies written through a multipart Upload, or aborted.
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lambdas/adapters/s3-object-store.js';
import { startTestS3, type TestS3 } from '../support/local-s3.js';

const DROP = 'drop';
const PREPARED = 'prepared';
const MB = 1024 * 1024;

let local: TestS3;
let s3: S3Client;
let store: S3ObjectStore;

beforeAll(async () => {
  local = await startTestS3([DROP, PREPARED]);
  s3 = local.s3;
  store = new S3ObjectStore(s3);
});

afterAll(async () => {
  await local?.stop();
});

const exists = (bucket: string, key: string) => local.exists(bucket, key);

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

describe('S3ObjectStore: read and writeCopy', () => {
  it("streams an object's bytes, and knows nothing of one that is gone", async () => {
    await s3.send(new PutObjectCommand({ Bucket: DROP, Key: 'em/a b (ü).csv', Body: 'a@example.com\n' }));
    const body = await store.read(DROP, 'em/a b (ü).csv');
    expect(body && (await readAll(body))).toBe('a@example.com\n');
    expect(await store.read(DROP, 'em/missing.csv')).toBeUndefined();
  });

  it('stores a copy only when completed, as text/csv, over several parts when large', async () => {
    const copy = store.writeCopy(PREPARED, 'big.csv');
    const line = `${'x'.repeat(63)}\n`;
    const chunk = Buffer.from(line.repeat(1024));
    // 12 MB: three 5 MB parts at most, written with backpressure.
    for (let written = 0; written < 12 * MB; written += chunk.length) {
      if (!copy.sink.write(chunk)) await new Promise((resolve) => copy.sink.once('drain', resolve));
    }
    expect(await exists(PREPARED, 'big.csv')).toBe(false);
    await copy.complete();
    const stored = await s3.send(new GetObjectCommand({ Bucket: PREPARED, Key: 'big.csv' }));
    expect(stored.ContentLength).toBe(12 * MB);
    expect(stored.ContentType).toBe('text/csv; charset=utf-8');
  });

  it('stores nothing when aborted, small or after parts were sent', async () => {
    const small = store.writeCopy(PREPARED, 'small.csv');
    small.sink.write('a@example.com\n');
    await small.abort();
    const large = store.writeCopy(PREPARED, 'large.csv');
    const chunk = Buffer.alloc(MB, 0x61);
    for (let i = 0; i < 7; i++) {
      if (!large.sink.write(chunk)) await new Promise((resolve) => large.sink.once('drain', resolve));
    }
    await large.abort();
    expect(await exists(PREPARED, 'small.csv')).toBe(false);
    expect(await exists(PREPARED, 'large.csv')).toBe(false);
  });
});
