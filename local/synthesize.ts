// Synthesizes the real CDK app for the local stack, bundling every function with esbuild as `cdk deploy` would, and reads the stack's template.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, STACK_ID } from '../infra/app.js';
import { type CfnTemplate, readTemplate, type SynthesizedStack } from './template.js';

/** Synthesizes the app into `outdir` and reads the stack. */
export function synthesize(context: Record<string, unknown>, outdir = mkdtempSync(join(tmpdir(), 'fps-cdk-out-'))): SynthesizedStack {
  const { app } = buildApp({ context, outdir });
  const assembly = app.synth();
  const template = assembly.getStackByName(STACK_ID).template as CfnTemplate;
  return readTemplate(template, outdir);
}
