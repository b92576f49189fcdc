// A bounded set of 64-bit string fingerprints: finds exact duplicates in a stream with memory that stops growing at a cap.
//
// Why fingerprints and not the values: a 50 MB list holds 1–4 million values; a Set of the strings
// would take 100–300 MB and grow with the file. A fingerprint takes 8 bytes in an open-addressing table
// (one Uint32Array of high/low word pairs, so a lookup touches one cache line; linear probing; at most
// half full: at three-quarters a lookup of a new value walks 8.5 slots on average against 2.5, and took
// 174 ns instead of 64 ns in a 4 MB table on the benchmark machine), allocated at its full size once:
// the zeroed pages become resident only when written, so a small file pays for the pages it touches.
// (Growing the table by doubling cost more: each outgrown array stays resident until a full garbage
// collection, 8 MB more at the peak.)
//
// The hash reads four characters at a time: from the file's bytes when the value is ASCII and lies in
// the chunk being read (`addBytes`, 5 times faster than `charCodeAt` on a sliced string), otherwise from
// the string (`add`), packing code units below 256 the same way, so both give one value the same
// fingerprint. Strings with a code unit of 256 or more are hashed one unit at a time with other seeds.
//
// The price of fingerprints: two different values with the same 64 bits look like duplicates, and the
// second would be dropped from the clean copy. With n fingerprints stored and m values checked, the
// chance that this happens at all in a file is at most m·n / 2^64 (treating the hash as random): for the
// default cap (n ≤ 262,144) and a 50 MB file of 6-byte values (m ≤ 7.5 million), about 1 in 10 million.
//
// Past the cap, values are still looked up, so repeats of remembered values are still found, but new
// values are not added: duplicates among them stay in the copy (`complete` turns false). The cap never
// causes a value to be dropped; it only lets some duplicates through, which Insider counts twice at worst.

const MIN_SLOTS = 4096;
// cyrb53's seeds and multipliers; the wide variant starts elsewhere so it is a hash of its own.
const SEED1 = 0xdeadbeef;
const SEED2 = 0x41c6ce57;
const WIDE_SEED1 = 0x9e3779b9;
const WIDE_SEED2 = 0x85ebca6b;
const M1 = 2654435761;
const M2 = 1597334677;
const MAX_LOAD = 0.5;

export type FingerprintResult = 'added' | 'seen' | 'untracked';

export class FingerprintSet {
  /** Slot i holds its fingerprint's high word at 2i and its low word at 2i + 1. */
  private readonly table: Uint32Array;
  private readonly mask: number;
  /**
   * One bit per hash of the high word, set for every fingerprint stored: a clear bit answers "new"
   * from 512 KB that stay in cache instead of the 4 MB table. Past the cap most values are new and
   * none is stored, so most lookups end here; at the cap a 16th of the bits are set, so 1 new value
   * in 16 still goes on to the table.
   */
  private readonly filter: Int32Array;
  private readonly filterMask: number;
  private count = 0;

  /** @param maxEntries distinct values remembered at most; the table has the power of two slots that holds them at half load. */
  constructor(readonly maxEntries: number) {
    let slots = MIN_SLOTS;
    while (slots * MAX_LOAD < maxEntries) slots *= 2;
    this.table = new Uint32Array(2 * slots);
    this.mask = slots - 1;
    // 16 bits per entry the table can hold at half load (a 16th of the table's bytes).
    this.filter = new Int32Array(slots / 4);
    this.filterMask = slots * 8 - 1;
  }

  get size(): number {
    return this.count;
  }

  /** False once the cap was reached: later values are looked up but not remembered. */
  get complete(): boolean {
    return this.count < this.maxEntries;
  }

  /** Bytes the table and its filter span (resident only as far as written). */
  get bytes(): number {
    return this.table.byteLength + this.filter.byteLength;
  }

  /** `added`: first time seen; `seen`: a duplicate; `untracked`: not seen before, and not remembered (the set is full). */
  add(value: string): FingerprintResult {
    const n = value.length;
    let h1 = SEED1 ^ n;
    let h2 = SEED2 ^ n;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const a = value.charCodeAt(i);
      const b = value.charCodeAt(i + 1);
      const c = value.charCodeAt(i + 2);
      const d = value.charCodeAt(i + 3);
      if ((a | b | c | d) > 0xff) return this.addWide(value);
      const w = a | (b << 8) | (c << 16) | (d << 24);
      h1 = Math.imul(h1 ^ w, M1);
      h2 = Math.imul(h2 ^ w, M2);
    }
    let w = 0;
    for (let shift = 0; i < n; i++, shift += 8) {
      const a = value.charCodeAt(i);
      if (a > 0xff) return this.addWide(value);
      w |= a << shift;
    }
    return this.finish(h1, h2, w);
  }

  /** The same for the ASCII bytes `[start, end)` of `bytes` (`view` over the same memory). */
  addBytes(bytes: Uint8Array, view: DataView, start: number, end: number): FingerprintResult {
    const n = end - start;
    let h1 = SEED1 ^ n;
    let h2 = SEED2 ^ n;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      const w = view.getUint32(i, true);
      h1 = Math.imul(h1 ^ w, M1);
      h2 = Math.imul(h2 ^ w, M2);
    }
    let w = 0;
    for (let shift = 0; i < end; i++, shift += 8) w |= (bytes[i] as number) << shift;
    return this.finish(h1, h2, w);
  }

  /** A string with a code unit of 256 or more: cyrb53's two lanes one unit at a time, other seeds. */
  private addWide(value: string): FingerprintResult {
    let h1 = WIDE_SEED1 ^ value.length;
    let h2 = WIDE_SEED2 ^ value.length;
    for (let i = 0; i < value.length; i++) {
      const ch = value.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, M1);
      h2 = Math.imul(h2 ^ ch, M2);
    }
    return this.finish(h1, h2, 0);
  }

  /** The last (partial) word, then cyrb53's final cross-mixing of the two lanes, keeping all 64 bits. */
  private finish(lane1: number, lane2: number, last: number): FingerprintResult {
    let h1 = Math.imul(lane1 ^ last, M1);
    let h2 = Math.imul(lane2 ^ last, M2);
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return this.addHash(h1 >>> 0, h2 >>> 0);
  }

  /** The same, for a fingerprint computed elsewhere (tests use it to force collisions). */
  addHash(hi: number, lo: number): FingerprintResult {
    // (0, 0) marks an empty slot; the one fingerprint that equals it shares a slot value with (0, 1).
    if (hi === 0 && lo === 0) lo = 1;
    const table = this.table;
    let slot = lo & this.mask;
    const bit = hi & this.filterMask;
    const word = bit >>> 5;
    const flag = 1 << (bit & 31);
    if (((this.filter[word] as number) & flag) === 0) {
      // Its bit is clear, so no stored fingerprint equals it: new, without touching the table to ask.
      if (this.count >= this.maxEntries) return 'untracked';
      this.filter[word] = (this.filter[word] as number) | flag;
      while (table[2 * slot] !== 0 || table[2 * slot + 1] !== 0) slot = (slot + 1) & this.mask;
      table[2 * slot] = hi;
      table[2 * slot + 1] = lo;
      this.count++;
      return 'added';
    }
    for (;;) {
      const h = table[2 * slot] as number;
      const l = table[2 * slot + 1] as number;
      if (h === 0 && l === 0) break;
      if (h === hi && l === lo) return 'seen';
      slot = (slot + 1) & this.mask;
    }
    if (this.count >= this.maxEntries) return 'untracked';
    table[2 * slot] = hi;
    table[2 * slot + 1] = lo;
    this.count++;
    return 'added';
  }
}
