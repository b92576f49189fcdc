// Where Insider posts its callback: an HTTP API with one throttled, access-logged route to the callback function.
import { Duration, Validations } from 'aws-cdk-lib';
import { CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CALLBACK_ROUTE, CallbackEnv, DEFAULT_MIN_MATCH_RATE, FunctionRole } from '../../lambdas/shared/contract.js';
import { NodeFunction } from '../node-function.js';
import { keepStackLevelLogicalIds } from './logical-ids.js';
import type { Operations } from './operations.js';
import type { UploadsTable } from './uploads-table.js';

// Only fields that cannot leak the callback token: the request path carries it.
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationError: '$context.integrationErrorMessage',
});

export interface CallbackEndpointProps {
  /** The table whose records the callback completes (it may only get and update items). */
  readonly uploads: UploadsTable;
  /** Where the callback publishes the final status it records. */
  readonly operations: Operations;
  /**
   * A completed upload below this match rate carries a warning and counts in `LowMatchRate`.
   * @default DEFAULT_MIN_MATCH_RATE (0.5)
   */
  readonly minMatchRate?: number;
}

/** `POST /callbacks/{uploadId}/{token}` on an HTTP API, handled by the callback function. */
export class CallbackEndpoint extends Construct {
  readonly api: HttpApi;
  readonly function: NodeFunction;

  constructor(scope: Construct, id: string, props: CallbackEndpointProps) {
    super(scope, id);
    this.function = new NodeFunction(this, 'Function', {
      functionRole: FunctionRole.callback,
      entry: 'lambdas/callback/handler.ts',
      description: 'Records the counts Insider posts back for an upload',
      timeout: Duration.seconds(10),
      environment: {
        [CallbackEnv.tableName]: props.uploads.tableName,
        [CallbackEnv.statusTopicArn]: props.operations.statusTopic.topicArn,
        [CallbackEnv.minMatchRate]: String(props.minMatchRate ?? DEFAULT_MIN_MATCH_RATE),
      },
    });
    props.operations.grantPublishStatus(this.function);
    props.uploads.grantItemUpdates(this.function);

    this.api = new HttpApi(this, 'CallbackApi', {
      description: 'Receives Insider FPS upload callbacks',
      createDefaultStage: true,
    });
    const [callbackRoute] = this.api.addRoutes({
      path: CALLBACK_ROUTE,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('CallbackIntegration', this.function),
    });
    if (!callbackRoute) throw new Error('CallbackApi has no callback route');
    Validations.of(callbackRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        "Insider's callback carries no credentials and no signature; the unguessable per-upload token in the path is the authorization, checked against its SHA-256 hash by the callback function.",
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    // HttpApi offers no options for the stage it creates itself, so set them on the L1.
    const defaultStage = this.api.defaultStage?.node.defaultChild;
    if (!(defaultStage instanceof CfnStage)) throw new Error('CallbackApi has no default stage to configure');
    // Insider sends one callback per upload; the limit only caps what a leaked URL can cost.
    defaultStage.defaultRouteSettings = { throttlingRateLimit: 50, throttlingBurstLimit: 100 };
    defaultStage.accessLogSettings = { destinationArn: accessLogs.logGroupArn, format: ACCESS_LOG_FORMAT };
    // Callback URLs already sent to Insider name this API; a second `$default` stage or the same
    // route on it would fail the deployment.
    keepStackLevelLogicalIds(this.api);
  }

  /** The API's base URL (the `$default` stage has no path segment); callback URLs start with it. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
