// A fixed egress IP for the trigger: a one-AZ VPC whose NAT gateway holds one Elastic IP, for Insider's trusted-IP list.
import { Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { NodeFunctionProps } from '../node-function.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';

/**
 * The VPC, its Elastic IP and a security group that lets a function out on HTTPS only. Put a
 * function in it with `network`, and give its role the network-interface actions with `grantNetworkInterfaces`.
 */
export class FixedEgress extends Construct {
  /** The address Insider sees: users add it to the API key's trusted IP addresses. */
  readonly elasticIp: ec2.CfnEIP;
  readonly vpc: ec2.Vpc;
  /** VPC, subnets and security group for a function that must leave through the Elastic IP. */
  readonly network: Pick<NodeFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Its own resource, so the address stays the same whatever happens to the VPC around it.
    this.elasticIp = new ec2.CfnEIP(this, 'EgressElasticIp', { domain: 'vpc' });
    // One AZ keeps it to one NAT gateway: if that AZ fails, the uploads fail after their attempts and the failure queue holds their events for a redrive.
    this.vpc = new ec2.Vpc(this, 'EgressVpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.0.0.0/24'),
      maxAzs: 1,
      natGateways: 1,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [this.elasticIp.attrAllocationId] }),
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 28 },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 26 },
      ],
      // Free, and they keep S3 and DynamoDB calls off the NAT gateway's per-GB charge.
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      ),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    const securityGroup = new ec2.SecurityGroup(this, 'TriggerSecurityGroup', {
      vpc: this.vpc,
      description: 'Trigger function: HTTPS out only (Insider and AWS APIs), nothing in',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Insider and AWS APIs');
    this.network = {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
    };
    // The Elastic IP is in users' allow lists, and a new NAT gateway could not take it while the old
    // one holds it; a new security group could not be deleted while Lambda's interfaces still use it.
    keepStackLevelLogicalIds(this.elasticIp);
    keepStackLevelLogicalIds(this.vpc);
    keepStackLevelLogicalIds(securityGroup);
  }

  /**
   * What AWSLambdaVPCAccessExecutionRole grants for network interfaces, minus its logs:* on every
   * log group, and acknowledges cdk-nag's wildcard findings on `role` with the reasons.
   */
  grantNetworkInterfaces(role: iam.IRole): void {
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
      resourceArns: ['*'],
    });
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resourceArns: [Stack.of(this).formatArn({ service: 'ec2', resource: '*', resourceName: '*' })],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Lambda creates the VPC function\'s network interfaces with its role; ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets accept no resource but "*" (Lambda developer guide, VPC permissions).',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:*/*]',
      reason:
        'Lambda creates and deletes the network interfaces itself, with IDs nobody knows at deploy time; the Lambda developer guide says to allow every resource ID, kept here to this account and Region.',
    });
  }
}
