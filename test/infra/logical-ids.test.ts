// Logical ids a deployed stack depends on: an update must change these resources in place, never replace them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackLevelLogicalId } from '../../infra/constructs/logical-ids.js';
import { type CfnResource, type Synthesized, synth } from './synth.js';

/** The data the pipeline keeps, and the Elastic IP users put in Insider's allow list. */
const STATEFUL: [logicalId: string, type: string][] = [
  ['DropBucketCB075576', 'AWS::S3::Bucket'],
  ['AccessLogBucketDA470295', 'AWS::S3::Bucket'],
  // The cleaned copies Insider downloads through URLs already handed out; new with issue 8, its id pinned from the start.
  ['PreparedBucketC06AFE9D', 'AWS::S3::Bucket'],
  ['UploadsTableFE9AB9DB', 'AWS::DynamoDB::Table'],
  ['FpsTokenSecretE6517C2B', 'AWS::SecretsManager::Secret'],
  ['FailedUploadsQueue42B2698F', 'AWS::SQS::Queue'],
  // Holds the S3 events not yet handled; new with the SQS trigger, its id pinned from the start.
  ['UploadEventsQueue1907A908', 'AWS::SQS::Queue'],
  ['EgressElasticIp', 'AWS::EC2::EIP'],
];

/**
 * What a replacement would break: a new copy is created before the old one is deleted, and deleting
 * the old policy or notifications resource undoes the new one; a second `$default` stage, the same
 * route, or a NAT gateway on an Elastic IP still in use fails the deployment; subscribers and
 * in-flight callbacks and file URLs hold the ARNs and URLs of the rest.
 */
const ATTACHED: [logicalId: string, type: string][] = [
  ['DropBucketPolicyF47CCF55', 'AWS::S3::BucketPolicy'],
  ['AccessLogBucketPolicyF52D2D01', 'AWS::S3::BucketPolicy'],
  ['PreparedBucketPolicy0083E96E', 'AWS::S3::BucketPolicy'],
  ['DropBucketNotifications0541EE6E', 'Custom::S3BucketNotifications'],
  ['FailedUploadsQueuePolicy4521BC50', 'AWS::SQS::QueuePolicy'],
  // S3's permission to send; the notifications resource depends on it.
  ['UploadEventsQueuePolicy50749AA0', 'AWS::SQS::QueuePolicy'],
  ['StatusTopic6D45B8D1', 'AWS::SNS::Topic'],
  ['StatusTopicPolicyD4D98344', 'AWS::SNS::TopicPolicy'],
  ['StatusTopicopsexamplecom85C63926', 'AWS::SNS::Subscription'],
  ['AlertsTopic3414BE91', 'AWS::SNS::Topic'],
  ['AlertsTopicPolicyA6E49DF4', 'AWS::SNS::TopicPolicy'],
  ['AlertsTopicopsexamplecom2E4CC3C4', 'AWS::SNS::Subscription'],
  ['CallbackApi0D6EE6DC', 'AWS::ApiGatewayV2::Api'],
  ['CallbackApiDefaultStage391B5A92', 'AWS::ApiGatewayV2::Stage'],
  ['CallbackApiPOSTcallbacksuploadIdtokenD2DE53FB', 'AWS::ApiGatewayV2::Route'],
  ['CallbackApiPOSTcallbacksuploadIdtokenCallbackIntegration8543F7C1', 'AWS::ApiGatewayV2::Integration'],
  ['PresignRoleE08F539A', 'AWS::IAM::Role'],
  ['EgressVpc99001347', 'AWS::EC2::VPC'],
  ['EgressVpcPublicSubnet1SubnetD4C14B47', 'AWS::EC2::Subnet'],
  ['EgressVpcPrivateSubnet1Subnet8CB256E2', 'AWS::EC2::Subnet'],
  ['EgressVpcPublicSubnet1NATGatewayDD732E90', 'AWS::EC2::NatGateway'],
  ['EgressVpcIGWB1EB13D1', 'AWS::EC2::InternetGateway'],
  ['TriggerSecurityGroup2ADAEFA8', 'AWS::EC2::SecurityGroup'],
];

let synthesized: Synthesized;
let resources: Record<string, CfnResource>;

beforeAll(() => {
  // Every optional resource that has a kept id: the VPC and its Elastic IP, the email subscriptions.
  synthesized = synth({ partnerName: 'mybrand', fixedEgressIp: 'true', notificationEmail: 'ops@example.com' }, { bundle: false });
  ({ resources } = synthesized);
});
afterAll(() => synthesized.cleanUp());

describe('logical ids of a deployed stack', () => {
  it.each(STATEFUL)('keeps the stateful %s (%s)', (logicalId, type) => {
    expect(resources[logicalId]?.Type).toBe(type);
  });

  it.each(ATTACHED)('keeps %s (%s), which cannot be replaced safely', (logicalId, type) => {
    expect(resources[logicalId]?.Type).toBe(type);
  });

  it('keeps them although the resources now sit inside constructs', () => {
    expect(resources.DropBucketCB075576?.Metadata?.['aws:cdk:path']).toBe('FpsPipeline/Storage/DropBucket/Resource');
    expect(resources.EgressElasticIp?.Metadata?.['aws:cdk:path']).toBe('FpsPipeline/Trigger/Egress/EgressElasticIp');
  });

  it("computes ids as CDK does for a resource directly in the stack", () => {
    expect(stackLevelLogicalId(['UploadsTable', 'Resource'])).toBe('UploadsTableFE9AB9DB');
    expect(stackLevelLogicalId(['EgressElasticIp'])).toBe('EgressElasticIp');
    expect(stackLevelLogicalId(['UploadEventsQueue', 'Resource'])).toBe('UploadEventsQueue1907A908');
    expect(stackLevelLogicalId(['StatusTopic', 'ops@example.com', 'Resource'])).toBe('StatusTopicopsexamplecom85C63926');
    expect(stackLevelLogicalId(['CallbackApi', 'POST--callbacks--{uploadId}--{token}', 'Resource'])).toBe(
      'CallbackApiPOSTcallbacksuploadIdtokenD2DE53FB',
    );
  });
});
