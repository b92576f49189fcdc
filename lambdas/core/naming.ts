// Pure rules that turn an S3 object (key, size, metadata) into a segment name and attribute, or a reason not to.
import {
  DEFAULT_SEGMENT_NAME_TEMPLATE,
  DRY_RUN_FOLDER,
  META_ATTRIBUTE_NAME,
  META_DRY_RUN,
  META_SEGMENT_NAME,
  META_SEGMENT_NAME_TEMPLATE,
  SEGMENT_NAME_MAX_LENGTH,
} from '../shared/contract.js';
import { classifyKey, dryRunLookalikeReason, hasDotSegment, type KeyClassification, readFolders, repeatedCsvExtension } from './object-key.js';
import { decodeMetadataValue, dryRunLookalikeKeyReason, dryRunLookalikeKeys, metadataKeyNotes, readDryRunValue } from './object-metadata.js';
import { isNameOnly, parseSegmentNameTemplate, renderSegmentName, type SegmentNameTemplate, segmentNameTemplate, usesCounter } from './segment-name-template.js';
import { describeInvisibleCharacters, graphemes, nameLengthProblem, normalizeName } from './unicode-names.js';
import { formatBytes, sentence } from './wording.js';

export { decodeMetadataValue } from './object-metadata.js';

/** S3 event notifications form-encode the key: `+` is a space, everything else is percent-encoded. */
export function decodeS3EventKey(rawKey: string): string {
  return decodeURIComponent(rawKey.replace(/\+/g, ' '));
}

/** What the caller can do beyond sending a `.csv` as it is. Each one left out keeps today's behaviour, or refuses safely. */
export interface NamingCapabilities {
  /** `.CSV`, `.Csv` accepted; `file.lowerCaseExtension` false tells the caller to send a copy named `.csv`. Default: refused as today. */
  upperCaseExtension?: boolean | undefined;
  /** `.csv.gz` accepted (the caller decompresses it). Default: refused with a reason. */
  gzip?: boolean | undefined;
  /** Dry runs come back `ok` with `dryRun: true`. Default: refused, so nothing reaches Insider. */
  dryRun?: boolean | undefined;
}

/** Segment name templates. Without this, names are `{name}` and a per-file metadata template is refused. */
export interface NamingTemplateContext {
  /** Context `segmentNameTemplate` (validated at load); default `{name}`. Metadata `segment-name-template` overrides it. */
  configured?: string | SegmentNameTemplate | undefined;
  /** Context `timeZone` (IANA); default UTC. */
  timeZone?: string | undefined;
  /** The object's event time: `{date}`, `{time}` and `{datetime}` render it. */
  eventTime: Date;
  /** `{n}`: a counter the caller issued for this logical name; see the `needs-counter` result. */
  counter?: number | undefined;
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
  handles?: NamingCapabilities | undefined;
  template?: NamingTemplateContext | undefined;
}

/** Where the effective template came from. */
export type TemplateFrom = 'default' | 'context' | 'metadata';

/** An accepted object: what to send, and what the record keeps. */
export interface NamingSuccess {
  ok: true;
  /** The exact name to send to Insider (rendered, NFC, within the limit). */
  segmentName: string;
  /** NFC, trimmed. */
  attributeName: string;
  /** The `{name}` value: metadata `segment-name` or the file name without its extension; NFC, trimmed. */
  logicalName: string;
  /** The effective template's source text (`{name}` by default). */
  template: string;
  templateFrom: TemplateFrom;
  /** When the rendered name was shortened: the rule applied, in a sentence for the record. */
  rule?: string | undefined;
  /** A dry run (metadata `dry-run: true` or the `dry-run/` top folder): nothing may be sent to Insider. */
  dryRun: boolean;
  dryRunFrom?: 'metadata' | 'folder' | undefined;
  /** Sentences for the record's note: ignored near-miss metadata keys, skipped blank folders. */
  notes: string[];
  /** What kind of file it is, with its extension as written (`lowerCaseExtension` false: send a copy named `.csv`). */
  file: KeyClassification;
}

/**
 * A refused or ignored object. `resolveNames` sets every field it knows; all but `ok` and `reason`
 * are optional so that a caller's own `{ ok: false, reason }` is a NamingFailure too.
 */
export interface NamingFailure {
  ok: false;
  /**
   * - `rejected` (also when absent): record it `rejected` with `reason`;
   * - `ignored`: a folder placeholder or an ignored file: no record (`reason` says why, for a log);
   * - `needs-counter`: the template uses `{n}`: issue the next number for `logicalName`, then call
   *   again with `template.counter` (only when a template context was given).
   */
  kind?: 'rejected' | 'ignored' | 'needs-counter' | undefined;
  /** For the record; the near-miss and blank-folder notes are already appended to it. */
  reason: string;
  /** The name that would have been sent (rendered when the template was), else the logical name. */
  segmentName?: string | undefined;
  attributeName?: string | undefined;
  logicalName?: string | undefined;
  dryRun?: boolean | undefined;
  dryRunFrom?: 'metadata' | 'folder' | undefined;
  notes?: string[] | undefined;
  file?: KeyClassification | undefined;
}

export type NamingResult = NamingSuccess | NamingFailure;

type NamingFacts = Pick<NamingFailure, 'logicalName' | 'attributeName' | 'dryRunFrom' | 'file'> & { dryRun: boolean; notes: string[] };

/** Attribute names longer than this are refused (Insider's own attribute names are short). */
const ATTRIBUTE_NAME_MAX_LENGTH = 100;

/** Today's message for `.CSV`, kept for callers that cannot send a copy named `.csv`. */
export function upperCaseExtensionReason(fileName: string, extension = '.csv'): string {
  return `File name "${fileName}" does not end in "${extension}": rename it to end in lower-case "${extension}" (Insider only accepts URLs that contain ".csv").`;
}

/**
 * A Windows path pasted as a key (`Email Address\VIP.csv`): S3 reads it as one file name, not in a
 * folder. The key the user meant, with `/` for each `\` (blank parts dropped), and its innermost folder.
 */
function backslashedFolders(fileName: string): { key: string; folder: string } | undefined {
  const parts = fileName.split('\\');
  const name = parts.pop() as string;
  const named = parts.filter((part) => normalizeName(part) !== '');
  const folder = named.at(-1);
  return folder === undefined ? undefined : { key: [...named, name].join('/'), folder: normalizeName(folder) };
}

/**
 * The folder the file sits in is the attribute; the file name without `.csv` is the segment.
 * Metadata `segment-name` / `attribute-name` override both; a template may then decorate the
 * segment name. Names are NFC and trimmed before any check. Every failure says how to fix it.
 * See the README's "Naming rule" for the user's view.
 */
export function resolveNames(input: NamingInput): NamingResult {
  const handles = input.handles ?? {};
  const file = classifyKey(input.key);
  const { fileName } = file;
  const notes: string[] = [];
  let dryRun = false;
  let dryRunFrom: 'metadata' | 'folder' | undefined;
  let logicalName: string | undefined;
  let attributeName: string | undefined;
  const facts = (): NamingFacts => ({ logicalName, attributeName: attributeName || undefined, dryRun, dryRunFrom, notes: [...notes], file });
  const reject = (reason: string, extra: { segmentName?: string | undefined } = {}): NamingResult => ({
    ...facts(),
    ok: false,
    kind: 'rejected',
    reason: [reason, ...notes.map(sentence)].join(' '),
    segmentName: extra.segmentName ?? logicalName,
  });

  if (file.kind === 'folder' || file.kind === 'ignored') {
    return { ...facts(), ok: false, kind: 'ignored', reason: `${file.description}: the pipeline ignores it.` };
  }
  if (file.kind === 'other') {
    const accepted = handles.gzip ? 'only .csv and .csv.gz files are sent to Insider' : 'only .csv files are sent to Insider';
    return reject(`File name "${fileName}" does not end in ".csv" (${file.description}); ${accepted}.`);
  }
  // Before the gzip and case rules, so that the name they lead to is the one the user meant.
  const repeated = repeatedCsvExtension(file);
  if (repeated && input.metadata[META_SEGMENT_NAME] === undefined) {
    const times = repeated.times === 2 ? 'twice' : `${repeated.times} times`;
    const where = file.kind === 'csv.gz' ? `has ".csv" ${times} before ".gz"` : `ends in ".csv" ${times}`;
    return reject(`File name "${fileName}" ${where}: rename it "${repeated.meant}" (or set metadata "${META_SEGMENT_NAME}").`);
  }
  if (file.kind === 'csv.gz' && !handles.gzip) {
    return reject(`File "${fileName}" is gzip-compressed, which this deployment does not read yet: decompress it and drop the .csv file.`);
  }
  if (!file.lowerCaseExtension && !handles.upperCaseExtension) {
    return reject(upperCaseExtensionReason(fileName, file.kind === 'csv.gz' ? '.csv.gz' : '.csv'));
  }
  if (hasDotSegment(input.key)) {
    return reject(
      `The key "${input.key}" has a "." or ".." folder: web clients rewrite such paths, so Insider would download another object. Move the file to a path without "." or ".." folders.`,
    );
  }
  const folders = readFolders(input.key);
  if (folders.dryRun) {
    dryRun = true;
    dryRunFrom = 'folder';
  }
  // Something that looks like a dry run but is not one is refused, never read as a real upload:
  // sent, it would use the segment name in Insider for good.
  const lookalikeFolder = dryRunLookalikeReason(folders, fileName);
  if (lookalikeFolder) return reject(lookalikeFolder);
  const [lookalikeKey] = dryRunLookalikeKeys(input.metadata);
  if (lookalikeKey !== undefined) return reject(dryRunLookalikeKeyReason(lookalikeKey));

  // Metadata: decode what the pipeline reads; note what it probably meant to read.
  notes.push(...metadataKeyNotes(input.metadata));
  const meta: Partial<Record<string, string>> = {};
  for (const key of [META_SEGMENT_NAME, META_ATTRIBUTE_NAME, META_SEGMENT_NAME_TEMPLATE, META_DRY_RUN]) {
    const raw = input.metadata[key];
    if (raw === undefined) continue;
    const decoded = decodeMetadataValue(raw);
    if (!decoded.ok) return reject(`Metadata "${key}" could not be decoded: ${decoded.reason}.`);
    meta[key] = decoded.value;
  }
  if (meta[META_DRY_RUN] !== undefined) {
    const flag = readDryRunValue(meta[META_DRY_RUN]);
    if (!flag.ok) return reject(flag.reason);
    if (flag.dryRun) {
      dryRun = true;
      dryRunFrom ??= 'metadata';
    } else if (folders.dryRun) {
      notes.push(`metadata ${META_DRY_RUN} "${meta[META_DRY_RUN]}" was overruled: the file is in the ${DRY_RUN_FOLDER}/ folder, so it is a dry run`);
    }
  }

  const metaSegment = meta[META_SEGMENT_NAME];
  const metaAttribute = meta[META_ATTRIBUTE_NAME];
  const segmentFrom = metaSegment !== undefined ? `metadata "${META_SEGMENT_NAME}"` : 'the file name';
  // Known before the segment checks, so that a record rejected for its segment name still shows it.
  attributeName = normalizeName(metaAttribute ?? folders.attribute ?? input.defaultAttributeName ?? '');
  logicalName = normalizeName(metaSegment ?? file.stem);
  if (logicalName.length === 0) {
    return reject(`Segment name from ${segmentFrom} is empty: name the file "<segment name>.csv".`);
  }
  const invisibleInSegment = describeInvisibleCharacters(logicalName);
  if (invisibleInSegment) {
    return reject(
      `Segment name from ${segmentFrom} contains invisible or control characters: ${invisibleInSegment}. Remove them: names that look the same would be different segments.`,
    );
  }

  // The effective template: metadata over context over `{name}`.
  let template: SegmentNameTemplate;
  let templateFrom: TemplateFrom = 'default';
  const metaTemplate = meta[META_SEGMENT_NAME_TEMPLATE];
  if (metaTemplate !== undefined) {
    if (!input.template) {
      return reject(
        `Metadata "${META_SEGMENT_NAME_TEMPLATE}" is set, but this deployment does not render segment name templates yet: nothing was sent to Insider. Remove it, or set metadata "${META_SEGMENT_NAME}" to the whole name.`,
      );
    }
    const parsed = parseSegmentNameTemplate(metaTemplate);
    if (!parsed.ok) return reject(`Metadata "${META_SEGMENT_NAME_TEMPLATE}" is not a valid template: ${parsed.errors.join(' ')}`);
    template = parsed.template;
    templateFrom = 'metadata';
  } else if (input.template?.configured !== undefined) {
    template = typeof input.template.configured === 'string' ? segmentNameTemplate(input.template.configured) : input.template.configured;
    templateFrom = 'context';
  } else {
    template = segmentNameTemplate(DEFAULT_SEGMENT_NAME_TEMPLATE);
  }
  const nameOnly = isNameOnly(template);
  const nameTooLong = nameOnly ? nameLengthProblem(logicalName, SEGMENT_NAME_MAX_LENGTH) : undefined;
  if (nameTooLong) {
    return reject(`Segment name from ${segmentFrom} ${nameTooLong}; Insider allows at most ${SEGMENT_NAME_MAX_LENGTH}. Shorten it or set metadata "${META_SEGMENT_NAME}".`);
  }

  const attributeFrom =
    metaAttribute !== undefined ? `metadata "${META_ATTRIBUTE_NAME}"` : folders.attribute !== undefined ? 'the folder name' : 'the default attribute';
  const dryRunPrefix = folders.dryRun ? `${DRY_RUN_FOLDER}/` : '';
  // Only a key with no named folder: below one, a "\" is an ordinary character of the segment name.
  const slashed = metaAttribute === undefined && folders.attribute === undefined ? backslashedFolders(fileName) : undefined;
  if (attributeName.length === 0) {
    const why =
      metaAttribute !== undefined
        ? `metadata "${META_ATTRIBUTE_NAME}" is empty`
        : folders.folders.length > 0
          ? `the file's folder ${folders.folders.length > 1 ? 'names are' : 'name is'} blank and no default attribute is configured`
          : `the file is not in a folder${folders.dryRun ? ` (the ${DRY_RUN_FOLDER}/ folder does not count)` : ''} and no default attribute is configured`;
    if (slashed) {
      return reject(
        `No attribute name: the key "${input.key}" uses "\\" where S3 separates folders with "/", so ${why}. Drop it as "${dryRunPrefix}${slashed.key}" to put it in the folder "${slashed.folder}" (the Insider attribute), or set metadata "${META_ATTRIBUTE_NAME}".`,
      );
    }
    const example = `${dryRunPrefix}Email Address/${fileName}`;
    return reject(`No attribute name: ${why}. Put the file in a folder named after the Insider attribute, e.g. "${example}", or set metadata "${META_ATTRIBUTE_NAME}".`);
  }
  if (slashed) {
    notes.push(
      `the key "${input.key}" uses "\\", which S3 does not read as a folder separator, so the default attribute "${attributeName}" was used; for the folder "${slashed.folder}", drop it as "${dryRunPrefix}${slashed.key}"`,
    );
  }
  if (metaAttribute === undefined && folders.innermostBlank) {
    notes.push(
      folders.attribute !== undefined
        ? `the folder name above the file is blank, so the attribute was taken from the nearest named folder, "${folders.attribute}"`
        : `the file's folder name is blank, so the default attribute "${attributeName}" was used`,
    );
  }
  const invisibleInAttribute = describeInvisibleCharacters(attributeName);
  if (invisibleInAttribute) {
    return reject(`Attribute name from ${attributeFrom} contains invisible or control characters: ${invisibleInAttribute}. Remove them.`);
  }
  const attributeTooLong = nameLengthProblem(attributeName, ATTRIBUTE_NAME_MAX_LENGTH);
  if (attributeTooLong) {
    const reason = `Attribute name from ${attributeFrom} ${attributeTooLong}; at most ${ATTRIBUTE_NAME_MAX_LENGTH} are accepted.`;
    attributeName = graphemes(attributeName).slice(0, ATTRIBUTE_NAME_MAX_LENGTH).join('');
    return reject(reason);
  }

  let segmentName = logicalName;
  let rule: string | undefined;
  if (!nameOnly && input.template) {
    if (usesCounter(template) && input.template.counter === undefined) {
      return { ...facts(), ok: false, kind: 'needs-counter', reason: `The template "${template.source}" uses {n}: issue a counter for "${logicalName}" and resolve again.` };
    }
    const rendered = renderSegmentName({
      template,
      name: logicalName,
      attribute: attributeName,
      eventTime: input.template.eventTime,
      timeZone: input.template.timeZone,
      counter: input.template.counter,
    });
    if (!rendered.ok) return reject(rendered.reason);
    segmentName = rendered.segmentName;
    rule = rendered.rule;
  }

  if (input.size === 0) {
    return reject('The file is empty: there are no values to build a segment from.', { segmentName });
  }
  if (input.size > input.maxFileBytes) {
    return reject(
      `The file is ${formatBytes(input.size)}; Insider accepts at most ${formatBytes(input.maxFileBytes)}. Split it into smaller files.`,
      { segmentName },
    );
  }
  if (dryRun && !handles.dryRun) {
    const how = dryRunFrom === 'folder' ? `it is in the ${DRY_RUN_FOLDER}/ folder` : `metadata "${META_DRY_RUN}" is true`;
    return reject(`This is a dry run (${how}), and this deployment does not do dry runs yet: nothing was sent to Insider.`, { segmentName });
  }
  return { ...facts(), ok: true, segmentName, attributeName, logicalName, file, template: template.source, templateFrom, rule };
}
