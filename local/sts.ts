// A local STS endpoint answering AssumeRole for the template's roles with s3rver's key, so presigned URLs verify locally.
import { randomBytes } from 'node:crypto';
import { QueryError, startQueryServer, xmlEscape } from './aws-query.js';

export interface AssumedSession {
  roleArn: string;
  sessionName: string;
  durationSeconds: number;
  sessionToken: string;
  expiration: Date;
}

export interface LocalSts {
  /** Pass as `endpoint` to `new STSClient(...)`, or as AWS_ENDPOINT_URL_STS. */
  endpoint: string;
  /** Every session handed out, in order. */
  readonly sessions: AssumedSession[];
  stop(): Promise<void>;
}

export interface LocalStsOptions {
  /** ARNs that may be assumed. */
  roles: string[];
  /** The key every session gets: s3rver verifies signatures against its own, so hand out that one. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** @default a free port */
  port?: number;
}

/** The caller is always a role here (a function's), so STS's role-chaining cap applies. */
const MAX_CHAINED_SECONDS = 3600;
const MIN_SECONDS = 900;

export async function startLocalSts(options: LocalStsOptions): Promise<LocalSts> {
  const roles = new Set(options.roles);
  const sessions: AssumedSession[] = [];
  const server = await startQueryServer('https://sts.amazonaws.com/doc/2011-06-15/', (action, params) => {
    if (action !== 'AssumeRole') throw new QueryError(400, 'InvalidAction', `Unsupported action ${action}.`);
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    if (!roles.has(roleArn)) throw new QueryError(403, 'AccessDenied', `Not authorized to perform sts:AssumeRole on ${roleArn}`);
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new QueryError(400, 'ValidationError', 'Invalid RoleSessionName');
    const durationSeconds = Number(params.get('DurationSeconds') ?? 3600);
    if (!Number.isInteger(durationSeconds) || durationSeconds < MIN_SECONDS) {
      throw new QueryError(400, 'ValidationError', `DurationSeconds must be at least ${MIN_SECONDS}`);
    }
    if (durationSeconds > MAX_CHAINED_SECONDS) {
      throw new QueryError(400, 'ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    }
    // Whole seconds, as STS gives them.
    const expiration = new Date(Math.floor(Date.now() / 1000) * 1000 + durationSeconds * 1000);
    const sessionToken = `local-session-${randomBytes(12).toString('hex')}`;
    sessions.push({ roleArn, sessionName, durationSeconds, sessionToken, expiration });
    const roleName = roleArn.split('/').pop() ?? roleArn;
    return [
      '<Credentials>',
      `<AccessKeyId>${xmlEscape(options.credentials.accessKeyId)}</AccessKeyId>`,
      `<SecretAccessKey>${xmlEscape(options.credentials.secretAccessKey)}</SecretAccessKey>`,
      `<SessionToken>${sessionToken}</SessionToken>`,
      `<Expiration>${expiration.toISOString()}</Expiration>`,
      '</Credentials>',
      '<AssumedRoleUser>',
      `<Arn>${xmlEscape(roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/'))}/${xmlEscape(sessionName)}</Arn>`,
      `<AssumedRoleId>AROALOCAL${xmlEscape(roleName.slice(0, 12).toUpperCase())}:${xmlEscape(sessionName)}</AssumedRoleId>`,
      '</AssumedRoleUser>',
    ].join('');
  }, options.port);
  return { endpoint: server.endpoint, sessions, stop: server.stop };
}
