// The Region and account the local stack and its emulators stand in for: one place, so ARNs, queue URLs and events agree.
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
