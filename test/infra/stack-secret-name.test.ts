// The stack with the token secret imported by name: the name is the SecretId, the grant covers its ARN suffix.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TriggerEnv } from '../../lambdas/shared/contract.js';
import { actionsOf, allPolicyStatements, functionStatements, type Json, logicalIdOf, type Synthesized, synth } from './synth.js';

let synthesized: Synthesized;

beforeAll(() => {
  synthesized = synth({ partnerName: 'mybrand', tokenSecretName: 'fps/mybrand/token' }, { bundle: false });
});
afterAll(() => synthesized.cleanUp());

it('passes the name as the secret id and outputs it', () => {
  const { resources, template } = synthesized;
  template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  const trigger = resources[logicalIdOf(resources, 'Trigger/Function/Resource')];
  const env = ((trigger?.Properties?.Environment ?? {}) as { Variables: Record<string, Json> }).Variables;
  expect(env[TriggerEnv.tokenSecretId]).toBe('fps/mybrand/token');
  expect((template.toJSON().Outputs as Record<string, { Value: Json }>).TokenSecretName?.Value).toBe('fps/mybrand/token');
});

it("grants GetSecretValue on that secret's ARN (any 6-character suffix) and nothing wider", () => {
  const statements = functionStatements(synthesized.resources, 'Trigger/Function').filter(
    (s) => JSON.stringify(s.Action).includes('secretsmanager:'),
  );
  expect(statements).toEqual([
    {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':secret:fps/mybrand/token-??????',
          ],
        ],
      },
    },
  ]);
});

it('grants no KMS action without tokenSecretKmsKeyArn (the AWS managed key needs none)', () => {
  const kms = allPolicyStatements(synthesized.resources).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('kms:')));
  expect(kms).toEqual([]);
});
