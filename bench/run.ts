// `npm run bench`: burst, pre-flight, cold start and callback figures (the local stack, and the scanner in fresh processes); prints a table and writes JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { FunctionRole, TriggerEnv } from '../lambdas/shared/contract.js';
import { readTriggerConfig, triggerSettingsFrom } from '../lambdas/trigger/settings.js';
import { REPO_ROOT } from '../infra/node-function.js';
import { DEFAULT_TIME_SCALE, startLocalStack } from '../local/stack.js';
import { triggerConcurrency as triggerConcurrencyOf } from '../local/stack-functions.js';
import { runBurst } from './burst.js';
import { type BurstModelResult, runBurstModel, summarizeModelRuns } from './burst-model.js';
import { runCallbacks } from './callbacks.js';
import { runColdStart } from './cold-start.js';
import { DEFAULT_PREFLIGHT_BENCH_OPTIONS, type ListKind, runPreflightBench } from './preflight.js';
import { type BenchResult, renderTable, targetsMet, triggerFit } from './report.js';
import { measureRuntimeOverhead } from './runtime-overhead.js';
import { machineInfo, ReportCollector, round } from './support.js';

// The SDK's Node 20 notice would be printed by every environment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SECTIONS = ['cold', 'preflight', 'model', 'burst', 'callbacks'] as const;
const LISTS: readonly ListKind[] = ['email', 'phone', 'export'];
type Section = (typeof SECTIONS)[number];

const USAGE = `Usage: npm run bench -- [options]
  --files <n>                 files in the burst (default 1000)
  --rate-limit <n>            the FPS simulator's requests per second per token (default 100)
  --latency-ms <n>            the FPS simulator's answer latency (default 20)
  --concurrency <n>           the trigger's maximum concurrency (default: the template's event source mapping)
  --aws-call-ms <n>           latency of each AWS call in the in-process burst model (default 10)
  --throttle-retries <n>      the model's in-invocation retries for 429 / 403 Request Limit Exceeded (default: the deployed policy)
  --throttle-base-ms <n>      the model's throttling backoff base (default: the deployed policy)
  --throttle-cap-ms <n>       the model's throttling backoff cap (default: the deployed policy)
  --model-runs <n>            burst model runs, reported as a median and range (default 1)
  --ramp                      the model starts Lambda's SQS pollers as Lambda does (5, then +300 a minute)
                              rather than all at once
  --preflight-sizes <list>    file sizes the pre-flight scan is measured at, in bytes, smallest first
                              (default ${DEFAULT_PREFLIGHT_BENCH_OPTIONS.sizes.join(',')}: 1 KB, 5 MB and 50 MB)
  --preflight-runs <n>        fresh processes per pre-flight case; medians are reported (default ${DEFAULT_PREFLIGHT_BENCH_OPTIONS.runs})
  --preflight-lists <list>    some of ${LISTS.join(',')} (default all)
  --cold-runs <n>             cold starts per bundle (default 11)
  --callbacks <n>             callbacks posted under load (default 1000)
  --callback-concurrency <n>  callbacks in flight (default 16)
  --sections <list>           some of ${SECTIONS.join(',')} (default all):
      cold       each bundle's cold start against a bare Node start, and trigger variants
      preflight  the trigger's pre-flight scan: MB/s on one core and peak memory by file size, plain
                 and gzip, and the trigger memory size that checks a file at the size limit in 10 s
      model      the burst through the trigger's use case in-process, at the API's rate limit
      burst      the same burst on the local stack (bounded by this machine's CPU)
      callbacks  callbacks per second through the HTTP API shim, with p50/p99 latency
  --out <file>                the JSON result (default bench/results/latest.json)
  --help`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, not "${raw}"`);
  return n;
}

function optionalInt(name: string, raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : positiveInt(name, raw, 1);
}

interface BenchOptions {
  files: number;
  rateLimit: number;
  latencyMs: number;
  concurrency: number | undefined;
  awsCallMs: number;
  throttle: { maxRetries?: number; baseDelayMs?: number; maxDelayMs?: number };
  modelRuns: number;
  ramp: boolean;
  preflightSizes: number[];
  preflightRuns: number;
  preflightLists: ListKind[];
  coldRuns: number;
  callbacks: number;
  callbackConcurrency: number;
  sections: Section[];
  out: string;
}

function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string' },
      'rate-limit': { type: 'string' },
      'latency-ms': { type: 'string' },
      concurrency: { type: 'string' },
      'aws-call-ms': { type: 'string' },
      'throttle-retries': { type: 'string' },
      'throttle-base-ms': { type: 'string' },
      'throttle-cap-ms': { type: 'string' },
      'model-runs': { type: 'string' },
      ramp: { type: 'boolean' },
      'preflight-sizes': { type: 'string' },
      'preflight-runs': { type: 'string' },
      'preflight-lists': { type: 'string' },
      'cold-runs': { type: 'string' },
      callbacks: { type: 'string' },
      'callback-concurrency': { type: 'string' },
      sections: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const sections = (values.sections ?? SECTIONS.join(',')).split(',').map((s) => s.trim());
  const unknown = sections.filter((s) => !SECTIONS.includes(s as Section));
  if (unknown.length) throw new Error(`Unknown section(s) ${unknown.join(', ')}: use some of ${SECTIONS.join(',')}`);
  const latency = values['latency-ms'] === undefined ? 20 : Number(values['latency-ms']);
  const preflightSizes = (values['preflight-sizes']?.split(',') ?? DEFAULT_PREFLIGHT_BENCH_OPTIONS.sizes.map(String)).map((size) => positiveInt('preflight-sizes', size.trim(), 1));
  const preflightLists = (values['preflight-lists']?.split(',') ?? [...LISTS]).map((l) => l.trim());
  const unknownLists = preflightLists.filter((l) => !LISTS.includes(l as ListKind));
  if (unknownLists.length) throw new Error(`Unknown list(s) ${unknownLists.join(', ')}: use some of ${LISTS.join(',')}`);
  if (!Number.isInteger(latency) || latency < 0) throw new Error(`--latency-ms must be a whole number ≥ 0, not "${values['latency-ms']}"`);
  return {
    files: positiveInt('files', values.files, 1000),
    rateLimit: positiveInt('rate-limit', values['rate-limit'], 100),
    latencyMs: latency,
    concurrency: values.concurrency === undefined ? undefined : positiveInt('concurrency', values.concurrency, 1),
    awsCallMs: positiveInt('aws-call-ms', values['aws-call-ms'], 10),
    throttle: {
      maxRetries: optionalInt('throttle-retries', values['throttle-retries']),
      baseDelayMs: optionalInt('throttle-base-ms', values['throttle-base-ms']),
      maxDelayMs: optionalInt('throttle-cap-ms', values['throttle-cap-ms']),
    },
    modelRuns: positiveInt('model-runs', values['model-runs'], 1),
    ramp: values.ramp ?? false,
    preflightSizes,
    preflightRuns: positiveInt('preflight-runs', values['preflight-runs'], DEFAULT_PREFLIGHT_BENCH_OPTIONS.runs),
    preflightLists: preflightLists as ListKind[],
    coldRuns: positiveInt('cold-runs', values['cold-runs'], 11),
    callbacks: positiveInt('callbacks', values.callbacks, 1000),
    callbackConcurrency: positiveInt('callback-concurrency', values['callback-concurrency'], 16),
    sections: SECTIONS.filter((s) => sections.includes(s)),
    out: resolve(values.out ?? resolve(REPO_ROOT, 'bench/results/latest.json')),
  };
}

async function runBench(options: BenchOptions, progress: (line: string) => void = () => {}): Promise<BenchResult> {
  const started = Date.now();
  const machine = machineInfo();
  const reports = new ReportCollector();
  const result: BenchResult = {
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    machine,
    options: { ...options },
    targetsMet: {},
    errors: {},
  };
  progress('Starting the local stack (synthesizing the CDK app and bundling every function)…');
  const stack = await startLocalStack({
    // The functions call the emulators directly, as when the figures were first taken: no recording proxy in the way.
    recordCalls: false,
    logSink: reports.sink,
    triggerMaxConcurrency: options.concurrency,
    simulator: { rateLimitPerSecond: options.rateLimit, latencyMs: options.latencyMs },
  });
  const section = async <T>(name: Section, label: string, work: () => Promise<T>): Promise<T | undefined> => {
    if (!options.sections.includes(name)) return undefined;
    progress(label);
    try {
      return await work();
    } catch (error) {
      result.errors[name] = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  };
  try {
    const triggerEnv = stack.functions.trigger.environment;
    // The trigger's own reading of its environment, so the model runs with exactly the deployed settings.
    const triggerSettings = triggerSettingsFrom(readTriggerConfig(triggerEnv));
    const { maxFileBytes } = triggerSettings;
    const triggerSpec = stack.synth.functions.find((f) => f.role === FunctionRole.trigger);
    const triggerConcurrency = triggerConcurrencyOf(stack.synth, options.concurrency);
    const throttle = Object.fromEntries(Object.entries(options.throttle).filter(([, v]) => v !== undefined));
    const modelSettings = { ...triggerSettings, retryPolicy: { ...triggerSettings.retryPolicy, throttle: { ...triggerSettings.retryPolicy.throttle, ...throttle } } };
    result.options = { ...options, triggerConcurrency };

    // Cold starts first, while nothing else has run in this process.
    result.coldStart = await section('cold', `Cold starts: ${options.coldRuns} runs per bundle…`, () => runColdStart(stack, { runs: options.coldRuns }));
    result.preflight = await section('preflight', `Pre-flight scan: ${options.preflightLists.join(', ')} lists of ${options.preflightSizes.join(', ')} bytes, plain and gzip, ${options.preflightRuns} fresh process(es) each…`, async () => {
      const bench = await runPreflightBench(
        {
          sizes: options.preflightSizes,
          runs: options.preflightRuns,
          lists: options.preflightLists,
          // The parser comparison at the middle size (5 MB by default), as bench/preflight.ts does alone.
          comparisonBytes: options.preflightSizes.length > 2 ? (options.preflightSizes[1] ?? 0) : 0,
          maxFileBytes,
        },
        (line) => progress(`  ${line}`),
      );
      // The trigger's memory as the template sets it: what the scan of a file at the size limit gets.
      return { ...bench, trigger: triggerFit(bench, triggerSpec?.memoryMb ?? 0, maxFileBytes) };
    });
    result.burstModel = await section('model', `Burst model: ${options.modelRuns} × ${options.files} files through the trigger's use case in-process…`, async () => {
      const runs: BurstModelResult[] = [];
      for (let i = 0; i < options.modelRuns; i++) {
        runs.push(
          await runBurstModel({
            files: options.files,
            concurrency: triggerConcurrency,
            rateLimit: options.rateLimit,
            latencyMs: options.latencyMs,
            awsCallMs: options.awsCallMs,
            // An assumed presign role costs an STS call per URL.
            presignCalls: triggerEnv[TriggerEnv.presignRoleArn] ? 1 : 0,
            settings: modelSettings,
            timeoutSeconds: triggerSpec?.timeoutSeconds ?? 60,
            // What the local stack's SQS does to the waits before a redelivery.
            timeScale: DEFAULT_TIME_SCALE,
            ramp: options.ramp,
            timeoutMs: Math.ceil((options.files / options.rateLimit) * 4 * 1000) + 30_000,
          }),
        );
      }
      return summarizeModelRuns(runs, modelSettings.retryPolicy.throttle);
    });
    result.burst = await section('burst', `Burst on the local stack: ${options.files} files…`, async () => {
      const runtimeOverhead = await measureRuntimeOverhead({ concurrency: triggerConcurrency, invocations: Math.min(1000, options.files * 10), timeoutMs: 60_000 });
      // This machine, not the rate limit, bounds the local stack: allow a quarter of a second per file.
      const timeoutMs = Math.max(Math.ceil((options.files / options.rateLimit) * 4 * 1000), options.files * 250) + 60_000;
      const burst = await runBurst(stack, reports, { files: options.files, putConcurrency: 32, timeoutMs }, { rateLimit: options.rateLimit, latencyMs: options.latencyMs });
      return { ...burst, runtimeOverhead };
    });
    result.callbacks = await section('callbacks', `Callbacks: ${options.callbacks} with ${options.callbackConcurrency} in flight…`, () =>
      runCallbacks(stack, reports, {
        count: options.callbacks,
        concurrency: options.callbackConcurrency,
        unloadedCount: Math.min(100, options.callbacks),
        timeoutMs: 120_000,
      }),
    );
  } finally {
    await stack.stop();
  }
  result.targetsMet = targetsMet(result);
  result.machine.loadAverageEnd = round(loadavg()[0] ?? 0, 2);
  result.durationSeconds = round((Date.now() - started) / 1000, 1);
  return result;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  const result = await runBench(options, (line) => console.error(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`));
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(renderTable(result));
  console.log(`\nJSON: ${options.out}`);
  return Object.keys(result.errors).length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`npm run bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
