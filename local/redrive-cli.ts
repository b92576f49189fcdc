// `npm run redrive`: the command line around `redrive()`, with SDK clients configured by the standard AWS environment.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createInterface } from 'node:readline/promises';
import { ExitCode, redrive } from './redrive.js';
import { describeError } from './redrive-core.js';
import { parseRedriveArgs, REDRIVE_USAGE, UsageError } from './redrive-args.js';

async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseRedriveArgs>;
  try {
    options = parseRedriveArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${REDRIVE_USAGE}`);
    return ExitCode.usage;
  }
  if (!options) {
    console.log(REDRIVE_USAGE);
    return ExitCode.ok;
  }
  // Region, credentials and endpoints (AWS_ENDPOINT_URL_*) come from the environment, as for the AWS CLI.
  const clients = {
    dynamodb: new DynamoDBClient({}),
    s3: new S3Client({}),
    sqs: new SQSClient({}),
    cloudformation: options.names.stack === undefined ? undefined : new CloudFormationClient({}),
  };
  try {
    const result = await redrive(options, clients, {
      info: (line) => console.log(line),
      warn: (line) => console.error(line),
      confirm: process.stdin.isTTY ? askYesNo : undefined,
    });
    return result.exitCode;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return ExitCode.usage;
    }
    console.error(`redrive stopped: ${describeError(error)}`);
    return ExitCode.notAllRedriven;
  } finally {
    for (const client of Object.values(clients)) client?.destroy();
  }
}

process.exitCode = await main();
