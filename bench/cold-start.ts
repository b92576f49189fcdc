// Benchmark 3: how long a fresh environment takes to load each bundle, and how much memory it holds, against a bare Node start.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../local/prng.js';
import { measureColdStart } from '../local/lambda-environment.js';
import type { LocalStack } from '../local/stack.js';
import { attributeBytes, bundleLikeNodeFunction } from './bundle.js';
import { median, round } from './support.js';

export interface ColdStartOptions {
  /** Measurements per bundle; the medians are reported. */
  runs: number;
}

export interface ColdStartRow {
  name: string;
  /** index.mjs only (the source map is loaded only with --enable-source-maps). */
  bundleBytes: number | null;
  /** Spawn to handler loaded, median. */
  ms: number;
  /** The fastest run: noise on a shared machine only ever adds time. */
  minMs: number;
  /** The bundle's import inside the process, median. */
  importMs: number;
  rssMb: number;
  peakRssMb: number;
  /** ms ÷ the bare start's ms in the same run. */
  ratio: number;
  peakRssRatio: number;
}

export interface ColdStartResult {
  runs: number;
  bare: ColdStartRow;
  /** Every function's bundle as synthesized, with its template environment (NODE_OPTIONS included). */
  functions: ColdStartRow[];
  /** The trigger built other ways, to choose how to bundle and to see what its time goes on. */
  triggerVariants: ColdStartRow[];
  /** Bytes of the replica build minus bytes of the synthesized trigger bundle (0: same options). */
  replicaBytesDelta: number;
  /** V8 compiling the trigger bundle as a module, without running it (median). */
  triggerCompileMs: number;
  triggerBytesByGroup: Record<string, number>;
  triggerTopPackages: { name: string; bytes: number }[];
}

interface Candidate {
  name: string;
  dir: string;
  handler: string;
  environment: Record<string, string>;
  bytes: number | null;
}

/** The environment with `--enable-source-maps` taken out of NODE_OPTIONS. */
function withoutSourceMaps(env: Record<string, string>): Record<string, string> {
  const options = (env.NODE_OPTIONS ?? '').replace(/--enable-source-maps/g, '').trim();
  const { NODE_OPTIONS: _, ...rest } = env;
  return options ? { ...rest, NODE_OPTIONS: options } : rest;
}

/** Compiles (does not run) the bundle as an ES module in a fresh process. */
function compileMs(file: string): number {
  const script = `const vm=require('node:vm'),fs=require('node:fs');const src=fs.readFileSync(process.argv[1],'utf8');const t=performance.now();new vm.SourceTextModule(src);process.stdout.write(String(performance.now()-t));`;
  const out = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', script, file], { encoding: 'utf8', timeout: 30_000 });
  const ms = Number(out.stdout);
  if (out.status !== 0 || !Number.isFinite(ms)) throw new Error(`Compiling ${file} failed: ${out.stderr.slice(0, 300)}`);
  return ms;
}

export async function runColdStart(stack: LocalStack, options: ColdStartOptions): Promise<ColdStartResult> {
  const work = mkdtempSync(join(tmpdir(), 'fps-bench-cold-'));
  try {
    const envOf = (role: keyof LocalStack['functions']) => ({ ...stack.functions[role].environment });
    const bareDir = join(work, 'bare');
    mkdirSync(bareDir);
    // A handler with nothing to load: the process, the runtime harness and the IPC channel.
    writeFileSync(join(bareDir, 'index.mjs'), 'export const handler = async () => null;\n');
    const triggerSpec = stack.synth.functions.find((f) => f.role === 'trigger');
    if (!triggerSpec) throw new Error('The template has no trigger function');
    const triggerEnv = envOf('trigger');

    const functions: Candidate[] = stack.synth.functions.map((f) => ({
      name: f.role,
      dir: f.assetDir,
      handler: f.handler,
      environment: envOf(f.role),
      bytes: statSync(join(f.assetDir, 'index.mjs')).size,
    }));
    const trigger = 'lambdas/trigger/handler.ts';
    // Ablations: the trigger with one dependency swapped for a stub, to see what each costs at load.
    const ablationStubs: [name: string, dir: string, stubs: Record<string, string>][] = [
      ['Trigger − SNS client', 'no-sns', { '@aws-sdk/client-sns': 'bench/fixtures/stubs/sns.ts' }],
      ['Trigger − STS client', 'no-sts', { '@aws-sdk/client-sts': 'bench/fixtures/stubs/sts.ts' }],
      ['Trigger − credential chain (env only)', 'env-credentials', { '@aws-sdk/credential-provider-node': 'bench/fixtures/stubs/env-credentials.ts' }],
      [
        'Trigger − Powertools (+ its Secrets Manager)',
        'no-powertools',
        {
          '@aws-lambda-powertools/logger': 'bench/fixtures/stubs/powertools.ts',
          '@aws-lambda-powertools/metrics': 'bench/fixtures/stubs/powertools.ts',
          '@aws-lambda-powertools/parameters': 'bench/fixtures/stubs/powertools.ts',
        },
      ],
    ];
    const [replica, external, design, ...ablations] = await Promise.all([
      bundleLikeNodeFunction(trigger, join(work, 'replica')),
      bundleLikeNodeFunction(trigger, join(work, 'runtime-sdk'), { external: ['@aws-sdk/*'], linkNodeModules: true }),
      bundleLikeNodeFunction('bench/fixtures/design-sdk-handler.ts', join(work, 'design-sdk')),
      ...ablationStubs.map(([, dir, stubs]) => bundleLikeNodeFunction(trigger, join(work, dir), { stubs })),
    ]);
    const triggerBytes = statSync(join(triggerSpec.assetDir, 'index.mjs')).size;
    const variants: Candidate[] = [
      { name: 'Trigger, no --enable-source-maps', dir: triggerSpec.assetDir, handler: triggerSpec.handler, environment: withoutSourceMaps(triggerEnv), bytes: triggerBytes },
      { name: "Trigger, runtime's SDK (@aws-sdk/* external)", dir: external.dir, handler: 'index.handler', environment: triggerEnv, bytes: external.bytes },
      { name: 'S3 + presigner + DynamoDB only (reference)', dir: design.dir, handler: 'index.handler', environment: triggerEnv, bytes: design.bytes },
      ...ablations.map((built, i) => ({ name: ablationStubs[i]?.[0] ?? built.dir, dir: built.dir, handler: 'index.handler', environment: triggerEnv, bytes: built.bytes })),
    ];
    const bare: Candidate = { name: 'bare node (empty handler)', dir: bareDir, handler: 'index.handler', environment: {}, bytes: null };

    const all = [bare, ...functions, ...variants];
    const samples = new Map<Candidate, { ms: number; importMs: number; rss: number; peak: number }[]>(all.map((c) => [c, []]));
    // Interleaved, so that other load on the machine hits every candidate alike.
    const random = mulberry32(options.runs);
    for (let run = 0; run < options.runs; run++) {
      // A fresh order each round, so that nothing systematic (what ran just before) favours a candidate.
      const order = all.map((c) => ({ c, key: random() })).sort((a, b) => a.key - b.key);
      for (const { c } of order) {
        const m = await measureColdStart(c.dir, c.handler, c.environment, { name: c.name, memoryMb: 256 });
        samples.get(c)?.push({ ms: m.ms, importMs: m.importMs, rss: m.rssBytes, peak: m.maxRssBytes });
      }
    }
    const rowOf = (c: Candidate, base?: ColdStartRow): ColdStartRow => {
      const s = samples.get(c) ?? [];
      const ms = median(s.map((x) => x.ms));
      const peakRssMb = median(s.map((x) => x.peak)) / 1_048_576;
      return {
        name: c.name,
        bundleBytes: c.bytes,
        ms: round(ms, 1),
        minMs: round(Math.min(...s.map((x) => x.ms)), 1),
        importMs: round(median(s.map((x) => x.importMs)), 1),
        rssMb: round(median(s.map((x) => x.rss)) / 1_048_576, 1),
        peakRssMb: round(peakRssMb, 1),
        ratio: base ? round(ms / base.ms, 2) : 1,
        peakRssRatio: base ? round(peakRssMb / base.peakRssMb, 2) : 1,
      };
    };
    const bareRow = rowOf(bare);
    const compile = Array.from({ length: Math.min(options.runs, 7) }, () => compileMs(join(triggerSpec.assetDir, 'index.mjs')));
    const { byGroup, topPackages } = attributeBytes(replica.metafile);
    return {
      runs: options.runs,
      bare: bareRow,
      functions: functions.map((c) => rowOf(c, bareRow)),
      triggerVariants: variants.map((c) => rowOf(c, bareRow)),
      replicaBytesDelta: replica.bytes - triggerBytes,
      triggerCompileMs: round(median(compile), 1),
      triggerBytesByGroup: byGroup,
      triggerTopPackages: topPackages,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
