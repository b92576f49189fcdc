// The S3 events queue on the local stack: Insider's Retry-After becomes the message's visibility, the last attempt lands in the failure queue, and the SQS console's DLQ redrive re-attempts a failed upload.
import { ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../lambdas/core/ports.js';
import { TRIGGER_MAX_RECEIVES } from '../../lambdas/shared/contract.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stopAfterCheckingCalls } from '../support/iam/index.js';

/** Every SQS wait runs 100 times faster: a 120 s Retry-After lasts 1.2 s. */
const TIME_SCALE = 0.01;
const RETRY_AFTER_SECONDS = 120;

let stack: LocalStack;
let sqs: SQSClient;
/** Segments Insider answers 503 for while they are listed here. */
const down = new Set<string>();
/** Segments whose first request Insider answers 429 with a long Retry-After. */
const slowDown = new Set<string>();

beforeAll(async () => {
  stack = await startLocalStack({ timeScale: TIME_SCALE });
  stack.simulator.setScript(({ segmentName }) => {
    if (segmentName && down.has(segmentName)) return { status: 503, body: { statusMessage: 'Service Unavailable' } };
    if (segmentName && slowDown.delete(segmentName)) {
      return { status: 429, body: { statusMessage: 'Too Many Requests' }, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } };
    }
    return undefined;
  });
  // A person's client, as the SQS console or the AWS CLI would be.
  sqs = new SQSClient({ endpoint: stack.sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'OPERATOR', secretAccessKey: 'x' } });
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  await stopAfterCheckingCalls(stack);
});

const emails = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`).join('\n');
const visibilityChanges = () => stack.sqs.calls.filter((c) => c.action === 'ChangeMessageVisibility' && c.queueArn === stack.eventsQueue.arn);
async function recordFor(key: string): Promise<UploadRecord> {
  const records = (await stack.records()).filter((r) => r.key === key);
  expect(records).toHaveLength(1);
  return records[0] as UploadRecord;
}

describe('the S3 events queue', () => {
  it("turns a Retry-After longer than the invocation may sleep into the message's visibility timeout", async () => {
    const segment = 'Slow down';
    slowDown.add(segment);
    const before = visibilityChanges().length;

    await stack.put(`em/${segment}.csv`, emails(2));
    const [record] = await stack.waitForFinal([`em/${segment}.csv`], { timeoutMs: 30_000 });

    expect(record).toMatchObject({ status: 'completed', invocations: 2, fpsRequests: 2 });
    // The trigger, with its execution role's credentials, asked SQS to wait exactly Insider's Retry-After.
    const changes = visibilityChanges().slice(before);
    expect(changes.map((c) => c.visibilityTimeout)).toEqual([RETRY_AFTER_SECONDS]);
    expect(changes[0]?.accessKeyId).toBe(stack.functions.trigger.environment.AWS_ACCESS_KEY_ID);
    // No invocation slept through it: the second request came from the next delivery, no sooner than asked.
    const requests = stack.simulator.requests.filter((r) => r.segmentName === segment);
    expect(requests.map((r) => r.status)).toEqual([429, 200]);
    expect((requests[1]?.time ?? 0) - (requests[0]?.time ?? 0)).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 * TIME_SCALE - 50);
  });

  it('records the last attempt failed and moves its event to the failure queue at once', { timeout: 60_000 }, async () => {
    const segment = 'Always down';
    down.add(segment);
    const key = `em/${segment}.csv`;
    const before = visibilityChanges().length;

    await stack.put(key, emails(1));
    await stack.waitForFinal([key], { timeoutMs: 45_000 });
    await stack.drainEvents();

    expect(await recordFor(key)).toMatchObject({ status: 'failed', invocations: TRIGGER_MAX_RECEIVES, reason: expect.stringMatching(/Gave up after 3 attempts/) });
    // Two waits that grow (60 s, then 120 s, jittered in their upper half), then visibility 0 for the move.
    const waits = visibilityChanges().slice(before).map((c) => c.visibilityTimeout ?? -1);
    expect(waits).toHaveLength(TRIGGER_MAX_RECEIVES);
    expect(waits[0]).toBeGreaterThanOrEqual(30);
    expect(waits[0]).toBeLessThanOrEqual(60);
    expect(waits[1]).toBeGreaterThanOrEqual(60);
    expect(waits[1]).toBeLessThanOrEqual(120);
    expect(waits[2]).toBe(0);
    const failed = stack.failures().filter((f) => f.key === key);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ receiveCount: TRIGGER_MAX_RECEIVES, event: { Records: [{ eventName: 'ObjectCreated:Put' }] } });
  });

  it("re-attempts a failed upload redriven from the failure queue (StartMessageMoveTask), keeping its metadata, and completes it once Insider works again", { timeout: 60_000 }, async () => {
    const segment = 'Gold redriven';
    const key = 'exports/whatever.csv';
    down.add(segment);
    await stack.put(key, emails(3), { 'segment-name': segment, 'attribute-name': 'email' });
    await stack.waitForFinal([key], { timeoutMs: 45_000 });
    await stack.drainEvents();
    const failed = await recordFor(key);
    expect(failed).toMatchObject({ status: 'failed', segmentName: segment, attributeName: 'email' });
    expect(stack.failures().filter((f) => f.key === key)).toHaveLength(1);

    // Insider works again; the operator presses "Start DLQ redrive" (no destination: back to the source queue).
    down.delete(segment);
    const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: stack.failureQueue.arn }));
    expect(task.TaskHandle).toBeTruthy();
    await expect.poll(async () => (await recordFor(key)).status, { timeout: 30_000, interval: 100 }).toBe('completed');

    const completed = await recordFor(key);
    expect(completed).toMatchObject({
      uploadId: failed.uploadId,
      segmentName: segment,
      attributeName: 'email',
      receivedAt: failed.receivedAt,
      invocations: TRIGGER_MAX_RECEIVES + 1,
      validValuesCount: 3,
      note: expect.stringMatching(/^Re-attempted after it had failed/),
    });
    expect(stack.simulator.requests.filter((r) => r.segmentName === segment && r.accepted)).toHaveLength(1);
    await stack.drainEvents();
    expect(stack.failures().filter((f) => f.key === key)).toEqual([]);
    const tasks = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: stack.failureQueue.arn }));
    expect(tasks.Results?.[0]).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: expect.any(Number) });
  });
});
