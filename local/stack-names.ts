// What the template's resources are called on the local stack (tables, buckets, secrets, topics, roles), and the value a Ref or GetAtt of any resource resolves to there.
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-account.js';
import { arnOf, derivedValue, type SynthesizedStack, UnsupportedTemplateError } from './template.js';

/** Physical names and ARNs by logical id, fixed before anything starts. */
export interface LocalNames {
  tables: ReadonlyMap<string, string>;
  /** The logical id, lower-cased, as S3 requires. */
  buckets: ReadonlyMap<string, string>;
  secretArns: ReadonlyMap<string, string>;
  topicArns: ReadonlyMap<string, string>;
  roleArns: ReadonlyMap<string, string>;
}

export function localNames(synth: SynthesizedStack): LocalNames {
  const idsOfType = (type: string) => Object.entries(synth.template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  const env = { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT };
  return {
    tables: new Map(synth.tables.map((table) => [table.logicalId, `${table.logicalId}-local`])),
    buckets: new Map(synth.buckets.map((id) => [id, `${id.toLowerCase().replace(/[^a-z0-9-]/g, '')}-local`])),
    // A secret's ARN ends in a suffix (random in AWS) that derivedValue does not know: made here.
    secretArns: new Map(synth.secrets.map((id) => [id, `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${id}-local`])),
    topicArns: new Map(idsOfType('AWS::SNS::Topic').map((id) => [id, arnOf('AWS::SNS::Topic', id, env)])),
    roleArns: new Map(idsOfType('AWS::IAM::Role').map((id) => [id, arnOf('AWS::IAM::Role', id, env)])),
  };
}

/** What only a running endpoint knows: the HTTP API's URL and the queues' URLs and ARNs. */
export interface LiveValues {
  apiUrl: string;
  queueUrl(name: string): string;
  queueArn(name: string): string;
}

/** A resource's value as the local stack has it: its Ref (no attribute) or an attribute; throws for any it does not know. */
export function resourceLookup(synth: SynthesizedStack, names: LocalNames, live: LiveValues): (logicalId: string, attribute?: string) => string {
  const queueIds = new Set(synth.queues.map((q) => q.logicalId));
  return (logicalId, attribute) => {
    if (names.tables.has(logicalId) && !attribute) return names.tables.get(logicalId) as string;
    if (names.buckets.has(logicalId) && !attribute) return names.buckets.get(logicalId) as string;
    if (names.secretArns.has(logicalId) && !attribute) return names.secretArns.get(logicalId) as string;
    if (names.topicArns.has(logicalId) && !attribute) return names.topicArns.get(logicalId) as string;
    if (names.roleArns.has(logicalId) && attribute === 'Arn') return names.roleArns.get(logicalId) as string;
    if (synth.apis.includes(logicalId) && attribute === 'ApiEndpoint') return live.apiUrl;
    if (queueIds.has(logicalId) && (!attribute || attribute === 'QueueUrl')) return live.queueUrl(logicalId);
    if (queueIds.has(logicalId) && attribute === 'Arn') return live.queueArn(logicalId);
    if (queueIds.has(logicalId) && attribute === 'QueueName') return logicalId;
    const type = synth.template.Resources[logicalId]?.Type;
    const name = names.tables.get(logicalId) ?? names.buckets.get(logicalId) ?? logicalId;
    const derived = type === undefined ? undefined : derivedValue(type, name, attribute, { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
    if (derived !== undefined) return derived;
    throw new UnsupportedTemplateError(`The local stack has no value for ${logicalId}${attribute ? `.${attribute}` : ''}`);
  };
}
