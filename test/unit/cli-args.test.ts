// Unit tests of `npm start`'s argument rules: which files are dropped under which keys and metadata.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORT_BASE, plan, ROOT, table } from '../../local/cli-args.js';

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

describe('plan --serve', () => {
  it('drops nothing by default, serves on the default ports in real time, and writes under .local', () => {
    expect(plan(['--serve'], dir)).toEqual({
      help: false,
      timeoutSeconds: 0,
      drops: [],
      serve: { portBase: DEFAULT_PORT_BASE, timeScale: 1, sweepEverySeconds: undefined, context: {}, outDir: join(ROOT, '.local') },
    });
  });

  it('drops the samples with --examples, or the files given', () => {
    expect(plan(['--serve', '--examples'], dir).drops.map((d) => d.key)).toEqual(['Email Address/VIP.csv', 'loose.csv']);
    expect(plan(['--serve', join(dir, 'Email Address', 'VIP.csv'), '--segment', 'Gold'], dir).drops).toEqual([
      { path: join(dir, 'Email Address', 'VIP.csv'), key: 'Email Address/VIP.csv', metadata: { 'segment-name': 'Gold' } },
    ]);
    expect(() => plan(['--serve', '--examples', join(dir, 'loose.csv')], dir)).toThrow(/not both/);
    expect(() => plan(['--serve', '--segment', 'Gold'], dir)).toThrow(/give the files too/);
  });

  it('reads the port base, time scale, sweep interval, context and output folder', () => {
    const { serve } = plan(['--serve', '--port-base', '0', '--time-scale', '0.01', '--sweep-every', '2', '-c', 'tokenCacheSeconds=5', '--context', 'defaultAttributeName=a=b', '--out-dir', 'tmp/x'], dir);
    expect(serve).toEqual({ portBase: 0, timeScale: 0.01, sweepEverySeconds: 2, context: { tokenCacheSeconds: '5', defaultAttributeName: 'a=b' }, outDir: join(process.cwd(), 'tmp/x') });
  });

  it.each([
    [['--port-base', '80'], /--port-base must be 0 \(free ports\) or a port from 1024 to 65527/],
    [['--port-base', '65530'], /--port-base must be/],
    [['--port-base', '4600.5'], /--port-base must be/],
    [['--time-scale', '0'], /--time-scale must be a positive number/],
    [['--sweep-every', 'soon'], /--sweep-every must be a positive number/],
    [['-c', 'tokenCacheSeconds'], /-c takes key=value/],
    [['-c', '=5'], /-c takes key=value/],
    [['-c', 'partnerName=x'], /set by the local stack/],
    [['--timeout', '5'], /--timeout does not go with --serve/],
  ])('refuses %j', (args, message) => {
    expect(() => plan(['--serve', ...args], dir)).toThrow(message);
  });

  it('keeps the serve flags to serve mode, so npm start without --serve is unchanged', () => {
    expect(() => plan(['--port-base', '4600'], dir)).toThrow(/--port-base goes only with --serve/);
    expect(() => plan(['--examples', '-c', 'a=b'], dir)).toThrow(/--context, --examples go only with --serve/);
    expect(plan([], dir)).toEqual({ drops: plan([], dir).drops, timeoutSeconds: 60, help: false });
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

  it('keeps columns aligned as a terminal shows them for NFD, emoji and CJK names', () => {
    const record = (segmentName: string) => ({ uploadId: 'u', bucket: 'b', key: 'k', size: 1, status: 'rejected' as const, receivedAt: '', updatedAt: '', segmentName, attributeName: 'em', reason: 'r' });
    const names = ['Cafe\u0301 clients', 'VIP 🎉🎉', '日本の顧客', 'plain'];
    const lines = table(names.map(record)).split('\n').slice(2);
    // Every "em" column starts at the same terminal column: the name's display width plus its padding.
    const displayColumn = (line: string, name: string) => stringWidth(name) + line.slice(name.length).search(/\S/);
    expect(names.map((name, i) => displayColumn(lines[i] as string, name))).toEqual(names.map(() => displayColumn(lines[3] as string, 'plain')));
  });
});
