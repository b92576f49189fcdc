// Serve mode as a user lives in it: `npm start -- --serve` on fixed ports, driven with the real AWS CLI by the very commands it prints.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_PORT_OFFSETS } from '../../local/cli-args.js';
import { checkPortsFree, servePorts } from '../../local/serve.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

/** Debian's AWS CLI v2 (a pip-installed v1 may shadow it on PATH). Throws, failing the tests, when there is none. */
function findAwsCli(debianPath = '/usr/bin/aws', path = process.env.PATH ?? ''): string {
  const found = existsSync(debianPath) ? debianPath : (spawnSync('/bin/sh', ['-c', 'command -v aws'], { encoding: 'utf8', env: { PATH: path } }).stdout ?? '').trim();
  const version = found ? spawnSync(found, ['--version'], { encoding: 'utf8' }) : undefined;
  if (!found || version?.status !== 0 || !/^aws-cli\/2\./.test(version.stdout)) {
    throw new Error(
      `The serve-mode test needs the AWS CLI v2 and found ${found ? `${found} (${(version?.stdout || version?.stderr || '').trim()})` : 'none'}: ` +
        "install Debian's awscli (sudo apt-get install awscli); .ci/run installs it when it runs as root.",
    );
  }
  return found;
}

/**
 * The lowest port the kernel hands out to clients (Linux: 32768 by default). Serve's ports must lie below it: some are
 * bound only after a long synth, and meanwhile another test's client socket may take an ephemeral port in the block.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 21_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Nine consecutive free ports on 127.0.0.1, away from the default base a person may be using and from client ports. */
async function freePortBase(): Promise<number> {
  const span = ephemeralLow() - 20_000 - Math.max(...Object.values(SERVE_PORT_OFFSETS)) - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * span);
    try {
      await checkPortsFree(servePorts(base));
      return base;
    } catch {
      // Taken: try another block.
    }
  }
  throw new Error('No block of free ports found');
}

/** The banner's commands, by step title: each command's lines, continuations (trailing backslash) kept. */
function parseSteps(banner: string): { exportLine: string; steps: { title: string; commands: string[] }[] } {
  const lines = banner.split('\n');
  const exportLine = lines.find((l) => l.startsWith('  export '))?.trim() ?? '';
  const steps: { title: string; commands: string[] }[] = [];
  let current: { title: string; commands: string[] } | undefined;
  let continuing = false;
  for (const line of lines) {
    const title = /^ {2}# \d+\. (.*)$/.exec(line)?.[1];
    if (title) {
      current = { title, commands: [] };
      steps.push(current);
      continuing = false;
    } else if (current && line.startsWith('  ') && !line.trimStart().startsWith('#')) {
      if (continuing) current.commands[current.commands.length - 1] += `\n${line.trim()}`;
      else current.commands.push(line.trim());
      continuing = line.endsWith('\\');
    } else if (line.trim() === '') {
      current = undefined;
    }
  }
  return { exportLine, steps };
}

interface Item {
  [name: string]: { S?: string; N?: string } | undefined;
}

describe('the AWS CLI the test needs', () => {
  it('is required: without a v2 the test fails, saying to install Debian\'s awscli', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fps-no-cli-'));
    try {
      expect(() => findAwsCli(join(dir, 'none'), dir)).toThrow(/found none: install Debian's awscli \(sudo apt-get install awscli\)/);
      // A pip-installed v1 on PATH is not enough.
      writeFileSync(join(dir, 'aws'), '#!/bin/sh\necho "aws-cli/1.45.11 Python/3.11.7"\n', { mode: 0o755 });
      expect(() => findAwsCli(join(dir, 'none'), dir)).toThrow(/aws-cli\/1\.45\.11.*install Debian's awscli/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start -- --serve, with the AWS CLI', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'fps-serve-'));
  const binDir = join(outDir, 'bin');
  let server: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null> | undefined;
  let cli = '';

  beforeAll(async () => {
    cli = findAwsCli();
    mkdirSync(binDir);
    // The printed commands say `aws`: make that the CLI found, whatever else is on PATH.
    symlinkSync(cli, join(binDir, 'aws'));
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
    rmSync(outDir, { recursive: true, force: true });
  });

  it('keeps the stack up on fixed ports and every printed command works, until Ctrl-C', { timeout: 480_000 }, async () => {
    const base = await freePortBase();
    const started = Date.now();
    server = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/cli.ts', '--serve', '--port-base', String(base), '--time-scale', '0.01', '--sweep-every', '2', '-c', 'tokenCacheSeconds=1', '--out-dir', join(outDir, 'state')],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = server;
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (child.exitCode !== null) throw new Error(`serve mode exited (${child.exitCode}) while waiting for ${what}:\n${stdout}\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}:\n${stdout.slice(-4000)}\n${stderr.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await until('the ready line', async () => (/^Serving \(ready in/m.test(stdout) ? true : undefined), 180_000);
    const readyMs = Date.now() - started;

    // Every endpoint on its fixed port.
    for (const [name, offset] of Object.entries(SERVE_PORT_OFFSETS)) expect(stdout, name).toContain(`http://127.0.0.1:${base + offset}`);
    const { exportLine, steps } = parseSteps(stdout);
    const step = (pattern: RegExp) => {
      const found = steps.find((s) => pattern.test(s.title));
      if (!found) throw new Error(`No printed step matches ${pattern}: ${steps.map((s) => s.title).join(' | ')}`);
      return found.commands;
    };
    const [putToken = ''] = step(/Put the FPS token/);
    const [drop = ''] = step(/Drop a file/);
    const [bySegment = ''] = step(/segment's uploads/);
    const [byStatus = ''] = step(/one status/);
    const [receive = ''] = step(/Read the failure queue/);
    // The printed read hides nothing, so a redrive right after it still finds the messages.
    expect(receive).toContain('--visibility-timeout 0');
    const [deleteMessage = ''] = step(/Delete a message/);
    const [redriveList = '', redriveAll = ''] = step(/Redrive/);
    expect(exportLine).toMatch(/^export AWS_ACCESS_KEY_ID=/);

    const env: NodeJS.ProcessEnv = { PATH: `${binDir}:${process.env.PATH}`, HOME: outDir, AWS_CONFIG_FILE: join(outDir, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(outDir, 'no-credentials') };
    const shell = async (command: string) => {
      const { stdout: out } = await run('bash', ['-c', `set -e\n${exportLine}\n${command}`], { cwd: ROOT, env, timeout: 60_000 });
      return out;
    };
    const items = async (command: string) => ((JSON.parse(await shell(command)) as { Items: Item[] }).Items ?? []) as Item[];
    const segmentQuery = (name: string) => bySegment.replace('{"S":"Gold"}', JSON.stringify({ S: name }));
    const statusQuery = (status: string) => byStatus.replace('{"S":"failed"}', JSON.stringify({ S: status }));
    // Its own key too: s3rver keeps no versions, so a second drop on one key would replace the first before its trigger reads it.
    const dropAs = (segment: string, metadata: Record<string, string> = {}) =>
      drop
        .replace(/(s3:\/\/[^/]+\/Email Address\/)VIP customers\.csv'/, `$1${segment}.csv'`)
        .replace(`'${JSON.stringify({ 'segment-name': 'Gold' })}'`, `'${JSON.stringify({ 'segment-name': segment, ...metadata })}'`);

    // Drop with metadata, then read the record from both indexes until it is final.
    await shell(drop);
    const gold = await until('Gold completed (bySegment)', async () => {
      const [newest] = await items(bySegment);
      return newest?.status?.S === 'completed' ? newest : undefined;
    });
    expect(gold.validValuesCount?.N).toBe('5');
    expect(gold.attributeName?.S).toBe('Email Address');
    const completed = await items(statusQuery('completed'));
    expect(completed.map((i) => i.uploadId?.S)).toContain(gold.uploadId?.S);

    // The JSON form the drop step's note shows takes a template, whose braces the CLI's shorthand refuses.
    await shell(dropAs('Weekly', { 'segment-name-template': '{name} {date}' }));
    const weekly = await until('Weekly completed (bySegment)', async () => {
      const [newest] = await items(segmentQuery('Weekly'));
      return newest?.status?.S === 'completed' ? newest : undefined;
    });
    expect(weekly.insiderSegmentName?.S).toMatch(/^Weekly \d{4}-\d{2}-\d{2}$/);

    // The table browser reads the same table: the console's Query on an index.
    const browser = /Table browser\s+(http:\/\/127\.0\.0\.1:\d+)\/tables\/(\S+)/.exec(stdout);
    expect(browser?.[1]).toBe(`http://127.0.0.1:${base + SERVE_PORT_OFFSETS.tableBrowser}`);
    const html = await fetch(`${browser?.[1]}/tables/${browser?.[2]}`);
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('bySegment');
    const filters = encodeURIComponent(JSON.stringify({ segmentName: { type: 'S', value: 'Gold', operator: '=' } }));
    const page = await fetch(`${browser?.[1]}/tables/${browser?.[2]}/items?operationType=query&queryableSelection=bySegment&filters=${filters}`);
    expect(page.status).toBe(200);
    expect(((await page.json()) as { Items: { uploadId: string }[] }).Items.map((i) => i.uploadId)).toEqual([gold.uploadId?.S]);

    // The status notification, printed and appended to the file.
    await until('the completed notification', async () => (/^\[status \d\d:\d\d:\d\dZ\] completed "Gold" \(Email Address\/VIP customers\.csv\) valid 5/m.test(stdout) ? true : undefined));
    const notifications = readFileSync(join(outDir, 'state', 'status-notifications.jsonl'), 'utf8').trim().split('\n');
    expect(notifications.map((l) => JSON.parse((JSON.parse(l) as { message: string }).message) as { status: string; segmentName: string })).toContainEqual(
      expect.objectContaining({ status: 'completed', segmentName: 'Gold' }),
    );

    // A wrong token: later drops reach the simulator with it (401), fail after their deliveries, and land in the failure queue.
    const token = /--secret-string (\S+)/.exec(putToken)?.[1] ?? '';
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const put = JSON.parse(await shell(putToken.replace(token, 'not-the-token'))) as { VersionId: string; VersionStages: string[] };
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // tokenCacheSeconds=1
    await shell(dropAs('Bronze'));
    await shell(dropAs('Silver'));
    const failed = await until('Bronze and Silver failed (byStatus)', async () => {
      const found = (await items(byStatus)).filter((i) => ['Bronze', 'Silver'].includes(i.segmentName?.S ?? ''));
      return found.length === 2 ? found : undefined;
    });
    for (const record of failed) expect(record.fpsHttpStatus?.N).toBe('401');
    await until('the failed notifications', async () => (/^\[status .*\] failed "Bronze"/m.test(stdout) && /^\[status .*\] failed "Silver"/m.test(stdout) ? true : undefined));

    type Received = { Messages?: { Body: string; ReceiptHandle: string; Attributes?: Record<string, string> }[] };
    const inQueue = await until('both events in the failure queue', async () => {
      // Hidden 5 s (500 s × 0.01) while the test reads them; visible again for the redrive.
      const out = await shell(receive.replace('--visibility-timeout 0', '--visibility-timeout 500'));
      const messages = out.trim() === '' ? [] : ((JSON.parse(out) as Received).Messages ?? []);
      return messages.length === 2 ? messages : undefined;
    });
    const keyInBody = (body: string) => (JSON.parse(body) as { Records: { s3: { object: { key: string } } }[] }).Records[0]?.s3.object.key;
    expect(inQueue.map((m) => keyInBody(m.Body)).sort()).toEqual(['Email+Address/Bronze.csv', 'Email+Address/Silver.csv']);
    const silver = inQueue.find((m) => keyInBody(m.Body) === 'Email+Address/Silver.csv');
    expect(silver?.Attributes?.ApproximateReceiveCount).toBeDefined();
    // Dealt with by hand: delete Silver's message.
    await shell(deleteMessage.replace(`'<ReceiptHandle from receive-message>'`, `'${silver?.ReceiptHandle}'`));

    // The right token back, then the redrive as printed: it lists both failed uploads, and redrives them.
    await shell(putToken);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const listed = await shell(redriveList);
    for (const record of failed) expect(listed).toContain(record.uploadId?.S);
    await until('the failure queue visible again', async () => {
      const out = await shell(`${receive} --visibility-timeout 0`);
      return out.trim() !== '' ? true : undefined;
    });
    // execFile rejects on a non-zero exit: redrive's 0 means every chosen upload was redriven.
    const redriven = await shell(redriveAll);
    expect(redriven.match(/: copied\b/g), redriven).toHaveLength(2);
    expect(redriven.match(/deleted message /g), redriven).toHaveLength(1);
    for (const segment of ['Bronze', 'Silver']) {
      const [newest, older] = await until(`${segment} completed after the redrive`, async () => {
        const found = await items(segmentQuery(segment));
        return found[0]?.status?.S === 'completed' ? found : undefined;
      });
      expect(newest?.fpsHttpStatus?.N).toBe('200');
      expect(older?.status?.S).toBe('failed');
    }
    // Bronze's message went with its redrive, Silver's by hand: the failure queue is empty.
    expect((await shell(receive)).trim()).toBe('');

    // The sweeper ran on its schedule, judged at each scheduled time.
    expect(stdout).toMatch(/^\[schedule \d\d:\d\d:\d\dZ\] sweeper: 0 timed out, 0 failed$/m);

    // Ctrl-C stops everything.
    const flowMs = Date.now() - started - readyMs;
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Work that was finishing may still print (a status, a scheduled sweep) before the last line.
    expect(stdout).toMatch(/^SIGINT: stopping…\n(?:.*\n)*Stopped\.\n?$/m);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('Stopped.');
    await expect(fetch(`http://127.0.0.1:${base}/`)).rejects.toThrow();
    console.log(`serve mode: ready in ${(readyMs / 1000).toFixed(1)} s, CLI flow in ${(flowMs / 1000).toFixed(1)} s`);
  });
});
