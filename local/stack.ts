// The local stack: the synthesized template run on embedded S3, DynamoDB, SQS, Secrets Manager, an HTTP API and the FPS simulator.
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from '@20minutes/s3rver';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { decodeS3EventKey } from '../lambdas/core/naming.js';
import { isUploadRecordItem, recordFromItem } from '../lambdas/adapters/dynamodb-uploads-store.js';
import { FINAL_STATUSES, FunctionRole } from '../lambdas/shared/contract.js';
import { type LocalHttpApi, startLocalHttpApi } from './api-gateway.js';
import { type CallRecorder, endpointVariables, startCallRecorder } from './call-recorder.js';
import { createTableFromTemplate, startDynalite } from './dynamodb.js';
import { type FpsSimulator, type FpsSimulatorOptions, startFpsSimulator } from './fps-simulator.js';
import { type SqsEventSource, startSqsEventSource } from './event-source-mapping.js';
import { LocalFunction } from './lambda-runtime.js';
import { PlatformCalls } from './platform-calls.js';
import { matchesEventType, matchesNotificationFilter, type S3rverEvent, toS3Notification } from './s3-events.js';
import { emulateVersioning, versionedBucketIds } from './s3-versions.js';
import { type LocalSecretsManager, startLocalSecretsManager } from './secrets-manager.js';
import { scheduledEvent } from './schedule.js';
import { type PublishedMessage, startLocalSns } from './sns.js';
import { type LocalSqs, startLocalSqs } from './sqs.js';
import { type LocalSts, startLocalSts } from './sts.js';
import { derivedValue, type FunctionSpec, type Json, type QueueSpec, resolveValue, type SynthesizedStack, synthesize, UnsupportedTemplateError } from './template.js';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
/** s3rver's built-in credentials: presigned URLs are verified against them. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

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

/** A message in a dead-letter queue: an S3 event the trigger gave up on. */
export interface FailedEvent {
  messageId: string;
  /** The message body parsed: the S3 event notification as S3 sent it (keys URL-encoded). */
  event: unknown;
  /** The object key of its first record, decoded; undefined when the body is not an S3 event. */
  key: string | undefined;
  /** Receives across the queue and the dead-letter queue. */
  receiveCount: number;
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
  waitForFinal(keys: string[], options?: { timeoutMs?: number; pollMs?: number; acceptSubmitted?: boolean }): Promise<UploadRecord[]>;
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

    const db = await startDynalite(ports.dynamodb);
    cleanups.push(() => db.stop());
    const tableNames = new Map<string, string>();
    for (const table of synth.tables) {
      const name = `${table.logicalId}-local`;
      await createTableFromTemplate(db.endpoint, name, table.properties);
      tableNames.set(table.logicalId, name);
    }

    // Bucket names follow the logical id, lower-cased, as S3 requires.
    const bucketNames = new Map(synth.buckets.map((id) => [id, `${id.toLowerCase().replace(/[^a-z0-9-]/g, '')}-local`]));
    const s3Dir = mkdtempSync(join(tmpdir(), 'fps-s3-'));
    cleanups.push(() => rmSync(s3Dir, { recursive: true, force: true }));
    const s3rver = new S3rver({
      port: ports.s3 ?? 0,
      address: '127.0.0.1',
      silent: true,
      directory: s3Dir,
      configureBuckets: [...bucketNames.values()].map((name) => ({ name })),
    });
    const versions = emulateVersioning(s3rver, versionedBucketIds(synth.template).map((id) => bucketNames.get(id) ?? id));
    const s3Address = (await s3rver.run()) as { port: number };
    cleanups.push(() => {
      const closing = s3rver.close();
      // Keep-alive sockets (the simulator's downloads) would hold close() open.
      s3rver.httpServer?.closeAllConnections();
      return closing;
    });
    const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;

    const secretArns = new Map(synth.secrets.map((id) => [id, `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${id}-local`]));
    const secrets = await startLocalSecretsManager({
      secrets: Object.fromEntries([...secretArns].map(([id, arn]) => [arn, { name: id, value: token }])),
      port: ports.secretsManager,
    });
    cleanups.push(() => secrets.stop());

    const idsOfType = (type: string) => Object.entries(synth.template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
    const topicArns = new Map(idsOfType('AWS::SNS::Topic').map((id) => [id, `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}`]));
    const sns = await startLocalSns({ topics: [...topicArns.values()], onPublish: options.onNotification, port: ports.sns });
    cleanups.push(() => sns.stop());
    const roleArns = new Map(idsOfType('AWS::IAM::Role').map((id) => [id, `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}`]));
    const sts = await startLocalSts({ roles: [...roleArns.values()], credentials: LOCAL_CREDENTIALS, port: ports.sts });
    cleanups.push(() => sts.stop());

    const timeScale = options.timeScale ?? DEFAULT_TIME_SCALE;
    const sqs = await startLocalSqs({ timeScale, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT, port: ports.sqs });
    cleanups.push(() => sqs.stop());
    const queueSpecs = new Map(synth.queues.map((q) => [q.logicalId, q]));
    createQueues(sqs, synth.queues);

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

    const lookup = (logicalId: string, attribute?: string): string => {
      if (tableNames.has(logicalId) && !attribute) return tableNames.get(logicalId) as string;
      if (bucketNames.has(logicalId) && !attribute) return bucketNames.get(logicalId) as string;
      if (secretArns.has(logicalId) && !attribute) return secretArns.get(logicalId) as string;
      if (topicArns.has(logicalId) && !attribute) return topicArns.get(logicalId) as string;
      if (roleArns.has(logicalId) && attribute === 'Arn') return roleArns.get(logicalId) as string;
      if (synth.apis.includes(logicalId) && attribute === 'ApiEndpoint') return api.url;
      if (queueSpecs.has(logicalId) && (!attribute || attribute === 'QueueUrl')) return sqs.queueUrl(logicalId);
      if (queueSpecs.has(logicalId) && attribute === 'Arn') return sqs.queueArn(logicalId);
      if (queueSpecs.has(logicalId) && attribute === 'QueueName') return logicalId;
      const type = synth.template.Resources[logicalId]?.Type;
      const name = tableNames.get(logicalId) ?? bucketNames.get(logicalId) ?? logicalId;
      const derived = type === undefined ? undefined : derivedValue(type, name, attribute, { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
      if (derived !== undefined) return derived;
      throw new UnsupportedTemplateError(`The local stack has no value for ${logicalId}${attribute ? `.${attribute}` : ''}`);
    };

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

    const platformEnv = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3Endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_STS: sts.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      // s3rver rejects the SDK's default streaming checksums (see toolchain notes).
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_DEV: 'false',
    };
    const makeFunction = (spec: FunctionSpec) => {
      const environment: Record<string, string> = { ...platformEnv, ...recordingEndpoints.get(spec.logicalId) };
      // The SDK sends a queue's calls to its URL's host: queue URLs name the function's own SQS endpoint, as in AWS.
      const sqsEndpoint = environment.AWS_ENDPOINT_URL_SQS as string;
      const ownLookup = (logicalId: string, attribute?: string) => lookup(logicalId, attribute).replace(`${sqs.endpoint}/`, `${sqsEndpoint}/`);
      for (const [name, value] of Object.entries(spec.environment)) {
        environment[name] = resolveValue(value, { lookup: ownLookup, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
      }
      return new LocalFunction({
        name: spec.role,
        assetDir: spec.assetDir,
        handler: spec.handler,
        environment,
        timeoutSeconds: spec.timeoutSeconds,
        memoryMb: spec.memoryMb,
        maxConcurrency: environmentsFor(spec),
        logSink: options.logSink,
        onPlatformEvent: recording
          ? ({ kind, logStreamName }) =>
              kind === 'environmentStarted'
                ? platform.environmentStarted(spec.logicalId, logStreamName, spec.role)
                : platform.invoked(spec.logicalId, logStreamName, spec.role)
          : undefined,
      });
    };
    /** A mapping's maximum concurrency, or for the trigger's the caller's override (benchmarks sweep it). */
    const mappingConcurrency = (functionLogicalId: string, configured: number | undefined) =>
      functionLogicalId === synth.functions.find((f) => f.role === FunctionRole.trigger)?.logicalId && options.triggerMaxConcurrency
        ? options.triggerMaxConcurrency
        : configured;
    // As many environments as the function's mappings may invoke at once (a reservation caps them);
    // other functions share the account's pool, and locally a few environments are plenty for them.
    const environmentsFor = (spec: FunctionSpec) => {
      const mappings = synth.eventSourceMappings.filter((m) => m.functionLogicalId === spec.logicalId);
      const wanted = mappings.length > 0 ? mappings.reduce((sum, m) => sum + (mappingConcurrency(m.functionLogicalId, m.maximumConcurrency) ?? 5), 0) : 4;
      return Math.min(wanted, spec.reservedConcurrency ?? Number.POSITIVE_INFINITY);
    };
    for (const spec of synth.functions) {
      const fn = makeFunction(spec);
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
    for (const mapping of synth.eventSourceMappings) {
      const spec = synth.functions.find((f) => f.logicalId === mapping.functionLogicalId);
      if (!spec) throw new UnsupportedTemplateError(`Event source mapping ${mapping.logicalId} invokes ${mapping.functionLogicalId}, which is not a pipeline function`);
      const fn = requireFunction(mapping.functionLogicalId);
      const queueVisibility = Number(queueSpecs.get(mapping.queueLogicalId)?.attributes.VisibilityTimeout ?? 30);
      eventSources.push(
        await startSqsEventSource({
          // The function's own SQS endpoint: with recordCalls, its role's recording proxy.
          endpoint: fn.environment.AWS_ENDPOINT_URL_SQS ?? sqs.endpoint,
          queueUrl: sqs.queueUrl(mapping.queueLogicalId),
          credentials: { accessKeyId: fn.environment.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: fn.environment.AWS_SECRET_ACCESS_KEY ?? '' },
          region: LOCAL_REGION,
          batchSize: mapping.batchSize,
          maximumConcurrency: mappingConcurrency(mapping.functionLogicalId, mapping.maximumConcurrency),
          reportBatchItemFailures: mapping.reportBatchItemFailures,
          functionTimeoutSeconds: spec.timeoutSeconds,
          receiveVisibilityTimeoutSeconds: timeScale < 1 ? Math.min(43_200, Math.max(queueVisibility, Math.ceil(spec.timeoutSeconds / timeScale))) : undefined,
          invoke: (event) => fn.invoke(event),
          onError: (error) => options.logSink?.(`[local] ${spec.role} poller: ${String(error)}`, spec.role),
        }),
      );
    }
    const sourceQueues = [...new Set(synth.eventSourceMappings.map((m) => m.queueLogicalId))];
    const deadLetterQueues = [...new Set(synth.queues.flatMap((q) => (q.redrive ? [q.redrive.deadLetterQueueLogicalId] : [])))];

    const deliveredEvents: { key: string; duplicate: boolean }[] = [];
    let duplicateRate = options.duplicateEventRate ?? 0;
    const eventTimes = new Map<string, Date>();
    s3rver.on('event', (raw: S3rverEvent) => {
      const record = raw.Records[0];
      if (!record) return;
      const eventTime = eventTimes.get(record.s3.object.key);
      if (eventTime && record.eventName.startsWith('ObjectCreated:')) {
        record.eventTime = eventTime.toISOString();
        eventTimes.delete(record.s3.object.key);
      }
      const bucketId = [...bucketNames].find(([, name]) => name === record.s3.bucket.name)?.[0];
      for (const n of synth.notifications) {
        if (n.bucketLogicalId !== bucketId) continue;
        if (!matchesEventType(record.eventName, n.events) || !matchesNotificationFilter(record.s3.object.key, n.filterRules)) continue;
        // What S3 sends: the event notification as the message body (its queue policy lets it).
        const body = JSON.stringify(toS3Notification(raw, { versionId: versions.current(record.s3.bucket.name, record.s3.object.key) }));
        sqs.sendMessage(n.queueLogicalId, body);
        if (recording) platform.eventSent(n.bucketLogicalId, n.queueLogicalId);
        deliveredEvents.push({ key: record.s3.object.key, duplicate: false });
        if (duplicateRate > 0 && Math.random() < duplicateRate) {
          // The same event again, same sequencer: what S3's at-least-once delivery looks like.
          sqs.sendMessage(n.queueLogicalId, body);
          if (recording) platform.eventSent(n.bucketLogicalId, n.queueLogicalId);
          deliveredEvents.push({ key: record.s3.object.key, duplicate: true });
        }
      }
    });

    const tableName = tableNames.values().next().value as string;
    const bucket = bucketNames.get(synth.notifications[0]?.bucketLogicalId ?? '') ?? '';
    const triggerLogicalId = synth.functions.find((f) => f.role === FunctionRole.trigger)?.logicalId;
    const triggerMapping = synth.eventSourceMappings.find((m) => m.functionLogicalId === triggerLogicalId);
    const triggerQueue = triggerMapping ? queueSpecs.get(triggerMapping.queueLogicalId) : undefined;
    if (!triggerQueue?.redrive) throw new UnsupportedTemplateError('The trigger reads no queue with a dead-letter queue');

    const queueRef = (name: string): QueueRef => ({ name, url: sqs.queueUrl(name), arn: sqs.queueArn(name) });
    const failures = (): FailedEvent[] =>
      deadLetterQueues.flatMap((name) =>
        sqs.snapshot(name).messages.map((m) => {
          const event = parseJson(m.body);
          const rawKey = (event as { Records?: { s3?: { object?: { key?: unknown } } }[] } | undefined)?.Records?.[0]?.s3?.object?.key;
          return { messageId: m.messageId, event, key: typeof rawKey === 'string' ? decodeS3EventKey(rawKey) : undefined, receiveCount: m.receiveCount };
        }),
      );
    const drainEvents = async () => {
      while (!(sourceQueues.every((name) => sqs.snapshot(name).messages.length === 0) && eventSources.every((source) => source.inFlight() === 0))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const s3 = new S3Client({ ...clientConfig, endpoint: s3Endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: db.endpoint });
    cleanups.push(() => {
      s3.destroy();
      dynamodb.destroy();
    });

    const records = async (): Promise<UploadRecord[]> => {
      const items: UploadRecord[] = [];
      let start: Record<string, never> | undefined;
      do {
        const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
        for (const item of page.Items ?? []) if (isUploadRecordItem(item)) items.push(recordFromItem(item));
        start = page.LastEvaluatedKey as Record<string, never> | undefined;
      } while (start);
      return items;
    };

    const stack: LocalStack = {
      synth,
      bucket,
      tableName,
      token,
      partnerName,
      s3,
      dynamodb,
      endpoints: { s3: s3Endpoint, dynamodb: db.endpoint, secretsManager: secrets.endpoint, sns: sns.endpoint, sts: sts.endpoint, sqs: sqs.endpoint },
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
      failures,
      deliveredEvents,
      async put(key, body, metadata, putOptions) {
        if (putOptions?.eventTime) eventTimes.set(key, putOptions.eventTime);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
      },
      records,
      async waitForFinal(keys, waitOptions = {}) {
        const deadline = Date.now() + (waitOptions.timeoutMs ?? 30_000);
        const done = waitOptions.acceptSubmitted ? [...FINAL_STATUSES, 'submitted'] : FINAL_STATUSES;
        for (;;) {
          const all = await records();
          const mine = all.filter((r) => keys.includes(r.key));
          const covered = new Set(mine.map((r) => r.key));
          if (keys.every((k) => covered.has(k)) && mine.every((r) => done.includes(r.status))) return mine;
          if (Date.now() > deadline) {
            const pending = keys.filter((k) => !covered.has(k));
            const open = mine.filter((r) => !done.includes(r.status)).map((r) => `${r.key}: ${r.status}`);
            throw new Error(`Timed out waiting for final records. Missing: ${JSON.stringify(pending)}; not final: ${JSON.stringify(open)}`);
          }
          await new Promise((resolve) => setTimeout(resolve, waitOptions.pollMs ?? 100));
        }
      },
      drainEvents,
      async idle() {
        for (let round = 0; round < 3; round++) {
          await drainEvents();
          await Promise.all(Object.values(functions).map((fn) => fn.drain()));
          await simulator.idle();
        }
      },
      setDuplicateEventRate(rate) {
        duplicateRate = rate;
      },
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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Creates the template's queues, each dead-letter queue before the queues whose redrive policy names it. */
function createQueues(sqs: LocalSqs, queues: readonly QueueSpec[]): void {
  const created = new Set<string>();
  let pending = [...queues];
  while (pending.length > 0) {
    const ready = pending.filter((q) => !q.redrive || created.has(q.redrive.deadLetterQueueLogicalId));
    if (ready.length === 0) throw new UnsupportedTemplateError(`Queues whose dead-letter queue is not in the template: ${pending.map((q) => q.logicalId).join(', ')}`);
    for (const q of ready) {
      const attributes = { ...q.attributes };
      if (q.redrive) {
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: sqs.queueArn(q.redrive.deadLetterQueueLogicalId), maxReceiveCount: q.redrive.maxReceiveCount });
      }
      sqs.createQueue(q.logicalId, attributes);
      created.add(q.logicalId);
    }
    pending = pending.filter((q) => !created.has(q.logicalId));
  }
}
