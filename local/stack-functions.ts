// The local stack's functions: each template function as a LocalFunction with Lambda's variables, its own environment resolved, and as many environments as its event source mappings may use.
import { FunctionRole } from '../lambdas/shared/contract.js';
import { LocalFunction } from './lambda-runtime.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-account.js';
import type { PlatformCalls } from './platform-calls.js';
import type { LocalEndpoints } from './stack.js';
import { type FunctionSpec, resolveValue, type SynthesizedStack } from './template.js';

/** What every function's environment starts from: the Region, the credentials and the emulators' endpoints, as Lambda and AWS_ENDPOINT_URL_* set them. */
export function platformEnvironment(endpoints: LocalEndpoints, credentials: { accessKeyId: string; secretAccessKey: string }): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    AWS_ENDPOINT_URL_STS: endpoints.sts,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    // s3rver rejects the SDK's default streaming checksums (see toolchain notes).
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_DEV: 'false',
  };
}

export interface StackFunctionsOptions {
  /** From `platformEnvironment`. */
  platformEnv: Readonly<Record<string, string>>;
  /** By function logical id, variables over the platform's: the endpoints of the function's recording proxy. */
  ownEndpoints: ReadonlyMap<string, Record<string, string>>;
  /** The stack's own SQS endpoint, as the queue URLs `lookup` gives name it. */
  sqsEndpoint: string;
  /** A resource's value (its Ref, or an attribute), for the template's environment values. */
  lookup(logicalId: string, attribute?: string): string;
  /** The caller's override of the trigger's mapping's maximum concurrency. */
  triggerMaxConcurrency?: number | undefined;
  logSink?: ((line: string, fn: string) => void) | undefined;
  /** Told when an environment starts and when a function is invoked; absent when calls are not recorded. */
  platform?: PlatformCalls | undefined;
}

/** Environments locally for a mapping with no MaximumConcurrency (in AWS it may scale up to the account's pool). */
export const UNCAPPED_MAPPING_ENVIRONMENTS = 5;
/** Environments locally for a function no mapping invokes: in AWS they share the account's pool; a few are plenty here. */
const UNMAPPED_FUNCTION_ENVIRONMENTS = 4;

/** A mapping's maximum concurrency, or for the trigger's the caller's override (benchmarks sweep it). */
export function mappingConcurrency(synth: SynthesizedStack, triggerMaxConcurrency: number | undefined, functionLogicalId: string, configured: number | undefined): number | undefined {
  return functionLogicalId === synth.functions.find((f) => f.role === FunctionRole.trigger)?.logicalId && triggerMaxConcurrency ? triggerMaxConcurrency : configured;
}

/** How many of the trigger's invocations the local stack runs at once: its mapping's, or the caller's override. */
export function triggerConcurrency(synth: SynthesizedStack, triggerMaxConcurrency: number | undefined): number {
  const trigger = synth.functions.find((f) => f.role === FunctionRole.trigger)?.logicalId;
  const mapping = synth.eventSourceMappings.find((m) => m.functionLogicalId === trigger);
  return (mapping && mappingConcurrency(synth, triggerMaxConcurrency, mapping.functionLogicalId, mapping.maximumConcurrency)) ?? triggerMaxConcurrency ?? UNCAPPED_MAPPING_ENVIRONMENTS;
}

/** One LocalFunction per function of the template, in its order. */
export function createStackFunctions(synth: SynthesizedStack, options: StackFunctionsOptions): { spec: FunctionSpec; fn: LocalFunction }[] {
  // As many environments as the function's mappings may invoke at once (a reservation caps them);
  // other functions share the account's pool, and locally a few environments are plenty for them.
  const environmentsFor = (spec: FunctionSpec) => {
    const mappings = synth.eventSourceMappings.filter((m) => m.functionLogicalId === spec.logicalId);
    const wanted =
      mappings.length > 0
        ? mappings.reduce((sum, m) => sum + (mappingConcurrency(synth, options.triggerMaxConcurrency, m.functionLogicalId, m.maximumConcurrency) ?? UNCAPPED_MAPPING_ENVIRONMENTS), 0)
        : UNMAPPED_FUNCTION_ENVIRONMENTS;
    return Math.min(wanted, spec.reservedConcurrency ?? Number.POSITIVE_INFINITY);
  };
  const { platform } = options;
  return synth.functions.map((spec) => {
    const environment: Record<string, string> = { ...options.platformEnv, ...options.ownEndpoints.get(spec.logicalId) };
    // The SDK sends a queue's calls to its URL's host: queue URLs name the function's own SQS endpoint, as in AWS.
    const sqsEndpoint = environment.AWS_ENDPOINT_URL_SQS as string;
    const ownLookup = (logicalId: string, attribute?: string) => options.lookup(logicalId, attribute).replace(`${options.sqsEndpoint}/`, `${sqsEndpoint}/`);
    for (const [name, value] of Object.entries(spec.environment)) {
      environment[name] = resolveValue(value, { lookup: ownLookup, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
    }
    const fn = new LocalFunction({
      name: spec.role,
      assetDir: spec.assetDir,
      handler: spec.handler,
      environment,
      timeoutSeconds: spec.timeoutSeconds,
      memoryMb: spec.memoryMb,
      maxConcurrency: environmentsFor(spec),
      logSink: options.logSink,
      onPlatformEvent: platform
        ? ({ kind, logStreamName }) =>
            kind === 'environmentStarted'
              ? platform.environmentStarted(spec.logicalId, logStreamName, spec.role)
              : platform.invoked(spec.logicalId, logStreamName, spec.role)
        : undefined,
    });
    return { spec, fn };
  });
}
