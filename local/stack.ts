// The local stack: the synthesized template run on embedded S3, DynamoDB, SQS, Secrets Manager, an HTTP API and the FPS simulator; this file assembles the parts (stack-*.ts) and says what a caller gets.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { FunctionRole } from '../lambdas/shared/contract.js';
import { type LocalHttpApi, startLocalHttpApi } from './api-gateway.js';
import { type CallRecorder, endpointVariables, startCallRecorder } from './call-recorder.js';
import { createTableFromTemplate, startDynalite } from './dynamodb.js';
import { type FpsSimulator, type FpsSimulatorOptions, startFpsSimulator } from './fps-simulator.js';
import type { SqsEventSource } from './event-source-mapping.js';
import type { LocalFunction } from './lambda-runtime.js';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION, S3RVER_CLIENT_SETTINGS } from './local-account.js';
import { PlatformCalls } from './platform-calls.js';
import { type LocalSecretsManager, startLocalSecretsManager } from './secrets-manager.js';
import { scheduledEvent } from './schedule.js';
import { type PublishedMessage, startLocalSns } from './sns.js';
import { type LocalSqs, startLocalSqs } from './sqs.js';
import { localNames, resourceLookup } from './stack-names.js';
import { createStackFunctions, mappingConcurrency, platformEnvironment } from './stack-functions.js';
import { createQueues, type FailedEvent, failedEvents, startEventSources } from './stack-queues.js';
import { scanRecords, type WaitForFinalOptions, waitForFinalRecords } from './stack-records.js';
import { deliverS3Events, startLocalS3 } from './stack-s3.js';
import { type LocalSts, startLocalSts } from './sts.js';
import { synthesize } from './synthesize.js';
import { type Json, resolveValue, type SynthesizedStack, UnsupportedTemplateError } from './template.js';

export interface LocalStackOptions {
  /** @default 'localbrand' */
  partnerName?: string;
  /** The FPS token stored in the local secret. @default a random one */
  token?: string;
  /** Extra CDK context (e.g. maxFileBytes), validated by the app like any other. */
  context?: Record<string, unknown>;
  /** FPS simulator settings beyond the account. */
  simulator?: Omit<FpsSimulatorOptions, 'accounts'>;
  /**
   * Multiplies SQS's visibility timeouts and delays (LocalSqs's timeScale): the waits the trigger
   * asks for before a retry, and a queue's own visibility timeout after a crash. 0.01 makes the
   * trigger's 60 s backoff last 0.6 s, so retries, the failure queue and redrives take moments; 1 is
   * real time, for a person watching a message come back. Function timeouts are never scaled: the
   * pollers keep a message hidden for at least its function's timeout in real time.
   * @default DEFAULT_TIME_SCALE
   */
  timeScale?: number;
  /** Probability that S3 delivers an event twice (it delivers at least once). @default 0 */
  duplicateEventRate?: number;
  /** Every line the functions log. @default kept in memory only */
  logSink?: (line: string, fn: string) => void;
  /** Overrides the trigger's event source mapping's maximum concurrency (for benchmarks that sweep it). */
  triggerMaxConcurrency?: number;
  /** Fixed ports for the endpoints (serve mode); any left out gets a free port. @default all free ports */
  ports?: Partial<LocalPorts>;
  /** Called with each message published to the template's topics, as it is published. */
  onNotification?: (message: PublishedMessage) => void;
  /**
   * Record every AWS call the functions make, and the calls AWS makes for them (`LocalStack.recorder`),
   * through a recording proxy per function. Off: the functions call the emulators directly.
   * @default true
   */
  recordCalls?: boolean;
}

/** The local endpoints, each on its own loopback port. */
export interface LocalPorts {
  s3: number;
  dynamodb: number;
  secretsManager: number;
  sns: number;
  sts: number;
  sqs: number;
  /** The HTTP API (Insider's callbacks). */
  api: number;
  fpsSimulator: number;
}

/** The AWS endpoints, as `http://127.0.0.1:PORT`. */
export interface LocalEndpoints {
  s3: string;
  dynamodb: string;
  secretsManager: string;
  sns: string;
  sts: string;
  sqs: string;
}

/** SQS time runs 100 times faster locally unless a caller asks otherwise (see LocalStackOptions.timeScale). */
export const DEFAULT_TIME_SCALE = 0.01;

/** A local queue: its name (the template's logical id), URL and ARN. */
export interface QueueRef {
  name: string;
  url: string;
  arn: string;
}

export interface LocalStack {
  readonly synth: SynthesizedStack;
  readonly bucket: string;
  readonly tableName: string;
  readonly token: string;
  readonly partnerName: string;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** Where each emulated AWS service listens (the functions get them as AWS_ENDPOINT_URL_*). */
  readonly endpoints: LocalEndpoints;
  readonly simulator: FpsSimulator;
  readonly api: LocalHttpApi;
  readonly secrets: LocalSecretsManager;
  /** Every message published to the template's SNS topics (final statuses), in order. */
  readonly notifications: PublishedMessage[];
  /** The sessions the trigger assumed to sign file URLs. */
  readonly sts: LocalSts;
  /** The pipeline's functions, by their role in the template. */
  readonly functions: Readonly<Record<FunctionRole, LocalFunction>>;
  /** The local SQS endpoint with the template's queues (named by logical id); `calls` records every call. */
  readonly sqs: LocalSqs;
  /** The queue the drop bucket notifies and the trigger's mapping reads. */
  readonly eventsQueue: QueueRef;
  /** Its dead-letter queue: the failure queue. */
  readonly failureQueue: QueueRef;
  /** The event source mappings' pollers, one per mapping in the template. */
  readonly eventSources: readonly SqsEventSource[];
  /** The messages in the template's dead-letter queues now, oldest first. */
  failures(): FailedEvent[];
  /** Every S3 event delivered to a queue (duplicates included). */
  readonly deliveredEvents: { key: string; duplicate: boolean }[];
  /**
   * Puts an object in the drop bucket like any S3 client; S3 then notifies the trigger. `eventTime`
   * stands in for the clock in the S3 event (a drop "on another day").
   */
  put(key: string, body: string | Uint8Array, metadata?: Record<string, string>, options?: { eventTime?: Date }): Promise<void>;
  /** All upload records (locks and counters left out). */
  records(): Promise<UploadRecord[]>;
  /** Waits until `count` records for these keys exist and all are final (or `settle` says so). */
  waitForFinal(keys: string[], options?: WaitForFinalOptions): Promise<UploadRecord[]>;
  /** Waits until the mappings' queues are empty (nothing waiting, in flight or due back) and no invocation runs. */
  drainEvents(): Promise<void>;
  /** drainEvents, and all functions' queued work and the simulator's callbacks finished. */
  idle(): Promise<void>;
  /** Changes how often S3 delivers an event twice. */
  setDuplicateEventRate(rate: number): void;
  /** Runs the scheduled timeout sweeper once, as if scheduled at `at` (default now). */
  sweep(at?: Date): Promise<unknown>;
  /**
   * Every AWS call made for the stack, each with its principal, IAM action and resource: the functions'
   * own, their pollers', the presigned downloads (by the signing role's session), and the platform's
   * (Lambda's logs, S3's events, invocations). Empty with `recordCalls: false`.
   */
  readonly recorder: Pick<CallRecorder, 'calls' | 'unmapped'>;
  /** A template value (Ref, GetAtt, Join, Sub) as the local stack resolves it, ARNs included. */
  resolve(value: Json): string;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const partnerName = options.partnerName ?? 'localbrand';
  const token = options.token ?? randomBytes(16).toString('hex');
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      if (process.env.LOCAL_STACK_DEBUG) console.error('cleanup', cleanup.toString().slice(0, 80));
      await cleanup();
    }
  };
  try {
    const ports = options.ports ?? {};
    const simulator = await startFpsSimulator({ ...options.simulator, port: ports.fpsSimulator ?? options.simulator?.port, accounts: [{ partnerName, token }] });
    cleanups.push(() => simulator.stop());

    const synth = synthesize({ partnerName, fpsEndpointUrl: simulator.url, ...options.context });
    cleanups.push(() => rmSync(synth.outdir, { recursive: true, force: true }));

    const names = localNames(synth);
    const db = await startDynalite(ports.dynamodb);
    cleanups.push(() => db.stop());
    for (const table of synth.tables) await createTableFromTemplate(db.endpoint, names.tables.get(table.logicalId) as string, table.properties);

    const localS3 = await startLocalS3(synth, names.buckets, ports.s3);
    cleanups.push(() => localS3.stop());
    const s3Endpoint = localS3.endpoint;

    const secrets = await startLocalSecretsManager({
      secrets: Object.fromEntries([...names.secretArns].map(([id, arn]) => [arn, { name: id, value: token }])),
      port: ports.secretsManager,
    });
    cleanups.push(() => secrets.stop());
    const sns = await startLocalSns({ topics: [...names.topicArns.values()], onPublish: options.onNotification, port: ports.sns });
    cleanups.push(() => sns.stop());
    const sts = await startLocalSts({ roles: [...names.roleArns.values()], credentials: LOCAL_CREDENTIALS, port: ports.sts });
    cleanups.push(() => sts.stop());

    const timeScale = options.timeScale ?? DEFAULT_TIME_SCALE;
    const sqs = await startLocalSqs({ timeScale, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT, port: ports.sqs });
    cleanups.push(() => sqs.stop());
    createQueues(sqs, synth.queues);
    const endpoints: LocalEndpoints = { s3: s3Endpoint, dynamodb: db.endpoint, secretsManager: secrets.endpoint, sns: sns.endpoint, sts: sts.endpoint, sqs: sqs.endpoint };

    const functions: Partial<Record<FunctionRole, LocalFunction>> = {};
    const byLogicalId = new Map<string, LocalFunction>();
    const routeTargets = synth.routes.map((route) => ({
      method: route.method,
      path: route.path,
      fn: {
        invoke: (event: unknown) => {
          if (recording) platform.routeInvoked(route.method, route.path, route.functionLogicalId);
          return requireFunction(route.functionLogicalId).invoke(event);
        },
      },
    }));
    const requireFunction = (logicalId: string) => {
      const fn = byLogicalId.get(logicalId);
      if (!fn) throw new UnsupportedTemplateError(`No local function for ${logicalId}`);
      return fn;
    };
    const api = await startLocalHttpApi({ routes: routeTargets, port: ports.api });
    cleanups.push(() => api.stop());

    const lookup = resourceLookup(synth, names, { apiUrl: api.url, queueUrl: (name) => sqs.queueUrl(name), queueArn: (name) => sqs.queueArn(name) });
    const resolve = (value: Json) => resolveValue(value, { lookup, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
    const recorder = startCallRecorder({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      upstreams: { s3: s3Endpoint, dynamodb: db.endpoint, secretsmanager: secrets.endpoint, sns: sns.endpoint, sts: sts.endpoint, sqs: sqs.endpoint },
      sessionOf: (token) => sts.sessions.find((session) => session.sessionToken === token),
      onS3Request: (bucketName, at) => platform.s3Requested(bucketName, at),
    });
    cleanups.push(() => recorder.stop());
    const platform = new PlatformCalls({ template: synth.template, resolve, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT, recorder });
    const recording = options.recordCalls ?? true;
    // Each function's calls go through a proxy that knows its execution role.
    const recordingEndpoints = new Map<string, Record<string, string>>();
    if (recording) {
      platform.notificationsConfigured();
      for (const spec of synth.functions) {
        recordingEndpoints.set(spec.logicalId, endpointVariables(await recorder.proxy(platform.executionRole(spec.logicalId), spec.role)));
      }
    }

    const created = createStackFunctions(synth, {
      platformEnv: platformEnvironment(endpoints, LOCAL_CREDENTIALS),
      ownEndpoints: recordingEndpoints,
      sqsEndpoint: sqs.endpoint,
      lookup,
      triggerMaxConcurrency: options.triggerMaxConcurrency,
      logSink: options.logSink,
      platform: recording ? platform : undefined,
    });
    for (const { spec, fn } of created) {
      functions[spec.role] = fn;
      byLogicalId.set(spec.logicalId, fn);
    }
    cleanups.push(async () => {
      await Promise.all(Object.values(functions).map((fn) => fn.close()));
    });
    const missing = Object.values(FunctionRole).filter((role) => !functions[role]);
    if (missing.length > 0) throw new UnsupportedTemplateError(`The template has no function with the role ${missing.join(', ')}`);
    const pipelineFunctions = functions as Record<FunctionRole, LocalFunction>;

    // Lambda's pollers, calling SQS with the function's own credentials (its execution role).
    const eventSources: SqsEventSource[] = [];
    cleanups.push(async () => {
      await Promise.all(eventSources.map((source) => source.stop()));
    });
    await startEventSources(
      synth,
      sqs,
      {
        functionFor: requireFunction,
        maximumConcurrency: (mapping) => mappingConcurrency(synth, options.triggerMaxConcurrency, mapping.functionLogicalId, mapping.maximumConcurrency),
        timeScale,
        logSink: options.logSink,
      },
      eventSources,
    );
    const sourceQueues = [...new Set(synth.eventSourceMappings.map((m) => m.queueLogicalId))];
    const deadLetterQueues = [...new Set(synth.queues.flatMap((q) => (q.redrive ? [q.redrive.deadLetterQueueLogicalId] : [])))];

    const s3Events = deliverS3Events(localS3, synth.notifications, options.duplicateEventRate ?? 0, (n, body) => {
      sqs.sendMessage(n.queueLogicalId, body);
      if (recording) platform.eventSent(n.bucketLogicalId, n.queueLogicalId);
    });

    const tableName = names.tables.values().next().value as string;
    const bucket = names.buckets.get(synth.notifications[0]?.bucketLogicalId ?? '') ?? '';
    const triggerLogicalId = synth.functions.find((f) => f.role === FunctionRole.trigger)?.logicalId;
    const triggerMapping = synth.eventSourceMappings.find((m) => m.functionLogicalId === triggerLogicalId);
    const triggerQueue = synth.queues.find((q) => q.logicalId === triggerMapping?.queueLogicalId);
    if (!triggerQueue?.redrive) throw new UnsupportedTemplateError('The trigger reads no queue with a dead-letter queue');

    const queueRef = (name: string): QueueRef => ({ name, url: sqs.queueUrl(name), arn: sqs.queueArn(name) });
    const drainEvents = async () => {
      while (!(sourceQueues.every((name) => sqs.snapshot(name).messages.length === 0) && eventSources.every((source) => source.inFlight() === 0))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const s3 = new S3Client({ ...S3RVER_CLIENT_SETTINGS, endpoint: s3Endpoint });
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: db.endpoint });
    cleanups.push(() => {
      s3.destroy();
      dynamodb.destroy();
    });

    const records = () => scanRecords(dynamodb, tableName);

    const stack: LocalStack = {
      synth,
      bucket,
      tableName,
      token,
      partnerName,
      s3,
      dynamodb,
      endpoints,
      simulator,
      api,
      secrets,
      notifications: sns.messages,
      sts,
      functions: pipelineFunctions,
      sqs,
      eventsQueue: queueRef(triggerQueue.logicalId),
      failureQueue: queueRef(triggerQueue.redrive.deadLetterQueueLogicalId),
      eventSources,
      failures: () => failedEvents(sqs, deadLetterQueues),
      deliveredEvents: s3Events.deliveredEvents,
      async put(key, body, metadata, putOptions) {
        if (putOptions?.eventTime) s3Events.setEventTime(key, putOptions.eventTime);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
      },
      records,
      waitForFinal: (keys, waitOptions) => waitForFinalRecords(records, keys, waitOptions),
      drainEvents,
      async idle() {
        for (let round = 0; round < 3; round++) {
          await drainEvents();
          await Promise.all(Object.values(functions).map((fn) => fn.drain()));
          await simulator.idle();
        }
      },
      setDuplicateEventRate: (rate) => s3Events.setDuplicateEventRate(rate),
      async sweep(at = new Date()) {
        if (recording) platform.scheduleInvoked(synth.functions.find((f) => f.role === FunctionRole.sweeper)?.logicalId ?? '');
        return pipelineFunctions.sweeper.invoke(scheduledEvent(at, { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT }));
      },
      recorder,
      resolve,
      stop: stopAll,
    };
    return stack;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
