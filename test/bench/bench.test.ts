// `npm run bench` at toy size, so the benchmark code cannot rot: every section runs and reports sane figures (no timing assertions).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'fps-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILES = 20;
const PREFLIGHT_SIZES = [1024, 32 * 1024];

describe('npm run bench', () => {
  it('runs every section at toy size and writes the JSON', { timeout: 240_000 }, () => {
    const out = join(dir, 'smoke.json');
    // Arrange / Act
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        ...['--files', String(FILES), '--preflight-sizes', PREFLIGHT_SIZES.join(','), '--preflight-runs', '1', '--preflight-lists', 'email'],
        ...['--cold-runs', '1', '--callbacks', '20', '--callback-concurrency', '4', '--concurrency', '2', '--out', out],
      ],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        // About 25 s on an idle machine; under a shared machine's load it has taken over 110 s.
        timeout: 230_000,
      },
    );

    // Assert
    expect(run.stderr).not.toMatch(/npm run bench failed/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^1\. Burst: /m);
    expect(run.stdout).toMatch(/^2\. Pre-flight: /m);
    expect(run.stdout).not.toMatch(/Hand-off/);
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

    // The trigger's pre-flight scan, measured in fresh processes: every list, size and compression asked for, and the deployed memory judged.
    const preflight = result.preflight;
    expect(result.handoff).toBeUndefined();
    expect(preflight.options).toMatchObject({ sizes: PREFLIGHT_SIZES, runs: 1, lists: ['email'], gzip: true });
    const scanned = preflight.cases.filter((c: { variant: string }) => c.variant === 'trigger');
    expect(scanned.map((c: { list: string; size: number; gzip: boolean }) => `${c.list} ${c.size} ${c.gzip}`).sort()).toEqual(
      ['email'].flatMap((list) => PREFLIGHT_SIZES.flatMap((size) => [`${list} ${size} false`, `${list} ${size} true`])).sort(),
    );
    for (const c of preflight.cases) {
      expect(c.cpuMBps).toBeGreaterThan(0);
      expect(c.peakRssMb).toBeGreaterThan(10);
    }
    expect(preflight.trigger).toMatchObject({ memoryMb: 512, vcpu: 0.289 });
    expect(preflight.trigger.expectedSeconds).toBeGreaterThan(0);
    expect(preflight.sizing.recommendedMemoryMb).toBeGreaterThanOrEqual(256);

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
