// The trigger's pre-flight step: read the object once, keep its figures on the record, and choose what Insider downloads (the object, or a cleaned copy).
import { DEFAULT_ATTRIBUTE_FORMATS, DEFAULT_MAX_INVALID_SHARE, UploadStatus } from '../shared/contract.js';
import type { NamingSuccess } from './naming.js';
import type { RecordFields } from './ports.js';
import { preflight } from './preflight.js';
import { figuresOf, type PreflightFigures } from './preflight-figures.js';
import type { TriggerOutcome } from './trigger-types.js';
import { finish, type Hold, movedOn, save } from './upload-hold.js';

/** The key of an upload's cleaned copy in the prepared bucket: its id, and `.csv` for Insider's URL check. */
export function preparedKeyFor(uploadId: string): string {
  return `${uploadId}.csv`;
}

/** Where Insider downloads the file from: the original object version, or its cleaned copy. */
export interface FileToSend {
  bucket: string;
  key: string;
  versionId: string | undefined;
  figures: PreflightFigures;
}

export type Step<T> = { ok: true; value: T } | { ok: false; outcome: TriggerOutcome };

/**
 * The pre-flight check, once per upload: streams the object version, gunzips `.csv.gz`, counts, and
 * writes the cleaned copy to the prepared bucket when Insider should get it (cleanup changed
 * something, or the name does not end in lower-case `.csv`). A retry of the same delivery cycle reuses
 * the figures and the copy on the record. The figures are saved on the record either way.
 */
export async function checkFile(hold: Hold, names: NamingSuccess): Promise<Step<FileToSend>> {
  const { object, settings, deps } = hold;
  const { uploadId } = hold.record;
  const original = { bucket: object.bucket, key: object.key, versionId: object.versionId };
  const needsCopy = (f: PreflightFigures) => f.changed || !names.file.lowerCaseExtension;
  const done = hold.record.preflight;
  if (done && !names.dryRun && (done.verdict === 'reject' || !needsCopy(done) || hold.record.preparedKey)) {
    deps.log.info('pre-flight already done: reusing its figures', { verdict: done.verdict, preparedKey: hold.record.preparedKey });
    const copy = hold.record.preparedKey;
    return { ok: true, value: copy ? { bucket: settings.preparedBucket, key: copy, versionId: undefined, figures: done } : { ...original, figures: done } };
  }

  const body = await deps.objects.read(object.bucket, object.key, object.versionId);
  if (!body) {
    return { ok: false, outcome: await finish(hold, { status: UploadStatus.Rejected, reason: 'The object was deleted before it could be processed; drop it again.', updatedAt: deps.clock.now().toISOString() }) };
  }
  // A dry run keeps no copy: its figures say what the copy would change.
  const preparedKey = preparedKeyFor(uploadId);
  const copy = names.dryRun ? undefined : deps.objects.writeCopy(settings.preparedBucket, preparedKey);
  let report: Awaited<ReturnType<typeof preflight>>;
  try {
    report = await preflight(body, {
      attributeName: names.attributeName,
      gzip: names.file.kind === 'csv.gz',
      maxBytes: settings.maxFileBytes,
      formats: settings.preflight?.formats ?? DEFAULT_ATTRIBUTE_FORMATS,
      maxInvalidShare: settings.preflight?.maxInvalidShare ?? DEFAULT_MAX_INVALID_SHARE,
      normalize: settings.preflight?.normalize ?? false,
      sink: copy?.sink,
    });
  } catch (error) {
    await copy?.abort().catch(() => {});
    throw error;
  }
  const figures = figuresOf(report);
  const keep = copy !== undefined && report.verdict === 'accept' && needsCopy(figures);
  if (keep) await copy.complete();
  else await copy?.abort();
  deps.log.info('pre-flight done', { verdict: figures.verdict, rejection: figures.rejection, values: figures.values, changes: figures.changes, copy: keep, durationMs: figures.durationMs });
  const changes: RecordFields = { preflight: figures, preparedKey: keep ? preparedKey : undefined, updatedAt: deps.clock.now().toISOString() };
  if (report.verdict === 'reject') changes.reason = report.reason;
  if (!(await save(hold, changes))) return { ok: false, outcome: await movedOn(hold) };
  return { ok: true, value: keep ? { bucket: settings.preparedBucket, key: preparedKey, versionId: undefined, figures } : { ...original, figures } };
}
