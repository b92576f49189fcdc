// When the name sent is taken: which earlier upload took it, from our own table, and what a user can do; and a dry run's verdict on the same facts.
import { UploadStatus } from '../shared/contract.js';
import type { FileToSend } from './check-file.js';
import { isFinal } from './lifecycle.js';
import type { NamingSuccess } from './naming.js';
import type { RecordFields, UploadRecord, UploadsStore } from './ports.js';
import { describeCleanup, describeValues } from './preflight-figures.js';
import { isNameOnly, usesAttribute } from './segment-name-template.js';
import type { TriggerOutcome } from './trigger-types.js';
import { finish, type Hold } from './upload-hold.js';

/** The upload our own table says Insider accepted under `sent` (not this one), if any. */
async function earlierUploadOf(store: UploadsStore, sent: string, uploadId: string, alsoTry?: string): Promise<UploadRecord | undefined> {
  const candidates = [await store.segmentCreatedBy(sent), alsoTry].filter((id): id is string => id !== undefined && id !== uploadId);
  for (const id of new Set(candidates)) {
    const record = await store.get(id);
    const accepted = record && (record.possiblyAccepted || ([UploadStatus.Submitted, UploadStatus.Completed, UploadStatus.TimedOut] as UploadStatus[]).includes(record.status));
    if (accepted) return record;
  }
  return undefined;
}

function describeEarlier(sent: string, earlier: UploadRecord): string {
  return `"${sent}" was already created by the upload of s3://${earlier.bucket}/${earlier.key} at ${earlier.submittedAt ?? earlier.receivedAt} (upload ${earlier.uploadId}, ${earlier.status}).`;
}

/**
 * Insider's "segment name already in use", for a name nobody may have sent for this upload before:
 * which upload took it, from our own table when we have it, and how to make a recurring drop work.
 */
export async function nameInUseReason(hold: Hold, names: NamingSuccess, sent: string, replaced: string | undefined): Promise<string> {
  const earlier = await earlierUploadOf(hold.deps.store, sent, hold.record.uploadId, replaced);
  const first = `Insider says the segment name "${sent}" is already in use${earlier ? `: ${describeEarlier(sent, earlier)}` : '.'}`;
  // Not a file dropped again but another file of the same name: a date or a counter would not help.
  const otherAttribute = earlier?.attributeName;
  if (otherAttribute !== undefined && otherAttribute !== names.attributeName && !usesAttribute(names.template)) {
    return `${first} That upload was for the attribute "${otherAttribute}", this one is for "${names.attributeName}", and Insider's segment names are unique across attributes: put {attribute} in the segment name template (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} ({attribute})"), or rename the file.`;
  }
  if (isNameOnly(names.template)) {
    return `${first} Insider cannot update or replace a segment, so a file dropped again needs a new name each time: set a segment name template with a date or a counter (context segmentNameTemplate, or metadata segment-name-template, e.g. "{name} {date}" or "{name} {n}"), or rename the file.`;
  }
  const template = names.template;
  const oncePerDay = template.includes('{date}') && !/\{(time|datetime|n)\}/.test(template);
  return oncePerDay
    ? `${first} The template "${template}" gives one name a day: for more than one drop a day add {time} or {n}, or wait for the next day.`
    : `${first} Rename the file, or set metadata "segment-name" (the template "${template}" then decorates it).`;
}

/** A dry run's record: everything a real drop would do, short of the counter, the lock and Insider. */
export async function dryRunVerdict(hold: Hold, names: NamingSuccess, file: FileToSend, naming: RecordFields, peeked: number | undefined): Promise<TriggerOutcome> {
  const { store, clock } = hold.deps;
  const sent = (naming.insiderSegmentName ?? hold.record.insiderSegmentName) as string;
  const earlier = await earlierUploadOf(store, sent, hold.record.uploadId);
  const holder = await store.segmentLockHolder(sent);
  const live = holder && holder !== hold.record.uploadId ? await store.get(holder) : undefined;
  const inFlight = live && !isFinal(live.status) ? live : undefined;
  const cleanup = describeCleanup(file.figures);
  const counter = peeked === undefined ? '' : ` ({n} = ${peeked}, the next number; a real drop takes its own)`;
  const what = `"${sent}"${counter} with attribute "${names.attributeName}": ${describeValues(file.figures)}${cleanup ? `, as a cleaned copy (the copy ${cleanup})` : ''}.`;
  const taken = earlier
    ? ` But Insider would answer "segment name already in use": ${describeEarlier(sent, earlier)}`
    : inFlight
      ? ` But another upload of "${sent}" is in flight (upload ${inFlight.uploadId}, s3://${inFlight.bucket}/${inFlight.key}): a real drop now would be rejected.`
      : '';
  const at = clock.now().toISOString();
  return finish(hold, {
    ...naming,
    status: UploadStatus.DryRun,
    dryRunVerdict: taken ? 'would-reject' : 'would-submit',
    reason: `Dry run: nothing was sent to Insider. A real drop would send ${what}${taken}`,
    leaseUntil: at,
    updatedAt: at,
  });
}
