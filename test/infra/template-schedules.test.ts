// The template reader's schedules: rate rules that invoke a pipeline function, read from hand-made templates and from the synthesized stack.
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTION_ROLE_METADATA, FunctionRole } from '../../lambdas/shared/contract.js';
import { type CfnResource, type CfnTemplate, rateIntervalMs, readTemplate, UnsupportedTemplateError } from '../../local/template.js';
import { synth } from './synth.js';

const sweeper: CfnResource = {
  Type: 'AWS::Lambda::Function',
  Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x' },
  Metadata: { 'aws:asset:path': 'asset.abc', [FUNCTION_ROLE_METADATA]: FunctionRole.sweeper },
};
const rule = (properties: Record<string, unknown>): CfnResource => ({
  Type: 'AWS::Events::Rule',
  Properties: { ScheduleExpression: 'rate(15 minutes)', State: 'ENABLED', Targets: [{ Arn: { 'Fn::GetAtt': ['Sweeper', 'Arn'] }, Id: 'Target0' }], ...properties } as CfnResource['Properties'],
});
const read = (resources: Record<string, CfnResource>) => readTemplate({ Resources: { Sweeper: sweeper, ...resources } } satisfies CfnTemplate, '/out');

describe('rateIntervalMs', () => {
  it.each([
    ['rate(15 minutes)', 900_000],
    ['rate(1 minute)', 60_000],
    ['rate(2 hours)', 7_200_000],
    ['rate(1 day)', 86_400_000],
  ])('%s is %i ms', (expression, ms) => {
    expect(rateIntervalMs(expression)).toBe(ms);
  });

  it.each(['rate(1 minutes)', 'rate(5 minute)', 'rate(0 minutes)', 'rate(5 seconds)', 'cron(0/15 * * * ? *)', ''])('%j is not a rate it knows', (expression) => {
    expect(rateIntervalMs(expression)).toBeUndefined();
  });
});

describe('readTemplate: schedules', () => {
  it('reads a rate rule and the function it invokes', () => {
    expect(read({ Schedule: rule({ Description: 'Runs the timeout sweeper' }) }).schedules).toEqual([
      { logicalId: 'Schedule', functionLogicalId: 'Sweeper', expression: 'rate(15 minutes)', intervalMs: 900_000 },
    ]);
  });

  it('leaves a disabled rule out', () => {
    expect(read({ Schedule: rule({ State: 'DISABLED' }) }).schedules).toEqual([]);
  });

  it.each([
    ['a cron expression', { ScheduleExpression: 'cron(0/15 * * * ? *)' }, /rate\(…\) schedules only/],
    ['an event pattern', { EventPattern: { source: ['aws.s3'] } }, /only schedules, not EventPattern/],
    ['a target that is not a pipeline function', { Targets: [{ Arn: { 'Fn::GetAtt': ['Other', 'Arn'] }, Id: 'T' }] }, /one target, a pipeline function/],
    ['a fixed input instead of the scheduled event', { Targets: [{ Arn: { 'Fn::GetAtt': ['Sweeper', 'Arn'] }, Id: 'T', Input: '{}' }] }, /receiving the scheduled event/],
    ['two targets', { Targets: [{ Arn: { 'Fn::GetAtt': ['Sweeper', 'Arn'] }, Id: 'A' }, { Arn: { 'Fn::GetAtt': ['Sweeper', 'Arn'] }, Id: 'B' }] }, /one target/],
  ])('stops on %s', (_name, properties, message) => {
    expect(() => read({ Schedule: rule(properties) })).toThrow(UnsupportedTemplateError);
    expect(() => read({ Schedule: rule(properties) })).toThrow(message);
  });

  describe('the synthesized stack', () => {
    const synthesized = synth({ partnerName: 'acme' }, { bundle: false });
    afterAll(() => synthesized.cleanUp());

    it('has one schedule, the sweeper every 15 minutes', () => {
      const stack = readTemplate(synthesized.template.toJSON() as CfnTemplate, synthesized.outdir);
      const sweeperId = stack.functions.find((f) => f.role === FunctionRole.sweeper)?.logicalId;
      expect(stack.schedules).toEqual([expect.objectContaining({ functionLogicalId: sweeperId, expression: 'rate(15 minutes)', intervalMs: 900_000 })]);
    });
  });
});
