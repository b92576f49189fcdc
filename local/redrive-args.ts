// `npm run redrive`'s command line: the usage text, the flags read and checked, and the names a stack's outputs give.
import { parseArgs } from 'node:util';
import { UploadStatus } from '../lambdas/shared/contract.js';

/** The statuses a person may redrive: each is final and none has Insider's counts. */
export const REDRIVABLE_STATUSES = [UploadStatus.Failed, UploadStatus.Rejected, UploadStatus.TimedOut] as const;
export type RedrivableStatus = (typeof REDRIVABLE_STATUSES)[number];

/** The stack outputs the command reads its names from. */
export const StackOutput = { table: 'TableName', bucket: 'BucketName', queueUrl: 'FailedUploadsQueueUrl' } as const;

export const REDRIVE_USAGE = `Usage:
  npm run redrive -- --stack FpsPipeline                 list failed uploads (changes nothing)
  npm run redrive -- --stack FpsPipeline --all           redrive every listed upload (asks first)
  npm run redrive -- --stack FpsPipeline --upload-id <id> [--upload-id <id> …] --yes
Where:
  --stack <name>        read the names below from the deployed stack's outputs
                        (${StackOutput.table}, ${StackOutput.bucket}, ${StackOutput.queueUrl})
  --table <name>        the uploads table         } instead of --stack, or to override
  --bucket <name>       the drop bucket           } one of its outputs; listing needs only
  --queue-url <url>     the failed-uploads queue  } the table
Which uploads:
  --status <status>     failed (default), rejected or timed_out; repeat or comma-separate for several
  --since <ISO date>    only uploads updated at or after it (2026-11-01 or 2026-11-01T09:30:00Z)
What to do:
  (no choice)           list them, newest first, and stop
  --all                 redrive every listed upload
  --upload-id <id>      redrive this listed upload (repeatable)
  --yes                 do not ask for confirmation (required when stdin is not a terminal)
  --help
Redriving copies the object version an upload names onto the same key, re-sending its own metadata
and content type: S3 notifies the pipeline, which handles it as a new upload under the usual rules
(the old record stays as it is). Then it deletes that upload's messages from the failed-uploads
queue. Region and credentials come from the usual AWS environment (AWS_PROFILE, AWS_REGION, …);
AWS_ENDPOINT_URL_* point it at a local stack.
Exit code: 0 when every chosen upload was redriven (or only listed), 1 when one was not (or a
queue message could not be deleted), 2 for a usage error or a redrive without --yes when stdin is
not a terminal.`;

/** Where the names come from: a stack's outputs, overridden by any flag given. */
export interface RedriveNames {
  stack?: string | undefined;
  table?: string | undefined;
  bucket?: string | undefined;
  queueUrl?: string | undefined;
}

export type RedriveChoice = { kind: 'list' } | { kind: 'all' } | { kind: 'ids'; uploadIds: string[] };

export interface RedriveOptions {
  names: RedriveNames;
  /** Listed in this order of statuses, then merged newest first. */
  statuses: RedrivableStatus[];
  /** ISO-8601 UTC; only records updated at or after it. */
  since?: string | undefined;
  choice: RedriveChoice;
  /** Skip the confirmation. */
  yes: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// A time needs its zone: without one, the date would mean a different instant on each machine.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `--since` as the ISO-8601 UTC form `updatedAt` is stored in, so the two compare as strings. */
export function normalizeSince(text: string): string {
  const value = text.trim();
  const ms = DATE_ONLY.test(value) || DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--since must be an ISO date such as 2026-11-01 or 2026-11-01T09:30:00Z (a time needs its zone), not "${text}"`);
  }
  return new Date(ms).toISOString();
}

/** `undefined` for --help. */
export function parseRedriveArgs(argv: string[]): RedriveOptions | undefined {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}": every option is a --flag`);
  for (const flag of ['stack', 'table', 'bucket', 'queue-url'] as const) {
    if (values[flag] !== undefined && values[flag].trim() === '') throw new UsageError(`--${flag} needs a value`);
  }
  if (values.stack === undefined && values.table === undefined) throw new UsageError('Name the stack (--stack FpsPipeline) or the table (--table <name>)');

  const statuses: RedrivableStatus[] = [];
  for (const status of (values.status ?? [UploadStatus.Failed]).flatMap((s) => s.split(',')).map((s) => s.trim())) {
    if (!(REDRIVABLE_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${REDRIVABLE_STATUSES.join(', ')}, not "${status}"`);
    }
    if (!statuses.includes(status as RedrivableStatus)) statuses.push(status as RedrivableStatus);
  }

  const uploadIds = [...new Set((values['upload-id'] ?? []).map((id) => id.trim()))];
  if (uploadIds.includes('')) throw new UsageError('--upload-id needs a value');
  if (values.all && uploadIds.length > 0) throw new UsageError('Give --all or --upload-id, not both');
  const choice: RedriveChoice = values.all ? { kind: 'all' } : uploadIds.length > 0 ? { kind: 'ids', uploadIds } : { kind: 'list' };

  return {
    names: { stack: values.stack, table: values.table, bucket: values.bucket, queueUrl: values['queue-url'] },
    statuses,
    since: values.since === undefined ? undefined : normalizeSince(values.since),
    choice,
    yes: values.yes ?? false,
  };
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      table: { type: 'string' },
      bucket: { type: 'string' },
      'queue-url': { type: 'string' },
      status: { type: 'string', multiple: true },
      since: { type: 'string' },
      all: { type: 'boolean' },
      'upload-id': { type: 'string', multiple: true },
      yes: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
}

/** The names a stack's outputs give, with any flag the user gave taking precedence. */
export function namesFromOutputs(outputs: { OutputKey?: string; OutputValue?: string }[], flags: RedriveNames): Required<Omit<RedriveNames, 'stack'>> {
  const output = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue;
  const names = {
    table: flags.table ?? output(StackOutput.table),
    bucket: flags.bucket ?? output(StackOutput.bucket),
    queueUrl: flags.queueUrl ?? output(StackOutput.queueUrl),
  };
  const missing = Object.entries({ [StackOutput.table]: names.table, [StackOutput.bucket]: names.bucket, [StackOutput.queueUrl]: names.queueUrl })
    .filter(([, value]) => !value)
    .map(([key]) => key);
  if (missing.length > 0) throw new UsageError(`Stack ${flags.stack} has no output ${missing.join(', ')}: is it this pipeline's stack?`);
  return names as Required<Omit<RedriveNames, 'stack'>>;
}
