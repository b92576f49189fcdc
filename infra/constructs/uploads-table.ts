// The uploads table: one record per dropped file, its two indexes, and the least access each function needs.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { UploadsTable as Layout } from '../../lambdas/shared/contract.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';

/**
 * The table of upload records and segment-name locks (on demand, point-in-time recovery,
 * retained), with its `bySegment` and `byStatus` indexes. Grant access with its `grant…` methods:
 * each holds the statements of one caller, no wider.
 */
export class UploadsTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'UploadsTable', {
      partitionKey: { name: Layout.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: Layout.bySegmentIndex,
      partitionKey: { name: Layout.bySegmentPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: Layout.bySegmentSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: Layout.byStatusIndex,
      partitionKey: { name: Layout.byStatusPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: Layout.byStatusSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // The records live here: a new logical id would mean a new, empty table.
    keepStackLevelLogicalIds(this.table);
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /**
   * Single-item reads and conditional writes: what the trigger needs to claim an object version
   * (PutItem), lock and release a segment name and record the outcome (UpdateItem), and read a claim
   * or a lock's holder (GetItem). No deletes (a lock is released by an update), no transactions, no
   * scans or queries.
   */
  grantItemWrites(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTable(grantee, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
  }

  /** Reading and updating existing items only: what the callback needs to record Insider's counts once. */
  grantItemUpdates(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTable(grantee, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
  }

  /**
   * Querying the `byStatus` index and updating items: what the timeout sweeper needs to find
   * uploads stuck in a status and close them.
   */
  grantStatusSweep(grantee: iam.IGrantable): iam.Grant {
    const query = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${Layout.byStatusIndex}`],
    });
    return query.combine(this.grantOnTable(grantee, ['dynamodb:UpdateItem']));
  }

  private grantOnTable(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.table.tableArn] });
  }
}
