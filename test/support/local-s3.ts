// An s3rver on a free loopback port with the given buckets and an SDK client for it, for adapter tests; `stop` removes everything.
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CLIENT_SETTINGS } from '../../local/local-account.js';
import { startS3rver } from '../../local/s3rver.js';

export interface TestS3 {
  s3: S3Client;
  /** Whether the object exists (HeadObject), for tests that check nothing was stored. */
  exists(bucket: string, key: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startTestS3(buckets: readonly string[]): Promise<TestS3> {
  const server = await startS3rver({ buckets });
  const s3 = new S3Client({ ...S3RVER_CLIENT_SETTINGS, endpoint: server.endpoint });
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
      await server.stop();
    },
  };
}
