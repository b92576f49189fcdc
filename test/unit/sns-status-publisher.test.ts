// The final-status publisher against the local SNS endpoint, through the real SNS client.
import { NotFoundException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finalStatusMessage, snsFinalStatusPublisher, subjectFor } from '../../lambdas/adapters/sns-status-publisher.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { type LocalSns, startLocalSns } from '../../local/sns.js';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:StatusTopic';

const completed: UploadRecord = {
  uploadId: '0123456789abcdef0123456789abcdef',
  bucket: 'drop',
  key: 'em/Müşteri listesi ı.csv',
  size: 40,
  segmentName: 'Müşteri listesi ı',
  attributeName: 'em',
  status: 'completed',
  reason: 'Insider created the segment and reported its counts.',
  receivedAt: '2026-01-01T10:00:00.000Z',
  updatedAt: '2026-01-01T10:05:00.000Z',
  completedAt: '2026-01-01T10:05:00.000Z',
  fpsHttpStatus: 200,
  validValuesCount: 3,
  invalidValuesCount: 1,
  totalEnteredValues: 4,
  matchRate: 0.75,
};

describe('local SNS and the final-status publisher', () => {
  let sns: LocalSns;
  let client: SNSClient;
  const warnings: { message: string; extra: Record<string, unknown> }[] = [];
  const log = { warn: (message: string, extra: Record<string, unknown>) => void warnings.push({ message, extra }) };

  beforeAll(async () => {
    sns = await startLocalSns({ topics: [TOPIC] });
    client = new SNSClient({
      endpoint: sns.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  });
  afterEach(() => {
    sns.setFailing(false);
    sns.messages.length = 0;
    warnings.length = 0;
  });
  afterAll(async () => {
    client.destroy();
    await sns.stop();
  });

  it('publishes a short ASCII subject, the JSON body and a status attribute to filter on', async () => {
    await snsFinalStatusPublisher(client, TOPIC, log)(completed);
    expect(warnings).toEqual([]);
    expect(sns.messages).toEqual([
      {
        topicArn: TOPIC,
        subject: 'FPS upload completed: Musteri listesi i',
        message: JSON.stringify(finalStatusMessage(completed)),
        attributes: { status: 'completed' },
        messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    ]);
    expect(JSON.parse(sns.messages[0]?.message ?? '{}')).toEqual({
      uploadId: completed.uploadId,
      status: 'completed',
      segmentName: 'Müşteri listesi ı',
      insiderSegmentName: null,
      attributeName: 'em',
      bucket: 'drop',
      key: 'em/Müşteri listesi ı.csv',
      preparedKey: null,
      reason: completed.reason,
      warning: null,
      counts: { valid: 3, invalid: 1, total: 4, matchRate: 0.75 },
      preflight: null,
      dryRunVerdict: null,
      fpsHttpStatus: 200,
      receivedAt: completed.receivedAt,
      at: completed.completedAt,
    });
  });

  it('gives a failure its reason and no counts', () => {
    const failed: UploadRecord = { ...completed, status: 'failed', reason: 'Insider could not be reached.', completedAt: undefined, validValuesCount: undefined, invalidValuesCount: undefined, totalEnteredValues: undefined, matchRate: undefined };
    expect(finalStatusMessage(failed)).toMatchObject({ status: 'failed', reason: 'Insider could not be reached.', counts: null, at: failed.updatedAt });
  });

  it('names the segment sent and carries a warning, the copy and a dry run\'s verdict', () => {
    const warned: UploadRecord = { ...completed, insiderSegmentName: 'Müşteri listesi ı 2026-01-01', warning: 'Low match rate: …', preparedKey: `${completed.uploadId}.csv` };
    expect(subjectFor(warned)).toBe('FPS upload completed (warning): Musteri listesi i 2026-01-01');
    expect(finalStatusMessage(warned)).toMatchObject({ segmentName: 'Müşteri listesi ı', insiderSegmentName: 'Müşteri listesi ı 2026-01-01', warning: 'Low match rate: …', preparedKey: `${completed.uploadId}.csv` });
    const dryRun: UploadRecord = { ...completed, status: 'dry_run', dryRunVerdict: 'would-submit', validValuesCount: undefined, totalEnteredValues: undefined };
    expect(finalStatusMessage(dryRun)).toMatchObject({ status: 'dry_run', dryRunVerdict: 'would-submit', counts: null });
  });

  it('keeps subjects within what SNS accepts, falling back to the key', () => {
    const long = subjectFor({ status: 'timed_out', segmentName: 'x'.repeat(200), key: 'k' });
    expect(long.length).toBeLessThan(100);
    expect(long).toMatch(/^FPS upload timed_out: x+\.\.\.$/);
    expect(subjectFor({ status: 'rejected', segmentName: undefined, key: 'No folder\n.csv' })).toBe('FPS upload rejected: No folder .csv');
    expect(subjectFor({ status: 'failed', segmentName: '日本', key: 'k' })).toBe('FPS upload failed: ??');
  });

  it('logs a failed publish and resolves: a notification outage never fails an upload', async () => {
    sns.setFailing(true);
    await expect(snsFinalStatusPublisher(client, TOPIC, log)(completed)).resolves.toBeUndefined();
    expect(sns.messages).toEqual([]);
    expect(warnings).toEqual([{ message: 'final status notification not published', extra: { error: expect.stringMatching(/^InternalError\w*: The local SNS is set to fail/) } }]);
  });

  it('answers NotFound for an unknown topic, as SNS does', async () => {
    await expect(client.send(new PublishCommand({ TopicArn: `${TOPIC}-other`, Message: 'x' }))).rejects.toBeInstanceOf(NotFoundException);
  });
});
