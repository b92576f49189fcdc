// Runs a bundled Lambda function locally the way Lambda does: isolated child-process environments, a concurrency cap, timeouts, async retries.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const CHILD_SCRIPT = fileURLToPath(new URL('./lambda-child.mjs', import.meta.url));

/** Lambda gives init 10 s on its own; past that it retries init inside the invoke, under the function timeout. */
const INIT_TIMEOUT_FLOOR_MS = 10_000;
/** Keeps a chatty function from growing `fn.logs` without bound during long local runs. */
const MAX_COLLECTED_LOG_LINES = 10_000;
const DEFAULT_MEMORY_MB = 128;
/** Lambda's async retry waits (about 1 min, then about 2 min), scaled down to milliseconds for local runs. */
export const DEFAULT_ASYNC_RETRY_DELAYS_MS: readonly number[] = [200, 400];

export interface AsyncInvokeConfig {
  /** Lambda's MaximumRetryAttempts: 0..2. */
  retryAttempts: number;
  /** Lambda's MaximumEventAgeInSeconds: an event older than this is not retried (or run) any more. */
  maxEventAgeSeconds: number;
  /** Waits before each retry; the last value repeats. @default DEFAULT_ASYNC_RETRY_DELAYS_MS */
  retryDelaysMs?: readonly number[];
  /** The on-failure destination. */
  onFailure?: (failure: AsyncFailure) => void | Promise<void>;
}

export interface AsyncFailure {
  event: unknown;
  /** `errorType: errorMessage` of the last attempt. */
  error: string;
  /** How many times the function actually ran for this event. */
  attempts: number;
  /** As in Lambda's destination record: why the event was given up. */
  condition: 'RetriesExhausted' | 'EventAgeExceeded';
}

export interface LocalFunctionOptions {
  name: string;
  /** Directory holding the bundle (CDK's asset dir); becomes LAMBDA_TASK_ROOT and the cwd. */
  assetDir: string;
  /** Lambda handler string, e.g. 'index.handler' → index.mjs (or .js/.cjs), export `handler`. */
  handler: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb?: number;
  /** Reserved concurrency: at most this many environments run at once. ≥ 1. */
  maxConcurrency: number;
  async?: AsyncInvokeConfig;
  /** Receives every line the function writes, plus the platform's START/END/REPORT lines. */
  logSink?: (line: string, fn: string) => void;
  /**
   * Told what Lambda does with the execution role on its own, for a call recorder: an environment
   * starts (Lambda assumes the role and creates the environment's log stream), an invocation runs (its
   * log events are put to that stream).
   */
  onPlatformEvent?: (event: { kind: 'environmentStarted' | 'invoked'; logStreamName: string }) => void;
}

export interface LocalFunctionStats {
  /** Attempts actually handed to an environment (async retries included). */
  invocations: number;
  /** Failed attempts, timeouts and crashes included. */
  errors: number;
  timeouts: number;
  coldStarts: number;
  asyncRetries: number;
  asyncFailures: number;
  maxConcurrentSeen: number;
}

/** A failed invocation, carrying Lambda's errorType as `name`. */
export class LambdaInvocationError extends Error {
  readonly requestId: string | undefined;
  /** The stack as the function saw it, when it threw an Error. */
  readonly functionStack: string | undefined;
  constructor(name: string, message: string, requestId?: string, functionStack?: string) {
    super(message);
    this.name = name;
    this.requestId = requestId;
    this.functionStack = functionStack;
  }
}

interface ErrorPayload {
  name: string;
  message: string;
  stack?: string;
}

type ChildMessage =
  | { type: 'ready'; initMs: number; rssBytes: number; maxRssBytes?: number }
  | { type: 'init-error'; error: ErrorPayload }
  | { type: 'result'; id: number; ok: true; result: unknown; rssBytes: number; maxRssBytes?: number }
  | { type: 'result'; id: number; ok: false; error: ErrorPayload; rssBytes: number; maxRssBytes?: number; fatal?: boolean };

interface Task {
  event: unknown;
  /** Async events expire in the queue too: Lambda drops them once older than the max event age. */
  expiresAt?: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Environment {
  seq: number;
  child: ChildProcess;
  /** Settles when init finished; rejects with the init error. */
  ready: Promise<number>;
  busy: boolean;
  dead: boolean;
  /** Invocations handed to it; the first one pays (and reports) the init. */
  served: number;
  /** The attempt in flight, so a crash can fail it. */
  onDeath?: (err: LambdaInvocationError) => void;
  closed: Promise<void>;
}

interface Sleeper {
  timer: NodeJS.Timeout;
  wake(): void;
}

/** The log stream of the environment numbered `seq`. */
function logStreamName(seq: number): string {
  return `local/[$LATEST]${seq.toString(16).padStart(8, '0')}`;
}

/** Lambda's reserved variables are set last so the function's own environment cannot change them. */
function lambdaEnvironment(
  opts: Pick<LocalFunctionOptions, 'name' | 'assetDir' | 'handler' | 'environment'>,
  memoryMb: number,
  seq: number,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  Object.assign(env, opts.environment);
  Object.assign(env, {
    AWS_LAMBDA_FUNCTION_NAME: opts.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${opts.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(seq),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: opts.assetDir,
    _HANDLER: opts.handler,
    TZ: 'UTC',
  });
  return env;
}

/**
 * Lambda's bootstrap caps the V8 heap below the memory size (unless NODE_OPTIONS already does), so a
 * function that would run out of memory in the cloud also does here. The split is approximate.
 */
function heapArgs(memoryMb: number, environment: Record<string, string>): string[] {
  if (/max[-_]old[-_]space[-_]size/.test(environment.NODE_OPTIONS ?? '')) return [];
  return [`--max-old-space-size=${Math.max(32, Math.floor(memoryMb * 0.8))}`];
}

function spawnChild(
  opts: Pick<LocalFunctionOptions, 'name' | 'assetDir' | 'handler' | 'environment'>,
  memoryMb: number,
  seq: number,
  extraArgs: string[] = [],
): ChildProcess {
  return fork(CHILD_SCRIPT, extraArgs, {
    cwd: opts.assetDir,
    env: lambdaEnvironment(opts, memoryMb, seq),
    // The parent may run under tsx or vitest; none of that may leak into the function's process.
    execArgv: heapArgs(memoryMb, opts.environment),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
}

function toError(payload: ErrorPayload, requestId?: string): LambdaInvocationError {
  return new LambdaInvocationError(payload.name, payload.message, requestId, payload.stack);
}

/**
 * Settles once the child has exited and its pipes are closed, so no message from it is still in flight.
 * Call it right after spawning: it also absorbs 'error' events, which would otherwise crash the parent.
 */
function whenClosed(child: ChildProcess, onError: (err: Error) => void = () => {}): Promise<void> {
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.on('error', (err) => {
      onError(err);
      // A process that never started emits no 'close'.
      if (child.pid === undefined) resolve();
    });
  });
}

/**
 * A deployed function, emulated. Each execution environment is a child process with only Lambda's
 * environment; it imports the bundle once (cold start) and then serves invocations one at a time (warm).
 *
 * Throttling: Lambda rejects synchronous invocations over the concurrency limit (429) and keeps
 * asynchronous ones in its internal queue, retrying them. Locally every invocation waits in one FIFO
 * queue instead, which is what the async path amounts to and keeps local callers simple.
 */
export class LocalFunction {
  readonly name: string;
  /** Collected output when no `logSink` is given (the newest 10,000 lines). */
  readonly logs: string[] = [];
  private readonly opts: LocalFunctionOptions;
  private readonly memoryMb: number;
  private readonly sink: (line: string, fn: string) => void;
  private readonly envs: Environment[] = [];
  private readonly queue: Task[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly sleepers = new Set<Sleeper>();
  private readonly counters: LocalFunctionStats = {
    invocations: 0,
    errors: 0,
    timeouts: 0,
    coldStarts: 0,
    asyncRetries: 0,
    asyncFailures: 0,
    maxConcurrentSeen: 0,
  };
  private nextEnvSeq = 1;
  private nextInvokeId = 1;
  private closing = false;

  constructor(opts: LocalFunctionOptions) {
    if (!Number.isInteger(opts.maxConcurrency) || opts.maxConcurrency < 1) {
      throw new RangeError(`${opts.name}: maxConcurrency must be an integer ≥ 1`);
    }
    if (!(opts.timeoutSeconds > 0)) throw new RangeError(`${opts.name}: timeoutSeconds must be > 0`);
    const retries = opts.async?.retryAttempts;
    if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= 2)) {
      throw new RangeError(`${opts.name}: async.retryAttempts must be 0, 1 or 2`);
    }
    this.opts = opts;
    this.name = opts.name;
    this.memoryMb = opts.memoryMb ?? DEFAULT_MEMORY_MB;
    this.sink =
      opts.logSink ??
      ((line) => {
        this.logs.push(line);
        if (this.logs.length > MAX_COLLECTED_LOG_LINES) this.logs.splice(0, this.logs.length - MAX_COLLECTED_LOG_LINES);
      });
  }

  get stats(): LocalFunctionStats {
    return { ...this.counters };
  }

  /** The function's own variables, as configured (Lambda's reserved ones are added per environment). */
  get environment(): Readonly<Record<string, string>> {
    return this.opts.environment;
  }

  /** Synchronous invocation (RequestResponse): the handler's result, or its error. */
  invoke(event: unknown): Promise<unknown> {
    const p = this.enqueue(event);
    this.track(p);
    return p;
  }

  /** Asynchronous invocation (Event): retried on error, then handed to `onFailure`. Await `drain()` to see it finish. */
  invokeAsync(event: unknown): void {
    if (this.closing) throw new Error(`${this.name}: closed`);
    this.track(this.runAsync(event));
  }

  /** Resolves once every queued, running and retrying invocation (sync or async) has finished. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) {
      await Promise.allSettled([...this.inflight]);
    }
  }

  /** Kills every environment and waits for them to exit; pending invocations fail, no onFailure runs. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
    for (const task of this.queue.splice(0)) {
      task.reject(new LambdaInvocationError('LocalFunction.Closed', `${this.name} was closed`));
    }
    // kill() removes the environment from this.envs: iterate over a copy.
    const closing = [...this.envs].map((env) => this.kill(env));
    await Promise.all(closing);
    await this.drain();
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
  }

  private enqueue(event: unknown, expiresAt?: number): Promise<unknown> {
    if (this.closing) return Promise.reject(new LambdaInvocationError('LocalFunction.Closed', `${this.name} was closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, expiresAt, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closing) {
      const head = this.queue[0] as Task;
      if (head.expiresAt !== undefined && Date.now() > head.expiresAt) {
        this.queue.shift();
        head.reject(new LambdaInvocationError('EventAgeExceeded', 'The event expired in the queue before it ran'));
        continue;
      }
      let env = this.envs.find((e) => !e.busy && !e.dead);
      if (!env) {
        if (this.envs.length >= this.opts.maxConcurrency) return;
        env = this.spawn();
      }
      const task = this.queue.shift() as Task;
      env.busy = true;
      const running = this.envs.filter((e) => e.busy).length;
      if (running > this.counters.maxConcurrentSeen) this.counters.maxConcurrentSeen = running;
      void this.run(env, task);
    }
  }

  private spawn(): Environment {
    const seq = this.nextEnvSeq++;
    const child = spawnChild(this.opts, this.memoryMb, seq);
    this.counters.coldStarts++;
    this.opts.onPlatformEvent?.({ kind: 'environmentStarted', logStreamName: logStreamName(seq) });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) forEachLine(stream, (line) => this.sink(line, this.name));
    }
    const env: Environment = {
      seq,
      child,
      busy: false,
      dead: false,
      served: 0,
      ready: Promise.resolve(0),
      closed: whenClosed(child, (err) => this.sink(`[local] ${this.name}: environment error: ${err.message}`, this.name)),
    };
    env.ready = new Promise<number>((resolve, reject) => {
      const onMessage = (msg: ChildMessage) => {
        if (msg.type === 'ready') {
          child.off('message', onMessage);
          resolve(msg.initMs);
        } else if (msg.type === 'init-error') {
          child.off('message', onMessage);
          reject(toError(msg.error));
        }
      };
      child.on('message', onMessage);
      void env.closed.then(() =>
        reject(new LambdaInvocationError('Runtime.ExitError', `Runtime exited during init (${describeExit(child)})`)),
      );
    });
    env.ready.catch(() => {});
    void env.closed.then(() => {
      env.dead = true;
      this.remove(env);
      env.onDeath?.(
        new LambdaInvocationError('Runtime.ExitError', `Runtime exited with error: ${describeExit(child)}`),
      );
      this.pump();
    });
    this.envs.push(env);
    return env;
  }

  private remove(env: Environment): void {
    const i = this.envs.indexOf(env);
    if (i >= 0) this.envs.splice(i, 1);
  }

  private kill(env: Environment): Promise<void> {
    env.dead = true;
    this.remove(env);
    if (env.child.exitCode === null && env.child.signalCode === null) env.child.kill('SIGKILL');
    return env.closed;
  }

  private async run(env: Environment, task: Task): Promise<void> {
    const requestId = randomUUID();
    const timeoutMs = this.opts.timeoutSeconds * 1000;
    // Like Lambda's Duration, this excludes init; it is reset when the handler is handed the event.
    let startedAt = performance.now();
    let startLogged = false;
    this.counters.invocations++;
    let initMs: number | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;

    /** `maxRssBytes`: the environment's peak RSS, which Lambda reports as Max Memory Used. */
    const finish = (err: Error | undefined, result?: unknown, maxRssBytes?: number) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      env.onDeath = undefined;
      if (err) this.counters.errors++;
      if (startLogged) {
        const ms = performance.now() - startedAt;
        this.sink(`END RequestId: ${requestId}`, this.name);
        this.sink(
          `REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.ceil(ms)} ms\t` +
            `Memory Size: ${this.memoryMb} MB` +
            (maxRssBytes === undefined ? '' : `\tMax Memory Used: ${Math.round(maxRssBytes / 1_048_576)} MB`) +
            (initMs === undefined ? '' : `\tInit Duration: ${initMs.toFixed(2)} ms`),
          this.name,
        );
      }
      if (err) task.reject(err);
      else task.resolve(result);
    };

    env.onDeath = (err) => finish(new LambdaInvocationError(err.name, `RequestId: ${requestId} Error: ${err.message}`, requestId));

    try {
      if (env.served++ === 0) {
        // Init has its own budget; a hung import must not hold the slot forever.
        const initBudget = Math.max(INIT_TIMEOUT_FLOOR_MS, timeoutMs);
        initMs = await withTimeout(env.ready, initBudget, () => {
          throw new LambdaInvocationError('Sandbox.Timedout', `INIT_REPORT Init Duration: ${initBudget} ms Phase: init Status: timeout`);
        });
      }
    } catch (err) {
      void this.kill(env);
      finish(err instanceof Error ? err : new Error(String(err)));
      this.pump();
      return;
    }
    if (settled) return;

    this.sink(`START RequestId: ${requestId} Version: $LATEST`, this.name);
    startLogged = true;
    this.opts.onPlatformEvent?.({ kind: 'invoked', logStreamName: logStreamName(env.seq) });
    startedAt = performance.now();
    const id = this.nextInvokeId++;
    const deadlineMs = Date.now() + timeoutMs;
    const onMessage = (msg: ChildMessage) => {
      if (msg.type !== 'result' || msg.id !== id) return;
      env.child.off('message', onMessage);
      if (msg.ok) {
        finish(undefined, msg.result, msg.maxRssBytes);
      } else {
        finish(toError(msg.error, requestId), undefined, msg.maxRssBytes);
      }
      if (msg.ok || !msg.fatal) {
        env.busy = false;
      }
      this.pump();
    };
    env.child.on('message', onMessage);
    timer = setTimeout(() => {
      env.child.off('message', onMessage);
      this.counters.timeouts++;
      // Lambda stops the environment and starts a fresh one for the next request.
      this.sink(`${new Date().toISOString()} ${requestId} Task timed out after ${this.opts.timeoutSeconds.toFixed(2)} seconds`, this.name);
      void this.kill(env);
      finish(
        new LambdaInvocationError(
          'Sandbox.Timedout',
          `RequestId: ${requestId} Error: Task timed out after ${this.opts.timeoutSeconds.toFixed(2)} seconds`,
          requestId,
        ),
      );
      this.pump();
    }, timeoutMs);
    try {
      env.child.send({ type: 'invoke', id, event: task.event, deadlineMs, requestId });
    } catch (err) {
      env.child.off('message', onMessage);
      // An event that cannot be sent as JSON would be refused by the Invoke API before reaching the function.
      env.busy = false;
      finish(new LambdaInvocationError('InvalidRequestContentException', `Could not serialise the event: ${String(err)}`));
      this.pump();
    }
  }

  private async runAsync(event: unknown): Promise<void> {
    const cfg = this.opts.async ?? { retryAttempts: 2, maxEventAgeSeconds: 21_600 };
    const delays = cfg.retryDelaysMs ?? DEFAULT_ASYNC_RETRY_DELAYS_MS;
    const expiresAt = Date.now() + cfg.maxEventAgeSeconds * 1000;
    let attempts = 0;
    let lastError: Error | undefined;
    let condition: AsyncFailure['condition'] = 'RetriesExhausted';
    for (;;) {
      try {
        await this.enqueue(event, expiresAt);
        return;
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
      }
      if (this.closing) return;
      if (lastError.name === 'EventAgeExceeded') {
        condition = 'EventAgeExceeded';
        break;
      }
      attempts++;
      if (attempts > cfg.retryAttempts) break;
      const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 0;
      if (Date.now() + delay > expiresAt) {
        condition = 'EventAgeExceeded';
        break;
      }
      this.counters.asyncRetries++;
      await this.sleep(delay);
      if (this.closing) return;
    }
    this.counters.asyncFailures++;
    if (!cfg.onFailure) return;
    try {
      await cfg.onFailure({ event, error: `${lastError.name}: ${lastError.message}`, attempts, condition });
    } catch (err) {
      this.sink(`[local] ${this.name}: onFailure destination threw: ${String(err)}`, this.name);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
}

/**
 * Splits on '\n' only: readline would also split on the '\r' that Lambda's console puts in place of
 * newlines, breaking one log event into several.
 */
function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
    pending = '';
  });
}

function describeExit(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `exit status ${child.exitCode ?? 'unknown'}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => never): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        onTimeout();
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface ColdStartMeasurement {
  /** From spawning the process to the bundle being loaded: what Lambda's Init Duration roughly covers, plus node's own start. */
  ms: number;
  /** Resident set size of the environment right after loading the bundle. */
  rssBytes: number;
  /** The process's peak resident set size up to that point. */
  maxRssBytes: number;
  /** The bundle's import alone, measured inside the child. */
  importMs: number;
}

/** Spawns a fresh environment that only loads the bundle, and reports how long that took and how much memory it holds. */
export async function measureColdStart(
  assetDir: string,
  handler: string,
  environment: Record<string, string>,
  opts: { memoryMb?: number; name?: string; timeoutMs?: number } = {},
): Promise<ColdStartMeasurement> {
  const startedAt = performance.now();
  const child = spawnChild(
    { name: opts.name ?? 'cold-start-probe', assetDir, handler, environment },
    opts.memoryMb ?? DEFAULT_MEMORY_MB,
    0,
    ['--measure-cold-start'],
  );
  // Output is not wanted here, but the pipes must be read so a chatty bundle cannot block on them.
  child.stdout?.resume();
  child.stderr?.resume();
  const closed = whenClosed(child);
  try {
    return await withTimeout(
      new Promise<ColdStartMeasurement>((resolve, reject) => {
        child.on('message', (msg: ChildMessage) => {
          if (msg.type === 'ready') resolve({ ms: performance.now() - startedAt, rssBytes: msg.rssBytes, maxRssBytes: msg.maxRssBytes ?? msg.rssBytes, importMs: msg.initMs });
          else if (msg.type === 'init-error') reject(toError(msg.error));
        });
        void closed.then(() => reject(new LambdaInvocationError('Runtime.ExitError', `Runtime exited during init (${describeExit(child)})`)));
      }),
      opts.timeoutMs ?? 30_000,
      () => {
        throw new LambdaInvocationError('Sandbox.Timedout', 'Init did not finish in time');
      },
    );
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  }
}
