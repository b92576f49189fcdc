// An s3rver on a free loopback port with the given buckets and an SDK client for it, for adapter tests; `stop` removes everything.
import S3rver from '@20minutes/s3rver';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';

export interface TestS3 {
  s3: S3Client;
  /** Whether the object exists (HeadObject), for tests that check nothing was stored. */
  exists(bucket: string, key: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startTestS3(buckets: readonly string[]): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'fps-test-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = (await server.run()) as { port: number };
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver stores streamed uploads with chunk framing otherwise (toolchain notes).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    s3,
    async exists(bucket, key) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === 'NotFound') return false;
        throw error;
      }
    },
    async stop() {
      s3.destroy();
      const closing = server.close();
      // Keep-alive sockets would hold close() open.
      server.httpServer?.closeAllConnections();
      await closing;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
