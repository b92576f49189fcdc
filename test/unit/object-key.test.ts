// Unit tests of the key rules: file kinds, the ignore rule, dot segments, folders and the dry-run folder.
import { describe, expect, it } from 'vitest';
import { classifyKey, hasDotSegment, isIgnoredFileName, readFolders } from '../../lambdas/core/object-key.js';

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
    ['em/dry-run/VIP.csv', { dryRun: false, folders: ['em', 'dry-run'], attribute: 'dry-run', innermostBlank: false }],
  ])('%s', (key, expected) => {
    expect(readFolders(key)).toEqual(expected);
  });
});
