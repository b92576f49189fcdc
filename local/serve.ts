// Serve mode (`npm start -- --serve`): the local stack kept running on fixed ports, with its schedules, a table browser and the status notifications shown.
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { CALLBACK_ROUTE, FunctionRole, SweeperEnv, TriggerEnv } from '../lambdas/shared/contract.js';
import { type Drop, functionLogFiles, ROOT, SERVE_PORT_OFFSETS, type ServedEndpoint, type ServeSettings } from './cli-args.js';
import { scheduledEvent, startScheduleTimer, type ScheduleTimer } from './schedule.js';
import { serveBanner, type ServeInfo } from './serve-guide.js';
import type { PublishedMessage } from './sns.js';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './local-account.js';
import { type LocalStack, startLocalStack } from './stack.js';
import { startTableBrowser, type TableBrowser } from './table-browser.js';
import { arnOf } from './template.js';

const ENDPOINT_LABELS: Record<ServedEndpoint, string> = {
  s3: 'S3',
  dynamodb: 'DynamoDB',
  secretsManager: 'Secrets Manager',
  sns: 'SNS',
  sts: 'STS',
  sqs: 'SQS',
  api: 'callback API',
  fpsSimulator: 'FPS simulator',
  tableBrowser: 'table browser',
};

/** The port of each endpoint for a port base; 0 gives every endpoint a free port. */
export function servePorts(portBase: number): Record<ServedEndpoint, number> {
  return Object.fromEntries(Object.entries(SERVE_PORT_OFFSETS).map(([name, offset]) => [name, portBase === 0 ? 0 : portBase + offset])) as Record<ServedEndpoint, number>;
}

/** A fixed port is taken: said before the slow synth, naming the endpoint and the flag that moves it. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

/** Fails when a fixed port is already taken on 127.0.0.1. */
export async function checkPortsFree(ports: Record<ServedEndpoint, number>): Promise<void> {
  const taken: string[] = [];
  for (const [name, port] of Object.entries(ports) as [ServedEndpoint, number][]) {
    if (port === 0) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) taken.push(`${port} (${ENDPOINT_LABELS[name]})`);
  }
  if (taken.length > 0) {
    throw new PortInUseError(`Port ${taken.join(', ')} is in use on 127.0.0.1: is another \`npm start -- --serve\` running? Choose other ports with --port-base.`);
  }
}

export interface ServeSession {
  readonly stack: LocalStack;
  readonly browser: TableBrowser;
  readonly info: ServeInfo;
  /** The text printed at start: endpoints, names, commands. */
  readonly banner: string;
  stop(): Promise<void>;
}

export interface ServeOptions extends ServeSettings {
  /** Files to drop once the stack is up. */
  drops: readonly Drop[];
  /** Where lines for the person go (stdout). */
  print: (line: string) => void;
}

/** One line for a status notification; the body is the pipeline's own JSON (no CSV values, no secrets). */
export function notificationLine(message: PublishedMessage, at = new Date()): string {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(message.message) as Record<string, unknown>;
  } catch {
    // Not the pipeline's JSON: show the subject alone.
  }
  const counts = body.counts as { valid?: number; invalid?: number; total?: number; matchRate?: number } | undefined;
  const parts = [
    `[status ${at.toISOString().slice(11, 19)}Z] ${String(body.status ?? message.attributes.status ?? '?')}`,
    body.segmentName === undefined ? undefined : JSON.stringify(body.segmentName),
    body.key === undefined ? undefined : `(${String(body.key)})`,
    counts ? `valid ${counts.valid} invalid ${counts.invalid} total ${counts.total}${counts.matchRate === undefined ? '' : ` match ${(counts.matchRate * 100).toFixed(1)}%`}` : undefined,
    body.reason === undefined ? message.subject : `: ${String(body.reason)}`,
  ];
  return parts.filter((p) => p !== undefined).join(' ');
}

/** Starts the stack on the settings' ports, the table browser and the schedules; prints the banner and drops the files. */
export async function startServe(options: ServeOptions): Promise<ServeSession> {
  const ports = servePorts(options.portBase);
  await checkPortsFree(ports);
  const logDir = join(options.outDir, 'logs');
  const logs = functionLogFiles(logDir);
  const notificationsFile = join(options.outDir, 'status-notifications.jsonl');
  const onNotification = (message: PublishedMessage) => {
    const at = new Date();
    options.print(notificationLine(message, at));
    try {
      appendFileSync(notificationsFile, `${JSON.stringify({ at: at.toISOString(), ...message })}\n`);
    } catch (error) {
      options.print(`Could not append to ${notificationsFile}: ${String(error)}`);
    }
  };

  // No call recording: a session may run for days and the recorder keeps every call (the e2e tests check IAM),
  // and presigned URLs then name the fixed S3 port rather than a recording proxy's.
  const stack = await startLocalStack({ logSink: logs.sink, onNotification, ports, timeScale: options.timeScale, context: options.context, recordCalls: false });
  const timers: ScheduleTimer[] = [];
  let browser: TableBrowser | undefined;
  const stop = async () => {
    for (const timer of timers) timer.stop();
    await browser?.stop();
    await stack.stop();
    await logs.close();
  };
  try {
    browser = await startTableBrowser({ dynamodbEndpoint: stack.endpoints.dynamodb, region: LOCAL_REGION, port: ports.tableBrowser });

    const schedules = stack.synth.schedules.map((schedule) => {
      const spec = stack.synth.functions.find((f) => f.logicalId === schedule.functionLogicalId);
      if (!spec) throw new Error(`Schedule ${schedule.logicalId} targets ${schedule.functionLogicalId}, which is not a pipeline function`);
      const fn = stack.functions[spec.role];
      const intervalMs = options.sweepEverySeconds !== undefined && spec.role === FunctionRole.sweeper ? options.sweepEverySeconds * 1000 : schedule.intervalMs;
      const ruleArn = arnOf('AWS::Events::Rule', schedule.logicalId, { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
      timers.push(
        startScheduleTimer({
          intervalMs,
          run: (scheduledAt) => {
            // The event carries the scheduled time, and the sweeper judges staleness at it, as in the cloud.
            fn.invoke(scheduledEvent(scheduledAt, { ruleArn, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT })).then(
              (result) => options.print(`[schedule ${scheduledAt.toISOString().slice(11, 19)}Z] ${spec.role}: ${summarise(result)}`),
              (error: unknown) => options.print(`[schedule ${scheduledAt.toISOString().slice(11, 19)}Z] ${spec.role} failed: ${String(error)} (see ${relativeOrAbsolute(logDir)}/${spec.role}.log)`),
            );
          },
        }),
      );
      return { name: schedule.logicalId, expression: schedule.expression, everySeconds: intervalMs / 1000, overridden: intervalMs !== schedule.intervalMs };
    });

    const trigger = stack.functions.trigger.environment;
    const tokenSecretArn = trigger[TriggerEnv.tokenSecretId] ?? '';
    const info: ServeInfo = {
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoints: { ...stack.endpoints, api: stack.api.url, fpsSimulator: stack.simulator.url, tableBrowser: browser.url },
      bucket: stack.bucket,
      preparedBucket: trigger[TriggerEnv.preparedBucketName] ?? '',
      tableName: stack.tableName,
      tableBrowserUrl: browser.tableUrl(stack.tableName),
      tokenSecretName: stack.secrets.list().find((s) => s.arn === tokenSecretArn || s.name === tokenSecretArn)?.name ?? tokenSecretArn,
      token: stack.token,
      partnerName: stack.partnerName,
      tokenCacheSeconds: Number(trigger[TriggerEnv.tokenCacheSeconds]),
      eventsQueueUrl: stack.eventsQueue.url,
      failureQueueUrl: stack.failureQueue.url,
      statusTopicArn: stack.functions.sweeper.environment[SweeperEnv.statusTopicArn] ?? '',
      callbackRoute: CALLBACK_ROUTE,
      schedules,
      timeScale: options.timeScale,
      notificationsFile: relativeOrAbsolute(notificationsFile),
      logDir: `${relativeOrAbsolute(logDir)}/`,
      cwd: ROOT,
    };
    const banner = serveBanner(info);
    options.print(banner);
    for (const drop of options.drops) {
      await stack.put(drop.key, readFileSync(drop.path), drop.metadata);
      options.print(`Dropped s3://${stack.bucket}/${drop.key}`);
    }
    return { stack, browser, info, banner, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function relativeOrAbsolute(path: string): string {
  const rel = relative(ROOT, path);
  return rel.startsWith('..') ? path : rel;
}

/** The sweeper's result, `{ timedOut: [...], failed: [...] }`, in a few words; anything else as JSON. */
function summarise(result: unknown): string {
  const r = result as { timedOut?: unknown[]; failed?: unknown[] } | undefined;
  if (Array.isArray(r?.timedOut) && Array.isArray(r?.failed)) return `${r.timedOut.length} timed out, ${r.failed.length} failed`;
  return JSON.stringify(result) ?? 'done';
}
