// The pre-flight benchmark at toy size, so its code cannot rot: every case runs in its own process and reports sane figures (no timing assertions).
import { describe, expect, it } from 'vitest';
import { computeSizing, type PreflightBenchCase, renderPreflightTable, runPreflightBench } from '../../bench/preflight.js';

describe('runPreflightBench', () => {
  it('measures every list, size, compression and variant, and computes a memory size', { timeout: 180_000 }, async () => {
    // Arrange / Act
    const result = await runPreflightBench({ sizes: [16 * 1024, 1024], runs: 1, lists: ['email', 'phone', 'export'], gzip: true, comparisonBytes: 16 * 1024 });

    // Assert: 3 lists × 2 sizes × plain/gzip, the seven variants at the largest email, the two parser comparisons.
    expect(result.options.sizes).toEqual([1024, 16 * 1024]);
    expect(result.cases).toHaveLength(3 * 2 * 2 + 7 + 2);
    for (const c of result.cases) {
      expect(c.runs).toBe(1);
      expect(c.bytes).toBeGreaterThan(0.8 * c.size);
      expect(c.bytes).toBeLessThanOrEqual(c.size);
      expect(c.cpuMs).toBeGreaterThan(0);
      // A 1 KB case under load can round to 0.0 MB/s: a rate, finite and never negative, is the shape.
      expect(Number.isFinite(c.cpuMBps) && c.cpuMBps >= 0).toBe(true);
      expect(c.bestCpuMBps).toBeGreaterThanOrEqual(c.cpuMBps);
      expect(c.peakRssMb).toBeGreaterThan(10);
      expect(c.peakRssMb).toBeGreaterThanOrEqual(c.loadedPeakRssMb);
      expect(c.values).toBeGreaterThan(0);
      // The generated lists are valid: the scanner accepts them all.
      expect(c.verdict).toBe(c.variant === 'csvParseRaw' || c.variant === 'readOnly' ? 'n/a' : 'accept');
    }
    const variants = result.cases.map((c) => c.variant);
    expect(variants.filter((v) => v === 'trigger')).toHaveLength(12);
    expect(variants).toEqual(expect.arrayContaining(['noDuplicateCheck', 'noChecks', 'smallYoungGeneration', 'csvParseOnly', 'csvParseRaw']));
    expect(variants).toEqual(expect.arrayContaining(['noGcPacing', 'noOptimizer', 'readOnly', 'viaS3']));
    // Reading alone sees the same file: as many lines as the scan has values.
    const readOnly = result.cases.find((c) => c.variant === 'readOnly');
    const scanned = result.cases.find((c) => c.variant === 'trigger' && c.list === 'email' && !c.gzip && c.size === 16 * 1024);
    expect(readOnly?.values).toBe(scanned?.values);
    // The export (header, every field quoted) always needs a copy; so does gzip.
    expect(result.cases.filter((c) => c.list === 'export' || c.gzip).every((c) => c.changed)).toBe(true);

    expect(result.memoryRatios).toHaveLength(6);
    for (const r of result.memoryRatios) expect(r.ratio).toBeCloseTo(r.largeMb / r.smallMb, 1);
    expect(result.plainMBps).toBeGreaterThan(0);
    expect(result.targetsMet.plainMBps).toEqual(expect.any(Boolean));

    const breakdown = result.memoryBreakdown;
    expect(breakdown).not.toBeNull();
    expect(breakdown?.smallMb).toBe(result.memoryRatios.find((r) => r.list === 'email' && !r.gzip)?.smallMb);
    expect(breakdown?.readOnlyRatio).toBeCloseTo((breakdown?.readOnlyMb ?? 0) / (breakdown?.smallMb ?? 1), 1);

    expect(result.sizing).not.toBeNull();
    // The S3 transfer is measured, and only adds work.
    expect(result.sizing?.s3Factor).toBeGreaterThan(1);
    expect(result.sizing?.recommendedMemoryMb).toBeGreaterThanOrEqual(256);
    expect((result.sizing?.recommendedMemoryMb ?? 0) % 64).toBe(0);
    expect(result.sizing?.arithmetic).toMatch(/^50 MB in 10 s needs 5 MB\/s; the slowest case/);

    const table = renderPreflightTable(result);
    expect(table).toMatch(/^Pre-flight scan: /);
    expect(table).toMatch(/trigger memory size: \d+ MB\./);
    expect(table).toMatch(/where the largest email list's peak goes: /);
    expect(table).toMatch(/not covered by that size: a file whose every line needs csv-parse/);
  });
});

describe('computeSizing', () => {
  const row = (list: PreflightBenchCase['list'], cpuMBps: number, gzip = false): PreflightBenchCase => ({
    list,
    size: 50 * 1024 * 1024,
    bytes: 50 * 1024 * 1024,
    gzip,
    variant: 'trigger',
    runs: 3,
    wallMs: 1,
    cpuMs: 1,
    cpuMBps,
    bestCpuMBps: cpuMBps,
    wallMBps: cpuMBps,
    peakRssMb: 70,
    loadedPeakRssMb: 45,
    verdict: 'accept',
    values: 1,
    changed: false,
  });

  it('sizes the trigger from the slowest case at the largest size: 1,769 MB a vCPU, 1.5× headroom, 64 MB steps', () => {
    // 50 MB in 10 s = 5 MB/s; at 25 MB/s that is 0.2 vCPU = 353.8 MB, × 1.5 = 530.7, up to 576 MB.
    const sizing = computeSizing([row('email', 60), row('phone', 25, true), { ...row('email', 1), variant: 'csvParseRaw' }], 50 * 1024 * 1024);
    expect(sizing).toMatchObject({ singleCoreMBps: 25, vcpuNeeded: 0.2, minimumMemoryMb: 354, recommendedMemoryMb: 576, basis: 'phone list (E.164), 50 MB, gzip' });
    expect(sizing?.expectedSeconds).toBeLessThan(10);
  });

  it('never recommends less than the trigger has today (256 MB)', () => {
    expect(computeSizing([row('email', 500)], 50 * 1024 * 1024)?.recommendedMemoryMb).toBe(256);
  });
});
