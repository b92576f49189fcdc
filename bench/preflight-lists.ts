// The lists the pre-flight benchmark scans: realistic shapes of what people drop, written to files of a given size.
import { closeSync, createReadStream, createWriteStream, openSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { mulberry32 } from '../local/prng.js';

const MB = 1024 * 1024;

/** The lists benchmarked: realistic shapes of what people drop. */
export type ListKind = 'email' | 'phone' | 'export';
export const ATTRIBUTE: Record<ListKind, string> = { email: 'Email Address', phone: 'Phone Number', export: 'email' };
export const LIST_WORDS: Record<ListKind, string> = {
  email: 'email list',
  phone: 'phone list (E.164)',
  export: 'warehouse export (BOM, header, CRLF, every field quoted, 3 columns)',
};

// Realistic values: names, separators, numbers and domains as marketing lists have them.
const FIRST = ['anna', 'mehmet', 'john', 'maria', 'li', 'fatma', 'james', 'sofia', 'ahmet', 'emma', 'lucas', 'zeynep', 'noah', 'olivia', 'can', 'mia'];
const LAST = ['smith', 'yilmaz', 'garcia', 'kaya', 'muller', 'rossi', 'chen', 'demir', 'brown', 'martin', 'nguyen', 'sahin', 'dubois', 'kowalski'];
const DOMAINS = ['gmail.com', 'gmail.com', 'gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'example-retail.com', 'mail.example.co.uk', 'example.com.tr'];
// [calling code + leading digits, digits after them] for mobile numbers of a few countries.
const PHONES: [string, number][] = [
  ['+1415', 7],
  ['+1646', 7],
  ['+447', 9],
  ['+4915', 9],
  ['+336', 8],
  ['+905', 9],
  ['+919', 9],
  ['+6591', 6],
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function emailValue(random: () => number): string {
  const sep = pick(random, ['.', '_', '', '.']);
  return `${pick(random, FIRST)}${sep}${pick(random, LAST)}${Math.floor(random() * 100_000)}@${pick(random, DOMAINS)}`;
}

function phoneValue(random: () => number): string {
  const [prefix, digits] = pick(random, PHONES);
  let out = prefix;
  for (let i = 0; i < digits; i++) out += Math.floor(random() * 10);
  return out;
}

/** Writes a list of about `bytes` bytes (whole lines, not over the size), with about 1% repeated values. */
export function writeList(path: string, kind: ListKind, bytes: number, seed = 1): number {
  const random = mulberry32(seed);
  const fd = openSync(path, 'w');
  const recent: string[] = [];
  let written = 0;
  let buffer = '';
  const flush = () => {
    writeSync(fd, buffer);
    buffer = '';
  };
  const add = (line: string): boolean => {
    const length = Buffer.byteLength(line);
    if (written + length > bytes) return false;
    written += length;
    buffer += line;
    if (buffer.length >= MB) flush();
    return true;
  };
  if (kind === 'export') add('\ufeff"EMAIL","FIRST_NAME","SIGNUP_DATE"\r\n');
  for (let i = 0; ; i++) {
    const value = recent.length > 0 && random() < 0.01 ? pick(random, recent) : kind === 'phone' ? phoneValue(random) : emailValue(random);
    if (recent.length < 1000) recent.push(value);
    else recent[i % 1000] = value;
    const line =
      kind === 'export' ? `"${value}","${pick(random, FIRST)}","2026-0${1 + (i % 9)}-1${i % 10}"\r\n` : `${value}\n`;
    if (!add(line)) break;
  }
  flush();
  closeSync(fd);
  return written;
}

export async function gzipFile(source: string, target: string): Promise<void> {
  await pipeline(createReadStream(source), createGzip(), createWriteStream(target));
}
