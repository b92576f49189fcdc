// One pre-flight measurement the way the trigger runs it, in a fresh process: the object read and the clean copy written through the trigger's own S3ObjectStore (GetObject; a multipart Upload, one part in flight).
// Run by bench/preflight.ts against s3rver (in the parent process, so its work is not counted) as `node <bundle> '<json args>'`; prints one JSON line.
import { S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CLIENT_SETTINGS } from '../local/local-account.js';
import { S3ObjectStore } from '../lambdas/adapters/s3-object-store.js';
import { preflight } from '../lambdas/core/preflight.js';
import { printMeasurement, type WorkResult } from './preflight-measure.js';

export interface S3ChildArgs {
  endpoint: string;
  bucket: string;
  key: string;
  copyBucket: string;
  attributeName: string;
  maxBytes: number;
}

function client(args: S3ChildArgs): S3Client {
  // The checksums S3RVER_CLIENT_SETTINGS leaves out are CRC32s that Node computes natively, a small part of the work.
  return new S3Client({ ...S3RVER_CLIENT_SETTINGS, endpoint: args.endpoint });
}

/** The trigger's steps (checkFile): read the version, scan it into the copy, keep the copy only when it is needed. */
async function measure(objects: S3ObjectStore, args: S3ChildArgs): Promise<WorkResult> {
  const body = await objects.read(args.bucket, args.key);
  if (!body) throw new Error(`s3://${args.bucket}/${args.key} does not exist`);
  const copy = objects.writeCopy(args.copyBucket, `${args.key}.copy`);
  const report = await preflight(body, { attributeName: args.attributeName, maxBytes: args.maxBytes, sink: copy.sink });
  if (report.verdict === 'accept' && report.changed) await copy.complete();
  else await copy.abort();
  return { bytes: report.bytes, verdict: report.verdict, values: report.values, changed: report.changed, cleanBytes: report.cleanBytes };
}

const raw = process.argv[2];
if (raw) {
  const args = JSON.parse(raw) as S3ChildArgs;
  const s3 = client(args);
  void printMeasurement(() => measure(new S3ObjectStore(s3), args)).finally(() => s3.destroy());
}
