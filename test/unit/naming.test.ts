// Unit tests of the naming rules: key decoding, folder/file → attribute/segment, overrides, templates, dry runs and rejections.
import { describe, expect, it } from 'vitest';
import { decodeMetadataValue, decodeS3EventKey, type NamingInput, type NamingResult, resolveNames } from '../../lambdas/core/naming.js';

const base = { size: 10, metadata: {}, maxFileBytes: 1000 };
const resolve = (input: Partial<NamingInput> & { key: string }): NamingResult => resolveNames({ ...base, ...input });
const reasonOf = (result: NamingResult): string => (result.ok ? '' : result.reason);
const AT = new Date('2026-11-29T14:05:00Z');
const b64 = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

describe('decodeS3EventKey', () => {
  it.each([
    ['Email+Address/VIP+customers.csv', 'Email Address/VIP customers.csv'],
    ['a/1%2B1%3D2.csv', 'a/1+1=2.csv'],
    ['em/%C3%BCml%C3%A4ut+%28copy%29.csv', 'em/ümläut (copy).csv'],
    ['em/100%25.csv', 'em/100%.csv'],
  ])('%s → %s', (raw, decoded) => {
    expect(decodeS3EventKey(raw)).toBe(decoded);
  });
});

describe('decodeMetadataValue (re-exported)', () => {
  it('decodes RFC 2047 base64 and Q words and leaves plain text alone', () => {
    expect(decodeMetadataValue(b64('Müşteri'))).toEqual({ ok: true, value: 'Müşteri', encoded: true });
    expect(decodeMetadataValue('=?utf-8?Q?M=C3=BC_ok?=')).toEqual({ ok: true, value: 'Mü ok', encoded: true });
    expect(decodeMetadataValue('plain')).toEqual({ ok: true, value: 'plain', encoded: false });
  });
});

describe('resolveNames: today\'s rules', () => {
  it('takes the attribute from the folder and the segment from the file name', () => {
    expect(resolve({ key: 'Email Address/VIP customers.csv' })).toEqual({
      ok: true,
      attributeName: 'Email Address',
      segmentName: 'VIP customers',
      logicalName: 'VIP customers',
      template: '{name}',
      templateFrom: 'default',
      rule: undefined,
      dryRun: false,
      dryRunFrom: undefined,
      notes: [],
      file: { kind: 'csv', fileName: 'VIP customers.csv', stem: 'VIP customers', extension: '.csv', lowerCaseExtension: true },
    });
  });

  it('uses the innermost folder and falls back to the default attribute', () => {
    expect(resolve({ key: 'exports/2026/em/a.csv' })).toMatchObject({ ok: true, attributeName: 'em' });
    expect(resolve({ key: 'a.csv', defaultAttributeName: 'email' })).toMatchObject({ ok: true, attributeName: 'email', segmentName: 'a' });
  });

  it('lets metadata override both names', () => {
    const result = resolve({ key: 'x/y.csv', metadata: { 'segment-name': 'Override', 'attribute-name': 'phone_number' } });
    expect(result).toMatchObject({ ok: true, segmentName: 'Override', logicalName: 'Override', attributeName: 'phone_number' });
  });

  it.each([
    [{ key: 'VIP.csv' }, /not in a folder.*"Email Address\/VIP.csv"/],
    [{ key: 'em/VIP.CSV' }, /lower-case "\.csv"/],
    [{ key: 'em/VIP.txt' }, /only \.csv files/],
    [{ key: 'em/.csv' }, /empty/],
    [{ key: `em/${'x'.repeat(41)}.csv` }, /41 characters; Insider allows at most 40/],
    [{ key: 'em/a.csv', size: 0 }, /file is empty/],
    [{ key: 'em/a.csv', size: 1001 }, /Insider accepts at most 1000 bytes/],
    [{ key: 'em/a.csv', metadata: { 'segment-name': '   ' } }, /metadata "segment-name" is empty/],
    [{ key: 'em/a.csv', metadata: { 'attribute-name': '' } }, /metadata "attribute-name" is empty/],
    [{ key: 'em/a.csv', metadata: { 'segment-name': 'bad\u0007name' } }, /control characters/],
  ])('rejects %o with a reason that says what to do', (input, reason) => {
    const result = resolve(input);
    expect(result).toMatchObject({ ok: false, kind: 'rejected' });
    expect(reasonOf(result)).toMatch(reason);
  });

  it('keeps today\'s messages word for word where the rule did not change', () => {
    expect(reasonOf(resolve({ key: `em/${'x'.repeat(41)}.csv` }))).toBe(
      'Segment name from the file name has 41 characters; Insider allows at most 40. Shorten it or set metadata "segment-name".',
    );
    expect(reasonOf(resolve({ key: 'em/Upper.CSV' }))).toBe(
      'File name "Upper.CSV" does not end in ".csv": rename it to end in lower-case ".csv" (Insider only accepts URLs that contain ".csv").',
    );
    expect(reasonOf(resolve({ key: 'VIP.csv' }))).toBe(
      'No attribute name: the file is not in a folder and no default attribute is configured. Put the file in a folder named after the Insider attribute, e.g. "Email Address/VIP.csv", or set metadata "attribute-name".',
    );
  });

  it('keeps the attribute name on a record rejected for its segment name, and none when it is missing', () => {
    expect(resolve({ key: `em/${'x'.repeat(41)}.csv` })).toMatchObject({ ok: false, attributeName: 'em', segmentName: 'x'.repeat(41) });
    expect(resolve({ key: 'em/.csv' })).toMatchObject({ ok: false, attributeName: 'em' });
    expect(resolve({ key: 'VIP.csv' })).toMatchObject({ ok: false, attributeName: undefined, segmentName: 'VIP' });
  });

  it('counts characters, not bytes, against the 40 limit', () => {
    expect(resolve({ key: `em/${'ü'.repeat(40)}.csv` })).toMatchObject({ ok: true });
  });
});

describe('resolveNames: Unicode names (issue 9 §2)', () => {
  it('gives an NFD file name and its NFC twin one segment and attribute name', () => {
    const nfd = resolve({ key: 'E\u0301-posta/Mu\u0308s\u0327teri listesi.csv' });
    const nfc = resolve({ key: 'É-posta/Müşteri listesi.csv' });
    expect(nfd).toMatchObject({ ok: true, segmentName: 'Müşteri listesi', attributeName: 'É-posta' });
    expect(nfc).toMatchObject({ ok: true, segmentName: 'Müşteri listesi', attributeName: 'É-posta' });
    expect(resolve({ key: 'em/x.csv', metadata: { 'segment-name': b64('Mu\u0308s\u0327teri') } })).toMatchObject({ segmentName: 'Müşteri' });
  });

  it('rejects 40 emoji, which count as 80, and says why', () => {
    expect(reasonOf(resolve({ key: `em/${'🎉'.repeat(40)}.csv` }))).toBe(
      'Segment name from the file name has 80 characters as Insider may count them, though you see 40 (emoji and some symbols count as two); Insider allows at most 40. Shorten it or set metadata "segment-name".',
    );
    expect(resolve({ key: `em/${'🎉'.repeat(20)}.csv` })).toMatchObject({ ok: true });
  });

  it('explains a family emoji that the user sees as one character', () => {
    expect(reasonOf(resolve({ key: `em/Aile ${'👨‍👩‍👧'.repeat(5)}.csv` }))).toMatch(
      /has 45 characters as Insider may count them, though you see 10 \(emoji and some symbols count as two; "👨‍👩‍👧" counts as 8\)/,
    );
  });

  it('accepts emoji that contain joiners and variation selectors', () => {
    expect(resolve({ key: 'em/Pride 🏳️‍🌈 ❤️.csv' })).toMatchObject({ ok: true, segmentName: 'Pride 🏳️‍🌈 ❤️' });
  });

  it.each([
    ['the file name', { key: 'em/VIP\u200Bcustomers.csv' }, 'Segment name from the file name contains invisible or control characters: U+200B ZERO WIDTH SPACE at character 4 (after "VIP")'],
    ['metadata', { key: 'em/x.csv', metadata: { 'segment-name': 'Gold\u202E' } }, 'Segment name from metadata "segment-name" contains invisible or control characters: U+202E RIGHT-TO-LEFT OVERRIDE at character 5 (after "Gold")'],
    ['a byte order mark', { key: 'em/\uFEFFVIP.csv' }, 'U+FEFF ZERO WIDTH NO-BREAK SPACE (byte order mark) at the start'],
    ['the folder name', { key: 'e\u2066m/x.csv' }, 'Attribute name from the folder name contains invisible or control characters: U+2066 LEFT-TO-RIGHT ISOLATE at character 2 (after "e")'],
  ])('rejects invisible characters in %s, naming them', (_, input, reason) => {
    expect(reasonOf(resolve(input))).toContain(reason);
  });

  it('measures attribute names the same way', () => {
    expect(reasonOf(resolve({ key: `${'a'.repeat(101)}/x.csv` }))).toBe('Attribute name from the folder name has 101 characters; at most 100 are accepted.');
  });
});

describe('resolveNames: keys (issue 9 §2, §5)', () => {
  it.each(['em/../X.csv', './x.csv', 'em/./x.csv'])('rejects the dot-segment key %s', (key) => {
    expect(reasonOf(resolve({ key }))).toBe(
      `The key "${key}" has a "." or ".." folder: web clients rewrite such paths, so Insider would download another object. Move the file to a path without "." or ".." folders.`,
    );
  });

  it('skips a blank folder name and says where the attribute came from', () => {
    expect(resolve({ key: 'em//x.csv' })).toMatchObject({
      ok: true,
      attributeName: 'em',
      notes: ['the folder name above the file is blank, so the attribute was taken from the nearest named folder, "em"'],
    });
    expect(resolve({ key: '   /x.csv', defaultAttributeName: 'email' })).toMatchObject({
      ok: true,
      attributeName: 'email',
      notes: ['the file\'s folder name is blank, so the default attribute "email" was used'],
    });
    expect(resolve({ key: '   /x.csv', metadata: { 'attribute-name': 'em' } })).toMatchObject({ ok: true, attributeName: 'em', notes: [] });
  });

  it('says the folder name is blank, not that the file has no folder, when there is no default', () => {
    expect(reasonOf(resolve({ key: '   /x.csv' }))).toBe(
      'No attribute name: the file\'s folder name is blank and no default attribute is configured. Put the file in a folder named after the Insider attribute, e.g. "Email Address/x.csv", or set metadata "attribute-name".',
    );
    expect(reasonOf(resolve({ key: ' // /x.csv' }))).toMatch(/^No attribute name: the file's folder names are blank and no default/);
  });

  it.each([
    ['em/', 'ignored', '"em/" is a folder placeholder, not a file: the pipeline ignores it.'],
    ['em/.DS_Store', 'ignored', '".DS_Store" is a hidden or system file (its name starts with "." or "~$", or it is Thumbs.db or desktop.ini): the pipeline ignores it.'],
    ['em/._VIP.csv', 'ignored', /"\._VIP\.csv" is a hidden or system file/],
    ['em/~$VIP.csv', 'ignored', /"~\$VIP\.csv" is a hidden or system file/],
    ['em/VIP.csv ', 'rejected', 'File name "VIP.csv " does not end in ".csv" (it has white space after ".csv": remove it); only .csv files are sent to Insider.'],
    ['em/VIP.csv.txt', 'rejected', 'File name "VIP.csv.txt" does not end in ".csv" (it ends in ".txt" after ".csv": remove ".txt"); only .csv files are sent to Insider.'],
    ['em/VIP.xlsx', 'rejected', /spreadsheet: save it as CSV/],
    ['em/VIP', 'rejected', /\(it has no extension\); only \.csv files/],
    ['em/VIP.csv.gz', 'rejected', 'File "VIP.csv.gz" is gzip-compressed, which this deployment does not read yet: decompress it and drop the .csv file.'],
  ])('%j is %s', (key, kind, reason) => {
    const result = resolve({ key });
    expect(result).toMatchObject({ ok: false, kind });
    expect(reasonOf(result)).toMatch(reason);
  });

  it('accepts .csv.gz and upper-case extensions from a caller that handles them, with the case in the result', () => {
    const handles = { gzip: true, upperCaseExtension: true };
    expect(resolve({ key: 'em/VIP.csv.gz', handles })).toMatchObject({ ok: true, segmentName: 'VIP', file: { kind: 'csv.gz', lowerCaseExtension: true } });
    expect(resolve({ key: 'em/VIP.CSV', handles })).toMatchObject({ ok: true, segmentName: 'VIP', file: { kind: 'csv', extension: '.CSV', lowerCaseExtension: false } });
    expect(resolve({ key: 'em/VIP.Csv.GZ', handles })).toMatchObject({ ok: true, file: { kind: 'csv.gz', extension: '.Csv.GZ' } });
    expect(reasonOf(resolve({ key: 'em/VIP.Csv.GZ', handles: { gzip: true } }))).toMatch(/rename it to end in lower-case "\.csv\.gz"/);
    expect(reasonOf(resolve({ key: 'em/VIP.txt', handles }))).toMatch(/only \.csv and \.csv\.gz files are sent to Insider/);
  });
});

describe('resolveNames: ".csv" twice (Windows hides the extension it adds)', () => {
  const handles = { gzip: true, upperCaseExtension: true };

  it.each([
    ['em/VIP.csv.csv', 'File name "VIP.csv.csv" ends in ".csv" twice: rename it "VIP.csv" (or set metadata "segment-name").'],
    ['em/VIP.CSV.csv', 'File name "VIP.CSV.csv" ends in ".csv" twice: rename it "VIP.csv" (or set metadata "segment-name").'],
    ['em/VIP.csv.CSV', 'File name "VIP.csv.CSV" ends in ".csv" twice: rename it "VIP.csv" (or set metadata "segment-name").'],
    ['em/VIP.csv .csv', 'File name "VIP.csv .csv" ends in ".csv" twice: rename it "VIP.csv" (or set metadata "segment-name").'],
    ['em/VIP.csv.csv.csv', 'File name "VIP.csv.csv.csv" ends in ".csv" 3 times: rename it "VIP.csv" (or set metadata "segment-name").'],
    ['em/VIP.csv.csv.gz', 'File name "VIP.csv.csv.gz" has ".csv" twice before ".gz": rename it "VIP.csv.gz" (or set metadata "segment-name").'],
  ])('refuses %j rather than naming the segment with ".csv" in it for good', (key, reason) => {
    const result = resolve({ key, handles });
    expect(result).toMatchObject({ ok: false, kind: 'rejected' });
    expect(reasonOf(result)).toBe(reason);
  });

  it('says so before the gzip and case rules, whose fixes would not help', () => {
    expect(reasonOf(resolve({ key: 'em/VIP.csv.csv.gz' }))).toMatch(/^File name "VIP\.csv\.csv\.gz" has "\.csv" twice before "\.gz": rename it "VIP\.csv\.gz"/);
    expect(reasonOf(resolve({ key: 'em/VIP.csv.CSV' }))).toMatch(/^File name "VIP\.csv\.CSV" ends in "\.csv" twice: rename it "VIP\.csv"/);
  });

  it('accepts the file when metadata segment-name gives the name, and leaves ".csv" inside a name alone', () => {
    expect(resolve({ key: 'em/VIP.csv.csv', metadata: { 'segment-name': 'VIP' } })).toMatchObject({ ok: true, segmentName: 'VIP' });
    expect(resolve({ key: 'em/VIP.csv list.csv' })).toMatchObject({ ok: true, segmentName: 'VIP.csv list' });
    expect(resolve({ key: 'em/VIP.csvx.csv' })).toMatchObject({ ok: true, segmentName: 'VIP.csvx' });
  });
});

describe('resolveNames: a Windows path as the key', () => {
  it('says "\\" is not a folder separator and suggests the key with "/", when there is no folder and no default', () => {
    expect(reasonOf(resolve({ key: 'Email Address\\VIP win.csv' }))).toBe(
      'No attribute name: the key "Email Address\\VIP win.csv" uses "\\" where S3 separates folders with "/", so the file is not in a folder and no default attribute is configured. Drop it as "Email Address/VIP win.csv" to put it in the folder "Email Address" (the Insider attribute), or set metadata "attribute-name".',
    );
    expect(reasonOf(resolve({ key: 'exports\\\\Email Address\\VIP.csv' }))).toMatch(/Drop it as "exports\/Email Address\/VIP\.csv" to put it in the folder "Email Address"/);
    expect(reasonOf(resolve({ key: 'dry-run/em\\VIP.csv', handles: { dryRun: true } }))).toMatch(/^No attribute name: the key "dry-run\/em\\VIP\.csv" uses "\\".*Drop it as "dry-run\/em\/VIP\.csv"/);
    expect(reasonOf(resolve({ key: ' /em\\VIP.csv' }))).toMatch(/uses "\\" where S3 separates folders with "\/", so the file's folder name is blank .*Drop it as "em\/VIP\.csv"/);
  });

  it('keeps the usual advice when the backslash has nothing before it, or metadata names the attribute', () => {
    expect(reasonOf(resolve({ key: '\\VIP.csv' }))).toMatch(/^No attribute name: the file is not in a folder .*e\.g\. "Email Address\/\\VIP\.csv"/);
    expect(reasonOf(resolve({ key: 'em\\VIP.csv', metadata: { 'attribute-name': ' ' } }))).toMatch(/^No attribute name: metadata "attribute-name" is empty/);
  });

  it('accepts it under the default attribute as before, with a note suggesting the folder', () => {
    expect(resolve({ key: 'Email Address\\VIP win.csv', defaultAttributeName: 'email' })).toMatchObject({
      ok: true,
      attributeName: 'email',
      segmentName: 'Email Address\\VIP win',
      notes: ['the key "Email Address\\VIP win.csv" uses "\\", which S3 does not read as a folder separator, so the default attribute "email" was used; for the folder "Email Address", drop it as "Email Address/VIP win.csv"'],
    });
  });

  it('leaves a backslash below a named folder alone', () => {
    expect(resolve({ key: 'em/a\\b.csv' })).toMatchObject({ ok: true, attributeName: 'em', segmentName: 'a\\b', notes: [] });
  });
});

describe('resolveNames: metadata (issue 9 §2, §3)', () => {
  it('notes near-miss metadata keys on an accepted file', () => {
    expect(resolve({ key: 'em/VIP.csv', metadata: { segment_name: 'Gold', segment_name_template: '{name} {date}' } })).toMatchObject({
      ok: true,
      segmentName: 'VIP',
      dryRun: false,
      notes: ['metadata segment_name was ignored; did you mean segment-name?', 'metadata segment_name_template was ignored; did you mean segment-name-template?'],
    });
  });

  it('adds the notes to a rejection reason, where they explain it', () => {
    expect(reasonOf(resolve({ key: 'VIP.csv', metadata: { attribute_name: 'em' } }))).toMatch(
      /or set metadata "attribute-name"\. Metadata attribute_name was ignored; did you mean attribute-name\?$/,
    );
  });

  it('decodes several encoded words, and ISO-8859-1 and Windows-1254 values', () => {
    const name = 'Sadık müşteriler İstanbul şubesi';
    const words = (name.match(/.{1,8}/gu) ?? []).map(b64).join(' ');
    expect(resolve({ key: 'em/x.csv', metadata: { 'segment-name': words } })).toMatchObject({ ok: true, segmentName: name });
    expect(resolve({ key: 'em/x.csv', metadata: { 'segment-name': '=?ISO-8859-1?Q?M=FCller_100%?=' } })).toMatchObject({ segmentName: 'Müller 100%' });
    expect(resolve({ key: 'em/x.csv', metadata: { 'attribute-name': '=?windows-1254?Q?M=FC=FEteri_=DDD?=' } })).toMatchObject({ attributeName: 'Müşteri İD' });
  });

  it.each([
    ['an unknown charset', '=?x-unknown?Q?Gold?=', /names the character set "x-unknown"/],
    ['invalid UTF-8', `=?UTF-8?B?${Buffer.from([0x47, 0xff]).toString('base64')}?=`, /not valid UTF-8/],
    ['a malformed word', '=?UTF-8?Z?Gold?=', /only B and Q exist/],
  ])('rejects %s rather than use it as a name', (_, value, reason) => {
    const result = resolve({ key: 'em/x.csv', metadata: { 'segment-name': value } });
    expect(result).toMatchObject({ ok: false, kind: 'rejected', segmentName: undefined });
    expect(reasonOf(result)).toMatch(/^Metadata "segment-name" could not be decoded: /);
    expect(reasonOf(result)).toMatch(reason);
  });
});

describe('resolveNames: dry runs (issue 8 §4)', () => {
  const handles = { dryRun: true };

  it('reads metadata dry-run: true', () => {
    expect(resolve({ key: 'em/VIP.csv', metadata: { 'dry-run': 'true' }, handles })).toMatchObject({
      ok: true,
      dryRun: true,
      dryRunFrom: 'metadata',
      segmentName: 'VIP',
    });
    expect(resolve({ key: 'em/VIP.csv', metadata: { 'dry-run': 'false' }, handles })).toMatchObject({ ok: true, dryRun: false });
  });

  it('reads the dry-run/ top folder and leaves it out of the names', () => {
    expect(resolve({ key: 'dry-run/Email Address/VIP.csv', handles })).toMatchObject({
      ok: true,
      dryRun: true,
      dryRunFrom: 'folder',
      attributeName: 'Email Address',
      segmentName: 'VIP',
    });
    expect(resolve({ key: 'dry-run/VIP.csv', defaultAttributeName: 'email', handles })).toMatchObject({ ok: true, dryRun: true, attributeName: 'email' });
    expect(reasonOf(resolve({ key: 'dry-run/VIP.csv', handles }))).toMatch(/the file is not in a folder \(the dry-run\/ folder does not count\).*e\.g\. "dry-run\/Email Address\/VIP\.csv"/);
  });

  it('keeps a dry-run folder a dry run even when metadata says false, with a note', () => {
    expect(resolve({ key: 'dry-run/em/VIP.csv', metadata: { 'dry-run': 'false' }, handles })).toMatchObject({
      ok: true,
      dryRun: true,
      notes: ['metadata dry-run "false" was overruled: the file is in the dry-run/ folder, so it is a dry run'],
    });
  });

  it('refuses an unclear dry-run value instead of sending the file', () => {
    expect(resolve({ key: 'em/VIP.csv', metadata: { 'dry-run': 'ture' }, handles })).toMatchObject({ ok: false, kind: 'rejected' });
  });

  it('carries the flag on a rejection too, so the verdict is recorded as a dry run', () => {
    expect(resolve({ key: 'dry-run/em/VIP.csv', size: 0, handles })).toMatchObject({ ok: false, dryRun: true, reason: expect.stringMatching(/file is empty/) });
  });

  it('counts a top folder that is dry-run once trimmed, and skips blank folders above it', () => {
    for (const key of ['dry-run /em/VIP.csv', ' Dry-Run/em/VIP.csv', '/dry-run/em/VIP.csv']) {
      expect(resolve({ key, handles }), key).toMatchObject({ ok: true, dryRun: true, dryRunFrom: 'folder', attributeName: 'em', segmentName: 'VIP' });
    }
  });

  it.each(['dryrun/em/VIP.csv', 'dry_run/em/VIP.csv', 'Dry Run/em/VIP.csv', 'DRY.RUN/em/VIP.csv', 'dry\u2013run/em/VIP.csv', 'dry-run\u200B/em/VIP.csv'])(
    'refuses the near-miss top folder in %j as a real upload, before anything else is read',
    (key) => {
      const result = resolve({ key, metadata: { segment_name: 'Gold' }, handles });
      expect(result).toMatchObject({ ok: false, kind: 'rejected', dryRun: false });
      expect(reasonOf(result)).toMatch(/^The folder "[^"]+"( \(it contains .+\))? looks like the dry-run folder but is not named exactly "dry-run"\. For a dry run, put the file under the top folder "dry-run\/" \("dry-run\/em\/VIP\.csv"\); if .* rename it\. Nothing was sent to Insider\./);
    },
  );

  it('refuses a dry-run folder that is not the top folder', () => {
    const result = resolve({ key: 'exports/dry-run/em/VIP.csv', handles });
    expect(result).toMatchObject({ ok: false, kind: 'rejected', dryRun: false });
    expect(reasonOf(result)).toBe(
      'The folder "dry-run" looks like the dry-run folder but is not the top folder. For a dry run, put the file under the top folder "dry-run/" ("dry-run/exports/em/VIP.csv"); ' +
        'if "dry-run" is really an attribute or folder name, rename it. Nothing was sent to Insider.',
    );
    expect(resolve({ key: 'em/dry_run/VIP.csv', handles })).toMatchObject({ ok: false, kind: 'rejected', reason: expect.stringMatching(/is neither the top folder nor named exactly "dry-run"/) });
  });

  it('keeps a dry run a dry run when a look-alike folder sits below dry-run/: the verdict is what a real drop would see', () => {
    expect(resolve({ key: 'dry-run/dry_run/em/VIP.csv', handles })).toMatchObject({ ok: false, dryRun: true, dryRunFrom: 'folder' });
  });

  it.each<Record<string, string>>([{ dryrun: 'true' }, { dry_run: 'yes' }, { 'dry run': 'true' }, { 'dry-run ': 'true' }, { dryrun: 'false' }, { 'dry-run': 'true', dryrun: 'true' }])(
    'refuses metadata %j that looks like dry-run, instead of a note',
    (metadata) => {
      const result = resolve({ key: 'em/VIP.csv', metadata, handles });
      expect(result).toMatchObject({ ok: false, kind: 'rejected', dryRun: false });
      expect(reasonOf(result)).toMatch(/^Metadata "[^"]+" looks like "dry-run": set metadata "dry-run" to "true" for a dry run, or remove "[^"]+" for a real upload\. Nothing was sent to Insider\.$/);
    },
  );

  it('still only notes near misses of the other keys', () => {
    expect(resolve({ key: 'em/VIP.csv', metadata: { segment_name: 'Gold', attribute_name: 'x' }, handles })).toMatchObject({
      ok: true,
      segmentName: 'VIP',
      notes: ['metadata segment_name was ignored; did you mean segment-name?', 'metadata attribute_name was ignored; did you mean attribute-name?'],
    });
  });

  it('refuses a dry run when the caller does not handle dry runs, so nothing reaches Insider', () => {
    expect(reasonOf(resolve({ key: 'dry-run/em/VIP.csv' }))).toBe(
      'This is a dry run (it is in the dry-run/ folder), and this deployment does not do dry runs yet: nothing was sent to Insider.',
    );
    expect(reasonOf(resolve({ key: 'em/VIP.csv', metadata: { 'dry-run': 'yes' } }))).toMatch(/^This is a dry run \(metadata "dry-run" is true\)/);
  });
});

describe('resolveNames: segment name templates (issue 8 §1)', () => {
  const template = (configured?: string, counter?: number) => ({ configured, eventTime: AT, timeZone: 'Europe/Istanbul', counter });

  it('renders the configured template, keeping the logical name', () => {
    expect(resolve({ key: 'em/VIP customers.csv', template: template('{name} {date}') })).toMatchObject({
      ok: true,
      segmentName: 'VIP customers 2026-11-29',
      logicalName: 'VIP customers',
      template: '{name} {date}',
      templateFrom: 'context',
    });
  });

  it('lets metadata segment-name-template override the configured one', () => {
    expect(resolve({ key: 'em/VIP.csv', metadata: { 'segment-name-template': '{attribute} {name} {time}' }, template: template('{name} {date}') })).toMatchObject({
      ok: true,
      segmentName: 'em VIP 17:05',
      templateFrom: 'metadata',
    });
  });

  it('rejects an invalid metadata template with what to fix', () => {
    expect(reasonOf(resolve({ key: 'em/VIP.csv', metadata: { 'segment-name-template': '{name} {Date}' }, template: template() }))).toBe(
      'Metadata "segment-name-template" is not a valid template: Unknown placeholder {Date}: did you mean {date}?',
    );
  });

  it('refuses a metadata template when the caller renders none, rather than use the plain name', () => {
    expect(reasonOf(resolve({ key: 'em/VIP.csv', metadata: { 'segment-name-template': '{name} {date}' } }))).toMatch(
      /^Metadata "segment-name-template" is set, but this deployment does not render segment name templates yet/,
    );
  });

  it('asks for a counter when the template has {n}, then uses it', () => {
    expect(resolve({ key: 'em/VIP.csv', template: template('{name} #{n}') })).toMatchObject({ ok: false, kind: 'needs-counter', logicalName: 'VIP', attributeName: 'em' });
    expect(resolve({ key: 'em/VIP.csv', template: template('{name} #{n}', 3) })).toMatchObject({ ok: true, segmentName: 'VIP #3' });
  });

  it('shortens a long name under a template and states the rule', () => {
    expect(resolve({ key: 'em/Customers who opened the November newsletter.csv', template: template('{name} {date}') })).toMatchObject({
      ok: true,
      segmentName: 'Customers who opened the Nov… 2026-11-29',
      logicalName: 'Customers who opened the November newsletter',
      rule: "{name} shortened from 44 to 29 characters to fit Insider's 40-character limit",
    });
  });

  it('keeps today\'s rejection, not a shortened name, for the default {name} template', () => {
    const long = 'x'.repeat(45);
    for (const t of [undefined, template(), template('{name}')]) {
      expect(reasonOf(resolve({ key: `em/${long}.csv`, template: t }))).toBe(
        'Segment name from the file name has 45 characters; Insider allows at most 40. Shorten it or set metadata "segment-name".',
      );
    }
  });

  it('reports the rendered name on a later rejection', () => {
    expect(resolve({ key: 'em/VIP.csv', size: 0, template: template('{name} {date}') })).toMatchObject({ ok: false, segmentName: 'VIP 2026-11-29', logicalName: 'VIP' });
  });

  it('rejects when the attribute leaves no room for the name', () => {
    expect(reasonOf(resolve({ key: `${'a'.repeat(40)}/VIP.csv`, template: template('{attribute} {name}') }))).toMatch(/leaves no room for the name/);
  });
});
