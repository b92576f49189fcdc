// Unit tests of the key rules: file kinds, the ignore rule, dot segments, folders and the dry-run folder.
import { describe, expect, it } from 'vitest';
import { classifyKey, dryRunLookalikeReason, hasDotSegment, isIgnoredFileName, looksLikeDryRunFolder, readFolders } from '../../lambdas/core/object-key.js';

describe('classifyKey', () => {
  it.each(['em/', 'em/sub/', '/'])('%s is a folder placeholder', (key) => {
    expect(classifyKey(key)).toMatchObject({ kind: 'folder', description: `"${key}" is a folder placeholder, not a file` });
  });

  it.each(['.DS_Store', '._VIP.csv', '~$VIP.csv', '.~lock.VIP.csv#', '.hidden.csv', 'Thumbs.db', 'DESKTOP.INI'])('em/%s is ignored by rule', (name) => {
    expect(classifyKey(`em/${name}`)).toMatchObject({ kind: 'ignored', fileName: name });
    expect(isIgnoredFileName(name)).toBe(true);
  });

  it.each([
    ['em/VIP customers.csv', { kind: 'csv', stem: 'VIP customers', extension: '.csv', lowerCaseExtension: true }],
    ['em/VIP.CSV', { kind: 'csv', stem: 'VIP', extension: '.CSV', lowerCaseExtension: false }],
    ['em/VIP.Csv', { kind: 'csv', stem: 'VIP', extension: '.Csv', lowerCaseExtension: false }],
    ['em/.csv', { kind: 'csv', stem: '', extension: '.csv', lowerCaseExtension: true }],
    ['em/VIP.csv.gz', { kind: 'csv.gz', stem: 'VIP', extension: '.csv.gz', lowerCaseExtension: true }],
    ['em/VIP.csv.GZ', { kind: 'csv.gz', stem: 'VIP', extension: '.csv.GZ', lowerCaseExtension: true }],
    ['em/VIP.Csv.GZ', { kind: 'csv.gz', stem: 'VIP', extension: '.Csv.GZ', lowerCaseExtension: false }],
    ['VIP.2026.csv', { kind: 'csv', stem: 'VIP.2026', extension: '.csv', lowerCaseExtension: true }],
  ])('%s is a CSV the pipeline takes, with its extension as written', (key, expected) => {
    expect(classifyKey(key)).toMatchObject(expected);
  });

  it.each([
    ['em/VIP.csv ', 'it has white space after ".csv": remove it'],
    ['em/VIP.csv.txt', 'it ends in ".txt" after ".csv": remove ".txt"'],
    ['em/VIP.txt', 'it ends in ".txt"'],
    ['em/VIP.xlsx', '".xlsx" is a spreadsheet: save it as CSV, one value per line'],
    ['em/VIP.zip', '".zip" is an archive'],
    ['em/VIP', 'it has no extension'],
  ])('%s is something else: %s', (key, description) => {
    expect(classifyKey(key)).toMatchObject({ kind: 'other', description });
  });
});

describe('hasDotSegment', () => {
  it('finds the folders that an HTTP client would resolve away', () => {
    // Why: the WHATWG URL parser (Node's fetch, browsers) resolves them, so the URL names another object.
    expect(new URL('https://bucket.s3.amazonaws.com/em/../X.csv?X-Amz-Signature=1').pathname).toBe('/X.csv');
    for (const key of ['em/../X.csv', './x.csv', 'em/./x.csv', '../x.csv', 'a/b/../../x.csv']) expect(hasDotSegment(key)).toBe(true);
  });

  it('leaves names that only contain dots alone', () => {
    for (const key of ['em/..x.csv', 'em/x..csv', 'em/.../x.csv', 'em/.hidden/x.csv', 'em/x.csv']) expect(hasDotSegment(key)).toBe(false);
  });
});

describe('readFolders', () => {
  it.each([
    ['Email Address/VIP.csv', { dryRun: false, folders: ['Email Address'], attribute: 'Email Address', innermostBlank: false }],
    ['exports/2026/em/VIP.csv', { dryRun: false, folders: ['exports', '2026', 'em'], attribute: 'em', innermostBlank: false }],
    ['VIP.csv', { dryRun: false, folders: [], attribute: undefined, innermostBlank: false }],
    ['em//VIP.csv', { dryRun: false, folders: ['em', ''], attribute: 'em', innermostBlank: true }],
    ['   /VIP.csv', { dryRun: false, folders: ['   '], attribute: undefined, innermostBlank: true }],
    ['/VIP.csv', { dryRun: false, folders: [''], attribute: undefined, innermostBlank: true }],
    ['em/ /VIP.csv', { dryRun: false, folders: ['em', ' '], attribute: 'em', innermostBlank: true }],
    [' phone_number /VIP.csv', { dryRun: false, folders: [' phone_number '], attribute: 'phone_number', innermostBlank: false }],
    ['E\u0301-posta/VIP.csv', { dryRun: false, folders: ['E\u0301-posta'], attribute: 'É-posta', innermostBlank: false }],
    ['dry-run/Email Address/VIP.csv', { dryRun: true, folders: ['Email Address'], attribute: 'Email Address', innermostBlank: false }],
    ['Dry-Run/VIP.csv', { dryRun: true, folders: [], attribute: undefined, innermostBlank: false }],
    ['dry-run /em/VIP.csv', { dryRun: true, folders: ['em'], attribute: 'em', innermostBlank: false }],
    ['\tDRY-RUN\u00A0/em/VIP.csv', { dryRun: true, folders: ['em'], attribute: 'em', innermostBlank: false }],
    ['/dry-run/em/VIP.csv', { dryRun: true, folders: ['em'], attribute: 'em', innermostBlank: false }],
    [' /dry-run/VIP.csv', { dryRun: true, folders: [], attribute: undefined, innermostBlank: false }],
    ['em/dry-run/VIP.csv', { dryRun: false, folders: ['em', 'dry-run'], attribute: 'dry-run', innermostBlank: false, dryRunLookalike: { folder: 'dry-run', top: false, exact: true } }],
    ['dryrun/em/VIP.csv', { dryRun: false, folders: ['dryrun', 'em'], attribute: 'em', innermostBlank: false, dryRunLookalike: { folder: 'dryrun', top: true, exact: false } }],
    ['/Dry Run/em/VIP.csv', { dryRun: false, folders: ['', 'Dry Run', 'em'], attribute: 'em', innermostBlank: false, dryRunLookalike: { folder: 'Dry Run', top: true, exact: false } }],
    ['exports/dry_run/em/VIP.csv', { dryRun: false, folders: ['exports', 'dry_run', 'em'], attribute: 'em', innermostBlank: false, dryRunLookalike: { folder: 'dry_run', top: false, exact: false } }],
    ['dry-run/Dry-Run/em/VIP.csv', { dryRun: true, folders: ['Dry-Run', 'em'], attribute: 'em', innermostBlank: false, dryRunLookalike: { folder: 'Dry-Run', top: false, exact: true } }],
  ])('%j', (key, expected) => {
    expect(readFolders(key)).toEqual(expected);
  });
});

describe('looksLikeDryRunFolder', () => {
  it.each(['dry-run', 'dryrun', 'dry_run', 'Dry Run', 'DRY-RUN ', ' dry run', 'dry.run', 'dry--run', 'dry\u2010run', 'dry\u2013run', 'dry\u00A0run', 'dry-run\u200B', '\uFEFFdry-run', '\uFF44\uFF52\uFF59-run'])(
    '%j looks like the dry-run folder',
    (name) => {
      expect(looksLikeDryRunFolder(name)).toBe(true);
    },
  );

  it.each(['em', 'dry', 'run', 'dry-runs', 'dry-run-2026', 'rerun', 'dryer', 'Email Address', ''])('%j does not', (name) => {
    expect(looksLikeDryRunFolder(name)).toBe(false);
  });
});

describe('dryRunLookalikeReason', () => {
  const reasonFor = (key: string) => dryRunLookalikeReason(readFolders(key), key.slice(key.lastIndexOf('/') + 1));

  it('says a near miss of the top folder is not named exactly dry-run, and shows the key to use', () => {
    expect(reasonFor('dry_run/em/X.csv')).toBe(
      'The folder "dry_run" looks like the dry-run folder but is not named exactly "dry-run". For a dry run, put the file under the top folder "dry-run/" ("dry-run/em/X.csv"); ' +
        'if "dry_run" is really an attribute or folder name, rename it. Nothing was sent to Insider.',
    );
  });

  it('says a dry-run folder below the top is not the top folder, and moves it first in the example', () => {
    expect(reasonFor('exports/dry-run/em/X.csv')).toMatch(/^The folder "dry-run" looks like the dry-run folder but is not the top folder\. .*\("dry-run\/exports\/em\/X\.csv"\)/);
    expect(reasonFor('exports/Dry_Run/em/X.csv')).toMatch(/^The folder "Dry_Run" looks like the dry-run folder but is neither the top folder nor named exactly "dry-run"\./);
  });

  it('names an invisible character the user cannot see', () => {
    expect(reasonFor('dry-run\u200B/em/X.csv')).toMatch(/^The folder "dry-run\u200B" \(it contains U\+200B ZERO WIDTH SPACE at character 8 \(after "dry-run"\)\) looks like/);
  });

  it('is undefined for ordinary folders and for the dry-run folder itself', () => {
    for (const key of ['em/X.csv', 'dry-run/em/X.csv', 'dry-run /em/X.csv', 'X.csv']) expect(reasonFor(key)).toBeUndefined();
  });
});
