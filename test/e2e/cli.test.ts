// `npm start` as a user runs it: the sample files end in the expected records and the command exits 0.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm start', () => {
  it('runs the examples end to end and prints the records', { timeout: 240_000 }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'local/cli.ts', '--timeout', '180'], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      timeout: 230_000,
    });
    expect(run.stderr).not.toMatch(/npm start failed/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/VIP customers\s+Email Address\s+completed\s+5\s+0\s+5\s+100\.0%\s+200/);
    expect(run.stdout).toMatch(/Newsletter \(SMS\) opt-ins\s+phone_number\s+completed\s+4\s+2\s+6\s+66\.7%\s+200/);
    expect(run.stdout).toMatch(/This segment name is far too long for Insider\s+em\s+rejected\s+Segment name from the file name has 45 characters/);
    expect(run.stdout).toMatch(/All 3 files reached a final status/);
  });
});
