// ObjectStore on S3: metadata through HeadObject (never the body) and presigned GET URLs.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectInfo, ObjectStore } from '../core/ports.js';

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async head(bucket: string, key: string, versionId?: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      return { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {}, versionId: out.VersionId };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchVersion') return undefined;
      throw error;
    }
  }

  async presignGet(bucket: string, key: string, versionId: string | undefined, expiresInSeconds: number) {
    const signedAt = this.now();
    const url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), {
      expiresIn: expiresInSeconds,
      signingDate: signedAt,
    });
    // A URL signed with temporary credentials dies with them, whatever expiresIn says.
    const credentials = await this.client.config.credentials();
    const byUrl = signedAt.getTime() + expiresInSeconds * 1000;
    const byCredentials = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
    return { url, expiresAt: new Date(Math.min(byUrl, byCredentials)) };
  }
}
