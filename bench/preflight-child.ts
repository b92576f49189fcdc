// One pre-flight measurement in a fresh process, bundled like a Lambda function, so its peak memory is its own.
// Run by bench/preflight.ts as `node <bundle> '<json args>'`; prints one JSON line.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { preflight } from '../lambdas/core/preflight.js';
import { printMeasurement, type WorkResult } from './preflight-measure.js';

export type { ChildResult } from './preflight-measure.js';

export interface ChildArgs {
  file: string;
  attributeName: string;
  gzip: boolean;
  /**
   * `preflight`: the scanner as the trigger runs it; `csvParseOnly`: the scanner with every line through
   * csv-parse; `csvParseRaw`: csv-parse's stream parser alone, counting records; `readOnly`: the file read
   * through the same stream and nothing else, counting lines (what reading alone costs in memory).
   */
  mode: 'preflight' | 'csvParseOnly' | 'csvParseRaw' | 'readOnly';
  maxBytes: number;
  /** The duplicate table's cap (default: the scanner's), to see what the table costs. */
  maxTrackedValues?: number | undefined;
  /** False: the scan without its GC pacing, to see what the pacing saves. */
  gcPacing?: boolean | undefined;
}

async function measure(args: ChildArgs): Promise<WorkResult> {
  // What an S3 GetObject body hands over: a byte stream in 64 KB chunks.
  const body = createReadStream(args.file, { highWaterMark: 64 * 1024 });
  let result: WorkResult;
  if (args.mode === 'readOnly') {
    let lines = 0;
    let bytes = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) lines++;
    }
    result = { bytes, verdict: 'n/a', values: lines, changed: false, cleanBytes: 0 };
  } else if (args.mode === 'csvParseRaw') {
    let records = 0;
    let bytes = 0;
    body.on('data', (chunk) => {
      bytes += chunk.length;
    });
    const parser = body.pipe(parse({ record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, bom: true }));
    for await (const _ of parser) records++;
    result = { bytes, verdict: 'n/a', values: records, changed: false, cleanBytes: 0 };
  } else {
    let cleanBytes = 0;
    const report = await preflight(body, {
      attributeName: args.attributeName,
      gzip: args.gzip,
      maxBytes: args.maxBytes,
      csvParseOnly: args.mode === 'csvParseOnly',
      maxTrackedValues: args.maxTrackedValues,
      gcPacing: args.gcPacing,
      // The copy is built and handed over as it would be to an upload; here it is only counted.
      sink: (chunk) => {
        cleanBytes += chunk.length;
      },
    });
    result = { bytes: report.bytes, verdict: report.verdict, values: report.values, changed: report.changed, cleanBytes };
  }
  return result;
}

const raw = process.argv[2];
if (raw) void printMeasurement(() => measure(JSON.parse(raw) as ChildArgs));
