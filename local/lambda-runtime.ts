// Runs a bundled Lambda function locally the way Lambda does: a pool of isolated environments under a concurrency cap, the invoke protocol with its timeouts and REPORT lines.
import { randomUUID } from 'node:crypto';
import {
  type ChildMessage,
  DEFAULT_MEMORY_MB,
  describeExit,
  type Environment,
  type EnvironmentSpec,
  LambdaInvocationError,
  logStreamName,
  startEnvironment,
  toError,
  withTimeout,
} from './lambda-environment.js';

/** Lambda gives init 10 s on its own; past that it retries init inside the invoke, under the function timeout. */
const INIT_TIMEOUT_FLOOR_MS = 10_000;
/** Keeps a chatty function from growing `fn.logs` without bound during long local runs. */
const MAX_COLLECTED_LOG_LINES = 10_000;

export interface LocalFunctionOptions extends EnvironmentSpec {
  timeoutSeconds: number;
  memoryMb?: number;
  /** Reserved concurrency: at most this many environments run at once. ≥ 1. */
  maxConcurrency: number;
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
  /** Attempts actually handed to an environment. */
  invocations: number;
  /** Failed attempts, timeouts and crashes included. */
  errors: number;
  timeouts: number;
  coldStarts: number;
  maxConcurrentSeen: number;
}

interface Task {
  event: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * A deployed function, emulated. Each execution environment is a child process with only Lambda's
 * environment; it imports the bundle once (cold start) and then serves invocations one at a time (warm).
 *
 * Throttling: Lambda rejects synchronous invocations over the concurrency limit (429). Locally every
 * invocation waits in one FIFO queue instead, which keeps local callers simple. Only synchronous
 * invocation is emulated: the SQS poller and API Gateway invoke so in AWS too, and the schedule's
 * invocation (asynchronous in AWS, retried twice on error) is made synchronously and its error printed.
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
  private readonly counters: LocalFunctionStats = {
    invocations: 0,
    errors: 0,
    timeouts: 0,
    coldStarts: 0,
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

  /** Resolves once every queued and running invocation has finished. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) {
      await Promise.allSettled([...this.inflight]);
    }
  }

  /**
   * Stops the idle environments, as Lambda does when it reclaims them: the next invocation starts a
   * fresh one (a cold start, with empty caches). Busy environments are left alone.
   */
  async recycle(): Promise<void> {
    await Promise.all(this.envs.filter((env) => !env.busy).map((env) => this.kill(env)));
  }

  /** Kills every environment and waits for them to exit; pending invocations fail. */
  async close(): Promise<void> {
    this.closing = true;
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

  private enqueue(event: unknown): Promise<unknown> {
    if (this.closing) return Promise.reject(new LambdaInvocationError('LocalFunction.Closed', `${this.name} was closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closing) {
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
    const env = startEnvironment(this.opts, this.memoryMb, seq, (line) => this.sink(line, this.name), (exited) => {
      this.remove(exited);
      exited.onDeath?.(new LambdaInvocationError('Runtime.ExitError', `Runtime exited with error: ${describeExit(exited.child)}`));
      this.pump();
    });
    this.counters.coldStarts++;
    this.opts.onPlatformEvent?.({ kind: 'environmentStarted', logStreamName: logStreamName(seq) });
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
}
