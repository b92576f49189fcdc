// An imported token secret under a customer managed KMS key: the trigger can read it with tokenSecretKmsKeyArn, and only then.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_ROLE_METADATA, FunctionRole, TriggerEnv } from '../../lambdas/shared/contract.js';
import { type CfnResource, type Json, type Synthesized, synth } from '../infra/synth.js';
import {
  type AwsCall,
  type CfnTemplate,
  defaultKeyPolicy,
  describeDenials,
  evaluateCalls,
  type Resolve,
  readIam,
  STAND_IN_ENVIRONMENT,
  standInResolver,
} from '../support/iam/index.js';

const { accountId: ACCOUNT, region: REGION } = STAND_IN_ENVIRONMENT;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b6f1a4e-1111-2222-3333-444455556666`;
const SECRET_NAME = 'fps/mybrand/token';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:fps/mybrand/token-Xy12Zw`;
/** The suffix Secrets Manager would have added to an imported secret's name. */
const IMPORTED_SECRET_SUFFIX = 'AbCdEf';

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

/** The trigger function's resource. */
function triggerOf(resources: Record<string, CfnResource>): CfnResource {
  const match = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[FUNCTION_ROLE_METADATA] === FunctionRole.trigger);
  if (!match) throw new Error(`No function marked ${FUNCTION_ROLE_METADATA}=${FunctionRole.trigger}`);
  return match;
}

/**
 * The token secret's complete ARN for an imported one (no secret resource): the ARN its name or given
 * ARN stands for, as the trigger's `SecretId` names it.
 */
function tokenSecretArnOf(resources: Record<string, CfnResource>, resolve: Resolve): string {
  const text = (value: Json) => String(resolve(value));
  const env = (triggerOf(resources).Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables;
  const secretId = text(env?.[TriggerEnv.tokenSecretId] ?? null);
  if (/^arn:.*-[A-Za-z0-9]{6}$/.test(secretId)) return secretId;
  if (secretId.startsWith('arn:')) return `${secretId}-${IMPORTED_SECRET_SUFFIX}`;
  return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${secretId}-${IMPORTED_SECRET_SUFFIX}`;
}

/**
 * The trigger's GetSecretValue against `s` (the local stack cannot import a secret, so this call is
 * written here; test/e2e/iam.test.ts checks every call it records), with the secret known to be under
 * KEY_ARN (whose key policy is the default one: the account's IAM policies decide).
 */
async function evaluate(s: Synthesized, extraCalls: (triggerRole: string) => AwsCall[] = () => []) {
  const template: CfnTemplate = { Resources: s.resources };
  const resolve = standInResolver(template);
  const secretArn = tokenSecretArnOf(s.resources, resolve);
  const roleArn = String(resolve(triggerOf(s.resources).Properties?.Role ?? null));
  const getSecret: AwsCall = { principal: { kind: 'role', roleArn }, action: 'secretsmanager:GetSecretValue', resource: secretArn };
  const model = readIam(template, resolve, {
    encryptedResources: [{ resourceArn: secretArn, keyArn: KEY_ARN }],
    extraResourcePolicies: [{ kind: 'key policy', resourceArn: KEY_ARN, label: 'token secret key', document: defaultKeyPolicy(ACCOUNT) }],
  });
  return { evaluation: await evaluateCalls(model, [getSecret, ...extraCalls(roleArn)]), secretArn, getSecret };
}

describe.each(IMPORTS)('a token secret imported %s under a customer managed key', (_, importContext) => {
  let withKey: Synthesized;
  let withoutKey: Synthesized;

  beforeAll(() => {
    withKey = synthWith({ ...importContext, tokenSecretKmsKeyArn: KEY_ARN });
    withoutKey = synthWith({ ...importContext });
  });

  it('allows the trigger to read the token with tokenSecretKmsKeyArn', async () => {
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
