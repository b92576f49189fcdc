// Where people drop CSV files: the drop bucket, the prepared bucket of cleaned copies, their access-log bucket, and who may read, write or be told about their objects.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { keepStackLevelLogicalIds } from './logical-ids.js';

/** Server access logs are audit evidence for the files, so they outlive them. */
const MIN_ACCESS_LOG_DAYS = 90;

export interface DropStorageProps {
  /** Days before a dropped file (personal data) and its old versions expire; access logs keep at least 90. */
  readonly retentionDays: number;
  /**
   * Days before a cleaned copy in the prepared bucket expires: longer than the longest file URL, so
   * Insider can always download what it was sent (`preparedCopyRetentionDays`).
   */
  readonly preparedRetentionDays: number;
}

/**
 * The drop bucket (private, versioned, expiring), the prepared bucket where the trigger writes the
 * cleaned copies Insider downloads (private, expiring within days, no notifications: a copy never
 * triggers the pipeline), and the bucket both send their server access logs to.
 */
export class DropStorage extends Construct {
  /** Where people drop CSV files. */
  readonly bucket: s3.Bucket;
  /** Cleaned one-value-per-line copies (`<uploadId>.csv`), written only by the trigger and read only through file URLs. */
  readonly preparedBucket: s3.Bucket;
  /** The drop and prepared buckets' server access logs. */
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: DropStorageProps) {
    super(scope, id);
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // S3 server access logging can deliver only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: Duration.days(Math.max(props.retentionDays, MIN_ACCESS_LOG_DAYS)),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'DropBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // An overwritten file stays recoverable: what Insider was sent is kept until the lifecycle ends it.
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'drop-bucket/',
      lifecycleRules: [
        {
          id: 'ExpireDroppedFiles',
          expiration: Duration.days(props.retentionDays),
          noncurrentVersionExpiration: Duration.days(props.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.preparedBucket = new s3.Bucket(this, 'PreparedBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A copy is written once under its upload's id and never replaced: versions would only keep personal data longer.
      versioned: false,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'prepared-bucket/',
      lifecycleRules: [
        {
          id: 'ExpirePreparedCopies',
          expiration: Duration.days(props.preparedRetentionDays),
          // A copy abandoned mid-upload (the trigger timed out) holds parts nobody can read.
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The files and logs live in these buckets, and their policies and notifications must stay attached.
    keepStackLevelLogicalIds(this.accessLogBucket);
    keepStackLevelLogicalIds(this.bucket);
    keepStackLevelLogicalIds(this.preparedBucket);
  }

  /**
   * Lets `role` write cleaned copies to the prepared bucket (PutObject, and AbortMultipartUpload for
   * a large copy it gives up on), nothing else: it never reads them back or lists the bucket.
   * @param reason why this role needs every key, recorded with cdk-nag's acknowledgement.
   */
  grantWritePreparedCopies(role: iam.IRole, reason: string): iam.Grant {
    return this.grantOnPreparedCopies(role, ['s3:PutObject', 's3:AbortMultipartUpload'], reason);
  }

  /**
   * Lets `role` read cleaned copies (GetObject: the bucket has no versions), so that file URLs it signs
   * can download them.
   * @param reason why this role needs every key, recorded with cdk-nag's acknowledgement.
   */
  grantReadPreparedCopies(role: iam.IRole, reason: string): iam.Grant {
    return this.grantOnPreparedCopies(role, ['s3:GetObject'], reason);
  }

  private grantOnPreparedCopies(role: iam.IRole, actions: string[], reason: string): iam.Grant {
    // Copies are named `<uploadId>.csv`; the pattern says so, and the ids are not known in advance.
    const grant = iam.Grant.addToPrincipal({ grantee: role, actions, resourceArns: [this.preparedBucket.arnForObjects('*.csv')] });
    const bucketId = Stack.of(this).resolve((this.preparedBucket.node.defaultChild as s3.CfnBucket).logicalId) as string;
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*.csv]`, reason });
    return grant;
  }

  /**
   * Lets `role` read any version of a dropped object, and acknowledges cdk-nag's wildcard finding on
   * that role: object keys are whatever people drop, so no narrower pattern would hold. The bucket is
   * versioned from its creation, so every event names a version and every read (HeadObject or GET,
   * the presigned URL's included) asks for it: s3:GetObjectVersion, never s3:GetObject, which reads
   * whatever version is current by then. The end-to-end tests record the reads and prove it.
   * @param reason why this role needs every object, recorded with the acknowledgement.
   */
  grantReadObjects(role: iam.IRole, reason: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['s3:GetObjectVersion'],
      resourceArns: [this.bucket.arnForObjects('*')],
    });
    const bucketId = Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId) as string;
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`, reason });
    return grant;
  }

  /**
   * Sends every ObjectCreated event to `queue`, whatever the key: not just Put, since multipart
   * uploads arrive as CompleteMultipartUpload; and with no key filter, since in a bucket that exists
   * for the pipeline every object is meant for it and the trigger itself records what it cannot use.
   * The queue's policy lets S3 send (sqs:SendMessage only) for this bucket in this account:
   * `aws:SourceArn` alone would still match a bucket of the same name in another account, once this
   * one is deleted and the name taken.
   */
  notifyObjectsCreated(queue: sqs.IQueue): void {
    const bucketArn = this.bucket.bucketArn;
    const destination: s3.IBucketNotificationDestination = {
      bind: () => {
        queue.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: 'S3DropBucketEvents',
            principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
            actions: ['sqs:SendMessage'],
            resources: [queue.queueArn],
            conditions: { ArnEquals: { 'aws:SourceArn': bucketArn }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
          }),
        );
        // S3 checks that it may send (an s3:TestEvent) when the configuration is written: the policy comes first.
        return { arn: queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: [queue] };
      },
    };
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination);

    // CDK's own handler that writes the bucket's notification configuration at deploy time.
    const stack = Stack.of(this);
    const handlerRole = stack.node.children
      .find((child) => child.node.id.startsWith('BucketNotificationsHandler'))
      ?.node.tryFindChild('Role');
    if (!handlerRole) throw new Error('The bucket notifications handler has no role to acknowledge');
    Validations.of(handlerRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket-notifications custom resource runs only during deployments; its role is created inside aws-cdk-lib and the managed policy only lets it write its own logs.",
    });
  }
}
