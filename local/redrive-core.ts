// The pure part of `npm run redrive` past its arguments: which uploads to choose, what to copy, which failure-queue messages name them, and the listing.
import type { CopyObjectCommandInput } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import type { UploadRecord } from '../lambdas/core/ports.js';
import { META_REDRIVE_OF } from '../lambdas/shared/contract.js';
import { decodeS3EventKey } from '../lambdas/core/naming.js';
import type { RedriveChoice } from './redrive-args.js';
import { textTable, truncate } from './text-table.js';

/** Records of several statuses as one list, newest update first (ties: by id, so the order is stable). */
export function newestFirst(records: UploadRecord[]): UploadRecord[] {
  return [...records].sort((a, b) => (a.updatedAt === b.updatedAt ? a.uploadId.localeCompare(b.uploadId) : a.updatedAt < b.updatedAt ? 1 : -1));
}

/** Uploads `npm run redrive` already re-submitted (`redrivenAt`): listed apart, never redriven again. */
export function splitRedriven(records: UploadRecord[]): { open: UploadRecord[]; redriven: UploadRecord[] } {
  return { open: records.filter((r) => r.redrivenAt === undefined), redriven: records.filter((r) => r.redrivenAt !== undefined) };
}

export interface Selection {
  chosen: UploadRecord[];
  /** Ids asked for that are not in the list. */
  unknownIds: string[];
  /** Listed but not chosen by `--all`, with why: each must be chosen by its id. */
  held: { uploadId: string; reason: string }[];
}

/** Why `--all` leaves an upload Insider may already have: a new upload of it could create a second segment. */
export const POSSIBLY_ACCEPTED_HELD =
  'Insider may already have it (possiblyAccepted): look for its segment in Insider\'s panel first, and redrive it with --upload-id only if it is not there';

export function selectUploads(listed: UploadRecord[], choice: RedriveChoice): Selection {
  if (choice.kind === 'list') return { chosen: [], unknownIds: [], held: [] };
  if (choice.kind === 'all') {
    return {
      chosen: listed.filter((r) => !r.possiblyAccepted),
      unknownIds: [],
      held: listed.filter((r) => r.possiblyAccepted).map((r) => ({ uploadId: r.uploadId, reason: POSSIBLY_ACCEPTED_HELD })),
    };
  }
  const byId = new Map(listed.map((r) => [r.uploadId, r]));
  return {
    chosen: choice.uploadIds.flatMap((id) => byId.get(id) ?? []),
    unknownIds: choice.uploadIds.filter((id) => !byId.has(id)),
    held: [],
  };
}

/**
 * Where the bucket has no versioning, the trigger records the event's sequencer as the version
 * (`uploadIdFor`); S3 refuses it as a version id, so only the current object can be copied.
 */
export function hasRealVersionId(record: Pick<UploadRecord, 'versionId' | 'sequencer'>): record is { versionId: string } & typeof record {
  return record.versionId !== undefined && record.versionId !== '' && record.versionId !== record.sequencer;
}

/** What HeadObject says about the object version to copy: everything a copy with REPLACE must re-send. */
export interface ObjectProperties {
  /** User metadata as S3 returns it (non-ASCII values still RFC 2047-encoded, which is how they must be re-sent). */
  metadata: Record<string, string>;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  contentDisposition?: string | undefined;
  cacheControl?: string | undefined;
  contentLanguage?: string | undefined;
  size?: number | undefined;
  lastModified?: Date | undefined;
}

export type CopyPlan =
  | {
      kind: 'copy';
      input: CopyObjectCommandInput & { Bucket: string; Key: string; CopySource: string; MetadataDirective: 'REPLACE' };
      /** Said to the user before copying, e.g. that the current object stands in for the version. */
      note?: string | undefined;
    }
  | { kind: 'skip'; reason: string };

/** A copy source: bucket and key, each key segment URL-encoded, and the version when there is one. */
export function copySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return versionId === undefined ? path : `${path}?versionId=${encodeURIComponent(versionId)}`;
}

/**
 * The CopyObject that makes the object the record names a new upload: the same key, and the
 * object's own metadata and content headers re-sent, because `MetadataDirective: REPLACE` (needed
 * to copy an object onto itself) otherwise drops them, and with them a name set in metadata.
 * `head` is undefined when that version no longer exists.
 */
export function planCopy(record: UploadRecord, head: ObjectProperties | undefined): CopyPlan {
  const realVersion = hasRealVersionId(record);
  if (!head) {
    return {
      kind: 'skip',
      reason: realVersion
        ? `object version ${record.versionId} of s3://${record.bucket}/${record.key} no longer exists (deleted or expired); nothing to copy`
        : `s3://${record.bucket}/${record.key} no longer exists (deleted or expired); nothing to copy`,
    };
  }
  let note: string | undefined;
  if (!realVersion) {
    // The current object may be a later drop with its own record: copying it would submit that one again.
    const replaced =
      (head.size !== undefined && head.size !== record.size) ||
      (head.lastModified !== undefined && head.lastModified.getTime() > Date.parse(record.receivedAt));
    if (replaced) {
      return {
        kind: 'skip',
        reason: `the bucket keeps no versions and s3://${record.bucket}/${record.key} was replaced after this upload (it has its own upload record); nothing to copy`,
      };
    }
    note = 'the bucket keeps no versions (the record names the event\'s sequencer), so the current object is copied: it has this upload\'s size and was not modified after it';
  }
  const optional = {
    ContentType: head.contentType,
    ContentEncoding: head.contentEncoding,
    ContentDisposition: head.contentDisposition,
    CacheControl: head.cacheControl,
    ContentLanguage: head.contentLanguage,
  };
  return {
    kind: 'copy',
    input: {
      Bucket: record.bucket,
      Key: record.key,
      CopySource: copySource(record.bucket, record.key, realVersion ? record.versionId : undefined),
      MetadataDirective: 'REPLACE',
      // What the user set, and which upload this one redrives (its name keeps that upload's time).
      Metadata: { ...head.metadata, [META_REDRIVE_OF]: record.uploadId },
      ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined && value !== '')),
    },
    note,
  };
}

/** One object a failure-queue message names. */
export interface FailedObjectRef {
  bucket: string;
  /** Decoded, as the trigger decodes it. */
  key: string;
  versionId?: string | undefined;
  sequencer?: string | undefined;
}

const S3Records = v.object({
  Records: v.array(
    v.object({
      s3: v.object({
        bucket: v.object({ name: v.string() }),
        object: v.object({ key: v.string(), versionId: v.optional(v.string()), sequencer: v.optional(v.string()) }),
      }),
    }),
  ),
});
/** Lambda's on-failure destination record (the asynchronous-invocation transport) wraps the S3 event. */
const DestinationRecord = v.object({ requestContext: v.optional(v.unknown()), requestPayload: S3Records });

/**
 * The objects a failure-queue message names, for both shapes the queue has held: the S3 event
 * itself (the SQS transport's dead-letter queue) and Lambda's on-failure destination record
 * (`{requestContext, requestPayload: <S3 event>, responseContext, responsePayload}`). Anything
 * else (an s3:TestEvent, a message sent by hand) names nothing.
 */
export function objectsInMessage(body: string | undefined): FailedObjectRef[] {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return [];
  }
  const wrapped = v.safeParse(DestinationRecord, json);
  const direct = v.safeParse(S3Records, json);
  const records = wrapped.success ? wrapped.output.requestPayload.Records : direct.success ? direct.output.Records : [];
  const refs: FailedObjectRef[] = [];
  for (const record of records) {
    let key: string;
    try {
      key = decodeS3EventKey(record.s3.object.key);
    } catch {
      continue; // Not a key S3 encoded; it cannot name an upload.
    }
    refs.push({
      bucket: record.s3.bucket.name,
      key,
      versionId: record.s3.object.versionId || undefined,
      sequencer: record.s3.object.sequencer || undefined,
    });
  }
  return refs;
}

/**
 * Whether a message's object is the upload's object version: same bucket and key, and the same
 * version id and sequencer wherever both sides have one. A later version of the same key (say, a
 * redriven copy that failed again) has its own, and is not matched.
 */
export function refMatchesUpload(ref: FailedObjectRef, record: Pick<UploadRecord, 'bucket' | 'key' | 'versionId' | 'sequencer'>): boolean {
  if (ref.bucket !== record.bucket || ref.key !== record.key) return false;
  if (ref.versionId !== undefined && hasRealVersionId(record) && ref.versionId !== record.versionId) return false;
  if (ref.sequencer !== undefined && record.sequencer !== undefined && ref.sequencer !== record.sequencer) return false;
  return true;
}

/**
 * The uploads a message is about, or undefined when it names nothing or also names an object that
 * is not among `uploads` (then it is left for a person: deleting it would lose that other object).
 */
export function uploadsForMessage<T extends Pick<UploadRecord, 'uploadId' | 'bucket' | 'key' | 'versionId' | 'sequencer'>>(
  refs: FailedObjectRef[],
  uploads: readonly T[],
): T[] | undefined {
  if (refs.length === 0) return undefined;
  const matched: T[] = [];
  for (const ref of refs) {
    const upload = uploads.find((u) => refMatchesUpload(ref, u));
    if (!upload) return undefined;
    if (!matched.includes(upload)) matched.push(upload);
  }
  return matched;
}

// Keys and reasons come from people: control and bidirectional characters would rewrite the terminal.
const UNPRINTABLE = /[\p{Cc}\u200B\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

/** Text safe to print on a terminal: control and bidi-override characters shown as \u{…}. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`);
}

/** An SDK error as one printable line. */
export function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return printable(`${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`);
}

/** The listing: one line per upload, newest first as given. */
export function uploadsTable(records: UploadRecord[]): string {
  const header = ['uploadId', 'status', 'updatedAt', 'segment', 'key', 'reason'];
  const rows = records.map((r) => [
    r.uploadId,
    r.status,
    r.updatedAt,
    truncate(printable(r.segmentName ?? ''), 40),
    truncate(printable(r.key), 60),
    truncate(printable(r.reason ?? ''), 80),
  ]);
  return textTable(header, rows);
}
