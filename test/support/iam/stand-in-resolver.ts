// A stand-in for CloudFormation's intrinsics, enough for the IAM check's tests: Ref, GetAtt Arn, Join, Sub and pseudo parameters.
import { createHash } from 'node:crypto';
import type { Json } from '../../infra/synth.js';
import type { CfnTemplate, Resolve } from './template-iam.js';

export interface StandInEnvironment {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly stackName: string;
}

export const STAND_IN_ENVIRONMENT: StandInEnvironment = {
  accountId: '123456789012',
  region: 'eu-west-1',
  partition: 'aws',
  stackName: 'FpsPipeline',
};

/** Where a physical name is set, for the types that take one. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Events::Rule': 'Name',
};

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * Resolves intrinsics the way CloudFormation would name things, from the logical ids: e.g. a role's
 * Arn is `arn:aws:iam::123456789012:role/<logical id>`. Throws on anything it does not know.
 */
export function standInResolver(template: CfnTemplate, env: StandInEnvironment = STAND_IN_ENVIRONMENT): Resolve {
  const { accountId: account, region, partition } = env;
  const typeOf = (logicalId: string) => {
    const type = template.Resources[logicalId]?.Type;
    if (!type) throw new Error(`Stand-in resolver: no resource ${logicalId} in the template`);
    return type;
  };
  const nameOf = (logicalId: string) => {
    const type = typeOf(logicalId);
    const property = NAME_PROPERTY[type];
    const given = property ? template.Resources[logicalId]?.Properties?.[property] : undefined;
    if (typeof given === 'string') return given;
    return type === 'AWS::S3::Bucket' ? logicalId.toLowerCase() : logicalId;
  };
  const pseudo: Record<string, string> = {
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::Partition': partition,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': env.stackName,
    'AWS::StackId': `arn:${partition}:cloudformation:${region}:${account}:stack/${env.stackName}/00000000-0000-0000-0000-000000000000`,
  };

  const ref = (logicalId: string): string => {
    const known = pseudo[logicalId];
    if (known !== undefined) return known;
    const type = typeOf(logicalId);
    const name = nameOf(logicalId);
    switch (type) {
      case 'AWS::SNS::Topic':
      case 'AWS::SecretsManager::Secret':
      case 'AWS::IAM::ManagedPolicy':
        return getAtt(logicalId, 'Arn');
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
      case 'AWS::KMS::Key':
        return keyId(logicalId);
      case 'AWS::ApiGatewayV2::Api':
        return shortHash(logicalId, 10);
      default:
        return name;
    }
  };

  const keyId = (logicalId: string) => {
    const h = shortHash(logicalId, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  const getAtt = (logicalId: string, attribute: string): string => {
    const type = typeOf(logicalId);
    const name = nameOf(logicalId);
    if (attribute !== 'Arn') {
      if (type === 'AWS::SNS::Topic' && attribute === 'TopicArn') return getAtt(logicalId, 'Arn');
      if (type === 'AWS::SQS::Queue' && attribute === 'QueueName') return name;
      throw new Error(`Stand-in resolver: no ${attribute} for ${type} ${logicalId}`);
    }
    switch (type) {
      case 'AWS::IAM::Role':
        return `arn:${partition}:iam::${account}:role/${name}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${partition}:iam::${account}:policy/${name}`;
      case 'AWS::S3::Bucket':
        return `arn:${partition}:s3:::${name}`;
      case 'AWS::DynamoDB::Table':
        return `arn:${partition}:dynamodb:${region}:${account}:table/${name}`;
      case 'AWS::SNS::Topic':
        return `arn:${partition}:sns:${region}:${account}:${name}`;
      case 'AWS::SQS::Queue':
        return `arn:${partition}:sqs:${region}:${account}:${name}`;
      case 'AWS::SecretsManager::Secret':
        // Secrets Manager appends six random characters to the name.
        return `arn:${partition}:secretsmanager:${region}:${account}:secret:${name}-${shortHash(logicalId, 6)}`;
      case 'AWS::Logs::LogGroup':
        // CloudFormation's Arn for a log group ends in `:*`, which is why grants on it cover its streams.
        return `arn:${partition}:logs:${region}:${account}:log-group:${name}:*`;
      case 'AWS::Lambda::Function':
        return `arn:${partition}:lambda:${region}:${account}:function:${name}`;
      case 'AWS::KMS::Key':
        return `arn:${partition}:kms:${region}:${account}:key/${keyId(logicalId)}`;
      case 'AWS::Events::Rule':
        return `arn:${partition}:events:${region}:${account}:rule/${name}`;
      default:
        throw new Error(`Stand-in resolver: no Arn for ${type} ${logicalId}`);
    }
  };

  const sub = (text: string, variables: Record<string, Json>): string =>
    text.replace(/\$\{([^}!]+)\}/g, (_, expression: string) => {
      const variable = variables[expression];
      if (variable !== undefined) return asString(variable);
      const [logicalId, attribute] = expression.split('.');
      return attribute ? getAtt(logicalId!, attribute) : ref(expression);
    });

  const asString = (value: Json): string => {
    const resolved = resolve(value);
    if (typeof resolved !== 'string') throw new Error(`Stand-in resolver: ${JSON.stringify(value)} is not a string`);
    return resolved;
  };

  const resolve: Resolve = (value) => {
    if (typeof value === 'string') return value;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`Stand-in resolver: cannot resolve ${JSON.stringify(value)}`);
    if (typeof value.Ref === 'string') return ref(value.Ref);
    const getAttArgs = value['Fn::GetAtt'];
    if (Array.isArray(getAttArgs) && typeof getAttArgs[0] === 'string' && typeof getAttArgs[1] === 'string') return getAtt(getAttArgs[0], getAttArgs[1]);
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map(asString).join(join[0]);
    const subArgs = value['Fn::Sub'];
    if (typeof subArgs === 'string') return sub(subArgs, {});
    if (Array.isArray(subArgs) && typeof subArgs[0] === 'string' && subArgs[1] && typeof subArgs[1] === 'object' && !Array.isArray(subArgs[1])) {
      return sub(subArgs[0], subArgs[1]);
    }
    throw new Error(`Stand-in resolver: cannot resolve ${JSON.stringify(value)}`);
  };
  return resolve;
}
