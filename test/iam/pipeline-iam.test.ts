// The synthesized stack's IAM allows every AWS call the pipeline makes, and the check names what goes missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdOf, type Synthesized, synth } from '../infra/synth.js';
import { type CfnTemplate, describeDenials, describeUnexercised, evaluateCalls, readIam, standInResolver } from '../support/iam/index.js';
import { pipelineCalls } from './pipeline-calls.js';

type Mutable = { Resources: Record<string, { Properties?: Record<string, unknown> }> };
type Statement = { Effect: string; Action: string | string[]; Principal?: unknown };

let synthesized: Synthesized;
let template: CfnTemplate;

beforeAll(() => {
  synthesized = synth({ partnerName: 'acme' }, { bundle: false });
  template = { Resources: synthesized.resources };
});

afterAll(() => synthesized.cleanUp());

/** Evaluates today's calls against `target`, with ARNs named as the stand-in resolver names them. */
async function evaluate(target: CfnTemplate = template) {
  const resolve = standInResolver(target);
  return evaluateCalls(readIam(target, resolve), pipelineCalls(synthesized.resources, resolve));
}

function copyWith(edit: (copy: Mutable) => void): CfnTemplate {
  const copy = structuredClone(template) as unknown as Mutable;
  edit(copy);
  return copy as unknown as CfnTemplate;
}

function statementsAt(copy: Mutable, path: string, property = 'PolicyDocument'): Statement[] {
  const document = copy.Resources[logicalIdOf(synthesized.resources, path)]?.Properties?.[property] as { Statement: Statement[] } | undefined;
  if (!document) throw new Error(`No ${property} at ${path}`);
  return document.Statement;
}

describe('the synthesized stack against the calls the code makes', () => {
  it('allows every call: functions, the presign session, Lambda and S3 acting for the stack', async () => {
    const evaluation = await evaluate();

    expect(describeDenials(evaluation)).toBe('');
    expect(evaluation.verdicts.length).toBeGreaterThan(25);
  });

  it("reports the grants no call uses (today: three of the audit's five on the trigger role, one on the presign role)", async () => {
    const evaluation = await evaluate();

    // Each stays until it is removed from the stack or justified; update this list with the stack.
    // (The SQS trigger grants only the queue actions Lambda's poller and the trigger call.)
    expect(evaluation.unexercised.map((g) => `${g.role}: ${g.action}`), describeUnexercised(evaluation)).toEqual([
      'Trigger/FunctionRole: s3:GetObject',
      'Trigger/FunctionRole: dynamodb:ConditionCheckItem',
      'Trigger/FunctionRole: dynamodb:DeleteItem',
      'Trigger/PresignRole: s3:GetObject',
    ]);
    expect(evaluation.notEvaluated.map((n) => n.policyArn)).toEqual(['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']);
  });

  it("names the trigger's policy when its sns:Publish statement is removed from a copy", async () => {
    const withoutPublish = copyWith((copy) => {
      const statements = statementsAt(copy, 'Trigger/FunctionRole/DefaultPolicy/Resource');
      statements.splice(statements.findIndex((s) => s.Action === 'sns:Publish'), 1);
    });

    const evaluation = await evaluate(withoutPublish);

    expect(evaluation.denied.map((v) => `${v.who}: ${v.call.action}`)).toEqual(['role Trigger/FunctionRole: sns:Publish']);
    expect(describeDenials(evaluation)).toMatch(
      /no statement in the identity policies of role Trigger\/FunctionRole \(Trigger\/FunctionRole\/DefaultPolicy\) allows sns:Publish on arn:aws:sns:eu-west-1:123456789012:StatusTopic/,
    );
  });

  it("names PresignRole's trust policy when it trusts another principal instead of the trigger", async () => {
    const untrusting = copyWith((copy) => {
      statementsAt(copy, 'PresignRole/Resource', 'AssumeRolePolicyDocument')[0]!.Principal = { Service: 'lambda.amazonaws.com' };
    });

    const evaluation = await evaluate(untrusting);

    expect(evaluation.denied.map((v) => v.problems)).toEqual([['no statement in the trust policy of role Trigger/PresignRole allows role Trigger/FunctionRole to sts:AssumeRole']]);
  });

  it("accepts a trust policy naming the account, as IAM does: the trigger's own grant then decides", async () => {
    const trustingAccount = copyWith((copy) => {
      statementsAt(copy, 'PresignRole/Resource', 'AssumeRolePolicyDocument')[0]!.Principal = { AWS: 'arn:aws:iam::123456789012:root' };
    });

    const evaluation = await evaluate(trustingAccount);

    expect(describeDenials(evaluation)).toBe('');
  });

  it("denies a plain-HTTP read of a dropped object by the drop bucket's own TLS statement", async () => {
    const resolve = standInResolver(template);
    const [headObject] = pipelineCalls(synthesized.resources, resolve).filter((c) => c.action === 's3:GetObjectVersion');

    const evaluation = await evaluateCalls(readIam(template, resolve), [{ ...headObject!, context: { 'aws:SecureTransport': 'false' } }]);

    expect(evaluation.denied[0]?.problems).toEqual([
      'denied explicitly by statement 1 of the bucket policy Storage/DropBucket/Policy: {"Effect":"Deny","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}',
    ]);
  });

  it("lets S3 send to the events queue only for the drop bucket in the stack's own account", async () => {
    const resolve = standInResolver(template);
    const [send] = pipelineCalls(synthesized.resources, resolve).filter((c) => c.action === 'sqs:SendMessage');
    if (send?.principal.kind !== 'service') throw new Error('no S3 SendMessage call');

    const evaluation = await evaluateCalls(readIam(template, resolve), [
      send,
      // A bucket of the same name in another account, once this one is deleted and its name taken.
      { ...send, principal: { ...send.principal, sourceAccount: '999999999999' } },
      { ...send, action: 'sqs:ReceiveMessage' },
    ]);

    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([true, false, false]);
  });
});
