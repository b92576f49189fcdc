// End-to-end: secrets stay out of logs and the template, file URLs record their real expiry, every final status is announced once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinalStatusMessage } from '../../lambdas/adapters/sns-status-publisher.js';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { MAX_CALLBACK_BODY_BYTES, METRICS_NAMESPACE, MetricName, PRESIGN_ROLE_MAX_SECONDS, ServiceName } from '../../lambdas/shared/contract.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

const TOKEN = 'a-very-recognisable-token-123';
const COMPLETED_KEY = 'em/Secret check.csv';
const REJECTED_KEY = 'No folder here.csv';
const TIMED_OUT_KEY = 'em/Never called back.csv';
const HOUR_MS = 3_600_000;

let stack: LocalStack;
let completed: UploadRecord;
let rejected: UploadRecord;
let timedOut: UploadRecord;

const logLines = () => Object.values(stack.functions).flatMap((f) => f.logs);
const parsed = (lines: string[]) =>
  lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

beforeAll(async () => {
  stack = await startLocalStack({ token: TOKEN });
  await stack.put(COMPLETED_KEY, 'a@example.com\nb@example.com\n');
  await stack.put(REJECTED_KEY, 'a@example.com\n');
  const records = await stack.waitForFinal([COMPLETED_KEY, REJECTED_KEY]);
  await stack.idle();
  completed = records.find((r) => r.key === COMPLETED_KEY) as UploadRecord;
  rejected = records.find((r) => r.key === REJECTED_KEY) as UploadRecord;
  expect(completed?.status).toBe('completed');
  expect(rejected?.status).toBe('rejected');

  // Insider accepts this one and never calls back; the sweeper, run as if 7 hours later, times it out.
  stack.simulator.setFaults({ callbackDropped: 1 });
  await stack.put(TIMED_OUT_KEY, 'c@example.com\n');
  await stack.waitForFinal([TIMED_OUT_KEY], { acceptSubmitted: true });
  await stack.idle();
  stack.simulator.setFaults({});
  const sweeper = stack.functions.sweeper;
  await sweeper.invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event', time: new Date(Date.now() + 7 * HOUR_MS).toISOString() });
  timedOut = (await stack.waitForFinal([TIMED_OUT_KEY]))[0] as UploadRecord;
  expect(timedOut?.status).toBe('timed_out');
});

// Every AWS call the functions and the platform made here must be allowed by the template's IAM.
afterAll(() => stopAfterCheckingCalls(stack));

describe('secrets', () => {
  it('the token reaches Insider but neither the template nor any function log line', () => {
    expect(stack.simulator.requests.filter((r) => r.segmentName === 'Secret check')).toHaveLength(1);
    expect(JSON.stringify(stack.synth.template)).not.toContain(TOKEN);
    expect(JSON.stringify(stack.synth.template)).not.toContain('"SecretString"');
    const lines = logLines();
    // The logs are really there: the same lines name the upload.
    expect(lines.some((line) => line.includes(completed.uploadId))).toBe(true);
    expect(lines.filter((line) => line.includes(TOKEN))).toEqual([]);
  });

  it('no log line carries a callback token, a URL signature or a session token', () => {
    const requests = stack.simulator.requests.filter((r) => r.callbackUrl && r.fileUrl);
    expect(requests.length).toBeGreaterThan(0);
    const credentials = requests.flatMap((r) => {
      const fileUrl = new URL(r.fileUrl as string);
      return [
        (r.callbackUrl as string).split('/').pop() as string,
        fileUrl.searchParams.get('X-Amz-Signature') as string,
        fileUrl.searchParams.get('X-Amz-Security-Token') as string,
      ];
    });
    expect(credentials.every((c) => typeof c === 'string' && c.length >= 20)).toBe(true);
    const lines = logLines();
    for (const credential of credentials) expect(lines.filter((line) => line.includes(credential))).toEqual([]);
  });
});

describe('file URL lifetime', () => {
  it('is signed with a freshly assumed presign role, and the record says when that session, and so the URL, ends', () => {
    const request = stack.simulator.requests.find((r) => r.segmentName === 'Secret check');
    const url = new URL(request?.fileUrl as string);
    const session = stack.sts.sessions.find((s) => s.sessionToken === url.searchParams.get('X-Amz-Security-Token'));
    expect(session).toMatchObject({ durationSeconds: PRESIGN_ROLE_MAX_SECONDS, roleArn: expect.stringMatching(/:role\/PresignRole[0-9A-F]{8}$/) });
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(PRESIGN_ROLE_MAX_SECONDS));
    // Signed after the session began, so the session ends first: that is the time S3 enforces.
    expect(completed.fileUrlExpiresAt).toBe(session?.expiration.toISOString());
    // One session per URL: no URL inherits a half-spent one.
    expect(new Set(stack.sts.sessions.map((s) => s.sessionToken)).size).toBe(stack.sts.sessions.length);
  });
});

describe('logs', () => {
  it('names the upload, its object and its segment on every trigger and callback line about it', () => {
    for (const fn of ['trigger', 'callback'] as const) {
      const lines = parsed(stack.functions[fn].logs).filter((l) => l.uploadId === completed.uploadId);
      expect(lines.length, fn).toBeGreaterThan(0);
      for (const line of lines) expect(line, fn).toMatchObject({ objectKey: COMPLETED_KEY, segmentName: 'Secret check' });
    }
  });
});

describe('final status notifications', () => {
  const notificationsFor = (record: UploadRecord) =>
    stack.notifications.filter((n) => (JSON.parse(n.message) as FinalStatusMessage).uploadId === record.uploadId);

  it('publishes exactly one per upload, to the status topic, with the counts', () => {
    const [notification, ...more] = notificationsFor(completed);
    expect(more).toEqual([]);
    expect(notification?.topicArn).toMatch(/:StatusTopic[0-9A-F]{8}$/);
    expect(notification?.subject).toBe('FPS upload completed: Secret check');
    expect(notification?.attributes).toEqual({ status: 'completed' });
    expect(JSON.parse(notification?.message ?? '{}')).toMatchObject({
      status: 'completed',
      segmentName: 'Secret check',
      key: COMPLETED_KEY,
      counts: { valid: 2, invalid: 0, total: 2, matchRate: 1 },
    });
  });

  it.each([
    ['rejection', () => rejected, /Put the file in a folder/],
    ['time-out', () => timedOut, /sent no callback within 6 hours/],
  ])('tells a %s with its reason, once', (_name, record, reason) => {
    const [notification, ...more] = notificationsFor(record());
    expect(more).toEqual([]);
    expect(notification?.attributes).toEqual({ status: record().status });
    expect(JSON.parse(notification?.message ?? '{}')).toMatchObject({ status: record().status, counts: null, reason: expect.stringMatching(reason) });
  });

  it('sends nothing else: one message per final status', () => {
    expect(stack.notifications).toHaveLength(3);
  });
});

describe('metrics', () => {
  it('emits every metric the alarms and the README name, in the FpsPipeline namespace by service', () => {
    const emitted = new Set<string>();
    for (const line of parsed(logLines())) {
      const aws = line._aws as { CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } | undefined;
      for (const directive of aws?.CloudWatchMetrics ?? []) {
        expect(directive.Namespace).toBe(METRICS_NAMESPACE);
        expect(directive.Dimensions).toEqual([['service']]);
        for (const metric of directive.Metrics) emitted.add(`${String(line.service)} ${metric.Name}`);
      }
    }
    expect([...emitted].sort()).toEqual(
      expect.arrayContaining([
        `${ServiceName.trigger} ${MetricName.filesReceived}`,
        `${ServiceName.trigger} ${MetricName.filesSubmitted}`,
        `${ServiceName.trigger} ${MetricName.filesRejected}`,
        `${ServiceName.trigger} ${MetricName.fpsLatency}`,
        `${ServiceName.callback} ${MetricName.filesCompleted}`,
        `${ServiceName.callback} ${MetricName.callbackMatchRate}`,
        // The UploadsTimedOutAlarm reads exactly this one.
        `${ServiceName.sweeper} ${MetricName.filesTimedOut}`,
      ]),
    );
  });
});

describe('callback API', () => {
  it(`answers 413 to a body over ${MAX_CALLBACK_BODY_BYTES} bytes and leaves the record alone`, async () => {
    const callbackUrl = stack.simulator.requests.find((r) => r.segmentName === 'Secret check')?.callbackUrl as string;
    const response = await fetch(callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ segment_name: 'Secret check', padding: 'x'.repeat(MAX_CALLBACK_BODY_BYTES) }),
    });
    expect(response.status).toBe(413);
    expect((await stack.records()).find((r) => r.uploadId === completed.uploadId)).toEqual(completed);
  });
});
