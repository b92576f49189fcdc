// Credentials for signing file URLs, each set carrying the expiry S3 will enforce on a URL it signs.
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import * as v from 'valibot';
import { presignMaxSeconds } from '../shared/limits.js';

/** Credentials to sign one URL that should live `expiresInSeconds`. */
export type SigningCredentials = (expiresInSeconds: number) => Promise<AwsCredentialIdentity>;

/** STS's shortest session. */
const MIN_SESSION_SECONDS = 900;

/**
 * Assumes `roleArn` afresh for every URL, so each gets a whole session and STS says exactly when it
 * ends. The function's own credentials say no such thing: Lambda hands them over without an expiry.
 */
export function assumedRoleCredentials(sts: STSClient, roleArn: string, sessionName = 'fps-presign'): SigningCredentials {
  return async (expiresInSeconds) => {
    const durationSeconds = Math.min(presignMaxSeconds('assumedRole'), Math.max(MIN_SESSION_SECONDS, expiresInSeconds));
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: durationSeconds }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error(`STS returned no complete credentials for ${roleArn}`);
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  };
}

const AccessKeySecret = v.object({
  accessKeyId: v.pipe(v.string(), v.trim(), v.nonEmpty()),
  secretAccessKey: v.pipe(v.string(), v.trim(), v.nonEmpty()),
});

/**
 * An IAM user's access key, read through `read` (a cached secret). Long-term credentials have no
 * expiry, so a URL lives exactly as long as asked, up to SigV4's 7 days, unless the key is deactivated.
 */
export function accessKeyCredentials(read: () => Promise<unknown>): SigningCredentials {
  return async () => {
    const parsed = v.safeParse(AccessKeySecret, await read());
    // Never echo the value: it is a credential.
    if (!parsed.success) throw new Error('The presign access key secret must be JSON {"accessKeyId": "…", "secretAccessKey": "…"}');
    return parsed.output;
  };
}
