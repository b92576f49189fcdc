// One pre-flight measurement the way the trigger runs it, in a fresh process: the object from S3, the scan, the clean copy back through a multipart upload.
// Run by bench/preflight.ts against s3rver (in the parent process, so its work is not counted) as `node <bundle> '<json args>'`; prints one JSON line.
import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
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

const MB = 1024 * 1024;

function client(args: S3ChildArgs): S3Client {
  return new S3Client({
    endpoint: args.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver stores streamed uploads with chunk framing otherwise (toolchain notes); the checksums left
    // out are CRC32s that Node computes natively, a small part of the work.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function measure(s3: S3Client, args: S3ChildArgs): Promise<WorkResult> {
  const object = await s3.send(new GetObjectCommand({ Bucket: args.bucket, Key: args.key }));
  const copy = new PassThrough({ highWaterMark: 64 * 1024 });
  // The usage documented on `preflight`: the Upload's defaults, 4 parts of 5 MB in flight.
  const upload = new Upload({ client: s3, params: { Bucket: args.copyBucket, Key: `${args.key}.copy`, Body: copy, ContentType: 'text/csv' }, partSize: 5 * MB, queueSize: 4 });
  const uploaded = upload.done();
  uploaded.catch(() => {});
  const report = await preflight(object.Body as Readable, { attributeName: args.attributeName, maxBytes: args.maxBytes, sink: copy });
  if (report.verdict === 'accept' && report.changed) {
    copy.end();
    await uploaded;
  } else {
    await upload.abort();
    copy.destroy();
  }
  return { bytes: report.bytes, verdict: report.verdict, values: report.values, changed: report.changed, cleanBytes: report.cleanBytes };
}

const raw = process.argv[2];
if (raw) {
  const args = JSON.parse(raw) as S3ChildArgs;
  const s3 = client(args);
  void printMeasurement(() => measure(s3, args)).finally(() => s3.destroy());
}
