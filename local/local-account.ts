// The Region and account the local stack and its emulators stand in for: one place, so ARNs, queue URLs and events agree.
import type { S3ClientConfig } from '@aws-sdk/client-s3';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
/** s3rver's built-in key (it checks signatures against it; the other emulators accept any): for every client of the local stack. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * For an S3Client of s3rver: without these, the SDK's default CRC32 checksums make s3rver store
 * streamed uploads with their chunk framing (toolchain notes). Functions get the same through
 * AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION.
 */
export const S3RVER_CLIENT_SETTINGS = {
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const satisfies S3ClientConfig;
