// Reads what IAM evaluates out of a synthesized template: each role's identity and trust policies, and every resource policy.
import { refOf } from '../../../local/template.js';
import type { Json } from '../../infra/synth.js';

export interface CfnTemplate {
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: Record<string, Json>; readonly Metadata?: Record<string, Json> }>;
}

/**
 * Turns one intrinsic (`{ Ref }`, `{ 'Fn::GetAtt' }`, `{ 'Fn::Join' }`, `{ 'Fn::Sub' }`, pseudo parameters)
 * into the value CloudFormation would deploy: a string, or an array of strings.
 */
export type Resolve = (intrinsic: Json) => Json;

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Principal?: Json;
  readonly NotPrincipal?: Json;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement[];
}

/** An identity policy, with the id the simulator reports it by and a name a developer recognises. */
export interface NamedPolicy {
  /** Unique: the policy's logical id, or `<role logical id>/<PolicyName>` for an inline policy. */
  readonly id: string;
  /** The construct path without the stack (e.g. `TriggerFunctionRole/DefaultPolicy`), or the id. */
  readonly label: string;
  readonly document: PolicyDocument;
}

export interface RoleIam {
  readonly logicalId: string;
  readonly label: string;
  readonly arn: string;
  readonly identityPolicies: NamedPolicy[];
  /** Managed policies whose documents are not in the template (AWS managed, or another stack's). */
  readonly notEvaluated: string[];
}

export type ResourcePolicyKind =
  | 'bucket policy'
  | 'topic policy'
  | 'queue policy'
  | 'key policy'
  | 'secret policy'
  | 'Lambda permissions'
  | 'trust policy'
  | 'resource policy';

/** Where one statement of a (possibly merged) resource policy came from. */
export interface StatementSource {
  readonly label: string;
  /** 1-based, in the policy it came from. */
  readonly index: number;
  readonly sid?: string | undefined;
}

export interface ResourcePolicy {
  readonly kind: ResourcePolicyKind;
  /** The resource it governs. A bucket policy also covers `<arn>/<key>`, Lambda permissions `<arn>:<qualifier>`. */
  readonly resourceArn: string;
  readonly label: string;
  readonly document: PolicyDocument;
  /** One per statement of `document`. */
  readonly sources: StatementSource[];
}

/** A resource policy the template does not hold, e.g. the key policy of an imported KMS key. */
export interface ExtraResourcePolicy {
  readonly kind: ResourcePolicyKind;
  readonly resourceArn: string;
  readonly label: string;
  readonly document: PolicyDocument;
}

/** A resource encrypted with a customer managed KMS key: the service uses the key with the caller's permissions. */
export interface EncryptedResource {
  /** A secret, queue or topic ARN, or a bucket ARN (covering its objects). */
  readonly resourceArn: string;
  readonly keyArn: string;
}

export interface IamModel {
  readonly accountId: string;
  readonly partition: string;
  readonly roles: RoleIam[];
  readonly resourcePolicies: ResourcePolicy[];
  /** Resources under customer managed keys (AWS managed keys let any caller in the account through the service). */
  readonly encrypted: EncryptedResource[];
}

export interface ReadIamOptions {
  /** Resource policies the template does not hold, e.g. the key policy of an imported KMS key. */
  readonly extraResourcePolicies?: readonly ExtraResourcePolicy[];
  /** Resources outside the template under a customer managed key, e.g. an imported token secret. */
  readonly encryptedResources?: readonly EncryptedResource[];
}

/** Thrown on a template shape this reader does not know, rather than evaluating something else. */
export class UnsupportedIamTemplateError extends Error {
  override readonly name = 'UnsupportedIamTemplateError';
}

/** Resource types that carry policies this reader does not read; evaluating without them would mislead. */
const UNREAD_POLICY_TYPES = new Set([
  'AWS::SNS::TopicInlinePolicy',
  'AWS::SQS::QueueInlinePolicy',
  'AWS::S3::AccessPoint',
  'AWS::S3::AccessPointPolicy',
  'AWS::IAM::PermissionsBoundary',
]);

const LAMBDA_PERMISSION_PROPERTIES = new Set(['Action', 'FunctionName', 'Principal', 'SourceArn', 'SourceAccount', 'PrincipalOrgID']);

function isIntrinsic(value: Json): value is { [key: string]: Json } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || Boolean(keys[0]?.startsWith('Fn::')));
}

/** Replaces every intrinsic inside `value` with what `resolve` says it deploys as. */
export function resolveDeep(value: Json, resolve: Resolve): Json {
  if (isIntrinsic(value)) {
    const resolved = resolve(value);
    if (isIntrinsic(resolved) && JSON.stringify(resolved) === JSON.stringify(value)) {
      throw new UnsupportedIamTemplateError(`The resolver returned ${JSON.stringify(value)} unchanged`);
    }
    return resolveDeep(resolved, resolve);
  }
  if (Array.isArray(value)) return value.map((item) => resolveDeep(item, resolve));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, Json>).map(([key, item]) => [key, resolveDeep(item, resolve)]));
  }
  return value;
}

function resolveString(value: Json | undefined, resolve: Resolve, what: string): string {
  const resolved = value === undefined ? undefined : resolveDeep(value, resolve);
  if (typeof resolved !== 'string') throw new UnsupportedIamTemplateError(`${what} did not resolve to a string: ${JSON.stringify(value)}`);
  return resolved;
}

function toDocument(value: Json | undefined, resolve: Resolve, what: string): PolicyDocument {
  const resolved = value === undefined ? undefined : resolveDeep(value, resolve);
  const statement = resolved && typeof resolved === 'object' && !Array.isArray(resolved) ? resolved.Statement : undefined;
  if (statement === undefined) throw new UnsupportedIamTemplateError(`${what} has no policy document with a Statement`);
  const doc = resolved as unknown as { Version?: string; Statement: PolicyStatement | PolicyStatement[] };
  return { Version: doc.Version ?? '2012-10-17', Statement: Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement] };
}

function asArray(value: Json | undefined): Json[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An account id from an ARN, `''` for ARNs without one (S3). */
export function accountOfArn(arn: string): string {
  return arn.split(':')[4] ?? '';
}

/**
 * Collects the IAM a template deploys, resolving every intrinsic with `resolve`. Roles and policies
 * it cannot read stop it with an `UnsupportedIamTemplateError`; AWS managed policies are listed in
 * `notEvaluated` on their role.
 */
export function readIam(template: CfnTemplate, resolve: Resolve, options: ReadIamOptions = {}): IamModel {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const labelOf = (logicalId: string) => {
    const path = String(template.Resources[logicalId]?.Metadata?.['aws:cdk:path'] ?? '');
    return path ? path.split('/').slice(1).join('/').replace(/\/Resource$/, '') || logicalId : logicalId;
  };
  const arnOf = (logicalId: string) => resolveString({ 'Fn::GetAtt': [logicalId, 'Arn'] }, resolve, `${logicalId}.Arn`);
  const accountId = resolveString({ Ref: 'AWS::AccountId' }, resolve, 'AWS::AccountId');
  const partition = resolveString({ Ref: 'AWS::Partition' }, resolve, 'AWS::Partition');

  for (const [logicalId, r] of resources) {
    if (UNREAD_POLICY_TYPES.has(r.Type)) throw new UnsupportedIamTemplateError(`${logicalId} is a ${r.Type}, which the IAM check does not read`);
  }

  // Roles, and how a policy's `Roles` entries (Refs, or names) point at them.
  const roles = new Map<string, { logicalId: string; label: string; arn: string; identityPolicies: NamedPolicy[]; notEvaluated: string[] }>();
  const roleByName = new Map<string, string>();
  for (const [logicalId] of ofType('AWS::IAM::Role')) {
    roles.set(logicalId, { logicalId, label: labelOf(logicalId), arn: arnOf(logicalId), identityPolicies: [], notEvaluated: [] });
    roleByName.set(resolveString({ Ref: logicalId }, resolve, `${logicalId} (Ref)`), logicalId);
  }
  const roleFor = (entry: Json, policyId: string) => {
    const ref = refOf(entry);
    const logicalId = ref && roles.has(ref) ? ref : roleByName.get(resolveString(entry, resolve, `a role of ${policyId}`));
    const role = logicalId ? roles.get(logicalId) : undefined;
    if (!role) throw new UnsupportedIamTemplateError(`${policyId} is attached to ${JSON.stringify(entry)}, a role not in the template`);
    return role;
  };

  for (const [logicalId, r] of ofType('AWS::IAM::Policy')) {
    const policy = { id: logicalId, label: labelOf(logicalId), document: toDocument(r.Properties?.PolicyDocument, resolve, logicalId) };
    for (const entry of asArray(r.Properties?.Roles)) roleFor(entry, logicalId).identityPolicies.push(policy);
  }
  for (const [logicalId, r] of ofType('AWS::IAM::RolePolicy')) {
    const policy = { id: logicalId, label: labelOf(logicalId), document: toDocument(r.Properties?.PolicyDocument, resolve, logicalId) };
    roleFor(r.Properties?.RoleName ?? null, logicalId).identityPolicies.push(policy);
  }
  const managedPolicies = new Map<string, NamedPolicy>();
  for (const [logicalId, r] of ofType('AWS::IAM::ManagedPolicy')) {
    const policy = { id: logicalId, label: labelOf(logicalId), document: toDocument(r.Properties?.PolicyDocument, resolve, logicalId) };
    managedPolicies.set(logicalId, policy);
    for (const entry of asArray(r.Properties?.Roles)) roleFor(entry, logicalId).identityPolicies.push(policy);
  }
  const managedByArn = new Map([...managedPolicies.keys()].map((id) => [resolveString({ Ref: id }, resolve, `${id} (Ref)`), id]));

  const resourcePolicies: ResourcePolicy[] = [];
  const addResourcePolicy = (kind: ResourcePolicyKind, resourceArn: string, label: string, document: PolicyDocument) =>
    resourcePolicies.push({
      kind,
      resourceArn,
      label,
      document,
      sources: document.Statement.map((s, i) => ({ label, index: i + 1, sid: s.Sid })),
    });

  for (const [logicalId, r] of ofType('AWS::IAM::Role')) {
    const role = roles.get(logicalId)!;
    for (const inline of asArray(r.Properties?.Policies)) {
      const { PolicyName, PolicyDocument } = inline as { PolicyName: Json; PolicyDocument: Json };
      const name = resolveString(PolicyName, resolve, `${logicalId} inline policy name`);
      role.identityPolicies.push({ id: `${logicalId}/${name}`, label: `${role.label} inline policy ${name}`, document: toDocument(PolicyDocument, resolve, `${logicalId}/${name}`) });
    }
    for (const entry of asArray(r.Properties?.ManagedPolicyArns)) {
      const ref = refOf(entry);
      const arn = resolveString(entry, resolve, `a managed policy of ${logicalId}`);
      const id = ref && managedPolicies.has(ref) ? ref : managedByArn.get(arn);
      const inTemplate = id ? managedPolicies.get(id) : undefined;
      if (inTemplate) role.identityPolicies.push(inTemplate);
      else role.notEvaluated.push(arn);
    }
    if (r.Properties?.PermissionsBoundary !== undefined) {
      throw new UnsupportedIamTemplateError(`${logicalId} has a permissions boundary, which the IAM check does not read`);
    }
    addResourcePolicy('trust policy', role.arn, role.label, toDocument(r.Properties?.AssumeRolePolicyDocument, resolve, `${logicalId} trust policy`));
  }

  for (const [logicalId, r] of ofType('AWS::S3::BucketPolicy')) {
    const bucket = r.Properties?.Bucket;
    const ref = refOf(bucket);
    const arn = ref ? arnOf(ref) : `arn:${partition}:s3:::${resolveString(bucket, resolve, `${logicalId} Bucket`)}`;
    addResourcePolicy('bucket policy', arn, labelOf(logicalId), toDocument(r.Properties?.PolicyDocument, resolve, logicalId));
  }
  for (const [logicalId, r] of ofType('AWS::SNS::TopicPolicy')) {
    const document = toDocument(r.Properties?.PolicyDocument, resolve, logicalId);
    for (const topic of asArray(r.Properties?.Topics)) {
      addResourcePolicy('topic policy', resolveString(topic, resolve, `${logicalId} topic`), labelOf(logicalId), document);
    }
  }
  for (const [logicalId, r] of ofType('AWS::SQS::QueuePolicy')) {
    const document = toDocument(r.Properties?.PolicyDocument, resolve, logicalId);
    for (const queue of asArray(r.Properties?.Queues)) {
      const ref = refOf(queue);
      addResourcePolicy('queue policy', ref ? arnOf(ref) : queueArnOfUrl(resolveString(queue, resolve, `${logicalId} queue`), partition), labelOf(logicalId), document);
    }
  }
  for (const [logicalId, r] of ofType('AWS::KMS::Key')) {
    addResourcePolicy('key policy', arnOf(logicalId), labelOf(logicalId), toDocument(r.Properties?.KeyPolicy, resolve, `${logicalId} KeyPolicy`));
  }
  for (const [logicalId, r] of ofType('AWS::SecretsManager::ResourcePolicy')) {
    const secretArn = resolveString(r.Properties?.SecretId, resolve, `${logicalId} SecretId`);
    addResourcePolicy('secret policy', secretArn, labelOf(logicalId), toDocument(r.Properties?.ResourcePolicy, resolve, logicalId));
  }
  for (const [logicalId, r] of ofType('AWS::Lambda::Permission')) {
    const functionArn = functionArnOf(r.Properties?.FunctionName, resolve, arnOf, logicalId);
    addResourcePolicy('Lambda permissions', functionArn, labelOf(logicalId), {
      Version: '2012-10-17',
      Statement: [lambdaPermissionStatement(logicalId, functionArn, r.Properties ?? {}, resolve)],
    });
  }
  for (const extra of options.extraResourcePolicies ?? []) addResourcePolicy(extra.kind, extra.resourceArn, extra.label, extra.document);

  // Where a customer managed key encrypts a resource, and the resource's ARN.
  const keyed: [type: string, keyOf: (p: Record<string, Json>) => Json | undefined, arnOf: (id: string) => string][] = [
    ['AWS::SecretsManager::Secret', (p) => p.KmsKeyId, (id) => resolveString({ Ref: id }, resolve, `${id} (Ref)`)],
    ['AWS::SQS::Queue', (p) => p.KmsMasterKeyId, arnOf],
    ['AWS::SNS::Topic', (p) => p.KmsMasterKeyId, (id) => resolveString({ Ref: id }, resolve, `${id} (Ref)`)],
    ['AWS::S3::Bucket', bucketKey, arnOf],
  ];
  const encrypted: EncryptedResource[] = [];
  for (const [type, keyOf, resourceArnOf] of keyed) {
    for (const [logicalId, r] of ofType(type)) {
      const key = keyOf(r.Properties ?? {});
      if (key === undefined) continue;
      const keyArn = customerKeyArn(key, resolve, template, arnOf, logicalId);
      if (keyArn) encrypted.push({ resourceArn: resourceArnOf(logicalId), keyArn });
    }
  }
  encrypted.push(...(options.encryptedResources ?? []));

  return { accountId, partition, roles: [...roles.values()], resourcePolicies, encrypted };
}

function bucketKey(properties: Record<string, Json>): Json | undefined {
  const rules = (properties.BucketEncryption as { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: Json } }[] } | undefined)
    ?.ServerSideEncryptionConfiguration;
  const byDefault = rules?.[0]?.ServerSideEncryptionByDefault;
  // aws:kms without a key id is the AWS managed aws/s3 key.
  return byDefault?.SSEAlgorithm?.startsWith('aws:kms') ? byDefault.KMSMasterKeyID : undefined;
}

/** The key's ARN when `key` names a customer managed key; undefined for an AWS managed one (`alias/aws/…`). */
function customerKeyArn(key: Json, resolve: Resolve, template: CfnTemplate, arnOf: (id: string) => string, owner: string): string | undefined {
  const ref = refOf(key);
  if (ref && template.Resources[ref]?.Type === 'AWS::KMS::Key') return arnOf(ref);
  const resolved = resolveString(key, resolve, `${owner} KMS key`);
  if (/(^|:)alias\/aws\//.test(resolved)) return undefined;
  if (/^arn:[^:]+:kms:[^:]+:\d{12}:key\//.test(resolved)) return resolved;
  throw new UnsupportedIamTemplateError(`${owner} is encrypted with ${resolved}: give the key's ARN, not an alias or id, so its policy can be checked`);
}

function queueArnOfUrl(url: string, partition: string): string {
  const match = /^https:\/\/sqs\.([a-z0-9-]+)\.[^/]+\/(\d{12})\/([^/]+)$/.exec(url);
  if (!match) throw new UnsupportedIamTemplateError(`Queue ${url} is neither a Ref nor a queue URL`);
  return `arn:${partition}:sqs:${match[1]}:${match[2]}:${match[3]}`;
}

function functionArnOf(value: Json | undefined, resolve: Resolve, arnOf: (id: string) => string, logicalId: string): string {
  const ref = value && typeof value === 'object' && !Array.isArray(value) ? value.Ref : undefined;
  // A function's Ref is its name; its permissions govern its ARN.
  if (typeof ref === 'string') return arnOf(ref);
  const resolved = resolveString(value, resolve, `${logicalId} FunctionName`);
  if (!resolved.startsWith('arn:')) throw new UnsupportedIamTemplateError(`${logicalId} names function ${resolved} by name; give its ARN`);
  return resolved;
}

/** The statement Lambda adds to a function's resource policy for an `AWS::Lambda::Permission`. */
function lambdaPermissionStatement(logicalId: string, functionArn: string, properties: Record<string, Json>, resolve: Resolve): PolicyStatement {
  const unknown = Object.keys(properties).filter((key) => !LAMBDA_PERMISSION_PROPERTIES.has(key));
  if (unknown.length) throw new UnsupportedIamTemplateError(`${logicalId} sets ${unknown.join(', ')}, which the IAM check does not read`);
  const principal = resolveString(properties.Principal, resolve, `${logicalId} Principal`);
  const condition: Record<string, Record<string, string>> = {};
  if (properties.SourceArn !== undefined) condition.ArnLike = { 'aws:SourceArn': resolveString(properties.SourceArn, resolve, `${logicalId} SourceArn`) };
  const equals: Record<string, string> = {};
  if (properties.SourceAccount !== undefined) equals['aws:SourceAccount'] = resolveString(properties.SourceAccount, resolve, `${logicalId} SourceAccount`);
  if (properties.PrincipalOrgID !== undefined) equals['aws:PrincipalOrgID'] = resolveString(properties.PrincipalOrgID, resolve, `${logicalId} PrincipalOrgID`);
  if (Object.keys(equals).length) condition.StringEquals = equals;
  return {
    Effect: 'Allow',
    Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
    Action: resolveString(properties.Action, resolve, `${logicalId} Action`),
    Resource: [functionArn, `${functionArn}:*`],
    ...(Object.keys(condition).length ? { Condition: condition } : {}),
  };
}

/** The key policy KMS gives a key created without one: the account's IAM policies decide. */
export function defaultKeyPolicy(accountId: string, partition = 'aws'): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

/** The resource policies that govern `resourceArn`, merged into one document as IAM applies them together. */
export function resourcePolicyFor(model: IamModel, resourceArn: string): ResourcePolicy | undefined {
  const matching = model.resourcePolicies.filter(
    (p) =>
      p.resourceArn === resourceArn ||
      (p.kind === 'bucket policy' && resourceArn.startsWith(`${p.resourceArn}/`)) ||
      (p.kind === 'Lambda permissions' && resourceArn.startsWith(`${p.resourceArn}:`)),
  );
  const [first] = matching;
  if (!first) return undefined;
  if (matching.length === 1) return first;
  return {
    kind: first.kind,
    resourceArn,
    label: [...new Set(matching.map((p) => p.label))].join(' + '),
    document: { Version: '2012-10-17', Statement: matching.flatMap((p) => p.document.Statement) },
    sources: matching.flatMap((p) => p.sources),
  };
}
