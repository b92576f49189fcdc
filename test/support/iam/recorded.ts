// The IAM check on the calls a local stack recorded: each one evaluated against the synthesized template's IAM, resolved with the local stack's names.
import { expect } from 'vitest';
import type { LocalStack } from '../../../local/stack.js';
import type { AwsCall, EvaluateOptions, IamEvaluation } from './evaluate.js';
import { evaluateCalls } from './evaluate.js';
import { describeDenials } from './report.js';
import { type CfnTemplate, type ReadIamOptions, readIam, type Resolve } from './template-iam.js';

/** Resolves template intrinsics to the local stack's values, so the template's ARNs are the ones the calls recorded. */
export function localResolver(stack: LocalStack): Resolve {
  return (intrinsic) => stack.resolve(intrinsic);
}

/** The recorded calls as the IAM check takes them. */
export function recordedCalls(stack: LocalStack): AwsCall[] {
  return stack.recorder.calls.map(({ principal, action, resource }) => ({ principal, action, resource }));
}

/**
 * Evaluates every call `stack` recorded against `template` (by default the one the stack runs), e.g. a
 * copy with a statement removed.
 */
export async function evaluateRecordedCalls(
  stack: LocalStack,
  template: CfnTemplate = stack.synth.template,
  options: EvaluateOptions & ReadIamOptions = {},
): Promise<IamEvaluation> {
  return evaluateCalls(readIam(template, localResolver(stack), options), recordedCalls(stack), options);
}

/**
 * Fails on any recorded call the template's IAM would deny, naming what is missing, and on any request
 * the recorder could not map to an IAM action. Call it before stopping the stack (e.g. in `afterAll`).
 */
export async function expectEveryCallAllowed(stack: LocalStack): Promise<IamEvaluation> {
  expect(stack.recorder.unmapped, 'requests the call recorder could not map to IAM actions').toEqual([]);
  expect(stack.recorder.calls.length, 'no AWS call was recorded: is recordCalls off?').toBeGreaterThan(0);
  const evaluation = await evaluateRecordedCalls(stack);
  expect(describeDenials(evaluation)).toBe('');
  return evaluation;
}

/** For `afterAll`: the IAM check on every call the stack recorded, then the stack stopped whatever the check found. */
export async function stopAfterCheckingCalls(stack: LocalStack | undefined): Promise<void> {
  if (!stack) return;
  try {
    await expectEveryCallAllowed(stack);
  } finally {
    await stack.stop();
  }
}
