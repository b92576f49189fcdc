// cdk-nag's AwsSolutions pack on the synthesized stack: nothing left unacknowledged, each acknowledgement specific.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, STACK_ID } from '../../infra/app.js';

interface Violation {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
}
interface ValidationReport {
  pluginReports: { pluginName: string; violations: Violation[] }[];
}
interface Acknowledgement {
  rule: string;
  path: string;
  reason: string;
}

/** A queue with none of the settings AwsSolutions wants: proves the pack runs and its report is read. */
const CANARY = 'NagCanary';

let outdir: string;
let findings: { rule: string; path: string }[];
let acknowledgements: Acknowledgement[];
let dropBucketId: string;
let preparedBucketId: string;
let notificationsHandler: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'fps-nag-'));
  // Every optional resource on (alerts email, VPC): the widest template the app makes.
  const { app, stack } = buildApp({
    context: {
      partnerName: 'mybrand',
      notificationEmail: 'ops@example.com',
      fixedEgressIp: true,
      '@aws-cdk/core:failSynthOnValidationErrors': false,
      'aws:cdk:bundling-stacks': [],
    },
    outdir,
  });
  new sqs.Queue(stack, CANARY);
  // The id in the template (pinned by the construct), not the one the construct path would give.
  dropBucketId = stack.resolve((stack.bucket.node.defaultChild as CfnBucket).logicalId);
  preparedBucketId = stack.resolve((stack.storage.preparedBucket.node.defaultChild as CfnBucket).logicalId);
  notificationsHandler = stack.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'))?.node.id ?? '(none)';
  app.synth();
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  findings = report.pluginReports
    .filter((r) => r.pluginName === 'AwsSolutions')
    .flatMap((r) => r.violations.flatMap((v) => v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath }))));
  const metadata = JSON.parse(readFileSync(join(outdir, `${STACK_ID}.metadata.json`), 'utf8')) as Record<
    string,
    { type: string; data: Record<string, string> }[]
  >;
  acknowledgements = Object.entries(metadata).flatMap(([path, entries]) =>
    entries
      .filter((e) => e.type === 'aws:cdk:acknowledged-rules')
      .flatMap((e) => Object.entries(e.data))
      .filter(([rule]) => rule.includes('AwsSolutions-'))
      .map(([rule, reason]) => ({ rule: rule.replace(/^Annotation::/, ''), path, reason })),
  );
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('cdk-nag AwsSolutions', () => {
  it('runs on every app buildApp makes, and reports what it finds', () => {
    const canary = findings.filter((f) => f.path.startsWith(`${STACK_ID}/${CANARY}/`));
    expect(canary.map((f) => f.rule)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('leaves no finding on the pipeline unacknowledged', () => {
    expect(findings.filter((f) => !f.path.startsWith(`${STACK_ID}/${CANARY}/`))).toEqual([]);
  });

  it('acknowledges each finding on the construct it concerns, never on the stack or app', () => {
    expect(acknowledgements.map(({ rule, path }) => [rule, path]).sort()).toEqual(
      [
        ['AwsSolutions-SMG4', `/${STACK_ID}/Token/FpsTokenSecret`],
        ['AwsSolutions-SNS2', `/${STACK_ID}/Operations/AlertsTopic`],
        ['AwsSolutions-SQS3', `/${STACK_ID}/Trigger/FailedUploadsQueue`],
        ['AwsSolutions-APIG4', `/${STACK_ID}/Callback/CallbackApi/POST--callbacks--{uploadId}--{token}`],
        [`AwsSolutions-IAM5[Resource::<${dropBucketId}.Arn>/*]`, `/${STACK_ID}/Trigger/FunctionRole`],
        [`AwsSolutions-IAM5[Resource::<${dropBucketId}.Arn>/*]`, `/${STACK_ID}/Trigger/PresignRole`],
        [`AwsSolutions-IAM5[Resource::<${preparedBucketId}.Arn>/*.csv]`, `/${STACK_ID}/Trigger/FunctionRole`],
        [`AwsSolutions-IAM5[Resource::<${preparedBucketId}.Arn>/*.csv]`, `/${STACK_ID}/Trigger/PresignRole`],
        ['AwsSolutions-IAM5[Resource::*]', `/${STACK_ID}/Trigger/FunctionRole`],
        ['AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:*/*]', `/${STACK_ID}/Trigger/FunctionRole`],
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          `/${STACK_ID}/${notificationsHandler}/Role`,
        ],
      ].sort(),
    );
    for (const { path } of acknowledgements) expect(path.split('/').length).toBeGreaterThan(2);
  });

  it('gives every acknowledgement its own reason, in a sentence', () => {
    for (const { rule, reason } of acknowledgements) {
      expect(reason.length, rule).toBeGreaterThan(60);
    }
    expect(new Set(acknowledgements.map((a) => a.reason)).size).toBe(acknowledgements.length);
  });
});
