// One pre-flight measurement the way the trigger runs it, in a fresh process: the object from S3, the scan, the clean copy back through a multipart upload.
// Run by bench/preflight.ts against s3rver (in the parent process, so its work is not counted) as `node <bundle> '<json args>'`; prints one JSON line.
import { readFileSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { preflight } from '../lambdas/core/preflight.js';
import type { ChildResult } from './preflight-child.js';

export interface S3ChildArgs {
  endpoint: string;
  bucket: string;
  key: string;
  copyBucket: string;
  attributeName: string;
  maxBytes: number;
}

const MB = 1024 * 1024;

function peakRss(): number {
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function measure(args: S3ChildArgs): Promise<ChildResult> {
  const s3 = new S3Client({
    endpoint: args.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver stores streamed uploads with chunk framing otherwise (toolchain notes); the checksums left
    // out are CRC32s that Node computes natively, a small part of the work.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const loadedPeakRssBytes = peakRss();
  const wall = performance.now();
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  s3.destroy();
  return {
    bytes: report.bytes,
    verdict: report.verdict,
    values: report.values,
    changed: report.changed,
    cleanBytes: report.cleanBytes,
    wallMs: performance.now() - wall,
    cpuMs: (used.user + used.system) / 1000,
    loadedPeakRssBytes,
    peakRssBytes: peakRss(),
  };
}

const raw = process.argv[2];
if (raw) {
  measure(JSON.parse(raw) as S3ChildArgs).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
