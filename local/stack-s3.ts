// The local stack's S3: s3rver holding the template's buckets (versioned ones given version ids), and its events sent to the queues the template's notifications name, as S3 sends them.
import type S3rver from '@20minutes/s3rver';
import { matchesEventType, matchesNotificationFilter, type S3rverEvent, toS3Notification } from './s3-events.js';
import { emulateVersioning, type S3Versions, versionedBucketIds } from './s3-versions.js';
import { startS3rver } from './s3rver.js';
import type { NotificationSpec, SynthesizedStack } from './template.js';

export interface LocalS3 {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Each bucket's name, by its logical id. */
  bucketNames: ReadonlyMap<string, string>;
  server: S3rver;
  versions: S3Versions;
  stop(): Promise<void>;
}

/** s3rver on loopback with the template's buckets, by the names given (logical id → name). */
export async function startLocalS3(synth: SynthesizedStack, bucketNames: ReadonlyMap<string, string>, port: number | undefined): Promise<LocalS3> {
  let versions: S3Versions | undefined;
  const s3 = await startS3rver({
    buckets: [...bucketNames.values()],
    port,
    beforeStart: (server) => {
      versions = emulateVersioning(server, versionedBucketIds(synth.template).map((id) => bucketNames.get(id) ?? id));
    },
  });
  return { endpoint: s3.endpoint, bucketNames, server: s3.server, versions: versions as S3Versions, stop: s3.stop };
}

export interface S3EventDelivery {
  /** Every S3 event delivered to a queue (duplicates included). */
  readonly deliveredEvents: { key: string; duplicate: boolean }[];
  /** Changes how often S3 delivers an event twice. */
  setDuplicateEventRate(rate: number): void;
  /** The next ObjectCreated event of `key` carries this time instead of the clock's. */
  setEventTime(key: string, at: Date): void;
}

/**
 * Sends each S3 event to the queue of every notification it matches (`send`: the event notification
 * as the message body, which its queue policy lets S3 send), and again at `duplicateEventRate`.
 */
export function deliverS3Events(
  s3: LocalS3,
  notifications: readonly NotificationSpec[],
  duplicateEventRate: number,
  send: (notification: NotificationSpec, body: string) => void,
): S3EventDelivery {
  const deliveredEvents: { key: string; duplicate: boolean }[] = [];
  let duplicateRate = duplicateEventRate;
  const eventTimes = new Map<string, Date>();
  s3.server.on('event', (raw: S3rverEvent) => {
    const record = raw.Records[0];
    if (!record) return;
    const eventTime = eventTimes.get(record.s3.object.key);
    if (eventTime && record.eventName.startsWith('ObjectCreated:')) {
      record.eventTime = eventTime.toISOString();
      eventTimes.delete(record.s3.object.key);
    }
    const bucketId = [...s3.bucketNames].find(([, name]) => name === record.s3.bucket.name)?.[0];
    for (const n of notifications) {
      if (n.bucketLogicalId !== bucketId) continue;
      if (!matchesEventType(record.eventName, n.events) || !matchesNotificationFilter(record.s3.object.key, n.filterRules)) continue;
      const body = JSON.stringify(toS3Notification(raw, { versionId: s3.versions.current(record.s3.bucket.name, record.s3.object.key) }));
      send(n, body);
      deliveredEvents.push({ key: record.s3.object.key, duplicate: false });
      if (duplicateRate > 0 && Math.random() < duplicateRate) {
        // The same event again, same sequencer: what S3's at-least-once delivery looks like.
        send(n, body);
        deliveredEvents.push({ key: record.s3.object.key, duplicate: true });
      }
    }
  });
  return {
    deliveredEvents,
    setDuplicateEventRate(rate) {
      duplicateRate = rate;
    },
    setEventTime(key, at) {
      eventTimes.set(key, at);
    },
  };
}
