// The stack with a fixed egress IP (VPC, one NAT gateway, one Elastic IP) and file URLs signed by an IAM user's key.
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TriggerEnv } from '../../lambdas/shared/contract.js';
import { actionsOf, allPolicyStatements, type CfnResource, functionStatements, type Json, logicalIdOf, type Synthesized, synth } from './synth.js';

let synthesized: Synthesized;
let template: Template;
let resources: Record<string, CfnResource>;
const id = (constructPath: string) => logicalIdOf(resources, constructPath);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const props = (constructPath: string) => resources[id(constructPath)]?.Properties ?? {};

beforeAll(() => {
  synthesized = synth(
    {
      partnerName: 'mybrand',
      fixedEgressIp: 'true',
      presignAccessKeySecretName: 'fps/mybrand/presign-key',
      presignExpiresSeconds: '86400',
    },
    { bundle: false },
  );
  ({ template, resources } = synthesized);
});
afterAll(() => synthesized.cleanUp());

it('builds one AZ: a public and a private subnet, one NAT gateway on the stack\'s own Elastic IP', () => {
  template.resourceCountIs('AWS::EC2::VPC', 1);
  template.resourceCountIs('AWS::EC2::Subnet', 2);
  template.resourceCountIs('AWS::EC2::NatGateway', 1);
  template.resourceCountIs('AWS::EC2::EIP', 1);
  const [eipId] = ofType('AWS::EC2::EIP')[0] ?? [];
  expect(eipId).toBe(id('EgressElasticIp'));
  const [, nat] = ofType('AWS::EC2::NatGateway')[0] ?? [];
  expect(nat?.Properties?.AllocationId).toEqual({ 'Fn::GetAtt': [eipId, 'AllocationId'] });
  const publicSubnet = ofType('AWS::EC2::Subnet').find(([, s]) => s.Properties?.MapPublicIpOnLaunch === true);
  expect(nat?.Properties?.SubnetId).toEqual({ Ref: publicSubnet?.[0] });
});

it('outputs the Elastic IP', () => {
  const outputs = template.toJSON().Outputs as Record<string, { Value: Json }>;
  expect(outputs.EgressIp?.Value).toEqual({ 'Fn::GetAtt': [id('EgressElasticIp'), 'PublicIp'] });
});

it('runs only the trigger in the private subnet, behind a group that allows HTTPS out and nothing in', () => {
  const privateSubnet = ofType('AWS::EC2::Subnet').find(([, s]) => s.Properties?.MapPublicIpOnLaunch === false)?.[0];
  expect(props('Trigger/Function/Resource').VpcConfig).toEqual({
    SubnetIds: [{ Ref: privateSubnet }],
    SecurityGroupIds: [{ 'Fn::GetAtt': [id('TriggerSecurityGroup/Resource'), 'GroupId'] }],
  });
  expect(props('TriggerSecurityGroup/Resource')).toMatchObject({
    SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: 'HTTPS to Insider and AWS APIs' }],
  });
  expect(props('TriggerSecurityGroup/Resource')).not.toHaveProperty('SecurityGroupIngress');
  template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  expect(props('Callback/Function/Resource')).not.toHaveProperty('VpcConfig');
  expect(props('TimeoutSweeper/Function/Resource')).not.toHaveProperty('VpcConfig');
});

it('keeps S3 and DynamoDB traffic off the NAT gateway and logs the VPC\'s flows', () => {
  const services = ofType('AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(e.Properties?.ServiceName));
  expect(services).toHaveLength(2);
  expect(services.some((s) => s.includes('.s3'))).toBe(true);
  expect(services.some((s) => s.includes('.dynamodb'))).toBe(true);
  template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
});

it('grants the trigger the ENI actions Lambda needs: Describe on "*" (the only kind it accepts), the rest within the account', () => {
  const ec2 = functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('ec2:')));
  expect(ec2).toEqual([
    { Effect: 'Allow', Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['ec2:AssignPrivateIpAddresses', 'ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'],
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':*/*']],
      },
    },
  ]);
  const everywhere = allPolicyStatements(resources).filter(({ statement }) =>
    (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).includes('*'),
  );
  expect(everywhere.map(({ statement }) => statement.Action)).toEqual([['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets']]);
});

it('signs file URLs with the access key secret instead of a role: no presign role, GetSecretValue on that secret only', () => {
  const env = (props('Trigger/Function/Resource').Environment as { Variables: Record<string, Json> }).Variables;
  expect(env).toMatchObject({
    [TriggerEnv.presignAccessKeySecretId]: 'fps/mybrand/presign-key',
    [TriggerEnv.presignExpiresSeconds]: '86400',
  });
  expect(env).not.toHaveProperty(TriggerEnv.presignRoleArn);
  expect(() => id('PresignRole/Resource')).toThrow();
  expect(functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')))).toEqual([]);
  const secrets = functionStatements(resources, 'Trigger/Function').filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
  expect(secrets).toEqual([
    {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: [
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:fps/mybrand/presign-key-??????'],
          ],
        },
        { Ref: id('FpsTokenSecret/Resource') },
      ],
    },
  ]);
});
