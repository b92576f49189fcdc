// Keeps the logical ids that resources had before the stack was split into constructs, where a new id would lose data or break the pipeline.
import { createHash } from 'node:crypto';
import { AspectPriority, Aspects, CfnElement, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The logical id CDK gives a resource whose path below the stack is `components`: the algorithm of
 * `Stack.allocateLogicalId` (a readable part plus the first 8 hex digits of the path's MD5).
 * Checked against the ids of the deployed template by `test/infra/logical-ids.test.ts`.
 */
export function stackLevelLogicalId(components: readonly string[]): string {
  const path = components.filter((c) => c !== 'Default');
  const alphanumeric = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');
  if (path.length === 1 && path[0] !== undefined) return alphanumeric(path[0]);
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const readable: string[] = [];
  for (const c of path) if (!readable.at(-1)?.endsWith(c)) readable.push(c);
  return readable.filter((c) => c !== 'Resource').map(alphanumeric).join('').slice(0, 240) + hash;
}

/**
 * Gives every CloudFormation resource under `construct` (itself included) the logical id it had when
 * `construct` was created directly in the stack.
 *
 * CloudFormation replaces a resource whose logical id changes: a bucket, table, secret or queue would
 * come back new and empty, the Elastic IP would change (it is in Insider's allow list), and a topic or
 * API would get a new ARN or URL that subscribers and in-flight callbacks still point at. Children go
 * with their parent: CloudFormation creates the new copy before deleting the old one, and deleting an
 * old bucket policy, queue policy, topic policy or bucket-notifications resource removes what the new
 * one had just written (the bucket would stop notifying the trigger), while a second `$default` stage,
 * route or NAT gateway on the same API or Elastic IP fails the deployment.
 */
export function keepStackLevelLogicalIds(construct: IConstruct): void {
  const pin: IAspect = {
    visit(node) {
      if (!(node instanceof CfnElement)) return;
      const scopes = node.node.scopes;
      node.overrideLogicalId(stackLevelLogicalId(scopes.slice(scopes.indexOf(construct)).map((s) => s.node.id)));
    },
  };
  // Now, so that ids read while the stack is built (cdk-nag finding ids) are final…
  for (const node of construct.node.findAll()) pin.visit(node);
  // …and again at synth, for children added later (bucket notifications, topic subscriptions).
  Aspects.of(construct).add(pin, { priority: AspectPriority.MUTATING });
}
