// One Lambda execution environment as a child process: Lambda's variables and heap cap, the messages it sends, its output lines and its exit; and the cold-start probe built on it.
import { type ChildProcess, fork } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const CHILD_SCRIPT = fileURLToPath(new URL('./lambda-child.mjs', import.meta.url));

export const DEFAULT_MEMORY_MB = 128;

/** What an environment is made from: the function's name, its bundle and handler, and its own variables. */
export interface EnvironmentSpec {
  name: string;
  /** Directory holding the bundle (CDK's asset dir); becomes LAMBDA_TASK_ROOT and the cwd. */
  assetDir: string;
  /** Lambda handler string, e.g. 'index.handler' → index.mjs (or .js/.cjs), export `handler`. */
  handler: string;
  environment: Record<string, string>;
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

export interface ErrorPayload {
  name: string;
  message: string;
  stack?: string;
}

export type ChildMessage =
  | { type: 'ready'; initMs: number; rssBytes: number; maxRssBytes?: number }
  | { type: 'init-error'; error: ErrorPayload }
  | { type: 'result'; id: number; ok: true; result: unknown; rssBytes: number; maxRssBytes?: number }
  | { type: 'result'; id: number; ok: false; error: ErrorPayload; rssBytes: number; maxRssBytes?: number; fatal?: boolean };

export interface Environment {
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

/** The log stream of the environment numbered `seq`. */
export function logStreamName(seq: number): string {
  return `local/[$LATEST]${seq.toString(16).padStart(8, '0')}`;
}

/** Lambda's reserved variables are set last so the function's own environment cannot change them. */
function lambdaEnvironment(opts: EnvironmentSpec, memoryMb: number, seq: number): Record<string, string> {
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

function spawnChild(opts: EnvironmentSpec, memoryMb: number, seq: number, extraArgs: string[] = []): ChildProcess {
  return fork(CHILD_SCRIPT, extraArgs, {
    cwd: opts.assetDir,
    env: lambdaEnvironment(opts, memoryMb, seq),
    // The parent may run under tsx or vitest; none of that may leak into the function's process.
    execArgv: heapArgs(memoryMb, opts.environment),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
}

export function toError(payload: ErrorPayload, requestId?: string): LambdaInvocationError {
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
 * Spawns an environment that imports the bundle (its `ready` settles when init is done) and sends
 * every line the function writes to `onLine`. Once the process has exited, `dead` is set and `onExit`
 * is told; the environment's owner fails the attempt in flight through `onDeath`.
 */
export function startEnvironment(spec: EnvironmentSpec, memoryMb: number, seq: number, onLine: (line: string) => void, onExit: (env: Environment) => void): Environment {
  const child = spawnChild(spec, memoryMb, seq);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) forEachLine(stream, onLine);
  }
  const env: Environment = {
    seq,
    child,
    busy: false,
    dead: false,
    served: 0,
    ready: Promise.resolve(0),
    closed: whenClosed(child, (err) => onLine(`[local] ${spec.name}: environment error: ${err.message}`)),
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
    onExit(env);
  });
  return env;
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

export function describeExit(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `exit status ${child.exitCode ?? 'unknown'}`;
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => never): Promise<T> {
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
