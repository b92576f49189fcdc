// Pure rules that turn an S3 object (key, size, metadata) into a segment name and attribute, or a reason not to.
import { META_ATTRIBUTE_NAME, META_SEGMENT_NAME, SEGMENT_NAME_MAX_LENGTH } from '../shared/contract.js';

/** S3 event notifications form-encode the key: `+` is a space, everything else is percent-encoded. */
export function decodeS3EventKey(rawKey: string): string {
  return decodeURIComponent(rawKey.replace(/\+/g, ' '));
}

/**
 * S3 user metadata is ASCII on the wire; clients send other text as an RFC 2047 encoded word
 * (`=?UTF-8?B?…?=`), which the SDK hands back as is. Decode it so a unicode override works.
 */
export function decodeMetadataValue(value: string): string {
  const match = /^=\?utf-8\?([bq])\?(.*)\?=$/i.exec(value.trim());
  if (!match) return value;
  const [, encoding, text = ''] = match;
  if (encoding?.toLowerCase() === 'b') return Buffer.from(text, 'base64').toString('utf8');
  const bytes = text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, '%$1');
  try {
    return decodeURIComponent(bytes);
  } catch {
    return value;
  }
}

export interface NamingInput {
  /** The decoded object key. */
  key: string;
  /** Object size in bytes. */
  size: number;
  /** S3 user metadata (keys without the `x-amz-meta-` prefix, lower case). */
  metadata: Readonly<Record<string, string>>;
  defaultAttributeName?: string | undefined;
  maxFileBytes: number;
}

export type NamingResult =
  | { ok: true; segmentName: string; attributeName: string }
  | { ok: false; reason: string; segmentName?: string | undefined; attributeName?: string | undefined };

const ATTRIBUTE_NAME_MAX_LENGTH = 100;
const CONTROL_CHARS = /\p{Cc}/u;

function characters(text: string): number {
  return [...text].length;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${bytes} bytes`;
}

/**
 * The folder the file sits in is the attribute; the file name without `.csv` is the segment.
 * Metadata `segment-name` / `attribute-name` override both. Every failure says how to fix it.
 */
export function resolveNames(input: NamingInput): NamingResult {
  const { key } = input;
  const slash = key.lastIndexOf('/');
  const fileName = key.slice(slash + 1);
  const folder = slash > 0 ? key.slice(0, slash).split('/').pop() : undefined;

  if (!fileName.endsWith('.csv')) {
    const hint = /\.csv$/i.test(fileName)
      ? `rename it to end in lower-case ".csv" (Insider only accepts URLs that contain ".csv")`
      : `only .csv files are sent to Insider`;
    return { ok: false, reason: `File name "${fileName}" does not end in ".csv": ${hint}.` };
  }

  const metaSegment = input.metadata[META_SEGMENT_NAME];
  const metaAttribute = input.metadata[META_ATTRIBUTE_NAME];
  const segmentName = (metaSegment !== undefined ? decodeMetadataValue(metaSegment) : fileName.slice(0, -'.csv'.length)).trim();
  const attributeSource =
    metaAttribute !== undefined ? decodeMetadataValue(metaAttribute) : (folder ?? input.defaultAttributeName ?? '');
  const attributeName = attributeSource.trim();
  const segmentFrom = metaSegment !== undefined ? `metadata "${META_SEGMENT_NAME}"` : 'the file name';
  const attributeFrom = metaAttribute !== undefined ? `metadata "${META_ATTRIBUTE_NAME}"` : 'the folder name';

  if (segmentName.length === 0) {
    return { ok: false, reason: `Segment name from ${segmentFrom} is empty: name the file "<segment name>.csv".`, attributeName };
  }
  if (characters(segmentName) > SEGMENT_NAME_MAX_LENGTH) {
    return {
      ok: false,
      reason: `Segment name from ${segmentFrom} has ${characters(segmentName)} characters; Insider allows at most ${SEGMENT_NAME_MAX_LENGTH}. Shorten it or set metadata "${META_SEGMENT_NAME}".`,
      segmentName,
      attributeName,
    };
  }
  if (CONTROL_CHARS.test(segmentName)) {
    return { ok: false, reason: `Segment name from ${segmentFrom} contains control characters.`, segmentName, attributeName };
  }
  if (attributeName.length === 0) {
    const why = metaAttribute !== undefined ? `metadata "${META_ATTRIBUTE_NAME}" is empty` : 'the file is not in a folder and no default attribute is configured';
    return {
      ok: false,
      reason: `No attribute name: ${why}. Put the file in a folder named after the Insider attribute, e.g. "Email Address/${fileName}", or set metadata "${META_ATTRIBUTE_NAME}".`,
      segmentName,
    };
  }
  if (characters(attributeName) > ATTRIBUTE_NAME_MAX_LENGTH || CONTROL_CHARS.test(attributeName)) {
    return {
      ok: false,
      reason: `Attribute name from ${attributeFrom} must be 1–${ATTRIBUTE_NAME_MAX_LENGTH} printable characters.`,
      segmentName,
      attributeName: attributeName.slice(0, ATTRIBUTE_NAME_MAX_LENGTH),
    };
  }
  if (input.size === 0) {
    return { ok: false, reason: 'The file is empty: there are no values to build a segment from.', segmentName, attributeName };
  }
  if (input.size > input.maxFileBytes) {
    return {
      ok: false,
      reason: `The file is ${formatBytes(input.size)}; Insider accepts at most ${formatBytes(input.maxFileBytes)}. Split it into smaller files.`,
      segmentName,
      attributeName,
    };
  }
  return { ok: true, segmentName, attributeName };
}
