// Checks that s3rver events become S3 notifications as real S3 sends them: key encoding, sequencers, filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeS3EventKey } from '../../lambdas/core/naming.js';
import {
  type S3rverEvent,
  encodeS3EventKey,
  matchesEventType,
  matchesNotificationFilter,
  nextSequencer,
  toS3Notification,
} from '../../local/s3-events.js';
import { type S3rverOnLoopback, startS3rver } from '../../local/s3rver.js';

describe('encodeS3EventKey', () => {
  it.each([
    ['uploads/plain-file_1.csv', 'uploads/plain-file_1.csv'],
    ['uploads/my file.csv', 'uploads/my+file.csv'],
    ['uploads/a+b.csv', 'uploads/a%2Bb.csv'],
    ['uploads/100%.csv', 'uploads/100%25.csv'],
    ['uploads/list (1).csv', 'uploads/list+%281%29.csv'],
    ['uploads/a&b=c.csv', 'uploads/a%26b%3Dc.csv'],
    ['uploads/été_日本.csv', 'uploads/%C3%A9t%C3%A9_%E6%97%A5%E6%9C%AC.csv'],
    ['uploads/star*~!.csv', 'uploads/star*%7E%21.csv'],
    ['uploads/emoji🙂.csv', 'uploads/emoji%F0%9F%99%82.csv'],
  ])('%s → %s', (raw, encoded) => {
    expect(encodeS3EventKey(raw)).toBe(encoded);
  });

  it('round-trips through the production decoder (and the decoding AWS documents)', () => {
    const keys = [
      'a b',
      'a+b',
      'a + b',
      '50%',
      '%2B literally',
      'é/日本/🙂',
      '(x)',
      'a&b=c?d#e',
      "quote's \"double\"",
      'tab\tnew\nline',
      '   ',
      'deep/path/to/file name (final) +v2.csv',
    ];
    for (const key of keys) {
      const encoded = encodeS3EventKey(key);
      expect(encoded).not.toMatch(/[ ()&=?#'"\t\n]/);
      expect(decodeURIComponent(encoded.replace(/\+/g, ' '))).toBe(key);
      expect(decodeS3EventKey(encoded)).toBe(key);
    }
  });

  it('never leaves a literal + (it would read back as a space)', () => {
    expect(encodeS3EventKey('a+b c')).toBe('a%2Bb+c');
    expect(decodeS3EventKey(encodeS3EventKey('a+b c'))).toBe('a+b c');
  });
});

describe('matchesNotificationFilter', () => {
  const rules = [
    { Name: 'prefix', Value: 'uploads/' },
    { Name: 'suffix', Value: '.csv' },
  ] as const;

  it('needs every rule to hold', () => {
    expect(matchesNotificationFilter('uploads/segment.csv', rules)).toBe(true);
    expect(matchesNotificationFilter('uploads/segment.txt', rules)).toBe(false);
    expect(matchesNotificationFilter('other/segment.csv', rules)).toBe(false);
    expect(matchesNotificationFilter('uploads.csv', rules)).toBe(false);
  });

  it('is case-sensitive in values and accepts either spelling of the rule names', () => {
    expect(matchesNotificationFilter('Uploads/x.csv', rules)).toBe(false);
    expect(matchesNotificationFilter('uploads/x.CSV', rules)).toBe(false);
    expect(
      matchesNotificationFilter('uploads/x.csv', [
        { Name: 'Prefix', Value: 'uploads/' },
        { Name: 'Suffix', Value: '.csv' },
      ]),
    ).toBe(true);
  });

  it('lets everything through without rules', () => {
    expect(matchesNotificationFilter('anything at all', [])).toBe(true);
  });

  it('compares against the encoded key, as S3 does', () => {
    expect(matchesNotificationFilter('my uploads/x.csv', [{ Name: 'prefix', Value: 'my+uploads/' }])).toBe(true);
    expect(matchesNotificationFilter('my uploads/x.csv', [{ Name: 'prefix', Value: 'my uploads/' }])).toBe(false);
  });

  it('refuses two rules of the same kind, as S3 refuses the configuration', () => {
    expect(() =>
      matchesNotificationFilter('a', [
        { Name: 'prefix', Value: 'a' },
        { Name: 'Prefix', Value: 'b' },
      ]),
    ).toThrow(/more than one prefix/);
  });
});

describe('matchesEventType', () => {
  it('understands wildcards and exact names', () => {
    expect(matchesEventType('ObjectCreated:Put', ['s3:ObjectCreated:*'])).toBe(true);
    expect(matchesEventType('ObjectCreated:Copy', ['s3:ObjectCreated:Put'])).toBe(false);
    expect(matchesEventType('ObjectRemoved:Delete', ['s3:ObjectCreated:*'])).toBe(false);
    expect(matchesEventType('ObjectRemoved:Delete', ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'])).toBe(true);
  });
});

describe('nextSequencer', () => {
  it('grows strictly, even within one millisecond, and compares as a string', () => {
    const same = 1_800_000_000_000;
    const seq = [nextSequencer(same), nextSequencer(same), nextSequencer(same), nextSequencer(same + 1)];
    for (let i = 1; i < seq.length; i++) {
      expect(seq[i]?.length).toBe(18);
      expect((seq[i] as string) > (seq[i - 1] as string)).toBe(true);
      expect(BigInt(`0x${seq[i]}`) > BigInt(`0x${seq[i - 1]}`)).toBe(true);
    }
    expect(seq[0]).toMatch(/^[0-9A-F]{18}$/);
  });
});

describe('toS3Notification', () => {
  const sample = (key: string, eventName = 'ObjectCreated:Put'): S3rverEvent => ({
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: '2026-01-01T00:00:00.000Z',
        eventName,
        userIdentity: { principalId: 'AWS:ABC' },
        requestParameters: { sourceIPAddress: '::ffff:127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'REQ', 'x-amz-id-2': 'ID2' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'testConfigId',
          bucket: { name: 'uploads-bucket', ownerIdentity: { principalId: 'OWNER' }, arn: 'arn:aws:s3: : :uploads-bucket' },
          object:
            eventName === 'ObjectRemoved:Delete'
              ? { key, sequencer: '1' }
              : { key, size: 42, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '1' },
        },
      },
    ],
  });

  it('encodes the key, fixes the ARN and applies the options', () => {
    const out = toS3Notification(sample('uploads/my list (2)+.csv'), { region: 'eu-west-1', versionId: 'v1' });
    const r = out.Records[0];
    expect(r?.s3.object.key).toBe('uploads/my+list+%282%29%2B.csv');
    expect(r?.s3.object.size).toBe(42);
    expect(r?.s3.object.eTag).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(r?.s3.object.versionId).toBe('v1');
    expect(r?.s3.object.sequencer).toMatch(/^[0-9A-F]{18}$/);
    expect(r?.s3.bucket.arn).toBe('arn:aws:s3:::uploads-bucket');
    expect(r?.awsRegion).toBe('eu-west-1');
    expect(r?.eventName).toBe('ObjectCreated:Put');
    expect(r?.eventSource).toBe('aws:s3');
    expect(r?.eventVersion).toBe('2.1');
    expect(r?.requestParameters.sourceIPAddress).toBe('127.0.0.1');
  });

  it('gives later events for the same key a greater sequencer', () => {
    const a = toS3Notification(sample('k')).Records[0]?.s3.object.sequencer as string;
    const b = toS3Notification(sample('k')).Records[0]?.s3.object.sequencer as string;
    expect(b > a).toBe(true);
  });

  it('leaves size and eTag out of removal events, as S3 does', () => {
    const obj = toS3Notification(sample('gone.csv', 'ObjectRemoved:Delete')).Records[0]?.s3.object;
    expect(obj).toBeDefined();
    expect(Object.keys(obj ?? {}).sort()).toEqual(['key', 'sequencer']);
  });
});

// Drives a real s3rver, so a change in what it emits shows up here rather than in the local stack.
describe('with a real s3rver', () => {
  let server: S3rverOnLoopback;
  let base: string;
  const events: S3rverEvent[] = [];

  beforeAll(async () => {
    server = await startS3rver({ buckets: ['bucket'], beforeStart: (s) => s.on('event', (e: S3rverEvent) => events.push(e)) });
    base = `${server.endpoint}/bucket`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('emits raw keys, which become encoded, decodable notification keys', async () => {
    const key = 'uploads/Q3 list (final)+ été.csv';
    const urlPath = key.split('/').map(encodeURIComponent).join('/');
    const res = await fetch(`${base}/${urlPath}`, { method: 'PUT', body: 'email\na@b.c\n' });
    expect(res.status).toBe(200);
    const del = await fetch(`${base}/${urlPath}`, { method: 'DELETE' });
    expect(del.status).toBe(204);

    expect(events.map((e) => e.Records[0]?.eventName)).toEqual(['ObjectCreated:Put', 'ObjectRemoved:Delete']);
    const raw = events[0]?.Records[0];
    expect(raw?.s3.object.key).toBe(key);

    const put = toS3Notification(events[0] as S3rverEvent).Records[0];
    const removed = toS3Notification(events[1] as S3rverEvent).Records[0];
    expect(put?.s3.object.key).toBe('uploads/Q3+list+%28final%29%2B+%C3%A9t%C3%A9.csv');
    expect(decodeS3EventKey(put?.s3.object.key ?? '')).toBe(key);
    expect(put?.s3.object.size).toBe(12);
    expect(put?.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
    expect(put?.s3.bucket.arn).toBe('arn:aws:s3:::bucket');
    expect((removed?.s3.object.sequencer as string) > (put?.s3.object.sequencer as string)).toBe(true);
  });
});
