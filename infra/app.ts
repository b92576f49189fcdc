// The CDK app: builds the pipeline stack from context; run directly (cdk.json) it synthesizes.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, readConfig } from './config.js';
import { PipelineStack } from './pipeline-stack.js';

export const STACK_ID = 'FpsPipeline';

/**
 * Feature flags this app relies on, set here so tests and `cdk synth` build the same template.
 * Context passed by the CLI (cdk.json, `-c`) still overrides them.
 */
const APP_CONTEXT: Readonly<Record<string, unknown>> = {
  // Log delivery through a bucket policy, not the legacy ACL (which BUCKET_OWNER_ENFORCED forbids).
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-iam:minimizePolicies': true,
  '@aws-cdk/core:checkSecretUsage': true,
  '@aws-cdk/core:enablePartitionLiterals': true,
  // The CLI turns these on itself; tests and the local stack find functions and bundles through them.
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
};

export interface BuildAppOptions {
  /** Context values, as `-c key=value` would give them. */
  readonly context?: Record<string, unknown>;
  /** Where to write the cloud assembly. @default - the CLI's, or a temporary directory */
  readonly outdir?: string;
}

export function buildApp(options: BuildAppOptions = {}): { app: cdk.App; stack: PipelineStack } {
  const app = new cdk.App({
    context: { ...APP_CONTEXT, ...options.context },
    outdir: options.outdir,
  });
  // Every synth (tests, the local stack, `cdk deploy`) fails on an unacknowledged AwsSolutions finding.
  cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const config = readConfig(app.node);
  const stack = new PipelineStack(app, STACK_ID, {
    description: 'Insider One FPS segment upload pipeline: S3 drop bucket to FPS, callbacks to DynamoDB',
    config,
  });
  return { app, stack };
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  try {
    buildApp().app.synth();
  } catch (error) {
    // A config mistake needs its message, not a stack trace.
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = 1;
    } else {
      throw error;
    }
  }
}
