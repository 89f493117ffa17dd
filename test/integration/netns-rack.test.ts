// The real CLIs on a real (namespaced) network: 1 sender + 4 receivers on one
// bridge, 2% random UDP loss at each receiver, a 64 MiB random image. Every
// receiver must verify and write a byte-identical copy, and the sender must report
// all four as verified. Then the same under loss with a receiver killed and started
// again mid-transfer (udp-sender --streaming): it rejoins and verifies like the others.
// Needs root and ip/nft/tc; skipped otherwise (reason printed).
// Assumes `npm run build` has produced dist/ (npm test builds first).

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireLabLock,
  createRack,
  type LabLock,
  labSkipReason,
  multicastPing,
  parseLastJson,
  type Rack,
  type RunResult,
  sha256File,
  writeRandomFile,
} from '../../bench/lab.js';

const RECEIVERS = 4;
const LOSS_PERMILLE = 20;
const IMAGE_BYTES = 64 << 20;
const TRANSFER_TIMEOUT_MS = 150_000; // processes are killed here, before vitest's 180 s
const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const RECEIVER_CLI = fileURLToPath(new URL('../../dist/receiver/cli.js', import.meta.url));

const skipReason = labSkipReason();
if (skipReason !== undefined) {
  console.log(`netns-rack.test.ts: skipped: ${skipReason}`);
}

async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function describeRun(name: string, r: RunResult, logPath: string): Promise<string> {
  return [
    `${name}: exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (timed out, killed)' : ''} after ${(r.wallMs / 1000).toFixed(1)} s`,
    `  stdout: ${r.stdout.trim().slice(-2000)}`,
    `  stderr: ${r.stderr.trim().slice(-2000)}`,
    `  log tail:\n${await tail(logPath)}`,
  ].join('\n');
}

describe.skipIf(skipReason !== undefined)('rackcast in a namespaced rack: 1 sender, 4 receivers, 2% loss', () => {
  let lock: LabLock | undefined;
  let rack: Rack | undefined;
  let dir: string | undefined;
  let inputPath = '';
  let inputSha = '';

  beforeAll(async () => {
    // Another lab run (a bench) may hold the lock for a few minutes.
    lock = await acquireLabLock({ waitSeconds: 540 });
    rack = await createRack({ receivers: RECEIVERS, lossPermille: LOSS_PERMILLE });
    dir = await mkdtemp(join(tmpdir(), 'rackcast-netns-'));
    inputPath = join(dir, 'image.bin');
    await writeRandomFile(inputPath, IMAGE_BYTES);
    inputSha = await sha256File(inputPath);
  }, 600_000);

  afterAll(async () => {
    try {
      await rack?.destroy();
    } finally {
      await lock?.release();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the lab carries multicast from the sender to every receiver, and drops some', async () => {
    const r = rack!;
    const before = await r.droppedPackets();
    const ping = await multicastPing(r, { count: 5000 });
    const dropped = (await r.droppedPackets()).map((n, i) => n - before[i]!);
    for (let i = 0; i < RECEIVERS; i++) {
      // 2% of 5000 is 100 (sd ~10); socket-buffer overflow can add a little.
      expect(ping.received[i], `receiver ${i + 1} got ${ping.received[i]}/${ping.sent}`).toBeGreaterThan(ping.sent * 0.9);
      expect(ping.received[i]).toBeLessThan(ping.sent);
      expect(dropped[i], `nft drops at receiver ${i + 1}`).toBeGreaterThan(0);
    }
  }, 60_000);

  it('delivers a 64 MiB image byte-identical to all 4 receivers, each verified', async () => {
    const r = rack!;
    const work = dir!;
    expect(existsSync(SENDER_CLI) && existsSync(RECEIVER_CLI), `${SENDER_CLI} / ${RECEIVER_CLI} missing: run npm run build`).toBe(true);

    const outputs = r.receiverAddrs.map((_, i) => join(work, `out-${i + 1}.bin`));
    const receiverLogs = r.receiverAddrs.map((_, i) => join(work, `receiver-${i + 1}.log`));
    const senderLog = join(work, 'sender.log');

    const receiverRuns = r.receiverNs.map((ns, i) =>
      r.run(ns, [process.execPath, RECEIVER_CLI, '--file', outputs[i]!, '--interface', r.receiverAddrs[i]!, '--json', '--log', receiverLogs[i]!], {
        timeoutMs: TRANSFER_TIMEOUT_MS,
      }),
    );
    const senderRun = r.run(
      r.senderNs,
      [
        process.execPath,
        SENDER_CLI,
        '--file',
        inputPath,
        '--nokbd',
        '--min-receivers',
        String(RECEIVERS),
        '--interface',
        r.senderAddr,
        '--json',
        '--log',
        senderLog,
      ],
      { timeoutMs: TRANSFER_TIMEOUT_MS },
    );
    const [sender, ...receivers] = await Promise.all([senderRun, ...receiverRuns]);

    const report = [
      await describeRun('sender', sender, senderLog),
      ...(await Promise.all(receivers.map((rr, i) => describeRun(`receiver ${i + 1}`, rr, receiverLogs[i]!)))),
    ].join('\n');

    expect(sender.code, report).toBe(0);
    receivers.forEach((rr, i) => {
      expect(rr.code, `receiver ${i + 1}\n${report}`).toBe(0);
    });

    for (let i = 0; i < RECEIVERS; i++) {
      expect(existsSync(outputs[i]!), `receiver ${i + 1} wrote no file`).toBe(true);
      expect(await sha256File(outputs[i]!), `receiver ${i + 1} output differs from the input`).toBe(inputSha);
    }

    const senderJson = parseLastJson(sender.stdout);
    expect(senderJson, `sender printed no JSON object\n${report}`).toBeDefined();
    expect(senderJson!.ok).toBe(true);
    const listed = Array.isArray(senderJson!.receivers) ? (senderJson!.receivers as Record<string, unknown>[]) : [];
    expect(listed, `sender receivers: ${JSON.stringify(senderJson!.receivers)}`).toHaveLength(RECEIVERS);
    for (const rcv of listed) expect(rcv.state, JSON.stringify(rcv)).toBe('verified');
    // The address may carry a port or an IPv4-mapped prefix: compare the IPv4 part.
    const listedAddrs = listed.map((rcv) => /\d+\.\d+\.\d+\.\d+/.exec(String(rcv.address))?.[0]);
    expect(new Set(listedAddrs), 'each receiver listed once').toEqual(new Set(r.receiverAddrs));

    receivers.forEach((rr, i) => {
      const j = parseLastJson(rr.stdout);
      expect(j?.ok, `receiver ${i + 1} JSON: ${rr.stdout.trim()}`).toBe(true);
    });
  }, 180_000);

  it('under 2% loss, a receiver killed mid-transfer and started again rejoins (--streaming) and verifies', async () => {
    const r = rack!;
    const work = dir!;
    const outputs = r.receiverAddrs.map((_, i) => join(work, `rejoin-${i + 1}.bin`));
    const senderLog = join(work, 'rejoin-sender.log');
    const receiverArgv = (i: number): string[] => [process.execPath, RECEIVER_CLI, '--file', outputs[i]!, '--interface', r.receiverAddrs[i]!, '--json'];
    const receiverRuns = r.receiverNs.slice(0, 3).map((ns, i) => r.run(ns, receiverArgv(i), { timeoutMs: TRANSFER_TIMEOUT_MS }));
    // Receiver 4 through exec(), to kill it: `ip netns exec` execs node itself, so the PID is node's.
    const victim = r.exec(r.receiverNs[3]!, receiverArgv(3), { stdio: 'ignore' });
    const victimExit = new Promise<NodeJS.Signals | null>((resolve) => victim.once('close', (_c, sig) => resolve(sig)));
    await new Promise((res) => setTimeout(res, 500));
    const senderRun = r.run(
      r.senderNs,
      [
        process.execPath,
        SENDER_CLI,
        '--file',
        inputPath,
        '--nokbd',
        '--streaming',
        '--max-bitrate',
        '200m',
        '--retries-until-drop',
        '40',
        '--min-receivers',
        String(RECEIVERS),
        '--interface',
        r.senderAddr,
        '--json',
        '--log',
        senderLog,
      ],
      { timeoutMs: TRANSFER_TIMEOUT_MS },
    );
    // Wait for START in the sender's log, then kill receiver 4 a second in and start it again.
    for (let t = 0; t < 300 && !(await readFile(senderLog, 'utf8').catch(() => '')).includes('"transfer.start"'); t++) {
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, 1000));
    victim.kill('SIGKILL');
    expect(await victimExit).toBe('SIGKILL');
    const again = r.run(r.receiverNs[3]!, receiverArgv(3), { timeoutMs: TRANSFER_TIMEOUT_MS });
    const [sender, ...receivers] = await Promise.all([senderRun, ...receiverRuns, again]);
    const report = [
      await describeRun('sender', sender, senderLog),
      ...receivers.map((rr, i) => `receiver ${i + 1}: exit ${rr.code}\n${rr.stderr.trim()}`),
    ].join('\n');
    expect(sender.code, report).toBe(0);
    receivers.forEach((rr, i) => {
      expect(rr.code, `receiver ${i + 1}\n${report}`).toBe(0);
    });
    for (let i = 0; i < RECEIVERS; i++) expect(await sha256File(outputs[i]!), `receiver ${i + 1}`).toBe(inputSha);
    const late = parseLastJson(receivers[3]!.stdout)!;
    const senderJson = parseLastJson(sender.stdout)!;
    const stats = senderJson.stats as Record<string, number>;
    expect(Number(late.joinSlice)).toBeGreaterThan(0);
    expect(stats.lateJoins).toBe(1);
    const listed = senderJson.receivers as Record<string, unknown>[];
    expect(listed.filter((x) => x.state === 'dropped' && x.replacedBy === late.receiverId)).toHaveLength(1);
    console.log(
      `rejoin under 2% loss: joined at slice ${String(late.joinSlice)}, verified in ${Number(late.seconds).toFixed(2)} s; ` +
        `sender: ${stats.reloads} slices re-read, ${stats.dataResends} data blocks sent again, ${stats.repairPackets} repair datagrams, ${Number(senderJson.seconds).toFixed(2)} s in all`,
    );
  }, 180_000);
});
