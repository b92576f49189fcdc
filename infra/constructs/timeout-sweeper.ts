// The timeout sweeper: every 15 minutes, closes uploads that Insider never called back for, or that no invocation will finish.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { FunctionRole, RECEIVED_TIMEOUT_HOURS, SweeperEnv } from '../../lambdas/shared/contract.js';
import { NodeFunction } from '../node-function.js';
import type { Operations } from './operations.js';
import type { UploadsTable } from './uploads-table.js';

export interface TimeoutSweeperProps {
  /** The table it sweeps (Query on `byStatus`, UpdateItem). */
  readonly uploads: UploadsTable;
  /** Where it publishes the final statuses it sets. */
  readonly operations: Operations;
  /** A `submitted` upload with no callback after this many hours becomes `timed_out`. */
  readonly submittedTimeoutHours: number;
}

/** The sweeper function and the schedule that runs it. */
export class TimeoutSweeper extends Construct {
  readonly function: NodeFunction;

  constructor(scope: Construct, id: string, props: TimeoutSweeperProps) {
    super(scope, id);
    this.function = new NodeFunction(this, 'Function', {
      functionRole: FunctionRole.sweeper,
      entry: 'lambdas/sweeper/handler.ts',
      description: 'Marks submitted uploads that Insider never called back for as timed out',
      timeout: Duration.seconds(60),
      environment: {
        [SweeperEnv.tableName]: props.uploads.tableName,
        [SweeperEnv.submittedTimeoutHours]: String(props.submittedTimeoutHours),
        // Past the events queue's retry window (every receive and every wait between them) and a margin.
        [SweeperEnv.receivedTimeoutHours]: String(RECEIVED_TIMEOUT_HOURS),
        [SweeperEnv.statusTopicArn]: props.operations.statusTopic.topicArn,
      },
    });
    props.operations.grantPublishStatus(this.function);
    props.uploads.grantStatusSweep(this.function);
    new events.Rule(this, 'Schedule', {
      description: 'Runs the timeout sweeper',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.function)],
    });
  }
}
