// Checks the local Lambda emulation against tiny bundles: isolation, warm reuse, concurrency cap, timeouts, shutdown.
import { mkdir, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LambdaInvocationError, measureColdStart } from '../../local/lambda-environment.js';
import { LocalFunction } from '../../local/lambda-runtime.js';

const FIXTURES: Record<string, string> = {
  echo: `
    console.log('module loaded');
    export const handler = async (event, context) => {
      console.log('got', JSON.stringify(event), 'multi\\nline');
      return {
        event,
        foo: process.env.FOO,
        std: {
          name: process.env.AWS_LAMBDA_FUNCTION_NAME,
          memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
          version: process.env.AWS_LAMBDA_FUNCTION_VERSION,
          execEnv: process.env.AWS_EXECUTION_ENV,
          taskRoot: process.env.LAMBDA_TASK_ROOT,
          tz: process.env.TZ,
        },
        envKeys: Object.keys(process.env).sort(),
        execArgv: process.execArgv,
        cwd: process.cwd(),
        context: {
          awsRequestId: context.awsRequestId,
          functionName: context.functionName,
          invokedFunctionArn: context.invokedFunctionArn,
          callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
          remaining: context.getRemainingTimeInMillis(),
        },
      };
    };
  `,
  throws: `
    class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError'; } }
    export const handler = async (event) => { throw new ValidationError('bad event ' + event.n); };
  `,
  sleep: `
    import { writeFileSync } from 'node:fs';
    writeFileSync(new URL('./pid-' + process.pid, import.meta.url), '');
    export const handler = async (event) => {
      const start = Date.now();
      await new Promise((r) => setTimeout(r, event.ms));
      return { pid: process.pid, start, end: Date.now() };
    };
  `,
  counter: `
    let count = 0;
    export const handler = async () => ({ count: ++count, pid: process.pid });
  `,
  crash: `
    export const handler = async (event) => {
      if (event.crash) process.exit(3);
      if (event.reject) {
        Promise.reject(new Error('forgotten'));
        await new Promise((r) => setTimeout(r, 200));
      }
      if (event.bigint) return { n: 1n };
      return 'alive';
    };
  `,
  callback: `
    export const handler = (event, context, callback) => callback(null, 'old style');
  `,
  cjs: `
    exports.handler = async () => 'from commonjs';
  `,
};

/** What the echo fixture returns. */
interface EchoResult {
  event: unknown;
  foo?: string;
  std: Record<string, string>;
  envKeys: string[];
  execArgv: string[];
  cwd: string;
  context: {
    awsRequestId: string;
    functionName: string;
    invokedFunctionArn: string;
    callbackWaitsForEmptyEventLoop: boolean;
    remaining: number;
  };
}

let root: string;
const dirOf = (name: string) => path.join(root, name);
const open: LocalFunction[] = [];

function fn(fixture: string, overrides: Partial<ConstructorParameters<typeof LocalFunction>[0]> = {}): LocalFunction {
  const f = new LocalFunction({
    name: `test-${fixture}`,
    assetDir: dirOf(fixture),
    handler: 'index.handler',
    environment: {},
    timeoutSeconds: 10,
    maxConcurrency: 1,
    ...overrides,
  });
  open.push(f);
  return f;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lambda-runtime-'));
  for (const [name, code] of Object.entries(FIXTURES)) {
    await mkdir(dirOf(name));
    await writeFile(path.join(dirOf(name), name === 'cjs' ? 'index.js' : 'index.mjs'), code);
  }
  process.env.SECRET_PARENT_VAR = 'must-not-leak';
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

afterAll(async () => {
  delete process.env.SECRET_PARENT_VAR;
  if (root) await rm(root, { recursive: true, force: true });
});

describe('LocalFunction', () => {
  it('runs the handler with only Lambda environment variables and a Lambda-like context', async () => {
    const f = fn('echo', { environment: { FOO: 'bar' }, memoryMb: 256 });
    const out = (await f.invoke({ hello: 'world', when: new Date(0) })) as EchoResult;

    // The event crosses as JSON, as it does in Lambda.
    expect(out.event).toEqual({ hello: 'world', when: '1970-01-01T00:00:00.000Z' });
    expect(out.foo).toBe('bar');
    expect(out.std).toEqual({
      name: 'test-echo',
      memory: '256',
      version: '$LATEST',
      execEnv: 'AWS_Lambda_nodejs24.x',
      taskRoot: dirOf('echo'),
      tz: 'UTC',
    });
    expect(out.envKeys).not.toContain('SECRET_PARENT_VAR');
    const allowed = new Set([
      'PATH',
      'FOO',
      'AWS_LAMBDA_FUNCTION_NAME',
      'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
      'AWS_LAMBDA_FUNCTION_VERSION',
      'AWS_LAMBDA_INITIALIZATION_TYPE',
      'AWS_LAMBDA_LOG_GROUP_NAME',
      'AWS_LAMBDA_LOG_STREAM_NAME',
      'AWS_EXECUTION_ENV',
      'LAMBDA_TASK_ROOT',
      '_HANDLER',
      'TZ',
    ]);
    expect(out.envKeys.filter((k) => !allowed.has(k))).toEqual([]);
    // Nothing of the test runner's node flags (loaders etc.) reaches the function; only the heap cap.
    expect(out.execArgv).toEqual(['--max-old-space-size=204']);
    expect(out.cwd).toBe(dirOf('echo'));
    expect(out.context.functionName).toBe('test-echo');
    expect(out.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.context.invokedFunctionArn).toMatch(/^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:test-echo$/);
    expect(out.context.callbackWaitsForEmptyEventLoop).toBe(true);
    expect(out.context.remaining).toBeGreaterThan(8_000);
    expect(out.context.remaining).toBeLessThanOrEqual(10_000);

    // Output reaches fn.logs, with Lambda's console prefix, one line per console call.
    await expect.poll(() => f.logs.some((l) => l.includes('\tINFO\tgot')), { timeout: 10_000 }).toBe(true);
    const line = f.logs.find((l) => l.includes('\tINFO\tgot')) as string;
    expect(line.split('\t')[1]).toBe(out.context.awsRequestId);
    expect(line).toContain('multi\rline');
    expect(f.logs.some((l) => l.startsWith(`START RequestId: ${out.context.awsRequestId}`))).toBe(true);
    expect(f.logs.some((l) => l.startsWith(`REPORT RequestId: ${out.context.awsRequestId}`) && l.includes('Init Duration'))).toBe(true);
    expect(f.logs.some((l) => l.endsWith('\tINFO\tmodule loaded'))).toBe(true);
  });

  it('keeps two functions environments apart', async () => {
    const a = fn('echo', { name: 'fn-a', environment: { A_ONLY: '1' } });
    const b = fn('echo', { name: 'fn-b', environment: { B_ONLY: '1' } });
    const [ra, rb] = (await Promise.all([a.invoke({}), b.invoke({})])) as EchoResult[];
    expect(ra?.envKeys).toContain('A_ONLY');
    expect(ra?.envKeys).not.toContain('B_ONLY');
    expect(rb?.envKeys).toContain('B_ONLY');
    expect(rb?.envKeys).not.toContain('A_ONLY');
    expect(ra?.std.name).toBe('fn-a');
    expect(rb?.std.name).toBe('fn-b');
  });

  it('sends logs to a logSink instead of collecting them', async () => {
    const lines: [string, string][] = [];
    const f = fn('echo', { logSink: (line, name) => lines.push([line, name]) });
    await f.invoke({ n: 1 });
    await expect.poll(() => lines.some(([l]) => l.includes('\tINFO\tgot')), { timeout: 10_000 }).toBe(true);
    expect(lines.every(([, name]) => name === 'test-echo')).toBe(true);
    expect(f.logs).toEqual([]);
  });

  it("tells what Lambda does with the role: a log stream per environment, log events per invocation", async () => {
    const events: { kind: string; logStreamName: string }[] = [];
    const f = fn('sleep', { maxConcurrency: 2, onPlatformEvent: (event) => events.push(event) });
    await Promise.all([f.invoke({ ms: 200 }), f.invoke({ ms: 200 })]);
    await f.invoke({ ms: 0 });

    const streams = events.filter((e) => e.kind === 'environmentStarted').map((e) => e.logStreamName);
    expect(streams).toEqual(['local/[$LATEST]00000001', 'local/[$LATEST]00000002']);
    expect(events.filter((e) => e.kind === 'invoked')).toHaveLength(3);
    expect(events.every((e) => streams.includes(e.logStreamName))).toBe(true);
  });

  it('rejects with the name and message the function threw', async () => {
    const f = fn('throws');
    const err = await f.invoke({ n: 7 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LambdaInvocationError);
    expect((err as Error).name).toBe('ValidationError');
    expect((err as Error).message).toBe('bad event 7');
    expect(f.stats).toMatchObject({ invocations: 1, errors: 1, timeouts: 0 });
  });

  it('reuses a warm environment: module state survives between invocations', async () => {
    const f = fn('counter');
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await f.invoke({})) as { count: number; pid: number });
    expect(results.map((r) => r.count)).toEqual([1, 2, 3]);
    expect(new Set(results.map((r) => r.pid)).size).toBe(1);
    expect(f.stats).toMatchObject({ invocations: 3, coldStarts: 1, errors: 0 });
  });

  it('never runs more than maxConcurrency at once; the rest wait in order', async () => {
    const f = fn('sleep', { maxConcurrency: 2 });
    const started = Date.now();
    const results = (await Promise.all(Array.from({ length: 6 }, () => f.invoke({ ms: 250 })))) as {
      pid: number;
      start: number;
      end: number;
    }[];
    // Independent of the runtime's own bookkeeping: count overlapping intervals as the handlers saw them.
    let maxOverlap = 0;
    for (const r of results) {
      const overlapping = results.filter((o) => o.start <= r.start && o.end > r.start).length;
      maxOverlap = Math.max(maxOverlap, overlapping);
    }
    expect(maxOverlap).toBe(2);
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 250);
    expect(f.stats).toMatchObject({ invocations: 6, coldStarts: 2, maxConcurrentSeen: 2 });
  });

  it('kills an environment that runs past its timeout and replaces it', async () => {
    const pidFiles = async () => (await readdir(dirOf('sleep'))).filter((n) => n.startsWith('pid-'));
    for (const n of await pidFiles()) await unlink(path.join(dirOf('sleep'), n));
    const f = fn('sleep', { name: 'sleepy', timeoutSeconds: 1 });
    const started = Date.now();
    const err = await f.invoke({ ms: 20_000 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect((err as Error).name).toBe('Sandbox.Timedout');
    expect((err as Error).message).toMatch(/Task timed out after 1\.00 seconds/);
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    // Well short of the handler's 20 s, with room for a cold start on a loaded machine.
    expect(elapsed).toBeLessThan(10_000);

    const timedOutPids = (await pidFiles()).map((n) => Number(n.slice(4)));
    expect(timedOutPids).toHaveLength(1);
    await expect.poll(() => timedOutPids.some((pid) => isAlive(pid)), { timeout: 10_000 }).toBe(false);

    const next = (await f.invoke({ ms: 10 })) as { pid: number };
    expect(timedOutPids).not.toContain(next.pid);
    expect(f.stats).toMatchObject({ invocations: 2, timeouts: 1, errors: 1, coldStarts: 2 });
    expect(f.logs.some((l) => l.includes('Task timed out after 1.00 seconds'))).toBe(true);
  });

  it('fails an invocation whose environment crashes, and starts a new one for the next', async () => {
    const f = fn('crash');
    const err = await f.invoke({ crash: true }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('Runtime.ExitError');
    expect((err as Error).message).toMatch(/exit status 3/);
    expect(await f.invoke({})).toBe('alive');
    expect(f.stats).toMatchObject({ coldStarts: 2, errors: 1 });
  });

  it('treats an unhandled rejection as fatal and an unserialisable result as the function error', async () => {
    const f = fn('crash');
    await expect(f.invoke({ reject: true })).rejects.toMatchObject({
      name: 'Runtime.UnhandledPromiseRejection',
      message: 'Error: forgotten',
    });
    await expect(f.invoke({ bigint: true })).rejects.toMatchObject({ name: 'Runtime.MarshalError' });
    expect(await f.invoke({})).toBe('alive');
    // The rejection cost its environment; the marshal error did not.
    expect(f.stats).toMatchObject({ coldStarts: 2, errors: 2, invocations: 3 });
  });

  it('reports init failures the way Lambda names them', async () => {
    const missingExport = fn('counter', { handler: 'index.nope' });
    await expect(missingExport.invoke({})).rejects.toMatchObject({ name: 'Runtime.HandlerNotFound' });
    const missingModule = fn('counter', { handler: 'missing.handler' });
    await expect(missingModule.invoke({})).rejects.toMatchObject({ name: 'Runtime.ImportModuleError' });
    // nodejs24.x no longer runs callback-style handlers.
    const callback = fn('callback');
    await expect(callback.invoke({})).rejects.toMatchObject({ name: 'Runtime.CallbackHandlerNotSupported' });
  });

  it('loads CommonJS bundles (index.js) too', async () => {
    expect(await fn('cjs').invoke({})).toBe('from commonjs');
  });

  it('recycle stops idle environments: the next invocation is a cold start with fresh module state', async () => {
    const f = fn('counter');
    const warm = (await f.invoke({})) as { count: number; pid: number };
    expect(await f.invoke({})).toMatchObject({ count: 2, pid: warm.pid });
    await f.recycle();
    expect(isAlive(warm.pid)).toBe(false);
    const cold = (await f.invoke({})) as { count: number; pid: number };
    expect(cold.count).toBe(1);
    expect(cold.pid).not.toBe(warm.pid);
    expect(f.stats).toMatchObject({ invocations: 3, coldStarts: 2 });
  });

  it('close kills every environment, idle ones included', async () => {
    const f = fn('counter', { maxConcurrency: 3 });
    const results = (await Promise.all([f.invoke({}), f.invoke({}), f.invoke({})])) as { pid: number }[];
    const pids = [...new Set(results.map((r) => r.pid))];
    expect(pids).toHaveLength(3);
    await f.close();
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('close kills running environments, fails what is pending and refuses new work', async () => {
    const pidFiles = async () => (await readdir(dirOf('sleep'))).filter((n) => n.startsWith('pid-'));
    for (const n of await pidFiles()) await unlink(path.join(dirOf('sleep'), n));
    const f = fn('sleep', { timeoutSeconds: 30 });
    const running = f.invoke({ ms: 20_000 }).catch((e: unknown) => e);
    const queued = f.invoke({ ms: 10 }).catch((e: unknown) => e);
    // Wait until the handler is actually running, not just starting.
    await expect.poll(() => f.logs.some((l) => l.startsWith('START RequestId')), { timeout: 15_000 }).toBe(true);
    const [pidFile] = await pidFiles();
    const pid = Number(pidFile?.slice(4));
    expect(isAlive(pid)).toBe(true);
    const started = Date.now();
    await f.close();
    expect(isAlive(pid)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(((await running) as Error).name).toBe('Runtime.ExitError');
    expect(((await queued) as Error).name).toBe('LocalFunction.Closed');
    await expect(f.invoke({ ms: 1 })).rejects.toMatchObject({ name: 'LocalFunction.Closed' });
  });
});

describe('measureColdStart', () => {
  it('loads the bundle in a fresh process and reports time and memory', async () => {
    const m = await measureColdStart(dirOf('counter'), 'index.handler', { FOO: 'x' });
    expect(m.ms).toBeGreaterThan(0);
    expect(m.importMs).toBeGreaterThan(0);
    expect(m.importMs).toBeLessThan(m.ms);
    expect(m.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.rssBytes).toBeLessThan(1024 * 1024 * 1024);
  });

  it('rejects when the bundle cannot be loaded', async () => {
    await expect(measureColdStart(dirOf('counter'), 'nothing.handler', {})).rejects.toMatchObject({
      name: 'Runtime.ImportModuleError',
    });
  });
});
