// What the local Lambda runtime itself costs per invocation (child process, IPC), measured with a handler that does nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFunction } from '../local/lambda-runtime.js';
import { median, percentile, round, within } from './support.js';

export interface RuntimeOverhead {
  concurrency: number;
  /** One invocation at a time, round trip through the runtime. */
  sequentialP50Ms: number;
  sequentialP99Ms: number;
  /** Every environment busy: how many no-op invocations per second the runtime can hand out. */
  parallelPerSecond: number;
}

export async function measureRuntimeOverhead(options: { concurrency: number; invocations: number; timeoutMs: number }): Promise<RuntimeOverhead> {
  const dir = mkdtempSync(join(tmpdir(), 'fps-bench-noop-'));
  writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => null;\n');
  const fn = new LocalFunction({
    name: 'NoopFunction',
    assetDir: dir,
    handler: 'index.handler',
    environment: {},
    timeoutSeconds: 10,
    maxConcurrency: options.concurrency,
    logSink: () => {},
  });
  try {
    return await within(
      (async () => {
        // Start every environment first: cold starts are measured elsewhere.
        await Promise.all(Array.from({ length: options.concurrency }, () => fn.invoke({})));
        const sequential: number[] = [];
        for (let i = 0; i < Math.min(200, options.invocations); i++) {
          const t = performance.now();
          await fn.invoke({ i });
          sequential.push(performance.now() - t);
        }
        const started = performance.now();
        await Promise.all(Array.from({ length: options.invocations }, (_, i) => fn.invoke({ i })));
        const seconds = (performance.now() - started) / 1000;
        return {
          concurrency: options.concurrency,
          sequentialP50Ms: round(median(sequential), 2),
          sequentialP99Ms: round(percentile(sequential, 0.99), 2),
          parallelPerSecond: round(options.invocations / seconds, 0),
        };
      })(),
      options.timeoutMs,
      'The runtime overhead measurement',
    );
  } finally {
    await fn.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
