// The calls AWS makes for the stack rather than its code (Lambda's logs and role, S3's notifications and access logs, API Gateway's and EventBridge's invocations), named from the template as the local stack plays them.
import type { CallRecorder, Principal } from './call-recorder.js';
import { type CfnTemplate, type Json, UnsupportedTemplateError } from './template.js';

export interface PlatformCallsOptions {
  template: CfnTemplate;
  /** Resolves a template value to the local stack's (its `resolveValue` with the local names). */
  resolve: (value: Json) => string;
  region: string;
  accountId: string;
  recorder: CallRecorder;
}

/** The log object key S3 gives a server access log delivery: `<prefix>YYYY-MM-DD-HH-MM-SS-<16 characters>`. */
function accessLogKey(prefix: string, at: number): string {
  const stamp = new Date(at).toISOString().slice(0, 19).replace(/[T:]/g, '-');
  return `${prefix}${stamp}-LOCAL00000000000`;
}

/**
 * Records the platform's side of what the local stack plays: each method is called where the local
 * stack does what AWS would, and records the call AWS would make, with the principal IAM would see.
 */
export class PlatformCalls {
  private readonly resources: CfnTemplate['Resources'];
  private readonly accessLogs = new Map<string, { sourceArn: string; targetArn: string; prefix: string }>();
  private readonly deliveredLogs = new Set<string>();

  constructor(private readonly options: PlatformCallsOptions) {
    this.resources = options.template.Resources;
    for (const [logicalId, r] of Object.entries(this.resources)) {
      const logging = r.Type === 'AWS::S3::Bucket' ? (r.Properties?.LoggingConfiguration as { DestinationBucketName?: Json; LogFilePrefix?: Json } | undefined) : undefined;
      if (!logging?.DestinationBucketName) continue;
      this.accessLogs.set(options.resolve({ Ref: logicalId }), {
        sourceArn: this.arnOf(logicalId),
        targetArn: this.arnOf(this.refId(logging.DestinationBucketName, `${logicalId} LoggingConfiguration`)),
        prefix: typeof logging.LogFilePrefix === 'string' ? logging.LogFilePrefix : '',
      });
    }
  }

  /** A function's execution role, as its `Role` property names it. */
  executionRole(functionLogicalId: string): Principal {
    return { kind: 'role', roleArn: this.options.resolve(this.functionProperties(functionLogicalId).Role ?? null) };
  }

  /** Lambda starts an execution environment: it assumes the execution role, then creates the environment's log stream with it. */
  environmentStarted(functionLogicalId: string, logStreamName: string, label: string): void {
    const role = this.executionRole(functionLogicalId);
    this.record({ kind: 'service', service: 'lambda.amazonaws.com' }, 'sts:AssumeRole', (role as { roleArn: string }).roleArn, `Lambda for ${label}`, 'AssumeRole');
    this.record(role, 'logs:CreateLogStream', this.logStreamArn(functionLogicalId, logStreamName), `Lambda for ${label}`, 'CreateLogStream');
  }

  /** An invocation ran: Lambda puts its log events (START, the function's lines, END, REPORT). */
  invoked(functionLogicalId: string, logStreamName: string, label: string): void {
    this.record(this.executionRole(functionLogicalId), 'logs:PutLogEvents', this.logStreamArn(functionLogicalId, logStreamName), `Lambda for ${label}`, 'PutLogEvents');
  }

  /** S3 sends a bucket's event to a queue, as the queue's policy must let it. */
  eventSent(bucketLogicalId: string, queueLogicalId: string): void {
    const principal: Principal = { kind: 'service', service: 's3.amazonaws.com', sourceArn: this.arnOf(bucketLogicalId), sourceAccount: this.options.accountId };
    this.record(principal, 'sqs:SendMessage', this.arnOf(queueLogicalId), 'S3 event notification', 'SendMessage');
  }

  /** An HTTP API route invokes its function, as the function's resource policy must let it. */
  routeInvoked(method: string, path: string, functionLogicalId: string): void {
    const route = Object.values(this.resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties?.RouteKey === `${method} ${path}`);
    if (!route) throw new UnsupportedTemplateError(`No route ${method} ${path} in the template`);
    const apiId = this.options.resolve(route.Properties?.ApiId ?? null);
    const { region, accountId } = this.options;
    const sourceArn = `arn:aws:execute-api:${region}:${accountId}:${apiId}/$default/${method}${path}`;
    this.record({ kind: 'service', service: 'apigateway.amazonaws.com', sourceArn }, 'lambda:InvokeFunction', this.arnOf(functionLogicalId), 'API Gateway', 'Invoke');
  }

  /** An EventBridge rule that targets the function invokes it. */
  scheduleInvoked(functionLogicalId: string): void {
    const functionArn = this.arnOf(functionLogicalId);
    const rule = Object.entries(this.resources).find(
      ([, r]) => r.Type === 'AWS::Events::Rule' && ((r.Properties?.Targets ?? []) as { Arn?: Json }[]).some((t) => this.options.resolve(t.Arn ?? null) === functionArn),
    );
    if (!rule) throw new UnsupportedTemplateError(`No EventBridge rule targets ${functionLogicalId}`);
    this.record({ kind: 'service', service: 'events.amazonaws.com', sourceArn: this.arnOf(rule[0]) }, 'lambda:InvokeFunction', functionArn, 'EventBridge schedule', 'Invoke');
  }

  /** At deploy time CDK's custom resource writes each bucket's notification configuration with its handler's role. */
  notificationsConfigured(): void {
    for (const [logicalId, r] of Object.entries(this.resources)) {
      if (r.Type !== 'Custom::S3BucketNotifications') continue;
      const handler = this.refId(r.Properties?.ServiceToken, `${logicalId} ServiceToken`);
      const bucket = this.refId(r.Properties?.BucketName, `${logicalId} BucketName`);
      this.record(this.executionRole(handler), 's3:PutBucketNotification', this.arnOf(bucket), `deployment (${logicalId})`, 'PutBucketNotificationConfiguration');
    }
  }

  /** A request reached `bucket`: if it logs, S3 delivers a server access log object (one per second here). */
  s3Requested(bucket: string, at: number): void {
    const logging = this.accessLogs.get(bucket);
    if (!logging) return;
    const resource = `${logging.targetArn}/${accessLogKey(logging.prefix, at)}`;
    if (this.deliveredLogs.has(resource)) return;
    this.deliveredLogs.add(resource);
    const principal: Principal = { kind: 'service', service: 'logging.s3.amazonaws.com', sourceArn: logging.sourceArn, sourceAccount: this.options.accountId };
    this.record(principal, 's3:PutObject', resource, 'S3 server access logging', 'PutObject');
  }

  private record(principal: Principal, action: string, resource: string, source: string, operation: string): void {
    this.options.recorder.record({ principal, action, resource, source, operation });
  }

  private arnOf(logicalId: string): string {
    return this.options.resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  }

  private functionProperties(logicalId: string): Record<string, Json> {
    const r = this.resources[logicalId];
    if (r?.Type !== 'AWS::Lambda::Function') throw new UnsupportedTemplateError(`${logicalId} is not a function of the template`);
    return r.Properties ?? {};
  }

  /** The stream's ARN in the function's log group (its LoggingConfig's, else Lambda's default group). */
  private logStreamArn(functionLogicalId: string, logStreamName: string): string {
    const { LoggingConfig } = this.functionProperties(functionLogicalId) as { LoggingConfig?: { LogGroup?: Json } };
    const group = LoggingConfig?.LogGroup
      ? this.options.resolve(LoggingConfig.LogGroup)
      : `/aws/lambda/${this.options.resolve({ Ref: functionLogicalId })}`;
    return `arn:aws:logs:${this.options.region}:${this.options.accountId}:log-group:${group}:log-stream:${logStreamName}`;
  }

  private refId(value: Json | undefined, what: string): string {
    const v = value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
    const getAtt = v?.['Fn::GetAtt'];
    const id = typeof v?.Ref === 'string' ? v.Ref : Array.isArray(getAtt) ? getAtt[0] : undefined;
    if (typeof id !== 'string' || !this.resources[id]) throw new UnsupportedTemplateError(`${what} does not reference a resource of the template`);
    return id;
  }
}
