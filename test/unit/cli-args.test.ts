// Unit tests of `npm start`'s argument rules: which files are dropped under which keys and metadata.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plan, table } from '../../local/cli-args.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-args-'));
mkdirSync(join(dir, 'Email Address'));
writeFileSync(join(dir, 'Email Address', 'VIP.csv'), 'a@b.co\n');
writeFileSync(join(dir, 'loose.csv'), 'x\n');

describe('plan', () => {
  it('drops every CSV under examples/ with its relative path as the key', () => {
    const { drops } = plan([], dir);
    expect(drops.map((d) => d.key)).toEqual(['Email Address/VIP.csv', 'loose.csv']);
  });

  it('keys a given file by its folder and sets metadata from --attribute and --segment', () => {
    const { drops } = plan([join(dir, 'Email Address', 'VIP.csv'), '--attribute', 'email', '--segment', 'Gold'], dir);
    expect(drops).toEqual([{ path: join(dir, 'Email Address', 'VIP.csv'), key: 'Email Address/VIP.csv', metadata: { 'attribute-name': 'email', 'segment-name': 'Gold' } }]);
  });

  it('refuses --segment with several files, a missing file and a bad timeout', () => {
    expect(() => plan(['a.csv', 'b.csv', '--segment', 'x'], dir)).toThrow(/exactly one file/);
    expect(() => plan([join(dir, 'nope.csv')], dir)).toThrow(/No such file/);
    expect(() => plan(['--timeout', '0'], dir)).toThrow(/--timeout must be a positive number/);
  });

  it('answers --help without dropping anything', () => {
    expect(plan(['--help'], dir)).toMatchObject({ help: true, drops: [] });
  });
});

describe('table', () => {
  it('prints one aligned row per record with counts and match rate', () => {
    const out = table([
      { uploadId: 'u', bucket: 'b', key: 'k', size: 1, status: 'completed', receivedAt: '', updatedAt: '', segmentName: 'VIP', attributeName: 'em', validValuesCount: 3, invalidValuesCount: 1, totalEnteredValues: 4, matchRate: 0.75, fpsHttpStatus: 200, reason: 'done' },
    ]);
    const [header, , row] = out.split('\n');
    expect(header).toMatch(/^segment\s+attribute\s+status\s+valid\s+invalid\s+total\s+match\s+http\s+reason$/);
    expect(row).toMatch(/^VIP\s+em\s+completed\s+3\s+1\s+4\s+75\.0%\s+200\s+done$/);
  });
});
