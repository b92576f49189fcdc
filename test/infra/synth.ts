// Test helpers: synthesize the app into a temporary directory and look things up in the template.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app.js';
import { type CfnResource, type Json, resolveValue } from '../../local/template.js';

export type { CfnResource, Json };

export interface Synthesized {
  readonly template: Template;
  readonly outdir: string;
  readonly resources: Record<string, CfnResource>;
  /** Removes the assembly directory. */
  readonly cleanUp: () => void;
}

/**
 * Synthesizes the app into a fresh directory. `bundle: false` skips esbuild (about 4 s a synth)
 * for files that check only the template; function assets then point at the repo root.
 */
export function synth(context: Record<string, unknown>, options: { bundle?: boolean } = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'fps-infra-test-'));
  const skipBundling = options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {};
  const { stack } = buildApp({ context: { ...context, ...skipBundling }, outdir });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, CfnResource>;
  return { template, outdir, resources, cleanUp: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** The logical id of the resource whose construct path is `<stack>/<constructPath>`. */
export function logicalIdOf(resources: Record<string, CfnResource>, constructPath: string): string {
  const match = Object.entries(resources).find(([, r]) =>
    String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith(`/${constructPath}`),
  );
  if (!match) throw new Error(`No resource at construct path …/${constructPath}`);
  return match[0];
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: Json;
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function statementsOf(policy: CfnResource): Statement[] {
  return (policy.Properties?.PolicyDocument as unknown as { Statement: Statement[] } | undefined)?.Statement ?? [];
}

/** Every statement of every AWS::IAM::Policy, with the policy's logical id. */
export function allPolicyStatements(resources: Record<string, CfnResource>): { policy: string; statement: Statement }[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([policy, r]) => statementsOf(r).map((statement) => ({ policy, statement })));
}

/** The statements of the policies attached to a function's execution role. */
export function functionStatements(resources: Record<string, CfnResource>, functionId: string): Statement[] {
  const fn = resources[logicalIdOf(resources, `${functionId}/Resource`)];
  const roleRef = fn?.Properties?.Role as { 'Fn::GetAtt': [string, string] };
  const roleId = roleRef['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap(statementsOf);
}

/** Stand-ins for the values CloudFormation would resolve, so a handler can load with the template's env. */
export function resolveForTest(value: Json): string {
  return resolveValue(value, { region: 'eu-west-1', accountId: '123456789012', lookup: standIn });
}

function standIn(logicalId: string, attribute?: string): string {
  if (attribute === undefined) return `${logicalId}-resolved`;
  if (attribute === 'ApiEndpoint') return 'https://abc123.execute-api.eu-west-1.amazonaws.com';
  if (attribute === 'Arn') return `arn:aws:iam::123456789012:role/${logicalId}`;
  throw new Error(`No test stand-in for ${logicalId}.${attribute}`);
}

/**
 * Loads a bundle in a plain Node process, as Lambda would (no test transform, no shared env),
 * and returns `typeof` its export, or throws with the load error.
 */
export function exportTypeInNode(bundle: string, exportName: string, env: Record<string, string>): string {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(typeof m[${JSON.stringify(exportName)}]);`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
