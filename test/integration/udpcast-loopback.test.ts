// `udp-sender --protocol udpcast` against Debian's stock udp-receiver on loopback (no root):
// one receiver (two stock receivers cannot share an address: both bind it), an image
// byte-identical with and without --fec, a receiver killed mid-transfer dropped and named,
// and the options that make no sense for one protocol refused in one line.
// Skipped, with the reason, when /usr/bin/udp-receiver is missing (bench/lab-deps.sh
// installs Debian's udpcast as root). Assumes `npm run build` has produced dist/.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeRsStatus } from '../../common/fec.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  newSession,
  Processes,
  parseJsonReport,
  type RunResult,
  SENDER_CLI,
  sha256File,
  sleep,
  writeRandomFile,
} from './helpers.js';

const UDP_RECEIVER = '/usr/bin/udp-receiver';
const skip = !existsSync(UDP_RECEIVER) ? `${UDP_RECEIVER} is missing (apt-get install udpcast; bench/lab-deps.sh does it as root)` : builtCliMissing();
if (skip !== undefined) console.log(`udpcast-loopback.test.ts: skipped: ${skip}`);

interface UdpcastReport {
  readonly ok: boolean;
  readonly verified: boolean;
  readonly receivers: readonly { clNr: number; address: string; state: string; detail: string }[];
  readonly stats: Record<string, number>;
  readonly fecCoder: string;
}

/** Runs Debian's udp-receiver until it exits (or is killed at the deadline). */
function stockReceiver(args: readonly string[], timeoutMs: number): { pid: number; result: Promise<RunResult>; kill: () => void } {
  const started = performance.now();
  const child = spawn(UDP_RECEIVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const result = new Promise<RunResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitAtMs = performance.now();
      resolve({ name: 'udp-receiver', code, signal, stdout: '', stderr, wallMs: exitAtMs - started, exitAtMs, timedOut });
    }),
  );
  return { pid: child.pid!, result, kill: () => child.kill('SIGKILL') };
}

describe.skipIf(skip !== undefined)('udp-sender --protocol udpcast → Debian udp-receiver on loopback', () => {
  let dir = '';
  let input = '';
  let inputSha = '';
  const procs = new Processes();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rackcast-udpcast-'));
    input = join(dir, 'image.bin');
    inputSha = await writeRandomFile(input, 16 << 20);
  });

  afterAll(async () => {
    await procs.killLeftovers();
    await rm(dir, { recursive: true, force: true });
  });

  async function transfer(extra: readonly string[], name: string): Promise<{ sender: RunResult; receiver: RunResult; out: string }> {
    const s = newSession();
    const out = join(dir, `${name}.out`);
    const rcv = stockReceiver(['--interface', 'lo', '--nokbd', '--portbase', String(s.portbase), '--file', out], 60_000);
    await sleep(300);
    const sender = procs.start(
      'udp-sender',
      SENDER_CLI,
      ['--protocol', 'udpcast', '--interface', 'lo', '--nokbd', '--min-receivers', '1', '--portbase', String(s.portbase), '--file', input, '--json', ...extra],
      { timeoutMs: 60_000 },
    );
    const sr = await sender.result;
    return { sender: sr, receiver: await rcv.result, out };
  }

  it.each([
    ['plain', []],
    ['fec', ['--fec', '8x4/128']],
    ['half-duplex, data repair only', ['--half-duplex', '--repair', 'data', '--nopointopoint']],
  ])('%s: 16 MiB byte-identical, the receiver complete but not verified, exit 0', async (name, extra) => {
    const r = await transfer(extra as string[], name.replace(/\W+/g, '-'));
    expectExit(r.sender, 0);
    expect(r.receiver.code, describeRun(r.receiver)).toBe(0);
    expect(r.receiver.stderr).toContain('Transfer complete');
    expect(await sha256File(r.out)).toBe(inputSha);
    const rep = parseJsonReport<UdpcastReport>(r.sender);
    expect(rep.ok).toBe(true);
    expect(rep.verified).toBe(false);
    expect(rep.receivers.map((x) => [x.address, x.state])).toEqual([['127.0.0.1', 'complete']]);
    expect(r.sender.stderr).toContain('complete, not verified');
    expect(r.sender.stderr).toContain('stock udp-receivers send no digest');
    if (name === 'fec') expect(rep.stats.fecBlocks).toBe(Math.ceil((16 << 20) / (1024 * 1456)) * 8 * 4);
    // The parity comes from the native kernels whenever the addon is built (and must, under
    // RACKCAST_REQUIRE_NATIVE=1), unless the environment asks for the TS coder.
    const rs = nativeRsStatus();
    if (process.env.RACKCAST_RS_KERNEL?.trim() === 'ts') expect(rep.fecCoder).toBe('ts');
    else if (rs.loaded || process.env.RACKCAST_REQUIRE_NATIVE === '1') expect(rep.fecCoder).toMatch(/^udpcast-on-native-cauchy-/);
    else expect(rep.fecCoder).toBe('ts');
  });

  it('--pipe: the sender gzips on the fly, the stock receiver gunzips with its own --pipe; the image arrives identical', async () => {
    const s = newSession();
    const out = join(dir, 'piped.out');
    const rcv = stockReceiver(['--interface', 'lo', '--nokbd', '--portbase', String(s.portbase), '--pipe', 'gzip -dc', '--file', out], 60_000);
    await sleep(300);
    const sender = procs.start(
      'udp-sender',
      SENDER_CLI,
      [
        '--protocol',
        'udpcast',
        '--interface',
        'lo',
        '--nokbd',
        '--min-receivers',
        '1',
        '--portbase',
        String(s.portbase),
        '--file',
        input,
        '--pipe',
        'gzip -1 -c',
        '--json',
      ],
      { timeoutMs: 60_000 },
    );
    expectExit(await sender.result, 0);
    expect((await rcv.result).code).toBe(0);
    expect(await sha256File(out)).toBe(inputSha);
  });

  it('a receiver killed mid-transfer is dropped and named; the sender exits 1 instead of hanging', async () => {
    const s = newSession();
    const out = join(dir, 'killed.out');
    const rcv = stockReceiver(['--interface', 'lo', '--nokbd', '--portbase', String(s.portbase), '--file', out], 60_000);
    await sleep(300);
    const sender = procs.start(
      'udp-sender',
      SENDER_CLI,
      [
        '--protocol',
        'udpcast',
        '--interface',
        'lo',
        '--nokbd',
        '--min-receivers',
        '1',
        '--portbase',
        String(s.portbase),
        '--file',
        input,
        '--json',
        '--max-bitrate',
        '40m',
        '--retries-until-drop',
        '40',
      ],
      { timeoutMs: 60_000 },
    );
    await sleep(1800);
    rcv.kill();
    const sr = await sender.result;
    expectExit(sr, 1);
    const rep = parseJsonReport<UdpcastReport>(sr);
    expect(rep.receivers.map((x) => x.state)).toEqual(['dropped']);
    expect(rep.receivers[0]!.detail).toMatch(/no answer to 40 REQACK rounds/);
    expect(sr.stderr).toMatch(/receiver #0 \(127\.0\.0\.1\) dropped: no answer/);
    expect((await rcv.result).signal).toBe('SIGKILL');
  });

  it.each([
    [
      ['--protocol', 'udpcast', '--key-file', '/etc/hostname', '--nokbd', '--min-receivers', '1'],
      /--key-file is not for --protocol udpcast: stock udp-receivers cannot check tags/,
    ],
    [['--protocol', 'udpcast', '--compress', 'gzip', '--nokbd', '--min-receivers', '1'], /--compress is not for --protocol udpcast/],
    [
      ['--protocol', 'udpcast', '--streaming', '--nokbd', '--min-receivers', '1'],
      /--streaming is not for --protocol udpcast: a stock udp-receiver cannot join/,
    ],
    [['--full-duplex', '--nokbd', '--min-receivers', '1'], /--full-duplex is an option of udpcast's protocol: add --protocol udpcast/],
    [['--mcast-all-address', '239.1.2.3', '--nokbd', '--min-receivers', '1'], /--mcast-all-address is an option of udpcast's protocol/],
    [['--protocol', 'tftp'], /--protocol: expected rackcast or udpcast/],
    [['--protocol', 'udpcast', '--full-duplex', '--half-duplex', '--nokbd', '--min-receivers', '1'], /exclude each other/],
    [['--protocol', 'udpcast', '--nokbd'], /nothing would start the transfer/],
  ])('refuses %j in one line, exit 2', async (args, message) => {
    const r = await procs.start('udp-sender', SENDER_CLI, args as string[], { timeoutMs: 20_000 }).result;
    expectExit(r, 2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
