// The IAM check on a small template: it allows what the policies grant, and names what is missing or denying when they do not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type AwsCall,
  type CfnTemplate,
  defaultKeyPolicy,
  describeDenials,
  describeUnexercised,
  type EvaluateOptions,
  type ExtraResourcePolicy,
  evaluateCalls,
  readIam,
  standInResolver,
  UnsupportedIamTemplateError,
} from '../support/iam/index.js';

type Mutable = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

const fixture = JSON.parse(readFileSync(new URL('./fixtures/small-stack.template.json', import.meta.url), 'utf8')) as CfnTemplate;

/** A copy of the fixture, changed by `edit`. */
function variant(edit: (template: Mutable) => void): CfnTemplate {
  const copy = structuredClone(fixture) as unknown as Mutable;
  edit(copy);
  return copy as unknown as CfnTemplate;
}

function statementsOf(template: Mutable, logicalId: string): unknown[] {
  const document = template.Resources[logicalId]?.Properties?.PolicyDocument as { Statement: unknown[] } | undefined;
  if (!document) throw new Error(`No policy document on ${logicalId}`);
  return document.Statement;
}

async function check(calls: AwsCall[], template: CfnTemplate = fixture, options: EvaluateOptions & { extra?: ExtraResourcePolicy[] } = {}) {
  const model = readIam(template, standInResolver(template), { extraResourcePolicies: options.extra ?? [] });
  return evaluateCalls(model, calls, options);
}

const resolve = standInResolver(fixture);
const arn = (logicalId: string) => resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string;
const ACCOUNT = '123456789012';
const app = { kind: 'role', roleArn: arn('AppRole') } as const;
const other = { kind: 'role', roleArn: arn('OtherRole') } as const;
const signerSession = { kind: 'assumedRole', roleArn: arn('SignerRole'), sessionName: 'signer' } as const;
const object = `${arn('Bucket')}/deep/folder/file.csv`;
const topic = resolve({ Ref: 'Topic' }) as string;
const fromBucket = { kind: 'service', service: 's3.amazonaws.com', sourceArn: arn('Bucket'), sourceAccount: ACCOUNT } as const;
const viaSecretsManager = { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' };

describe('identity policies', () => {
  it('allows what a statement grants, matching `s3:GetObject*` and `<bucket>/*` to a version read of a nested key', async () => {
    const evaluation = await check([{ principal: app, action: 's3:GetObjectVersion', resource: object }]);

    expect(describeDenials(evaluation)).toBe('');
    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([true]);
  });

  it('denies what no statement grants, naming the role, its policies, the action and the resource', async () => {
    const evaluation = await check([
      { principal: app, action: 's3:PutObject', resource: object },
      { principal: app, action: 's3:GetObject', resource: 'arn:aws:s3:::another-bucket/file.csv' },
    ]);

    expect(evaluation.denied).toHaveLength(2);
    expect(evaluation.denied[0]?.problems).toEqual([
      `no statement in the identity policies of role AppRole (AppRole/DefaultPolicy) allows s3:PutObject on ${object}`,
    ]);
    expect(describeDenials(evaluation)).toContain('✗ role AppRole: s3:GetObject on arn:aws:s3:::another-bucket/file.csv');
  });

  it("evaluates an assumed role's session with that role's policies, inline ones included", async () => {
    const evaluation = await check([
      { principal: signerSession, action: 's3:GetObjectVersion', resource: object },
      { principal: signerSession, action: 's3:GetObject', resource: object },
    ]);

    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([true, false]);
    expect(evaluation.denied[0]?.who).toBe('session "signer" of role SignerRole');
    expect(evaluation.denied[0]?.problems[0]).toContain('(SignerRole inline policy ReadVersions) allows s3:GetObject');
  });

  it('denies a call from a role the template does not have, and an action IAM does not know', async () => {
    const evaluation = await check([
      { principal: { kind: 'role', roleArn: `arn:aws:iam::${ACCOUNT}:role/Elsewhere` }, action: 's3:GetObject', resource: object },
      { principal: app, action: 's3:GetObjectVersions', resource: object },
    ]);

    expect(evaluation.denied.map((v) => v.problems[0])).toEqual([
      `no role with ARN arn:aws:iam::${ACCOUNT}:role/Elsewhere is in the template`,
      's3:GetObjectVersions is not an IAM action the simulator knows: check its spelling against the service authorization reference',
    ]);
  });

  it('names the AWS managed policies it could not evaluate beside a denial', async () => {
    const evaluation = await check([{ principal: other, action: 'logs:PutLogEvents', resource: `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:g:log-stream:s` }]);

    expect(evaluation.denied[0]?.problems[0]).toContain(
      'not evaluated: arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole (managed, not in the template) might grant it',
    );
  });
});

describe('resource policies', () => {
  it("denies a plain-HTTP call explicitly by the bucket policy's TLS statement, and allows the HTTPS one", async () => {
    const evaluation = await check([
      { principal: app, action: 's3:GetObjectVersion', resource: object, context: { 'aws:SecureTransport': 'false' } },
      { principal: app, action: 's3:GetObjectVersion', resource: object },
    ]);

    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([false, true]);
    expect(evaluation.denied[0]?.problems).toEqual([
      'denied explicitly by statement 1 of the bucket policy Bucket/Policy: {"Effect":"Deny","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}',
    ]);
  });

  it('names the Sid of a denying topic-policy statement', async () => {
    const evaluation = await check([{ principal: app, action: 'sns:Publish', resource: topic, context: { 'aws:SecureTransport': 'false' } }]);

    expect(evaluation.denied[0]?.problems[0]).toMatch(/^denied explicitly by statement 1 \(Sid AllowPublishThroughSSLOnly\) of the topic policy Topic\/Policy/);
  });

  it("lets a service in only through the resource's policy, with the source it names", async () => {
    const evaluation = await check([
      { principal: fromBucket, action: 'sqs:SendMessage', resource: arn('Queue') },
      { principal: fromBucket, action: 'lambda:InvokeFunction', resource: arn('AppFunction') },
      { principal: { ...fromBucket, sourceArn: 'arn:aws:s3:::another-bucket' }, action: 'sqs:SendMessage', resource: arn('Queue') },
      { principal: fromBucket, action: 'dynamodb:GetItem', resource: arn('Table') },
    ]);

    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([true, true, false, false]);
    expect(evaluation.denied[0]?.problems[0]).toBe(
      `no statement in the queue policy Queue/Policy allows service s3.amazonaws.com for arn:aws:s3:::another-bucket to sqs:SendMessage on ${arn('Queue')}; statement 1 (Sid BucketEvents) of it would, but its condition {"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"aws:SourceAccount":"${ACCOUNT}"}} does not hold for this call's context`,
    );
    expect(evaluation.denied[1]?.problems).toEqual([
      `nothing grants it: ${arn('Table')} has no resource policy in the template, and a service has no identity policy`,
    ]);
  });
});

describe('sts:AssumeRole', () => {
  const assumeSigner: AwsCall = { principal: app, action: 'sts:AssumeRole', resource: arn('SignerRole') };

  it("is allowed when the caller's policy grants it and the target's trust policy names the caller", async () => {
    const evaluation = await check([assumeSigner, { principal: { kind: 'service', service: 'lambda.amazonaws.com' }, action: 'sts:AssumeRole', resource: arn('AppRole') }]);

    expect(describeDenials(evaluation)).toBe('');
  });

  it('is denied, naming the trust policy, when the target does not trust the caller', async () => {
    const untrusting = variant((t) => {
      const trust = t.Resources.SignerRole?.Properties?.AssumeRolePolicyDocument as { Statement: { Principal: unknown }[] };
      trust.Statement[0]!.Principal = { AWS: { 'Fn::GetAtt': ['OtherRole', 'Arn'] } };
    });

    const evaluation = await check([assumeSigner], untrusting);

    expect(evaluation.denied[0]?.problems).toEqual(['no statement in the trust policy of role SignerRole allows role AppRole to sts:AssumeRole']);
  });

  it("is denied, naming the caller's identity policy, when only the trust policy grants it (both sides are required)", async () => {
    const withoutGrant = variant((t) => {
      statementsOf(t, 'AppRolePolicy').splice(2, 1);
    });

    const evaluation = await check([assumeSigner], withoutGrant);

    expect(evaluation.denied[0]?.problems).toEqual([
      `no statement in the identity policies of role AppRole (AppRole/DefaultPolicy) allows sts:AssumeRole on ${arn('SignerRole')}`,
    ]);
  });

  it('names both sides when neither grants it', async () => {
    const evaluation = await check([{ principal: other, action: 'sts:AssumeRole', resource: arn('SignerRole') }]);

    expect(evaluation.denied[0]?.problems).toEqual([
      expect.stringMatching(/^no statement in the identity policies of role OtherRole \(none\) allows sts:AssumeRole/),
      'no statement in the trust policy of role SignerRole allows role OtherRole to sts:AssumeRole',
    ]);
  });
});

describe('conditions', () => {
  const decrypt = (context?: Record<string, string>): AwsCall => ({ principal: app, action: 'kms:Decrypt', resource: arn('Key'), ...(context ? { context } : {}) });

  it('allows kms:Decrypt only through Secrets Manager, as the kms:ViaService condition says', async () => {
    const evaluation = await check([
      decrypt(viaSecretsManager),
      decrypt(),
      decrypt({ 'kms:ViaService': 's3.eu-west-1.amazonaws.com' }),
    ]);

    expect(evaluation.verdicts.map((v) => v.allowed)).toEqual([true, false, false]);
    expect(evaluation.denied[0]?.problems[0]).toContain(
      'statement 5 of AppRole/DefaultPolicy would, but its condition {"StringEquals":{"kms:ViaService":"secretsmanager.eu-west-1.amazonaws.com"}} does not hold',
    );
  });

  it('asks for the key policy of a key outside the template, and uses it when given', async () => {
    const importedKey = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0b6f1a4e-1111-2222-3333-444455556666`;
    const grantingImported = variant((t) => {
      statementsOf(t, 'AppRolePolicy').push({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: importedKey, Condition: { StringEquals: viaSecretsManager } });
    });
    const call: AwsCall = { principal: app, action: 'kms:Decrypt', resource: importedKey, context: viaSecretsManager };

    const without = await check([call], grantingImported);
    const withKeyPolicy = await check([call], grantingImported, {
      extra: [{ kind: 'key policy', resourceArn: importedKey, label: 'imported token key', document: defaultKeyPolicy(ACCOUNT) }],
    });

    expect(without.denied[0]?.problems.at(-1)).toMatch(/^no key policy is known for arn:aws:kms:.*: a key outside the template needs its key policy passed/);
    expect(withKeyPolicy.denied).toEqual([]);
  });
});

describe('customer managed keys', () => {
  const secret = resolve({ Ref: 'Secret' }) as string;
  const getSecret: AwsCall = { principal: app, action: 'secretsmanager:GetSecretValue', resource: secret };

  it("checks the kms:Decrypt Secrets Manager makes with the caller's permissions for a secret under a customer key", async () => {
    const withoutDecrypt = variant((t) => {
      statementsOf(t, 'AppRolePolicy').splice(4, 1);
    });

    const granted = await check([getSecret]);
    const missing = await check([getSecret], withoutDecrypt);

    expect(granted.denied).toEqual([]);
    expect(granted.unexercised.map((g) => g.action)).not.toContain('kms:Decrypt');
    expect(missing.denied[0]?.problems).toEqual([
      `secretsmanager calls kms:Decrypt on ${arn('Key')} with the caller's permissions: no statement in the identity policies of role AppRole (AppRole/DefaultPolicy) allows kms:Decrypt on ${arn('Key')}`,
    ]);
  });

  it('checks an imported secret under an imported key when told which key encrypts it', async () => {
    const importedSecret = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:fps/token-AbCdEf`;
    const importedKey = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0b6f1a4e-1111-2222-3333-444455556666`;
    const granting = variant((t) => {
      statementsOf(t, 'AppRolePolicy').push({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: importedSecret });
    });
    const decrypting = variant((t) => {
      statementsOf(t, 'AppRolePolicy').push(
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: importedSecret },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: importedKey, Condition: { StringEquals: viaSecretsManager } },
      );
    });
    const call: AwsCall = { principal: app, action: 'secretsmanager:GetSecretValue', resource: importedSecret };
    const evaluate = (template: CfnTemplate) =>
      evaluateCalls(
        readIam(template, standInResolver(template), {
          encryptedResources: [{ resourceArn: importedSecret, keyArn: importedKey }],
          extraResourcePolicies: [{ kind: 'key policy', resourceArn: importedKey, label: 'imported token key', document: defaultKeyPolicy(ACCOUNT) }],
        }),
        [call],
      );

    const missing = await evaluate(granting);
    const granted = await evaluate(decrypting);

    expect(missing.denied[0]?.problems).toEqual([
      `secretsmanager calls kms:Decrypt on ${importedKey} with the caller's permissions: no statement in the identity policies of role AppRole (AppRole/DefaultPolicy) allows kms:Decrypt on ${importedKey}`,
    ]);
    expect(granted.denied).toEqual([]);
  });

  it('leaves resources under AWS managed keys alone: their key policy lets the account in through the service', () => {
    const awsManaged = variant((t) => {
      t.Resources.Secret!.Properties = { KmsKeyId: 'alias/aws/secretsmanager' };
    });

    expect(readIam(awsManaged, standInResolver(awsManaged)).encrypted).toEqual([]);
    expect(readIam(fixture, resolve).encrypted).toEqual([{ resourceArn: resolve({ Ref: 'Secret' }), keyArn: arn('Key') }]);
  });
});

describe('unexercised grants', () => {
  it('lists each action × resource of an Allow statement that no allowed call matched', async () => {
    const evaluation = await check([
      { principal: app, action: 's3:GetObjectVersion', resource: object },
      { principal: app, action: 'dynamodb:GetItem', resource: arn('Table') },
      // Denied (plain HTTP): does not exercise the grant it would have used.
      { principal: app, action: 'sns:Publish', resource: topic, context: { 'aws:SecureTransport': 'false' } },
      { principal: app, action: 'sts:AssumeRole', resource: arn('SignerRole') },
      { principal: app, action: 'secretsmanager:GetSecretValue', resource: resolve({ Ref: 'Secret' }) as string },
      { principal: app, action: 'kms:Decrypt', resource: arn('Key'), context: viaSecretsManager },
    ]);

    expect(evaluation.unexercised.map((g) => `${g.role} ${g.policy} #${g.statement}: ${g.action} on ${g.resource}`)).toEqual([
      `AppRole AppRole/DefaultPolicy #2: sns:Publish on ${topic}`,
      `AppRole AppRole/DefaultPolicy #6: dynamodb:GetItem on ${arn('Table')}/index/*`,
      `AppRole AppRole/DefaultPolicy #6: dynamodb:DeleteItem on ${arn('Table')}`,
      `AppRole AppRole/DefaultPolicy #6: dynamodb:DeleteItem on ${arn('Table')}/index/*`,
      `SignerRole SignerRole inline policy ReadVersions #1: s3:GetObjectVersion on ${arn('Bucket')}/*`,
    ]);
    expect(evaluation.notEvaluated).toEqual([{ role: 'OtherRole', policyArn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole' }]);
  });

  it('covers only the roles asked for, and reads as one line per grant', async () => {
    const evaluation = await check([{ principal: signerSession, action: 's3:GetObjectVersion', resource: object }], fixture, {
      reportRoles: [arn('SignerRole'), arn('OtherRole')],
    });

    expect(describeUnexercised(evaluation)).toBe(
      [
        'Grants no allowed call used (0):',
        'Not evaluated (managed policies not in the template):',
        '  role OtherRole: arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      ].join('\n'),
    );
  });
});

describe('reading the template', () => {
  it('stops on an intrinsic the resolver cannot resolve, naming it', () => {
    const importing = variant((t) => {
      statementsOf(t, 'AppRolePolicy').push({ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::ImportValue': 'SharedBucketArn' } });
    });

    expect(() => readIam(importing, standInResolver(importing))).toThrow('{"Fn::ImportValue":"SharedBucketArn"}');
  });

  it('stops on a policy resource it does not read rather than judge without it', () => {
    const inlineTopicPolicy = variant((t) => {
      t.Resources.TopicInline = { Type: 'AWS::SNS::TopicInlinePolicy', Properties: {} };
    });

    expect(() => readIam(inlineTopicPolicy, standInResolver(inlineTopicPolicy))).toThrow(UnsupportedIamTemplateError);
  });
});

describe('report and speed', () => {
  it('groups repeated denied calls in one block', async () => {
    const plainHttp: AwsCall = { principal: app, action: 's3:GetObjectVersion', resource: object, context: { 'aws:SecureTransport': 'false' } };

    const evaluation = await check([plainHttp, plainHttp, plainHttp]);

    expect(describeDenials(evaluation)).toBe(
      [
        '3 of 3 calls would be denied:',
        `✗ role AppRole: s3:GetObjectVersion on ${object} with {"aws:SecureTransport":"false"} (3 calls)`,
        '    - denied explicitly by statement 1 of the bucket policy Bucket/Policy: {"Effect":"Deny","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}',
      ].join('\n'),
    );
  });

  it('simulates each distinct call once: 300 calls take seconds', async () => {
    const distinct: AwsCall[] = [
      { principal: app, action: 's3:GetObjectVersion', resource: object },
      { principal: app, action: 'dynamodb:GetItem', resource: arn('Table') },
      { principal: signerSession, action: 's3:GetObjectVersion', resource: object },
    ];
    const calls = Array.from({ length: 300 }, (_, i) => distinct[i % distinct.length]!);

    const started = performance.now();
    const evaluation = await check(calls);
    const seconds = (performance.now() - started) / 1000;

    expect(evaluation.simulations).toBe(3);
    expect(evaluation.denied).toEqual([]);
    expect(seconds).toBeLessThan(10);
  });
});
