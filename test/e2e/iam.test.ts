// Permissions proven against the code's real calls: a broad run of the local stack records every AWS call, and the synthesized template's IAM must allow each one and grant nothing more.
import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRIGGER_MAX_RECEIVES } from '../../lambdas/shared/contract.js';
import type { RecordedCall } from '../../local/call-recorder.js';
import { redrive } from '../../local/redrive.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { logicalIdOf } from '../infra/synth.js';
import {
  type AwsCall,
  type CfnTemplate,
  describeDenials,
  describeUnexercised,
  evaluateCalls,
  evaluateRecordedCalls,
  expectEveryCallAllowed,
  type IamEvaluation,
  localResolver,
  readIam,
  recordedCalls,
} from '../support/iam/index.js';

const HOUR_MS = 3_600_000;
/** SQS waits run 100 times faster: Insider's 120 s Retry-After lasts 1.2 s. */
const TIME_SCALE = 0.01;
const RETRY_AFTER_SECONDS = 120;

const NORMAL = 'Email Address/VIP customers.csv';
const DUPLICATED = 'em/Delivered twice.csv';
const SLOWED = 'em/Slow down.csv';
const ALWAYS_DOWN = 'em/Always down.csv';
const SQS_REDRIVEN = 'em/Redriven by the console.csv';
const COMMAND_REDRIVEN = 'em/Redriven by the command.csv';
const REJECTED = 'No folder here.csv';
const NEVER_CALLED_BACK = 'em/Never called back.csv';
/** A header and Windows line ends: Insider gets a cleaned copy from the prepared bucket. */
const MESSY = 'Email Address/Messy export.csv';
/** Larger than one multipart part (5 MB) and clean: the copy started while scanning is aborted. */
const LARGE_CLEAN = 'Email Address/Large and clean.csv';

let stack: LocalStack;
let operatorSqs: SQSClient;
let evaluation: IamEvaluation;
/** Segments Insider answers 503 for while listed. */
const down = new Set(['Always down', 'Redriven by the console', 'Redriven by the command']);
/** Segments whose first request Insider answers 429 with a long Retry-After. */
const slowDown = new Set(['Slow down']);

type Mutable = { Resources: Record<string, { Properties?: Record<string, unknown> }> };
type Statement = { Effect: string; Action: string | string[]; Principal?: unknown };

const emails = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`).join('\n');
const recordsOf = async (key: string) => (await stack.records()).filter((r) => r.key === key);
const completed = async (key: string) => (await recordsOf(key)).some((r) => r.status === 'completed');

async function failThenRecover(key: string, recover: () => Promise<unknown>): Promise<void> {
  await stack.put(key, emails(2));
  await stack.waitForFinal([key], { timeoutMs: 45_000 });
  await stack.drainEvents();
  expect((await recordsOf(key)).map((r) => r.status)).toEqual(['failed']);
  down.delete(key.slice(3, -4));
  await recover();
  for (const deadline = Date.now() + 30_000; !(await completed(key)); ) {
    if (Date.now() > deadline) throw new Error(`${key} was not completed after its redrive`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  stack = await startLocalStack({ timeScale: TIME_SCALE, context: { tokenCacheSeconds: 0 } });
  stack.simulator.setScript(({ segmentName }) => {
    if (segmentName && down.has(segmentName)) return { status: 503, body: { statusMessage: 'Service Unavailable' } };
    if (segmentName && slowDown.delete(segmentName)) {
      return { status: 429, body: { statusMessage: 'Too Many Requests' }, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } };
    }
    return undefined;
  });
  // A person's client, as the SQS console or the AWS CLI would be: not one of the stack's principals.
  operatorSqs = new SQSClient({ endpoint: stack.sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'OPERATOR', secretAccessKey: 'x' } });

  // A normal file, the same event twice, Insider's Retry-After, and a file without a folder.
  await stack.put(NORMAL, emails(3));
  stack.setDuplicateEventRate(1);
  await stack.put(DUPLICATED, emails(1));
  stack.setDuplicateEventRate(0);
  await stack.put(SLOWED, emails(2));
  await stack.put(REJECTED, emails(1));
  // The pre-flight's copies: written for a messy file, aborted for a large clean one.
  await stack.put(MESSY, `email\r\n${emails(3).replace(/\n/g, '\r\n')}\r\n`);
  await stack.put(LARGE_CLEAN, `${emails(240_000)}\n`);
  const settled = await stack.waitForFinal([NORMAL, DUPLICATED, SLOWED, REJECTED, MESSY, LARGE_CLEAN], { timeoutMs: 90_000 });
  expect(Object.fromEntries(settled.map((r) => [r.key, r.status]))).toEqual({
    [NORMAL]: 'completed',
    [DUPLICATED]: 'completed',
    [SLOWED]: 'completed',
    [REJECTED]: 'rejected',
    [MESSY]: 'completed',
    [LARGE_CLEAN]: 'completed',
  });
  expect(settled.find((r) => r.key === MESSY)?.preparedKey).toMatch(/\.csv$/);
  expect(settled.find((r) => r.key === LARGE_CLEAN)?.preparedKey).toBeUndefined();

  // The last attempt, into the failure queue, for good.
  await stack.put(ALWAYS_DOWN, emails(1));
  await stack.waitForFinal([ALWAYS_DOWN], { timeoutMs: 45_000 });
  await stack.drainEvents();
  expect(stack.failures().filter((f) => f.key === ALWAYS_DOWN)).toHaveLength(1);

  // The console's DLQ redrive, then `npm run redrive`, each once Insider works again.
  await failThenRecover(SQS_REDRIVEN, () => operatorSqs.send(new StartMessageMoveTaskCommand({ SourceArn: stack.failureQueue.arn })));
  await failThenRecover(COMMAND_REDRIVEN, async () => {
    const [failed] = await recordsOf(COMMAND_REDRIVEN);
    const result = await redrive(
      {
        names: { table: stack.tableName, bucket: stack.bucket, queueUrl: stack.failureQueue.url },
        statuses: ['failed'],
        choice: { kind: 'ids', uploadIds: [failed?.uploadId ?? ''] },
        yes: true,
      },
      { dynamodb: stack.dynamodb, s3: stack.s3, sqs: operatorSqs },
      { info: () => {}, warn: (line) => expect.fail(line) },
    );
    expect(result.redriven).toHaveLength(1);
  });

  // Insider accepts and never calls back; the schedule runs the sweeper as if 7 hours later.
  stack.simulator.setFaults({ callbackDropped: 1 });
  await stack.put(NEVER_CALLED_BACK, emails(1));
  await stack.waitForFinal([NEVER_CALLED_BACK], { acceptSubmitted: true });
  await stack.idle();
  stack.simulator.setFaults({});
  await stack.sweep(new Date(Date.now() + 7 * HOUR_MS));
  expect((await stack.waitForFinal([NEVER_CALLED_BACK]))[0]?.status).toBe('timed_out');
  await stack.idle();

  evaluation = await expectEveryCallAllowed(stack);
}, 240_000);

afterAll(async () => {
  operatorSqs?.destroy();
  await stack?.stop();
});

/** A principal in a line: the role's (or session's) logical id, or the service. */
function who(call: Pick<RecordedCall, 'principal'>): string {
  const { principal } = call;
  if (principal.kind === 'service') return principal.service;
  // Local role names are the roles' logical ids.
  const role = principal.roleArn.split('/').pop() ?? '';
  return principal.kind === 'assumedRole' ? `${role} session ${principal.sessionName}` : role;
}

/** The template's logical id for a construct path, for naming principals in expectations. */
const id = (path: string) => logicalIdOf(stack.synth.template.Resources, path);

function copyWith(edit: (copy: Mutable) => void): CfnTemplate {
  const copy = structuredClone(stack.synth.template) as unknown as Mutable;
  edit(copy);
  return copy as unknown as CfnTemplate;
}

function statementsAt(copy: Mutable, path: string, property = 'PolicyDocument'): Statement[] {
  const document = copy.Resources[id(path)]?.Properties?.[property] as { Statement: Statement[] } | undefined;
  if (!document) throw new Error(`No ${property} at ${path}`);
  return document.Statement;
}

describe('the calls the local stack recorded', () => {
  it('are each allowed by the template, and hold the actions each principal needs, no more', () => {
    const actions = new Map<string, Set<string>>();
    for (const call of stack.recorder.calls) actions.set(who(call), (actions.get(who(call)) ?? new Set()).add(call.action));
    const sorted = Object.fromEntries([...actions].map(([principal, set]) => [principal, [...set].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))));

    expect(describeDenials(evaluation)).toBe('');
    expect(sorted).toEqual({
      [id('Trigger/FunctionRole/Resource')]: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:AbortMultipartUpload',
        's3:GetObjectVersion',
        's3:PutObject',
        'secretsmanager:GetSecretValue',
        'sns:Publish',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'sts:AssumeRole',
      ],
      [`${id('Trigger/PresignRole/Resource')} session fps-presign`]: ['s3:GetObject', 's3:GetObjectVersion'],
      [id('Callback/FunctionRole/Resource')]: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sns:Publish'],
      [id('TimeoutSweeper/FunctionRole/Resource')]: ['dynamodb:Query', 'dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sns:Publish'],
      [notificationsHandlerRole()]: ['s3:PutBucketNotification'],
      'apigateway.amazonaws.com': ['lambda:InvokeFunction'],
      'events.amazonaws.com': ['lambda:InvokeFunction'],
      'lambda.amazonaws.com': ['sts:AssumeRole'],
      'logging.s3.amazonaws.com': ['s3:PutObject'],
      's3.amazonaws.com': ['sqs:SendMessage'],
    });
    // Every read of a dropped object names its version (the bucket is versioned); only the prepared
    // bucket's cleaned copies, which have no versions, are read as s3:GetObject.
    const plainReads = stack.recorder.calls.filter((c) => c.action === 's3:GetObject').map((c) => c.resource);
    expect(plainReads.length).toBeGreaterThan(0);
    const preparedBucket = stack.resolve({ Ref: id('PreparedBucket/Resource') });
    expect(plainReads.every((arn) => arn.startsWith(`arn:aws:s3:::${preparedBucket}/`))).toBe(true);
    // The sweeper's query goes to the byStatus index, not the table.
    expect(stack.recorder.calls.find((c) => c.action === 'dynamodb:Query')?.resource).toMatch(/:table\/[^/]+\/index\/byStatus$/);
  });

  it('leave no grant unused: each statement of every role is exercised by some call', () => {
    expect(
      evaluation.unexercised.map((g) => `${g.role}: ${g.action} on ${g.resource}`),
      describeUnexercised(evaluation),
    ).toEqual([]);
    // CDK's deploy-time custom resource keeps its AWS managed policy (acknowledged in cdk-nag).
    expect(evaluation.notEvaluated.map((n) => n.policyArn)).toEqual(['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']);
  });

  it('went through the retries, the failure queue and both redrives', () => {
    const visibility = stack.recorder.calls.filter((c) => c.action === 'sqs:ChangeMessageVisibility');
    expect(visibility.length).toBeGreaterThanOrEqual(1 + 3 * TRIGGER_MAX_RECEIVES);
    // The redrive command copied a version onto its key: a new event, a new read of the new version.
    expect(stack.recorder.calls.filter((c) => c.action === 's3:GetObjectVersion' && c.resource.endsWith(COMMAND_REDRIVEN)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('a template with a statement missing', () => {
  it("denies the trigger's sns:Publish and names the policy it is missing from", async () => {
    const withoutPublish = copyWith((copy) => {
      const statements = statementsAt(copy, 'Trigger/FunctionRole/DefaultPolicy/Resource');
      statements.splice(statements.findIndex((s) => s.Action === 'sns:Publish'), 1);
    });

    const result = await evaluateRecordedCalls(stack, withoutPublish);

    expect([...new Set(result.denied.map((v) => `${v.who}: ${v.call.action}`))]).toEqual(['role Trigger/FunctionRole: sns:Publish']);
    expect(describeDenials(result)).toMatch(
      /no statement in the identity policies of role Trigger\/FunctionRole \(Trigger\/FunctionRole\/DefaultPolicy\) allows sns:Publish on arn:aws:sns:us-east-1:000000000000:StatusTopic/,
    );
  });

  it("denies Insider's download when the presign role may not read object versions", async () => {
    const withoutRead = copyWith((copy) => {
      statementsAt(copy, 'Trigger/PresignRole/DefaultPolicy/Resource').splice(0, 1);
    });

    const result = await evaluateRecordedCalls(stack, withoutRead);

    expect([...new Set(result.denied.map((v) => `${v.who}: ${v.call.action}`))]).toEqual(['session "fps-presign" of role Trigger/PresignRole: s3:GetObjectVersion']);
  });

  it("names PresignRole's trust policy when it trusts another principal instead of the trigger", async () => {
    const untrusting = copyWith((copy) => {
      statementsAt(copy, 'Trigger/PresignRole/Resource', 'AssumeRolePolicyDocument')[0]!.Principal = { Service: 'lambda.amazonaws.com' };
    });

    const result = await evaluateRecordedCalls(stack, untrusting);

    expect([...new Set(result.denied.flatMap((v) => v.problems))]).toEqual([
      'no statement in the trust policy of role Trigger/PresignRole allows role Trigger/FunctionRole to sts:AssumeRole',
    ]);
  });
});

describe('the recorded calls in another context', () => {
  const evaluate = (calls: AwsCall[]) => evaluateCalls(readIam(stack.synth.template, localResolver(stack)), calls);

  it("are denied over plain HTTP by the drop bucket's TLS statement", async () => {
    const read = recordedCalls(stack).find((c) => c.action === 's3:GetObjectVersion');
    if (!read) throw new Error('no version read was recorded');

    const result = await evaluate([{ ...read, context: { 'aws:SecureTransport': 'false' } }]);

    expect(result.denied[0]?.problems).toEqual([
      'denied explicitly by statement 1 of the bucket policy Storage/DropBucket/Policy: {"Effect":"Deny","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}',
    ]);
  });

  it("let S3 send to the events queue only for the drop bucket in the stack's own account", async () => {
    const send = recordedCalls(stack).find((c) => c.action === 'sqs:SendMessage');
    if (send?.principal.kind !== 'service') throw new Error('no S3 SendMessage call was recorded');

    const result = await evaluate([
      send,
      // A bucket of the same name in another account, once this one is deleted and its name taken.
      { ...send, principal: { ...send.principal, sourceAccount: '999999999999' } },
      { ...send, action: 'sqs:ReceiveMessage' },
    ]);

    expect(result.verdicts.map((v) => v.allowed)).toEqual([true, false, false]);
  });
});

/** The role of CDK's bucket-notifications handler, which writes the notification configuration at deploy time. */
function notificationsHandlerRole(): string {
  const found = Object.entries(stack.synth.template.Resources).find(
    ([logicalId, r]) => r.Type === 'AWS::IAM::Role' && logicalId.startsWith('BucketNotificationsHandler'),
  );
  if (!found) throw new Error('No BucketNotificationsHandler role in the template');
  return found[0];
}
