// `npm start`: runs the whole pipeline on the local stack, drops CSV files and prints the resulting records; with --serve, keeps it running.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { FINAL_STATUSES } from '../lambdas/shared/contract.js';
import { type Drop, functionLogFiles, plan, ROOT, type ServeSettings, table, USAGE } from './cli-args.js';
import { startServe } from './serve.js';
import { startLocalStack } from './stack.js';

/** Serve mode: start, print the banner, and run until SIGINT or SIGTERM, then stop everything. */
async function serve(settings: ServeSettings, drops: Drop[]): Promise<number> {
  const started = Date.now();
  console.log('Starting the local stack in serve mode: synthesizing the CDK app (esbuild bundles), then the emulators on fixed ports…');
  const session = await startServe({ ...settings, drops, print: (line) => console.log(line) });
  console.log(`\nServing (ready in ${((Date.now() - started) / 1000).toFixed(1)}s). Ctrl-C stops the local stack.`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log(`${signal}: stopping…`);
  // A second Ctrl-C does not wait for a clean stop. The first one can arrive twice at once (from the
  // terminal to the whole process group, and relayed by tsx): only a later one counts.
  const stopping = Date.now();
  const force = () => {
    if (Date.now() - stopping > 1_000) process.exit(130);
  };
  process.on('SIGINT', force);
  process.on('SIGTERM', force);
  await session.stop();
  console.log('Stopped.');
  return 0;
}

async function main(): Promise<number> {
  const { drops, timeoutSeconds, help, serve: serveSettings } = plan(process.argv.slice(2));
  if (help) {
    console.log(USAGE);
    return 0;
  }
  if (serveSettings) return serve(serveSettings, drops);
  if (drops.length === 0) throw new Error('No .csv files to drop');
  const logDir = join(ROOT, '.local', 'logs');
  const logs = functionLogFiles(logDir);
  const logSink = logs.sink;

  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  console.log('Starting the local stack: synthesizing the CDK app (esbuild bundles), embedded S3, DynamoDB, Secrets Manager, HTTP API and the FPS simulator…');
  const stack = await startLocalStack({ logSink });
  let code = 0;
  try {
    console.log(`Ready in ${elapsed()}: bucket ${stack.bucket}, table ${stack.tableName}, callback API ${stack.api.url}, FPS simulator ${stack.simulator.url}`);
    for (const drop of drops) {
      await stack.put(drop.key, readFileSync(drop.path), drop.metadata);
      console.log(`  dropped s3://${stack.bucket}/${drop.key}`);
    }
    const keys = drops.map((d) => d.key);
    const seen = new Map<string, string>();
    const deadline = Date.now() + timeoutSeconds * 1000;
    let records: UploadRecord[] = [];
    for (;;) {
      records = (await stack.records()).filter((r) => keys.includes(r.key));
      for (const r of records) {
        if (seen.get(r.uploadId) !== r.status) {
          seen.set(r.uploadId, r.status);
          console.log(`  [${elapsed()}] ${r.key}: ${r.status}`);
        }
      }
      const done = keys.every((k) => records.some((r) => r.key === k)) && records.every((r) => FINAL_STATUSES.includes(r.status));
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    records.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
    console.log(`\nDynamoDB table ${stack.tableName} (${records.length} records):\n${table(records)}\n`);
    const missing = keys.filter((k) => !records.some((r) => r.key === k));
    const open = records.filter((r) => !FINAL_STATUSES.includes(r.status));
    if (missing.length || open.length) {
      code = 1;
      console.error(
        `Not every file reached a final status within ${timeoutSeconds}s: ${[...missing.map((k) => `${k} (no record)`), ...open.map((r) => `${r.key} (${r.status})`)].join(', ')}. Function logs: ${logDir}`,
      );
    } else {
      console.log(`All ${keys.length} files reached a final status in ${elapsed()}. Function logs: ${relative(process.cwd(), logDir)}/`);
    }
  } finally {
    await stack.stop();
    await logs.close();
  }
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
