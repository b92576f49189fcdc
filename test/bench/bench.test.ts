// `npm run bench` at toy size, so the benchmark code cannot rot: every section runs and reports sane figures (no timing assertions).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'fps-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILES = 20;
const LARGE_BYTES = 32 * 1024;

describe('npm run bench', () => {
  it('runs every section at toy size and writes the JSON', { timeout: 120_000 }, () => {
    const out = join(dir, 'smoke.json');
    // Arrange / Act
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        ...['--files', String(FILES), '--runs', '1', '--small-bytes', '512', '--large-bytes', String(LARGE_BYTES)],
        ...['--cold-runs', '1', '--callbacks', '20', '--callback-concurrency', '4', '--concurrency', '2', '--out', out],
      ],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        timeout: 110_000,
      },
    );

    // Assert
    expect(run.stderr).not.toMatch(/npm run bench failed/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^1\. Burst: /m);
    expect(run.stdout).toMatch(/^4\. Callbacks /m);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.errors).toEqual({});
    expect(result.machine).toMatchObject({ nproc: expect.any(Number), node: process.version, cpuModel: expect.any(String) });

    expect(result.burstModel).toMatchObject({ files: FILES, accepted: FILES, redeliveries: 0, failures: 0, duplicates: 0, timedOut: false, runs: 1, concurrency: 2 });
    expect(result.burstModel.perRun).toHaveLength(1);
    expect(result.burstModel.sustainedPerSecond).toBeGreaterThan(0);
    expect(result.burst).toMatchObject({ files: FILES, accepted: FILES, completed: FILES, redeliveries: 0, failures: 0, duplicates: 0, timedOut: false, triggerConcurrency: 2 });
    expect(result.burst.trigger.invocations).toBeGreaterThanOrEqual(FILES);
    expect(result.burst.trigger.durationP50Ms).toBeGreaterThan(0);
    expect(result.burst.runtimeOverhead.parallelPerSecond).toBeGreaterThan(0);

    for (const size of [result.handoff.small, result.handoff.large]) {
      expect(size.runs).toBe(1);
      expect(size.triggerDurationP50Ms).toBeGreaterThan(0);
      expect(size.triggerMaxMemoryP50Mb).toBeGreaterThan(10);
      expect(size.downloadP50Ms).toBeGreaterThan(0);
    }
    expect(result.handoff.large.bytes).toBe(LARGE_BYTES);
    expect(result.handoff.errors).toEqual([]);

    const cold = result.coldStart;
    expect(cold.functions.map((f: { name: string }) => f.name).sort()).toEqual(['callback', 'sweeper', 'trigger']);
    for (const row of [...cold.functions, ...cold.triggerVariants]) {
      expect(row.bundleBytes).toBeGreaterThan(10_000);
      expect(row.ms).toBeGreaterThan(0);
      expect(row.peakRssMb).toBeGreaterThan(10);
    }
    // The replica of NodeFunction's bundling (for the variants) must still match what CDK builds.
    expect(cold.replicaBytesDelta).toBe(0);

    expect(result.callbacks.loaded).toMatchObject({ callbacks: 20, non200: 0 });
    expect(result.callbacks.unloaded.non200).toBe(0);
    expect(result.callbacks.recordsCompleted).toBe(result.callbacks.recordsSeeded);
  });
});
