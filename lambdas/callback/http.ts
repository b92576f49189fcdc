// The callback's HTTP answers: every outcome of the use case, and the adapter's own refusals, mapped to a status code in one table.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { CallbackOutcome, CallbackOutcomeKind } from '../core/record-callback.js';

/** What the handler answers: the use case's outcome, or a request it refused before calling it. */
export type CallbackAnswer = CallbackOutcome | { kind: 'methodNotAllowed'; message: string };

const HTTP_STATUS: Readonly<Record<CallbackOutcomeKind | 'methodNotAllowed', number>> = {
  recorded: 200,
  // A replay is answered like the first delivery, so that Insider stops retrying.
  alreadyRecorded: 200,
  invalid: 400,
  forbidden: 403,
  unknownUpload: 404,
  methodNotAllowed: 405,
  conflict: 409,
  changedMeanwhile: 409,
  tooLarge: 413,
};

/** The status code and message Insider (or whoever called) sees. */
export function httpAnswer(answer: CallbackAnswer): { statusCode: number; message: string } {
  return { statusCode: HTTP_STATUS[answer.kind], message: answer.message };
}

export function toHttpResponse(answer: CallbackAnswer): APIGatewayProxyStructuredResultV2 {
  const { statusCode, message } = httpAnswer(answer);
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message }) };
}
