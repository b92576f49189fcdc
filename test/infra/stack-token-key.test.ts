// The stack with an imported token secret under a customer managed KMS key: the trigger may decrypt with it, only through Secrets Manager.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allPolicyStatements, functionStatements, type Synthesized, synth } from './synth.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b6f1a4e-1111-2222-3333-444455556666';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fps/token-AbCdEf';

describe.each([
  ['by name', { tokenSecretName: 'fps/mybrand/token' }],
  ['by ARN', { tokenSecretArn: SECRET_ARN }],
])('a token secret imported %s with tokenSecretKmsKeyArn', (_, importContext) => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synth({ partnerName: 'mybrand', ...importContext, tokenSecretKmsKeyArn: KEY_ARN }, { bundle: false });
  });
  afterAll(() => synthesized.cleanUp());

  it("grants the trigger kms:Decrypt on that key, only when Secrets Manager in the key's Region asks", () => {
    const kms = functionStatements(synthesized.resources, 'Trigger/Function').filter((s) => JSON.stringify(s.Action).includes('kms:'));
    expect(kms).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
  });

  it('grants nothing else on the key, to no other role', () => {
    const onKey = allPolicyStatements(synthesized.resources).filter(({ statement }) => JSON.stringify(statement).includes(KEY_ARN));
    expect(onKey).toHaveLength(1);
  });
});
