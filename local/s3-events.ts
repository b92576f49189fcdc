// Turns s3rver's notification events into the S3 event notifications real S3 sends to Lambda (encoded keys, sequencers, filters).
import type { S3Event, S3EventRecord } from 'aws-lambda';

/** What `@20minutes/s3rver` 4.0.4 emits on `server.on('event', e)` (lib/models/event.js). */
export interface S3rverEvent {
  Records: S3rverEventRecord[];
}

export interface S3rverEventRecord {
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  eventTime: string;
  /** 'ObjectCreated:Put' | 'ObjectCreated:Post' | 'ObjectCreated:Copy' | 'ObjectRemoved:Delete' */
  eventName: string;
  userIdentity?: { principalId: string };
  requestParameters?: { sourceIPAddress?: string };
  responseElements?: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion?: string;
    configurationId?: string;
    bucket: { name: string; ownerIdentity?: { principalId: string }; arn?: string };
    /** `key` is the raw object key; `size` and `eTag` are missing for deletes, `eTag` also for copies. */
    object: { key: string; size?: number; eTag?: string; sequencer?: string };
  };
}

export interface ToS3NotificationOptions {
  /** Defaults to the region s3rver reports (always us-east-1). */
  region?: string;
  /** Set it to emulate a versioned bucket. */
  versionId?: string;
  /** The notification configuration's Id. */
  configurationId?: string;
}

export type S3FilterRule = { Name: 'prefix' | 'suffix' | 'Prefix' | 'Suffix'; Value: string };

/**
 * Encodes an object key as S3 writes it into event notifications: form encoding, like Java's
 * URLEncoder, except that '/' is kept. So only `A-Z a-z 0-9 . - _ *` and `/` stay as they are,
 * a space becomes '+', and every other byte of the key's UTF-8 form becomes %XX (upper-case hex):
 * '+' → %2B, '(' → %28, ')' → %29, '=' → %3D, '&' → %26, '%' → %25, '~' → %7E, 'é' → %C3%A9.
 * The trigger decodes it with `decodeS3EventKey` in lambdas/core/naming.ts, the inverse of this.
 */
export function encodeS3EventKey(key: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(key)) {
    if (byte === 0x20) out += '+';
    else if (isKeptAsIs(byte)) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isKeptAsIs(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x2e || // .
    b === 0x2d || // -
    b === 0x5f || // _
    b === 0x2a || // *
    b === 0x2f // /
  );
}

/**
 * S3's sequencer only has to grow per key; a process-wide counter on top of the clock gives that (and
 * more), even for several writes in the same millisecond. Fixed-width upper-case hex, so comparing the
 * strings compares the values, like the 18-digit ones S3 sends.
 */
let lastSequencer = 0n;
export function nextSequencer(now: number = Date.now()): string {
  const fromClock = BigInt(now) << 16n;
  lastSequencer = fromClock > lastSequencer ? fromClock : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}

/** Turns one s3rver event into the S3 notification real S3 would deliver for it. */
export function toS3Notification(s3rverEvent: S3rverEvent, opts: ToS3NotificationOptions = {}): S3Event {
  return { Records: s3rverEvent.Records.map((r) => toRecord(r, opts)) };
}

function toRecord(r: S3rverEventRecord, opts: ToS3NotificationOptions): S3EventRecord {
  const removed = r.eventName.startsWith('ObjectRemoved:');
  // Deletes carry no size or eTag in real notifications either, whatever the type says.
  const object = {
    key: encodeS3EventKey(r.s3.object.key),
    ...(!removed && r.s3.object.size !== undefined ? { size: r.s3.object.size } : {}),
    ...(!removed && r.s3.object.eTag !== undefined ? { eTag: r.s3.object.eTag.replace(/"/g, '') } : {}),
    ...(opts.versionId !== undefined ? { versionId: opts.versionId } : {}),
    sequencer: nextSequencer(),
  } as S3EventRecord['s3']['object'];
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: opts.region ?? r.awsRegion,
    eventTime: r.eventTime,
    eventName: r.eventName,
    userIdentity: { principalId: r.userIdentity?.principalId ?? 'AWS:LOCAL' },
    requestParameters: {
      sourceIPAddress: (r.requestParameters?.sourceIPAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    },
    responseElements: {
      'x-amz-request-id': r.responseElements?.['x-amz-request-id'] ?? 'LOCAL',
      'x-amz-id-2': r.responseElements?.['x-amz-id-2'] ?? 'LOCAL',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: opts.configurationId ?? r.s3.configurationId ?? 'local',
      bucket: {
        name: r.s3.bucket.name,
        ownerIdentity: { principalId: r.s3.bucket.ownerIdentity?.principalId ?? 'LOCAL' },
        // s3rver writes 'arn:aws:s3: : :bucket'.
        arn: `arn:aws:s3:::${r.s3.bucket.name}`,
      },
      object,
    },
  };
}

/**
 * Whether a notification configuration's key filter lets `key` through. `key` is the raw object key;
 * S3 compares the rule values against the key in its encoded form (its docs ask for a space in a
 * prefix to be written '+' and other special characters percent-encoded), so this does the same.
 * Case-sensitive; all rules must hold; no rules means every key. S3 refuses a configuration with two
 * prefix or two suffix rules, and so does this.
 */
export function matchesNotificationFilter(key: string, filterRules: readonly S3FilterRule[]): boolean {
  const encoded = encodeS3EventKey(key);
  let prefix: string | undefined;
  let suffix: string | undefined;
  for (const rule of filterRules) {
    const name = rule.Name.toLowerCase();
    if (name === 'prefix') {
      if (prefix !== undefined) throw new Error('Cannot specify more than one prefix rule in a filter.');
      prefix = rule.Value;
    } else if (name === 'suffix') {
      if (suffix !== undefined) throw new Error('Cannot specify more than one suffix rule in a filter.');
      suffix = rule.Value;
    } else {
      throw new Error(`Unknown filter rule name: ${rule.Name}`);
    }
  }
  return (prefix === undefined || encoded.startsWith(prefix)) && (suffix === undefined || encoded.endsWith(suffix));
}

/**
 * Whether an event name (e.g. 'ObjectCreated:Put') is selected by a configuration's event types
 * ('s3:ObjectCreated:*', 's3:ObjectCreated:Put', ...).
 */
export function matchesEventType(eventName: string, eventTypes: readonly string[]): boolean {
  const name = `s3:${eventName}`;
  return eventTypes.some((t) => (t.endsWith(':*') ? name.startsWith(t.slice(0, -1)) : name === t));
}
