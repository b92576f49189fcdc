// Pre-flight: reads a dropped CSV once, as a stream, counts what is wrong with it, decides whether Insider should see it, and writes the clean copy.
//
// Pure apart from node:zlib and the sink it is handed: the caller streams the object in (an S3
// GetObject body) and, when the report says `changed`, hands Insider the copy the sink received. This
// module is the entry point and the stream driver; the scan itself is split by stage:
//   preflight-scanner.ts  what the bytes are (BOM, gzip, ZIP, UTF-16, NUL, UTF-8), chunk by chunk
//   preflight-delimiter.ts which character separates fields (comma, semicolon, tab), from the first rows
//   preflight-lines.ts    line splitting, and the byte path that reads most lines without a string
//   preflight-csv.ts      the text path: quoted lines and values spanning lines, through csv-parse
//   preflight-rows.ts     a row's first field as a value: header, trimming, format, duplicates, copy
//   preflight-header.ts   header detection
//   preflight-output.ts   the clean copy, written into 64 KB Buffers
//   preflight-tally.ts    the figures while they are counted
//   preflight-verdict.ts  the verdict, its reasons and the report
//   preflight-types.ts    the options and the report
//
// How the CSV is read. csv-parse is the parser, but it walks the input a byte at a time in JavaScript,
// with several calls per byte: the pre-flight benchmark (bench/preflight.ts) measures it alone at a
// small fraction of this whole scan's rate. So lines go to it only when they need a CSV parser. A line
// without a quote has no CSV syntax other than the comma, so its fields are what splitting at commas
// gives, which is what csv-parse returns for it too; so has a line whose quotes only wrap whole fields
// with no quote inside (`"a@b.com","Ann"`, what warehouse exports write on every line). Every other
// line with a quote goes to csv-parse, together with the lines a quoted value runs on to. The unit tests
// run both ways (`csvParseOnly`) over the same files, valid, malformed and random, and compare every
// figure and the copy.
import type { TransformOptions, Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { PreflightScanner } from './preflight-scanner.js';
import type { CleanCopySink, PreflightOptions, PreflightReport } from './preflight-types.js';

export type { Delimiter } from './preflight-delimiter.js';
export { headerKey } from './preflight-header.js';
export { PreflightScanner } from './preflight-scanner.js';
export type {
  CleanCopySink,
  CleanupKind,
  LineEndingKind,
  LineSample,
  PreflightOptions,
  PreflightProblem,
  PreflightRejection,
  PreflightReport,
} from './preflight-types.js';

/** A zlib error that says the data is not gzip, or ends early; anything else (the network) is thrown on. */
class GzipDataError extends Error {
  override readonly name = 'GzipDataError';
  constructor(readonly kind: 'notGzip' | 'gzipTruncated') {
    super(kind);
  }
}

/**
 * Bytes the gunzip stream buffers on each side, set rather than left to Node: Node 22 raised the
 * default from 16 KB to 64 KB, which made how far a stopped scan had read ahead differ between the
 * machine's Node and Lambda's.
 */
const GUNZIP_BUFFER_BYTES = 16 * 1024;

/** Decompresses `body` as it is read, with backpressure; stopping the loop early closes both streams. */
async function* gunzip(body: AsyncIterable<Uint8Array>, scanner: PreflightScanner): AsyncGenerator<Buffer> {
  const source = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        scanner.countRead(chunk.length);
        yield chunk;
      }
    })(),
  );
  // zlib hands its options to the Transform it is, though its type does not list the stream's.
  const options: ZlibOptions & TransformOptions = { chunkSize: 64 * 1024, highWaterMark: GUNZIP_BUFFER_BYTES };
  const inflate = createGunzip(options);
  source.on('error', (err) => inflate.destroy(err));
  source.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'Z_BUF_ERROR') throw new GzipDataError('gzipTruncated');
    if (typeof code === 'string' && code.startsWith('Z_')) throw new GzipDataError('notGzip');
    throw err;
  } finally {
    source.unpipe(inflate);
    source.destroy();
    inflate.destroy();
  }
}

/**
 * Heap bytes allocated, and dropped at once, per byte read or copied (see `paceYoungGc`). A quarter
 * brings a young collection every few MB of file, each finding a few MB of dead chunks. More pacing
 * freed little more and cost more collections (as many heap bytes as chunk bytes: three times as many,
 * about a tenth of the scan's CPU time on the benchmark machine).
 */
const GC_PACE = 1 / 4;
/** Bytes a slot of a JavaScript array takes on the heap (64-bit, no pointer compression, as Node builds). */
const ARRAY_SLOT_BYTES = 8;
/** Largest array allocated at once: below V8's large-object size (128 KB), so it lives and dies in the young generation. */
const PACER_MAX_BYTES = 64 * 1024;
// Written and never read: the array must be allocated, and dead by the next collection.
// biome-ignore lint/correctness/noUnusedVariables: see above
let pacer: unknown[] | undefined;

/**
 * Lets V8 free the chunks read and the copy's chunks soon after they die. They are Buffers, whose
 * memory lies outside the JavaScript heap; V8 frees a dead one at the next young-generation collection,
 * which comes when the young heap is full or after 32 MB of new Buffers (twice the largest young
 * generation). The scan itself allocates next to nothing on the heap, so without this the dead chunks
 * of a large file pile up to that 32 MB before each collection, and peak memory with them (the
 * benchmark's "no GC pacing" case). A short-lived array in proportion to the bytes fills the young heap
 * instead. Each array is dropped at once, so no collection copies it and the young generation does not
 * grow.
 */
function paceYoungGc(bytes: number): void {
  for (let left = bytes * GC_PACE; left > 0; left -= PACER_MAX_BYTES) {
    pacer = new Array(Math.ceil(Math.min(left, PACER_MAX_BYTES) / ARRAY_SLOT_BYTES));
    pacer = undefined;
  }
}

function waitForDrain(sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sink.off('drain', onDrain);
      sink.off('error', onError);
      sink.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('The clean-copy sink closed before the copy was complete'));
    sink.on('drain', onDrain);
    sink.on('error', onError);
    sink.on('close', onClose);
  });
}

async function writeToSink(sink: CleanCopySink, chunk: Buffer): Promise<void> {
  if (typeof sink === 'function') {
    await sink(chunk);
    return;
  }
  if (!sink.write(chunk)) await waitForDrain(sink);
}

/**
 * Reads `body` once and returns the figures and the verdict. Memory stays bounded whatever the file:
 * a chunk and the current line (a work buffer of 256 KB, more only for lines near `maxLineLength`), a
 * batch of quoted lines (64 KB), the duplicate table (at most `maxTrackedValues` fingerprints), 64 KB
 * of copy waiting for the sink, and the chunks already read until V8 frees them (see `paceYoungGc`).
 * Reading stops as soon as the verdict is certain (too large, not text, not CSV), which closes `body`.
 *
 * Throws only when reading `body` or writing to the sink fails (network, S3): the caller retries then.
 *
 * The copy goes to the sink from the first row, because whether anything changes is known only at the
 * end. With an `@aws-sdk/lib-storage` Upload, a copy under one part (5 MB) is sent only when the Body
 * ends, so aborting costs nothing; a larger one has sent parts, which the abort deletes. The Upload
 * holds `queueSize × partSize` in memory (S3ObjectStore.writeCopy: 1 × 5 MB, plus the part filling).
 *
 * @example
 * // As the trigger does it (submit-upload's checkFile), through the ObjectStore port:
 * const body = await objects.read(bucket, key, versionId);
 * const copy = objects.writeCopy(preparedBucket, `${uploadId}.csv`);
 * const report = await preflight(body, { attributeName, gzip: key.endsWith('.gz'), maxBytes: maxFileBytes, sink: copy.sink });
 * if (report.verdict === 'accept' && report.changed) await copy.complete(); // presign the prepared copy
 * else await copy.abort(); // rejected, or unchanged: presign the original
 */
export async function preflight(body: AsyncIterable<Uint8Array>, options: PreflightOptions): Promise<PreflightReport> {
  const scanner = new PreflightScanner(options);
  const sink = options.sink;
  const source = options.gzip ? gunzip(body, scanner) : body;
  const pacing = options.gcPacing !== false;
  try {
    for await (const chunk of source) {
      const more = scanner.push(chunk);
      const out = scanner.takeOutput();
      if (pacing) {
        paceYoungGc(chunk.length);
        if (out) paceYoungGc(out.length);
      }
      if (out && sink && more) await writeToSink(sink, out);
      if (!more) break;
    }
  } catch (err) {
    if (!(err instanceof GzipDataError)) throw err;
    scanner.fail(err.kind);
  }
  const report = scanner.finish();
  const rest = scanner.takeOutput();
  if (rest && sink && !scanner.stopped) await writeToSink(sink, rest);
  return report;
}
