// The Region and account the local stack and its emulators stand in for: one place, so ARNs, queue URLs and events agree.
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
/** s3rver's built-in key (it checks signatures against it; the other emulators accept any): for every client of the local stack. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
