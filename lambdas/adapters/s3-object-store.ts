// ObjectStore on S3: metadata through HeadObject, the body streamed once (GetObject of the version), cleaned copies through a multipart Upload, presigned GET URLs.
import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { CopyUpload, ObjectInfo, ObjectStore } from '../core/ports.js';

/**
 * Parts of the cleaned copy's multipart upload: S3's smallest part, one in flight while the next fills,
 * so the copy holds at most about 10 MB of memory whatever the file's size (a copy under 5 MB is one
 * PutObject when it ends).
 */
const COPY_PART_BYTES = 5 * 1024 * 1024;
const COPY_QUEUE_SIZE = 1;

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchVersion';
}
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
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async read(bucket: string, key: string, versionId?: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      // In Node the SDK's body is the HTTP response itself: a Readable, so stopping early destroys it.
      return out.Body as Readable | undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  writeCopy(bucket: string, key: string): CopyUpload {
    const sink = new PassThrough({ highWaterMark: 64 * 1024 });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: sink, ContentType: 'text/csv; charset=utf-8' },
      partSize: COPY_PART_BYTES,
      queueSize: COPY_QUEUE_SIZE,
    });
    const done = upload.done();
    // Rejected when aborted; awaited by complete() when it counts.
    done.catch(() => {});
    return {
      sink,
      complete: async () => {
        sink.end();
        await done;
      },
      abort: async () => {
        await upload.abort();
        sink.destroy();
      },
    };
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
