// Asks the IAM policy simulator whether each AWS call would be allowed by a template's IAM, why not, and which grants no call used.
import { getDenialReasons, type RequestAnalysis, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { Principal } from '../../../local/call-recorder.js';
import {
  accountOfArn,
  type IamModel,
  type PolicyStatement,
  type ResourcePolicy,
  type RoleIam,
  resourcePolicyFor,
} from './template-iam.js';

/** Who makes a call, as IAM sees it: a role, a session of an assumed role, or a service acting for a resource. */
export type CallPrincipal = Principal;

export interface AwsCall {
  readonly principal: CallPrincipal;
  /** The IAM action, e.g. `s3:GetObjectVersion` for a HeadObject with a versionId. */
  readonly action: string;
  readonly resource: string;
  /** Request context keys, e.g. `kms:ViaService`; they override the defaults. */
  readonly context?: Readonly<Record<string, string | string[]>>;
}

export interface CallVerdict {
  readonly call: AwsCall;
  /** Who made it, by construct path: `role TriggerFunctionRole`, `service s3.amazonaws.com for arn:…`. */
  readonly who: string;
  readonly allowed: boolean;
  /** Why not, one line per policy that is missing a grant or denies; empty when allowed. */
  readonly problems: readonly string[];
}

export interface UnexercisedGrant {
  readonly role: string;
  readonly roleArn: string;
  readonly policy: string;
  /** 1-based, in the policy document. */
  readonly statement: number;
  readonly action: string;
  readonly resource: string;
}

export interface IamEvaluation {
  readonly verdicts: readonly CallVerdict[];
  readonly denied: readonly CallVerdict[];
  /** Each action × resource of an Allow statement in a reported role's identity policies that no allowed call matched. */
  readonly unexercised: readonly UnexercisedGrant[];
  /** Managed policies of the reported roles whose documents are not in the template, so not evaluated. */
  readonly notEvaluated: readonly { readonly role: string; readonly policyArn: string }[];
  /** Distinct simulations run: calls with the same principal, action, resource and context share one. */
  readonly simulations: number;
}

export interface EvaluateOptions {
  /**
   * Context every call carries unless it sets the key itself.
   * @default { 'aws:SecureTransport': 'true' } (the SDK and Insider's downloads use HTTPS)
   */
  readonly defaultContext?: Readonly<Record<string, string | string[]>>;
  /**
   * The roles (ARNs) whose grants the unexercised report covers.
   * @default every role in the template
   */
  readonly reportRoles?: readonly string[];
}

type StatementAnalysis = NonNullable<RequestAnalysis['identityAnalysis']>['allowStatements'][number];

interface Outcome {
  readonly allowed: boolean;
  readonly problems: string[];
  /** Keys of the identity grants (role, policy, statement, action, resource) this call used. */
  readonly exercised: string[];
}

const DEFAULT_CONTEXT = { 'aws:SecureTransport': 'true' };

/**
 * The KMS calls a service makes with the caller's permissions when the resource is under a customer
 * managed key (each service's encryption page); the caller needs them as much as the call itself.
 */
const KMS_USE: Record<string, readonly string[]> = {
  'secretsmanager:getsecretvalue': ['kms:Decrypt'],
  'secretsmanager:putsecretvalue': ['kms:GenerateDataKey'],
  'sqs:sendmessage': ['kms:GenerateDataKey', 'kms:Decrypt'],
  'sqs:receivemessage': ['kms:Decrypt'],
  'sns:publish': ['kms:GenerateDataKey', 'kms:Decrypt'],
  's3:getobject': ['kms:Decrypt'],
  's3:getobjectversion': ['kms:Decrypt'],
  's3:putobject': ['kms:GenerateDataKey'],
};

/** Resource-policy verdicts under which the resource side lets the request through (with the identity side, for AllowedForAccount). */
const RESOURCE_SIDE_ALLOWS = new Set(['Allowed', 'AllowedForAccount']);

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function grantKey(roleArn: string, policyId: string, statement: number, action: string, resource: string): string {
  return JSON.stringify([roleArn, policyId, statement, action, resource]);
}

function serviceOf(action: string): string {
  return action.split(':')[0]?.toLowerCase() ?? '';
}

function principalArn(principal: CallPrincipal, partition: string): string {
  switch (principal.kind) {
    case 'role':
      return principal.roleArn;
    case 'assumedRole': {
      // A session ARN names the role without its path.
      const roleName = principal.roleArn.split('/').pop();
      return `arn:${partition}:sts::${accountOfArn(principal.roleArn)}:assumed-role/${roleName}/${principal.sessionName}`;
    }
    case 'service':
      return principal.service;
  }
}

/** The context AWS adds to every request from this principal; the simulator does not add it itself. */
function principalContext(principal: CallPrincipal): Record<string, string> {
  if (principal.kind === 'service') {
    return {
      'aws:PrincipalServiceName': principal.service,
      ...(principal.sourceArn ? { 'aws:SourceArn': principal.sourceArn } : {}),
      ...(principal.sourceAccount ? { 'aws:SourceAccount': principal.sourceAccount } : {}),
    };
  }
  return { 'aws:PrincipalArn': principal.roleArn, 'aws:PrincipalAccount': accountOfArn(principal.roleArn) };
}

function describePrincipal(principal: CallPrincipal, role: RoleIam | undefined): string {
  switch (principal.kind) {
    case 'role':
      return `role ${role?.label ?? principal.roleArn}`;
    case 'assumedRole':
      return `session "${principal.sessionName}" of role ${role?.label ?? principal.roleArn}`;
    case 'service':
      return `service ${principal.service}${principal.sourceArn ? ` for ${principal.sourceArn}` : ''}`;
  }
}

/** A statement in one line, without its (long, already named) resources and principals. */
function summarize(statement: PolicyStatement | undefined): string {
  if (!statement) return '(statement not found)';
  const { Effect, Action, NotAction, Condition } = statement;
  return JSON.stringify({ Effect, ...(Action ? { Action } : { NotAction }), ...(Condition ? { Condition } : {}) });
}

/** `trust policy of role PresignRole`, `bucket policy DropBucket/Policy`. */
function policyName(policy: ResourcePolicy, label = policy.label): string {
  return policy.kind === 'trust policy' ? `trust policy of role ${label}` : `${policy.kind} ${label}`;
}

function statementName(index: number, sid: string | undefined): string {
  return `statement ${index}${sid ? ` (Sid ${sid})` : ''}`;
}

/** Statements that name the action and resource (and principal) but whose condition the request does not meet. */
function nearMisses(statements: readonly StatementAnalysis[] | undefined): StatementAnalysis[] {
  return (statements ?? []).filter(
    (s) => s.statement.effect() === 'Allow' && s.actionMatch && s.resourceMatch && s.principalMatch !== 'NoMatch' && s.conditionMatch === 'NoMatch',
  );
}

class CallEvaluator {
  private readonly cache = new Map<string, Promise<Outcome>>();

  constructor(
    private readonly model: IamModel,
    private readonly defaultContext: Readonly<Record<string, string | string[]>>,
  ) {}

  get simulations(): number {
    return this.cache.size;
  }

  /** The call, and the KMS calls its service makes for it on a customer managed key. */
  async evaluate(call: AwsCall): Promise<Outcome> {
    const own = await this.evaluateOne(call);
    const kmsCalls = this.kmsCallsFor(call);
    if (kmsCalls.length === 0) return own;
    const outcomes = await Promise.all(kmsCalls.map(async (kmsCall) => ({ kmsCall, outcome: await this.evaluateOne(kmsCall) })));
    return {
      allowed: own.allowed && outcomes.every(({ outcome }) => outcome.allowed),
      problems: [
        ...own.problems,
        ...outcomes.flatMap(({ kmsCall, outcome }) =>
          outcome.problems.map((p) => `${serviceOf(call.action)} calls ${kmsCall.action} on ${kmsCall.resource} with the caller's permissions: ${p}`),
        ),
      ],
      exercised: [...own.exercised, ...outcomes.flatMap(({ outcome }) => outcome.exercised)],
    };
  }

  private kmsCallsFor(call: AwsCall): AwsCall[] {
    const kmsActions = KMS_USE[call.action.toLowerCase()] ?? [];
    const encryption = this.model.encrypted.find((e) => call.resource === e.resourceArn || call.resource.startsWith(`${e.resourceArn}/`));
    if (!encryption || kmsActions.length === 0) return [];
    const region = encryption.keyArn.split(':')[3];
    const callerAccount = call.principal.kind === 'service' ? call.principal.sourceAccount : accountOfArn(call.principal.roleArn);
    const context = {
      ...call.context,
      'kms:ViaService': `${serviceOf(call.action)}.${region}.amazonaws.com`,
      ...(callerAccount ? { 'kms:CallerAccount': callerAccount } : {}),
    };
    return kmsActions.map((action) => ({ principal: call.principal, action, resource: encryption.keyArn, context }));
  }

  private evaluateOne(call: AwsCall): Promise<Outcome> {
    const context = { ...this.defaultContext, ...principalContext(call.principal), ...call.context };
    const sortedContext = Object.keys(context).sort().map((key) => [key, context[key]]);
    const key = JSON.stringify([principalArn(call.principal, this.model.partition), call.action, call.resource, sortedContext]);
    let outcome = this.cache.get(key);
    if (!outcome) {
      outcome = this.simulate(call, context);
      this.cache.set(key, outcome);
    }
    return outcome;
  }

  private async simulate(call: AwsCall, context: Record<string, string | string[]>): Promise<Outcome> {
    const { principal, action, resource } = call;
    const role = principal.kind === 'service' ? undefined : this.model.roles.find((r) => r.arn === principal.roleArn);
    if (principal.kind !== 'service' && !role) {
      return { allowed: false, problems: [`no role with ARN ${principal.roleArn} is in the template`], exercised: [] };
    }
    const resourcePolicy = resourcePolicyFor(this.model, resource);
    const simulation: Simulation = {
      request: {
        principal: principalArn(principal, this.model.partition),
        action,
        resource: { resource, accountId: accountOfArn(resource) || this.model.accountId },
        contextVariables: context,
      },
      identityPolicies: (role?.identityPolicies ?? []).map((p) => ({ name: p.id, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy?.document,
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      const { message, ...details } = result.errors;
      const problem =
        message === 'invalid.action'
          ? `${action} is not an IAM action the simulator knows: check its spelling against the service authorization reference`
          : `the IAM simulator could not evaluate it (${message}): ${JSON.stringify(details)}`;
      return { allowed: false, problems: [problem], exercised: [] };
    }
    const analyses = result.resultType === 'single' ? [result.result.analysis] : result.results.map((r) => r.analysis);
    let allowed = result.overallResult === 'Allowed';
    const problems: string[] = [];
    const facts = { call, role, resourcePolicy };
    for (const analysis of analyses) {
      if (analysis.result !== 'Allowed') problems.push(...this.explainDenial(analysis, facts));
      // Same-account IAM lets a trust policy that names the caller suffice on its own; the stack means
      // both sides to grant it (CDK's grantAssumeRole writes both), so a missing side is a finding.
      if (action.toLowerCase() === 'sts:assumerole' && role) {
        if (analysis.identityAnalysis?.result !== 'Allowed') {
          allowed = false;
          problems.push(this.identityMissing(facts, analysis));
        }
        if (!RESOURCE_SIDE_ALLOWS.has(analysis.resourceAnalysis?.result ?? '')) {
          allowed = false;
          problems.push(this.resourceMissing(facts, analysis));
        }
      }
    }
    const exercised =
      allowed && role
        ? analyses.flatMap((analysis) => (analysis.identityAnalysis?.allowStatements ?? []).flatMap((s) => exercisedGrants(role.arn, s)))
        : [];
    if (!allowed && problems.length === 0) problems.push(`${result.overallResult}, and the simulator names no policy for it`);
    return { allowed, problems: allowed ? [] : [...new Set(problems)], exercised };
  }

  private explainDenial(analysis: RequestAnalysis, facts: Facts): string[] {
    const { call, role, resourcePolicy } = facts;
    const problems: string[] = [];
    // In one account the identity policy alone can grant, so a resource policy's silence is only news
    // for services, other accounts, trust policies and KMS key policies.
    const resourceSideRequired = call.principal.kind === 'service' || !analysis.sameAccount || ['sts', 'kms'].includes(serviceOf(call.action));
    for (const denial of getDenialReasons(analysis)) {
      if (denial.denialType === 'Explicit') {
        if (denial.policyType === 'identity') {
          const policy = role?.identityPolicies.find((p) => p.id === denial.policyIdentifier);
          problems.push(
            `denied explicitly by ${statementName(denial.statementIndex, denial.statementId)} of identity policy ${policy?.label ?? denial.policyIdentifier} of role ${role?.label}: ${summarize(policy?.document.Statement[denial.statementIndex - 1])}`,
          );
        } else if (denial.policyType === 'resource' && resourcePolicy) {
          const source = resourcePolicy.sources[denial.statementIndex - 1];
          problems.push(
            `denied explicitly by ${statementName(source?.index ?? denial.statementIndex, source?.sid)} of the ${policyName(resourcePolicy, source?.label)}: ${summarize(resourcePolicy.document.Statement[denial.statementIndex - 1])}`,
          );
        } else {
          problems.push(`denied explicitly by a ${denial.policyType} policy`);
        }
      } else if (denial.policyType === 'identity') {
        if (role) problems.push(this.identityMissing(facts, analysis));
        else if (!resourcePolicy) problems.push(`nothing grants it: ${call.resource} has no resource policy in the template, and a service has no identity policy`);
      } else if (denial.policyType === 'resource') {
        if (resourceSideRequired) problems.push(this.resourceMissing(facts, analysis));
      } else {
        problems.push(`not allowed by the ${denial.policyType} policies`);
      }
    }
    if (serviceOf(call.action) === 'kms' && !resourcePolicy) {
      problems.push(
        `no key policy is known for ${call.resource}: a key outside the template needs its key policy passed in extraResourcePolicies (defaultKeyPolicy(account) for a key with the default policy)`,
      );
    }
    return problems;
  }

  private identityMissing({ call, role }: Facts, analysis: RequestAnalysis): string {
    const policies = role?.identityPolicies.map((p) => p.label).join(', ') || 'none';
    const unmet = nearMisses(analysis.identityAnalysis?.unmatchedStatements).map((s) => {
      const policy = role?.identityPolicies.find((p) => p.id === s.policyId);
      return `; ${statementName(s.statement.index(), s.statement.sid())} of ${policy?.label ?? s.policyId} would, but its condition ${JSON.stringify(s.statement.toJSON().Condition)} does not hold for this call's context`;
    });
    const managed = role?.notEvaluated.length ? `; not evaluated: ${role.notEvaluated.join(', ')} (managed, not in the template) might grant it` : '';
    return `no statement in the identity policies of role ${role?.label} (${policies}) allows ${call.action} on ${call.resource}${unmet.join('')}${managed}`;
  }

  private resourceMissing({ call, role, resourcePolicy }: Facts, analysis: RequestAnalysis): string {
    const who = describePrincipal(call.principal, role);
    if (!resourcePolicy) return `${call.resource} has no resource policy in the template that could allow ${who} to ${call.action}`;
    const unmet = nearMisses(analysis.resourceAnalysis?.unmatchedStatements).map((s) => {
      const source = resourcePolicy.sources[s.statement.index() - 1];
      return `; ${statementName(source?.index ?? s.statement.index(), source?.sid)} of it would, but its condition ${JSON.stringify(s.statement.toJSON().Condition)} does not hold for this call's context`;
    });
    const target = resourcePolicy.kind === 'trust policy' ? '' : ` on ${call.resource}`;
    return `no statement in the ${policyName(resourcePolicy)} allows ${who} to ${call.action}${target}${unmet.join('')}`;
  }
}

interface Facts {
  readonly call: AwsCall;
  readonly role: RoleIam | undefined;
  readonly resourcePolicy: ResourcePolicy | undefined;
}

/** The action × resource pairs of an allowing identity statement that this request matched, per the simulator's explain. */
function exercisedGrants(roleArn: string, s: StatementAnalysis): string[] {
  const index = s.statement.index();
  if (s.statement.isNotActionStatement() || s.statement.isNotResourceStatement()) return [grantKey(roleArn, s.policyId, index, '*', '*')];
  const actions = toArray(s.explain.actions).filter((a) => a.matches).map((a) => a.action);
  const resources = toArray(s.explain.resources).filter((r) => r.matches).map((r) => r.resource);
  return actions.flatMap((action) => resources.map((resource) => grantKey(roleArn, s.policyId, index, action, resource)));
}

function unexercisedGrants(model: IamModel, exercised: ReadonlySet<string>, reportRoles: readonly string[] | undefined): UnexercisedGrant[] {
  const grants: UnexercisedGrant[] = [];
  for (const role of model.roles.filter((r) => !reportRoles || reportRoles.includes(r.arn))) {
    for (const policy of role.identityPolicies) {
      policy.document.Statement.forEach((statement, i) => {
        if (statement.Effect !== 'Allow') return;
        const base = { role: role.label, roleArn: role.arn, policy: policy.label, statement: i + 1 };
        if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
          if (!exercised.has(grantKey(role.arn, policy.id, i + 1, '*', '*'))) {
            const action = statement.NotAction !== undefined ? `NotAction ${toArray(statement.NotAction).join(', ')}` : toArray(statement.Action).join(', ');
            const resource = statement.NotResource !== undefined ? `NotResource ${toArray(statement.NotResource).join(', ')}` : toArray(statement.Resource).join(', ');
            grants.push({ ...base, action, resource });
          }
          return;
        }
        for (const action of toArray(statement.Action)) {
          for (const resource of toArray(statement.Resource)) {
            if (!exercised.has(grantKey(role.arn, policy.id, i + 1, action, resource))) grants.push({ ...base, action, resource });
          }
        }
      });
    }
  }
  return grants;
}

/**
 * Evaluates every call against the template's IAM (identity, trust and resource policies) with
 * `@cloud-copilot/iam-simulate`, and lists the identity grants no allowed call used.
 */
export async function evaluateCalls(model: IamModel, calls: readonly AwsCall[], options: EvaluateOptions = {}): Promise<IamEvaluation> {
  const evaluator = new CallEvaluator(model, options.defaultContext ?? DEFAULT_CONTEXT);
  const exercised = new Set<string>();
  const verdicts: CallVerdict[] = [];
  for (const call of calls) {
    const outcome = await evaluator.evaluate(call);
    for (const key of outcome.exercised) exercised.add(key);
    const { principal } = call;
    const role = principal.kind === 'service' ? undefined : model.roles.find((r) => r.arn === principal.roleArn);
    verdicts.push({ call, who: describePrincipal(call.principal, role), allowed: outcome.allowed, problems: outcome.problems });
  }
  const reported = model.roles.filter((r) => !options.reportRoles || options.reportRoles.includes(r.arn));
  return {
    verdicts,
    denied: verdicts.filter((v) => !v.allowed),
    unexercised: unexercisedGrants(model, exercised, options.reportRoles),
    notEvaluated: reported.flatMap((r) => r.notEvaluated.map((policyArn) => ({ role: r.label, policyArn }))),
    simulations: evaluator.simulations,
  };
}
