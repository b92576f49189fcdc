// Object versions for s3rver, which keeps none: each write to a versioned bucket gets a version id, in S3's answers and events, and reads or copies of a version get the object.
import type S3rver from '@20minutes/s3rver';
import { randomBytes } from 'node:crypto';
import type { CfnTemplate } from './template.js';

/** What Koa hands a middleware, as far as this module uses it. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
  set(name: string, value: string): void;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
type Store = Record<'existsObject' | 'copyObject' | 'getObject', (bucket: string, key: string, ...rest: unknown[]) => unknown>;

export interface S3Versions {
  /** The current version id of an object in a versioned bucket; undefined elsewhere. */
  current(bucket: string, key: string): string | undefined;
}

/** The logical ids of the template's buckets with versioning enabled. */
export function versionedBucketIds(template: CfnTemplate): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::S3::Bucket' && (r.Properties?.VersioningConfiguration as { Status?: unknown } | undefined)?.Status === 'Enabled')
    .map(([id]) => id);
}

/** S3's version ids are 32 URL-safe characters. */
const newVersionId = () => randomBytes(24).toString('base64url');

/** The copy source's `?versionId=…`, which s3rver would read as part of the key. */
const VERSION_IN_COPY_SOURCE = /\?versionId=[^&]*$/;

/**
 * Gives the versioned `buckets` of `server` version ids. s3rver still keeps only the newest object
 * under a key: a read (or copy) of any version gets it. That is S3's answer as long as a key is not
 * overwritten before its earlier version is read, which is how the pipeline's tests use it. Call
 * before `run()`: Koa composes its middleware when the server starts.
 */
export function emulateVersioning(server: S3rver, buckets: readonly string[]): S3Versions {
  const versioned = new Set(buckets);
  const versions = new Map<string, string>();
  const id = (bucket: string, key: string) => `${bucket}/${key}`;

  const middleware: Middleware = async (ctx, next) => {
    const [bucket = '', ...rest] = ctx.path.replace(/^\//, '').split('/');
    const key = rest.map((segment) => decodeURIComponent(segment)).join('/');
    if (!versioned.has(bucket) || !key) return next();
    // PutObject and CopyObject (no subresource), CompleteMultipartUpload (POST ?uploadId).
    const writes = (ctx.method === 'PUT' && Object.keys(ctx.query).every((q) => q === 'x-id')) || (ctx.method === 'POST' && 'uploadId' in ctx.query);
    if (writes) {
      // Set before s3rver runs: it emits the object's event while handling the request.
      const previous = versions.get(id(bucket, key));
      const versionId = newVersionId();
      versions.set(id(bucket, key), versionId);
      try {
        await next();
      } finally {
        if (ctx.status >= 300) {
          if (previous === undefined) versions.delete(id(bucket, key));
          else versions.set(id(bucket, key), previous);
        }
      }
      if (ctx.status < 300) ctx.set('x-amz-version-id', versionId);
      return;
    }
    await next();
    const asked = typeof ctx.query.versionId === 'string' ? ctx.query.versionId : versions.get(id(bucket, key));
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.status < 300 && asked) ctx.set('x-amz-version-id', asked);
  };
  (server as unknown as { middleware: Middleware[] }).middleware.unshift(middleware);

  // s3rver takes a copy source's `?versionId=` for part of the key: the store is asked for the key alone.
  const store = (server as unknown as { store: Store }).store;
  for (const method of ['existsObject', 'copyObject', 'getObject'] as const) {
    const original = store[method].bind(store);
    store[method] = (bucket, key, ...rest) => original(bucket, versioned.has(bucket) ? key.replace(VERSION_IN_COPY_SOURCE, '') : key, ...rest);
  }

  return { current: (bucket, key) => (versioned.has(bucket) ? versions.get(id(bucket, key)) : undefined) };
}
