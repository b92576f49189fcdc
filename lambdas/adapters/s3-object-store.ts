// ObjectStore on S3: metadata through HeadObject (never the body) and presigned GET URLs.
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectInfo, ObjectStore } from '../core/ports.js';
import type { SigningCredentials } from './presign-credentials.js';

export interface S3ObjectStoreOptions {
  /** @default () => new Date() */
  now?: () => Date;
  /**
   * Who signs file URLs. @default the client's own credentials (in Lambda these carry no expiry,
   * so the recorded `expiresAt` could overstate: the stack always sets this).
   */
  signingCredentials?: SigningCredentials;
  /** Settings for the client that signs with `signingCredentials`. @default {} (region and endpoint from the environment) */
  signerConfig?: Omit<S3ClientConfig, 'credentials'>;
}

export class S3ObjectStore implements ObjectStore {
  private readonly now: () => Date;

  constructor(
    private readonly client: S3Client,
    private readonly options: S3ObjectStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

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
    const credentials = this.options.signingCredentials
      ? await this.options.signingCredentials(expiresInSeconds)
      : await this.client.config.credentials();
    // A client of its own carries these credentials (and the SDK's endpoint settings from the environment).
    const signer = this.options.signingCredentials
      ? new S3Client({ ...this.options.signerConfig, credentials })
      : this.client;
    const signedAt = this.now();
    try {
      const url = await getSignedUrl(signer, new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), {
        expiresIn: expiresInSeconds,
        signingDate: signedAt,
      });
      // A URL signed with temporary credentials dies with them, whatever expiresIn says.
      const byUrl = signedAt.getTime() + expiresInSeconds * 1000;
      const byCredentials = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
      return { url, expiresAt: new Date(Math.min(byUrl, byCredentials)) };
    } finally {
      if (signer !== this.client) signer.destroy();
    }
  }
}
