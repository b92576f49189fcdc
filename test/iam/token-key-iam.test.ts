// An imported token secret under a customer managed KMS key: the trigger can read it with tokenSecretKmsKeyArn, and only then.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synth } from '../infra/synth.js';
import {
  type AwsCall,
  type CfnTemplate,
  defaultKeyPolicy,
  describeDenials,
  evaluateCalls,
  readIam,
  STAND_IN_ENVIRONMENT,
  standInResolver,
} from '../support/iam/index.js';
import { pipelineCalls, tokenSecretArnOf } from './pipeline-calls.js';

const { accountId: ACCOUNT, region: REGION } = STAND_IN_ENVIRONMENT;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b6f1a4e-1111-2222-3333-444455556666`;
const SECRET_NAME = 'fps/mybrand/token';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:fps/mybrand/token-Xy12Zw`;

/** How the secret is imported, as `-c` gives it. */
const IMPORTS = [
  ['by name', { tokenSecretName: SECRET_NAME }],
  ['by ARN', { tokenSecretArn: SECRET_ARN }],
] as const;

const synthesized: Synthesized[] = [];
afterAll(() => {
  for (const s of synthesized) s.cleanUp();
});

function synthWith(context: Record<string, string>): Synthesized {
  const s = synth({ partnerName: 'mybrand', ...context }, { bundle: false });
  synthesized.push(s);
  return s;
}

/**
 * The pipeline's calls against `s`, with the secret known to be under KEY_ARN (whose key policy is
 * the default one: the account's IAM policies decide).
 */
async function evaluate(s: Synthesized, extraCalls: (triggerRole: string) => AwsCall[] = () => []) {
  const template: CfnTemplate = { Resources: s.resources };
  const resolve = standInResolver(template);
  const secretArn = tokenSecretArnOf(s.resources, resolve);
  const calls = pipelineCalls(s.resources, resolve);
  const getSecret = calls.find((c) => c.action === 'secretsmanager:GetSecretValue');
  if (getSecret?.principal.kind !== 'role') throw new Error('The pipeline makes no GetSecretValue call with a role');
  const model = readIam(template, resolve, {
    encryptedResources: [{ resourceArn: secretArn, keyArn: KEY_ARN }],
    extraResourcePolicies: [{ kind: 'key policy', resourceArn: KEY_ARN, label: 'token secret key', document: defaultKeyPolicy(ACCOUNT) }],
  });
  return { evaluation: await evaluateCalls(model, [...calls, ...extraCalls(getSecret.principal.roleArn)]), secretArn, getSecret };
}

describe.each(IMPORTS)('a token secret imported %s under a customer managed key', (_, importContext) => {
  let withKey: Synthesized;
  let withoutKey: Synthesized;

  beforeAll(() => {
    withKey = synthWith({ ...importContext, tokenSecretKmsKeyArn: KEY_ARN });
    withoutKey = synthWith({ ...importContext });
  });

  it('allows every call the pipeline makes, the trigger reading the token included, with tokenSecretKmsKeyArn', async () => {
    const { evaluation, secretArn } = await evaluate(withKey);

    expect(describeDenials(evaluation)).toBe('');
    expect(evaluation.verdicts.find((v) => v.call.action === 'secretsmanager:GetSecretValue')?.call.resource).toBe(secretArn);
    // The grant is used, not merely present.
    expect(evaluation.unexercised.map((g) => g.action)).not.toContain('kms:Decrypt');
  });

  it("denies the trigger's GetSecretValue without it, naming the kms:Decrypt Secrets Manager makes", async () => {
    const { evaluation, getSecret } = await evaluate(withoutKey);

    expect(evaluation.denied.map((v) => v.call)).toEqual([getSecret]);
    expect(evaluation.denied[0]?.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^secretsmanager calls kms:Decrypt on ${KEY_ARN} with the caller's permissions: no statement in the identity policies of role Trigger/FunctionRole .* allows kms:Decrypt on ${KEY_ARN}$`,
        ),
      ),
    ]);
  });

  it('lets the trigger use the key only through Secrets Manager', async () => {
    const { evaluation } = await evaluate(withKey, (roleArn) => [
      // Straight to KMS, as code holding the ciphertext would.
      { principal: { kind: 'role', roleArn }, action: 'kms:Decrypt', resource: KEY_ARN },
      // Through another service.
      { principal: { kind: 'role', roleArn }, action: 'kms:Decrypt', resource: KEY_ARN, context: { 'kms:ViaService': `sqs.${REGION}.amazonaws.com` } },
    ]);

    expect(evaluation.denied.map((v) => v.call.context)).toEqual([undefined, { 'kms:ViaService': `sqs.${REGION}.amazonaws.com` }]);
    for (const denied of evaluation.denied) {
      expect(denied.problems.join('\n')).toMatch(
        new RegExp(`would, but its condition \\{"StringEquals":\\{"kms:ViaService":"secretsmanager\\.${REGION}\\.amazonaws\\.com"\\}\\} does not hold`),
      );
    }
  });
});
