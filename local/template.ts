// Reads what the local stack needs from the synthesized template (functions, tables, queues, event source mappings, routes, notifications, schedules) and resolves its values as CloudFormation would; no CDK in it, so a test can use it on a template alone.
import { join } from 'node:path';
import { FUNCTION_ROLE_METADATA, FunctionRole } from '../lambdas/shared/contract.js';
import type { CfnTableProperties } from './dynamodb.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface CfnResource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: Json }>;
}

export interface FunctionSpec {
  logicalId: string;
  /** Which pipeline function this is, from its `fps:function-role` metadata. */
  role: FunctionRole;
  assetDir: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  reservedConcurrency?: number | undefined;
  /** Environment as the template writes it: values may be intrinsics, resolved by the local stack. */
  environment: Record<string, Json>;
}

/** A bucket's notification configuration sending events to a queue of the template. */
export interface NotificationSpec {
  bucketLogicalId: string;
  queueLogicalId: string;
  events: string[];
  filterRules: { Name: 'prefix' | 'suffix' | 'Prefix' | 'Suffix'; Value: string }[];
}

/** An SQS queue and the attributes it is created with. */
export interface QueueSpec {
  logicalId: string;
  /** CreateQueue attributes as the template sets them (RedrivePolicy's target still a logical id, below). */
  attributes: Record<string, string>;
  redrive?: { deadLetterQueueLogicalId: string; maxReceiveCount: number } | undefined;
}

/** A Lambda event source mapping reading an SQS queue of the template. */
export interface EventSourceMappingSpec {
  logicalId: string;
  queueLogicalId: string;
  functionLogicalId: string;
  batchSize: number;
  /** ScalingConfig.MaximumConcurrency; undefined: Lambda scales the pollers on its own. */
  maximumConcurrency?: number | undefined;
  reportBatchItemFailures: boolean;
}

export interface RouteSpec {
  method: string;
  path: string;
  functionLogicalId: string;
}

/** An EventBridge rule that invokes a function of the template on a `rate(…)` schedule. */
export interface ScheduleSpec {
  logicalId: string;
  functionLogicalId: string;
  /** As the template writes it, e.g. `rate(15 minutes)`. */
  expression: string;
  intervalMs: number;
}

export interface SynthesizedStack {
  template: CfnTemplate;
  outdir: string;
  functions: FunctionSpec[];
  tables: { logicalId: string; properties: CfnTableProperties }[];
  buckets: string[];
  secrets: string[];
  queues: QueueSpec[];
  eventSourceMappings: EventSourceMappingSpec[];
  apis: string[];
  notifications: NotificationSpec[];
  routes: RouteSpec[];
  schedules: ScheduleSpec[];
}

/** Thrown when the template has a shape the local stack does not know: better to stop than to drift. */
export class UnsupportedTemplateError extends Error {
  override readonly name = 'UnsupportedTemplateError';
}

/** The logical id a `Ref` or `Fn::GetAtt` names; undefined for anything else. */
export function refOf(value: Json | undefined): string | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if (typeof value.Ref === 'string') return value.Ref;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  }
  return undefined;
}

/** The logical id a `Fn::Join` of `integrations/` + Ref points to. */
function integrationId(target: Json | undefined): string | undefined {
  if (typeof target === 'string') return target.replace(/^integrations\//, '');
  const join = target && typeof target === 'object' && !Array.isArray(target) ? target['Fn::Join'] : undefined;
  if (Array.isArray(join) && Array.isArray(join[1])) {
    for (const part of join[1]) {
      const ref = refOf(part);
      if (ref) return ref;
    }
  }
  return undefined;
}

/** What `resolveValue` fills in: resources' values through `lookup`, and the pseudo parameters. */
export interface ResolveContext {
  /** A resource's value: its `Ref` (no attribute) or an `Fn::GetAtt` attribute. Throw when there is none. */
  readonly lookup: (logicalId: string, attribute?: string) => string;
  /** `AWS::Region`. */
  readonly region: string;
  /** `AWS::AccountId`. */
  readonly accountId: string;
}

/**
 * Resolves a template value (a literal, `Ref`, `Fn::GetAtt`, `Fn::Join`, or a pseudo parameter in the
 * `aws` partition) to a string, as CloudFormation would; throws on any other intrinsic.
 */
export function resolveValue(value: unknown, context: ResolveContext): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') {
      if (v.Ref === 'AWS::Region') return context.region;
      if (v.Ref === 'AWS::AccountId') return context.accountId;
      if (v.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
      if (v.Ref === 'AWS::Partition') return 'aws';
      return context.lookup(v.Ref);
    }
    const getAtt = v['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return context.lookup(String(getAtt[0]), String(getAtt[1]));
    const join = v['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) return join[1].map((part) => resolveValue(part, context)).join(String(join[0]));
    const sub = v['Fn::Sub'];
    if (typeof sub === 'string' || (Array.isArray(sub) && typeof sub[0] === 'string')) {
      const [text, variables = {}] = (typeof sub === 'string' ? [sub] : sub) as [string, Record<string, unknown>?];
      return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        if (name in variables) return resolveValue(variables[name], context);
        const [logicalId = '', attribute] = name.split('.');
        return attribute ? context.lookup(logicalId, attribute) : resolveValue({ Ref: name }, context);
      }).replace(/\$\{!/g, '${');
    }
  }
  throw new UnsupportedTemplateError(`Cannot resolve ${JSON.stringify(value)}`);
}

/**
 * A resource's `Ref` (no attribute) or `Arn`, for the types whose values AWS derives from the
 * physical name, the Region and the account; undefined for any other type or attribute.
 */
/** The ARN a resource of `type` named `name` has (for the types `derivedValue` knows). */
export function arnOf(type: string, name: string, env: { region: string; accountId: string }): string {
  const arn = derivedValue(type, name, 'Arn', env);
  if (arn === undefined) throw new UnsupportedTemplateError(`No ARN is derived for ${type} ${name}`);
  return arn;
}

export function derivedValue(type: string, name: string, attribute: string | undefined, env: { region: string; accountId: string }): string | undefined {
  const { region, accountId } = env;
  const arns: Record<string, string> = {
    'AWS::IAM::Role': `arn:aws:iam::${accountId}:role/${name}`,
    'AWS::S3::Bucket': `arn:aws:s3:::${name}`,
    'AWS::DynamoDB::Table': `arn:aws:dynamodb:${region}:${accountId}:table/${name}`,
    // A log group's Arn ends in `:*`, which is why a grant on it covers its streams.
    'AWS::Logs::LogGroup': `arn:aws:logs:${region}:${accountId}:log-group:${name}:*`,
    'AWS::Lambda::Function': `arn:aws:lambda:${region}:${accountId}:function:${name}`,
    'AWS::Events::Rule': `arn:aws:events:${region}:${accountId}:rule/${name}`,
    'AWS::SNS::Topic': `arn:aws:sns:${region}:${accountId}:${name}`,
    'AWS::KMS::Key': `arn:aws:kms:${region}:${accountId}:key/${name}`,
    'AWS::IAM::ManagedPolicy': `arn:aws:iam::${accountId}:policy/${name}`,
  };
  // Types whose Ref is their ARN rather than their name.
  const refIsArn = new Set(['AWS::SNS::Topic', 'AWS::IAM::ManagedPolicy']);
  const arn = arns[type];
  if (attribute === 'Arn' || (attribute === 'TopicArn' && type === 'AWS::SNS::Topic')) return arn;
  if (attribute !== undefined) return undefined;
  if (refIsArn.has(type)) return arn;
  return arn !== undefined || type === 'AWS::ApiGatewayV2::Api' ? name : undefined;
}

export function readTemplate(template: CfnTemplate, outdir: string): SynthesizedStack {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

  // Lambda's asynchronous invocation settings: nothing in the pipeline is invoked that way any more.
  for (const [logicalId] of ofType('AWS::Lambda::EventInvokeConfig')) {
    throw new UnsupportedTemplateError(`${logicalId}: the local stack runs no asynchronous invocation settings (EventInvokeConfig)`);
  }

  const functions: FunctionSpec[] = [];
  const roles = new Set<string>(Object.values(FunctionRole));
  for (const [logicalId, r] of ofType('AWS::Lambda::Function')) {
    const role = r.Metadata?.[FUNCTION_ROLE_METADATA];
    // Functions CDK adds for itself (custom resources) carry no role: they are not part of the pipeline.
    if (role === undefined) continue;
    if (typeof role !== 'string' || !roles.has(role)) throw new UnsupportedTemplateError(`Function ${logicalId} has an unknown role ${JSON.stringify(role)}`);
    if (functions.some((f) => f.role === role)) throw new UnsupportedTemplateError(`More than one function has the role ${role}`);
    const assetPath = r.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') throw new UnsupportedTemplateError(`Function ${logicalId} (${role}) has no bundled asset to run`);
    const props = r.Properties ?? {};
    const env = (props.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {};
    functions.push({
      logicalId,
      role: role as FunctionRole,
      assetDir: join(outdir, assetPath),
      handler: String(props.Handler),
      runtime: String(props.Runtime),
      timeoutSeconds: Number(props.Timeout ?? 3),
      memoryMb: Number(props.MemorySize ?? 128),
      reservedConcurrency: props.ReservedConcurrentExecutions === undefined ? undefined : Number(props.ReservedConcurrentExecutions),
      environment: env,
    });
  }

  const queues = ofType('AWS::SQS::Queue').map(([logicalId, r]) => readQueue(logicalId, r));
  const queueIds = new Set(queues.map((q) => q.logicalId));
  const eventSourceMappings = ofType('AWS::Lambda::EventSourceMapping').map(([logicalId, r]) => readEventSourceMapping(logicalId, r, queueIds));

  const notifications: NotificationSpec[] = [];
  for (const [logicalId, r] of ofType('Custom::S3BucketNotifications')) {
    const bucketLogicalId = refOf(r.Properties?.BucketName);
    const config = (r.Properties?.NotificationConfiguration ?? {}) as Record<string, Json>;
    const unknown = Object.keys(config).filter((k) => k !== 'QueueConfigurations');
    if (unknown.length > 0) throw new UnsupportedTemplateError(`${logicalId}: the local stack delivers S3 events only to queues, not ${unknown.join(', ')}`);
    for (const c of (config.QueueConfigurations ?? []) as { Events: string[]; QueueArn: Json; Filter?: { Key?: { FilterRules?: NotificationSpec['filterRules'] } } }[]) {
      const queueLogicalId = refOf(c.QueueArn);
      if (!bucketLogicalId || !queueLogicalId || !queueIds.has(queueLogicalId)) {
        throw new UnsupportedTemplateError(`${logicalId}: a bucket notification does not reference its bucket and a queue of the template directly`);
      }
      notifications.push({ bucketLogicalId, queueLogicalId, events: c.Events, filterRules: c.Filter?.Key?.FilterRules ?? [] });
    }
  }

  const integrations = new Map<string, string>();
  for (const [logicalId, r] of ofType('AWS::ApiGatewayV2::Integration')) {
    const fn = refOf(r.Properties?.IntegrationUri);
    if (fn) integrations.set(logicalId, fn);
  }
  const routes: RouteSpec[] = [];
  for (const [logicalId, r] of ofType('AWS::ApiGatewayV2::Route')) {
    const [method, path] = String(r.Properties?.RouteKey).split(' ');
    const fn = integrations.get(integrationId(r.Properties?.Target) ?? '');
    if (!method || !path || !fn) throw new UnsupportedTemplateError(`Route ${logicalId} has no Lambda integration the local stack understands`);
    routes.push({ method, path, functionLogicalId: fn });
  }

  const functionIds = new Set(functions.map((f) => f.logicalId));
  const schedules = ofType('AWS::Events::Rule').flatMap(([logicalId, r]) => readSchedule(logicalId, r, functionIds) ?? []);

  return {
    template,
    outdir,
    functions,
    tables: ofType('AWS::DynamoDB::Table').map(([logicalId, r]) => ({ logicalId, properties: r.Properties as unknown as CfnTableProperties })),
    buckets: ofType('AWS::S3::Bucket').map(([id]) => id),
    secrets: ofType('AWS::SecretsManager::Secret').map(([id]) => id),
    queues,
    eventSourceMappings,
    apis: ofType('AWS::ApiGatewayV2::Api').map(([id]) => id),
    notifications,
    routes,
    schedules,
  };
}

const RATE_UNITS_MS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** The interval of an EventBridge `rate(value unit)` expression (the singular unit only with 1, as EventBridge requires). */
export function rateIntervalMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minutes?|hours?|days?)\)$/.exec(expression);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = m[2] as string;
  if (value < 1 || (value === 1) !== !unit.endsWith('s')) return undefined;
  return value * (RATE_UNITS_MS[unit] as number);
}

/** Rule properties the local stack runs; any other (event patterns, inputs, …) stops it. */
const RULE_PROPERTIES = ['Description', 'ScheduleExpression', 'State', 'Targets', 'Name'];

/** The rule's schedule; undefined when the rule is disabled. */
function readSchedule(logicalId: string, r: CfnResource, functionIds: ReadonlySet<string>): ScheduleSpec | undefined {
  const props = r.Properties ?? {};
  const unknown = Object.keys(props).filter((k) => !RULE_PROPERTIES.includes(k));
  if (unknown.length > 0) throw new UnsupportedTemplateError(`Rule ${logicalId}: the local stack runs only schedules, not ${unknown.join(', ')}`);
  const expression = String(props.ScheduleExpression ?? '');
  const intervalMs = rateIntervalMs(expression);
  if (intervalMs === undefined) throw new UnsupportedTemplateError(`Rule ${logicalId}: the local stack runs rate(…) schedules only, not ${JSON.stringify(props.ScheduleExpression)}`);
  const targets = (props.Targets ?? []) as { Arn?: Json; Input?: Json; InputPath?: Json; InputTransformer?: Json }[];
  const target = targets[0];
  const functionLogicalId = refOf(target?.Arn);
  if (targets.length !== 1 || !functionLogicalId || !functionIds.has(functionLogicalId) || target?.Input || target?.InputPath || target?.InputTransformer) {
    throw new UnsupportedTemplateError(`Rule ${logicalId}: the local stack runs a schedule with one target, a pipeline function receiving the scheduled event`);
  }
  return props.State === 'DISABLED' ? undefined : { logicalId, functionLogicalId, expression, intervalMs };
}

/** Queue properties the local stack creates queues with; any other (FIFO, KMS keys, …) stops it. */
const QUEUE_ATTRIBUTES = ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'MaximumMessageSize', 'SqsManagedSseEnabled'];

function readQueue(logicalId: string, r: CfnResource): QueueSpec {
  const attributes: Record<string, string> = {};
  let redrive: QueueSpec['redrive'];
  for (const [name, value] of Object.entries(r.Properties ?? {})) {
    if (name === 'RedrivePolicy') {
      const policy = value as { deadLetterTargetArn?: Json; maxReceiveCount?: Json };
      const target = refOf(policy.deadLetterTargetArn);
      const maxReceiveCount = Number(policy.maxReceiveCount);
      if (!target || !Number.isInteger(maxReceiveCount)) throw new UnsupportedTemplateError(`Queue ${logicalId}: a RedrivePolicy the local stack does not know`);
      redrive = { deadLetterQueueLogicalId: target, maxReceiveCount };
    } else if (QUEUE_ATTRIBUTES.includes(name) && (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string')) {
      attributes[name] = String(value);
    } else {
      throw new UnsupportedTemplateError(`Queue ${logicalId}: the local stack does not know the property ${name}`);
    }
  }
  return { logicalId, attributes, redrive };
}

/** Mapping properties the local stack runs; any other (filters, batching windows, …) stops it. */
const MAPPING_PROPERTIES = ['EventSourceArn', 'FunctionName', 'BatchSize', 'ScalingConfig', 'FunctionResponseTypes'];

function readEventSourceMapping(logicalId: string, r: CfnResource, queueIds: ReadonlySet<string>): EventSourceMappingSpec {
  const props = r.Properties ?? {};
  const unknown = Object.keys(props).filter((k) => !MAPPING_PROPERTIES.includes(k));
  if (unknown.length > 0) throw new UnsupportedTemplateError(`Event source mapping ${logicalId}: the local stack does not know ${unknown.join(', ')}`);
  const queueLogicalId = refOf(props.EventSourceArn);
  const functionLogicalId = refOf(props.FunctionName);
  if (!queueLogicalId || !queueIds.has(queueLogicalId) || !functionLogicalId) {
    throw new UnsupportedTemplateError(`Event source mapping ${logicalId}: it must read a queue of the template and name its function directly`);
  }
  const scaling = (props.ScalingConfig ?? {}) as { MaximumConcurrency?: Json };
  const responseTypes = (props.FunctionResponseTypes ?? []) as Json[];
  return {
    logicalId,
    queueLogicalId,
    functionLogicalId,
    // Lambda's default for SQS.
    batchSize: Number(props.BatchSize ?? 10),
    maximumConcurrency: scaling.MaximumConcurrency === undefined ? undefined : Number(scaling.MaximumConcurrency),
    reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
  };
}
