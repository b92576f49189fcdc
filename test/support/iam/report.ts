// The IAM check's findings as text a developer can act on, short enough for a test failure message.
import type { IamEvaluation } from './evaluate.js';

/** One block per distinct denied call, with what is missing; `''` when every call is allowed. */
export function describeDenials(evaluation: IamEvaluation): string {
  if (evaluation.denied.length === 0) return '';
  const blocks = new Map<string, number>();
  for (const { call, who, problems } of evaluation.denied) {
    const context = call.context ? ` with ${JSON.stringify(call.context)}` : '';
    const block = [`✗ ${who}: ${call.action} on ${call.resource}${context}`, ...problems.map((p) => `    - ${p}`)].join('\n');
    blocks.set(block, (blocks.get(block) ?? 0) + 1);
  }
  const lines = [...blocks].map(([block, count]) => (count > 1 ? block.replace('\n', ` (${count} calls)\n`) : block));
  return [`${evaluation.denied.length} of ${evaluation.verdicts.length} calls would be denied:`, ...lines].join('\n');
}

/** The grants no allowed call used, by role and statement, then what could not be evaluated. */
export function describeUnexercised(evaluation: IamEvaluation): string {
  const lines = [`Grants no allowed call used (${evaluation.unexercised.length}):`];
  for (const g of evaluation.unexercised) lines.push(`  role ${g.role}, ${g.policy} statement ${g.statement}: ${g.action} on ${g.resource}`);
  if (evaluation.notEvaluated.length) {
    lines.push('Not evaluated (managed policies not in the template):');
    for (const n of evaluation.notEvaluated) lines.push(`  role ${n.role}: ${n.policyArn}`);
  }
  return lines.join('\n');
}
