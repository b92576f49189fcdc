// The house defaults for the pipeline's Lambda functions, in one construct.
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTION_ROLE_METADATA, type FunctionRole } from '../lambdas/shared/contract.js';

/** The repository root, so entries and the lock file resolve the same from the CLI and from tests. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface NodeFunctionProps {
  /**
   * Which pipeline function this is, written to the template as resource metadata
   * (`fps:function-role`); the local stack finds its functions by it.
   */
  readonly functionRole: FunctionRole;
  /**
   * The handler's source file, relative to the repository root (e.g. `lambdas/trigger/handler.ts`).
   */
  readonly entry: string;
  /**
   * The exported function Lambda calls.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * What the function does, shown in the console.
   * @default - none
   */
  readonly description?: string;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB; CPU scales with it.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Environment variables, added to the house ones (`NODE_OPTIONS`).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Concurrent executions set aside for this function.
   * @default - none reserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long the function's log group keeps events.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * X-Ray tracing mode. Off by default: X-Ray's write actions accept no resource but `*`, the
   * functions carry no tracer, and logs plus metrics already time every call to Insider.
   * @default lambda.Tracing.DISABLED
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The VPC to run in. The role gets no VPC permissions from here: grant the ENI actions yourself.
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets to run in, with `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups, with `vpc`.
   * @default - one that allows all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * A `NodejsFunction` bundled locally with esbuild as ESM for Node 24 on ARM, with its own log group
 * and a role that may write only to that group, marked with its pipeline role. It is the function
 * itself rather than a wrapper, so grants, metrics, destinations and integrations take it as is.
 */
export class NodeFunction extends NodejsFunction {
  /** The execution role: grant it what the function needs (`grant…(fn)` does the same through the function). */
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    // Siblings rather than children: the function takes them as props, so they must exist before `super`.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // Our own role, in place of one carrying AWSLambdaBasicExecutionRole, whose log actions cover '*'.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      // The name the function's logical id starts with, e.g. TriggerFunction for Trigger/Function.
      description: `Execution role of ${scope.node.id}${id}`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: fileURLToPath(new URL(`../${props.entry}`, import.meta.url)),
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      logGroup,
      role,
      projectRoot: REPO_ROOT,
      depsLockFilePath: fileURLToPath(new URL('../package-lock.json', import.meta.url)),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        // Some dependencies ship only CommonJS under `main`; prefer their ESM build when there is one.
        mainFields: ['module', 'main'],
        // CommonJS code inside an ESM bundle still calls `require` for Node built-ins.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        // Stack traces need only the mappings; the sources would double the bundle.
        sourcesContent: false,
        // The SDK version in the bundle is the one the tests ran against, not the runtime's.
        bundleAwsSDK: true,
      },
    });
    this.executionRole = role;
    (this.node.defaultChild as lambda.CfnFunction).addMetadata(FUNCTION_ROLE_METADATA, props.functionRole);
  }
}
