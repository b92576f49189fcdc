// The clean copy as it is written: values, and runs of lines kept as they were, copied into 64 KB Buffers that go to the sink in order.
//
// Bytes go straight from the file's bytes into the chunk being filled: building the copy as strings and
// encoding them again cost a fifth of the scan. A run of lines copied unchanged is remembered as a byte
// range and copied at once (one native copy instead of one per line). Each chunk handed out is a Buffer
// of its own: a sink (an S3 upload) may hold it after the call.

const CHUNK_BYTES = 64 * 1024;
/** Up to this many bytes a loop copies faster than a native call. */
const SHORT_COPY = 48;
/** "No chunk" and "no run": a Buffer rather than undefined, so the optimized code never meets another type there. */
const NONE: Buffer = Buffer.alloc(0);

export class CleanCopyWriter {
  private chunk: Buffer = NONE;
  private used = 0;
  private ready: Buffer[] = [];
  private runSource: Buffer = NONE;
  private runStart = 0;
  private runEnd = 0;
  /** Bytes handed out so far (`take` and `end`). */
  bytes = 0;

  /** Lines `[start, end)` of `source`, LFs included, go into the copy as they are: extends the current run, or starts one. */
  run(source: Buffer, start: number, end: number): void {
    if (this.runSource !== source || this.runEnd !== start) {
      this.flushRun();
      this.runSource = source;
      this.runStart = start;
    }
    this.runEnd = end;
  }

  /** Copies the pending run; called before `source` changes. */
  flushRun(): void {
    const source = this.runSource;
    if (source === NONE) return;
    this.runSource = NONE;
    // Runs are ASCII (only ASCII lines are copied as they are), so a chunk may end anywhere inside one.
    for (let at = this.runStart; at < this.runEnd; ) {
      const chunk = this.room(1);
      const n = Math.min(this.runEnd - at, chunk.length - this.used);
      source.copy(chunk, this.used, at, at + n);
      this.used += n;
      at += n;
    }
  }

  /** The value `[start, end)` of `source` and an LF; `quoted` wraps it in quotes (it holds a comma and no quote). */
  value(source: Uint8Array, start: number, end: number, quoted: boolean): void {
    this.flushRun();
    const chunk = this.room(end - start + (quoted ? 3 : 1));
    let at = this.used;
    if (quoted) chunk[at++] = 0x22;
    if (end - start <= SHORT_COPY) {
      for (let i = start; i < end; i++) chunk[at++] = source[i] as number;
    } else {
      chunk.set(source.subarray(start, end), at);
      at += end - start;
    }
    if (quoted) chunk[at++] = 0x22;
    chunk[at++] = 0x0a;
    this.used = at;
  }

  /** A value given as text (UTF-8 in the copy) and an LF. */
  text(value: string): void {
    this.flushRun();
    const chunk = this.room((value.length <= 64 ? value.length * 3 : Buffer.byteLength(value)) + 1);
    const n = chunk.write(value, this.used, chunk.length - this.used, 'utf8');
    chunk[this.used + n] = 0x0a;
    this.used += n + 1;
  }

  /** The chunks filled since the last call, as one Buffer, if any. */
  take(): Buffer | undefined {
    if (this.ready.length === 0) return undefined;
    const out = this.ready.length === 1 ? (this.ready[0] as Buffer) : Buffer.concat(this.ready);
    this.ready = [];
    return out;
  }

  /** Hands out the chunk being filled too: the copy is complete. */
  end(): void {
    this.flushRun();
    this.emit();
  }

  /** The chunk being filled, with at least `bytes` free: a chunk without that room is handed out first. */
  private room(bytes: number): Buffer {
    const chunk = this.chunk;
    if (this.used + bytes <= chunk.length) return chunk;
    this.emit();
    const next = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.chunk = next;
    return next;
  }

  private emit(): void {
    if (this.used > 0) {
      this.ready.push(this.chunk.subarray(0, this.used));
      this.bytes += this.used;
    }
    this.chunk = NONE;
    this.used = 0;
  }
}
