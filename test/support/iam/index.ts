// The IAM check, in one import: read a template's IAM, evaluate calls against it, describe the findings.
export { type AwsCall, type CallPrincipal, type CallVerdict, type EvaluateOptions, evaluateCalls, type IamEvaluation, type UnexercisedGrant } from './evaluate.js';
export { describeDenials, describeUnexercised } from './report.js';
export { STAND_IN_ENVIRONMENT, standInResolver } from './stand-in-resolver.js';
export {
  type CfnTemplate,
  defaultKeyPolicy,
  type EncryptedResource,
  type ExtraResourcePolicy,
  type IamModel,
  type PolicyDocument,
  type ReadIamOptions,
  type Resolve,
  readIam,
  UnsupportedIamTemplateError,
} from './template-iam.js';
export { evaluateRecordedCalls, expectEveryCallAllowed, localResolver, recordedCalls, stopAfterCheckingCalls } from './recorded.js';
