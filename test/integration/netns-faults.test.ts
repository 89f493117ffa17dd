// Faults in a namespaced rack (root only): a receiver whose disk fills (an
// 8 MiB tmpfs mounted for the test, a 32 MiB image) and a receiver killed mid-transfer with
// the time the sender took to drop it and the survivors' throughput against a run without
// the fault. The rack (bench/lab.ts): a sender and 4 receivers in their own namespaces on
// one bridge, 198.18.0.0/24, default groups and ports (the bridge is the rack's own).
// Needs root and ip/nft/tc; skipped otherwise (reason printed). Assumes `npm run build`.
// The tmpfs is unmounted and removed in `finally` and again in afterAll, whatever happened.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLabLock, createRack, type LabLock, labSkipReason, parseLastJson, type Rack, sha256File, writeRandomFile } from '../../bench/lab.js';
import { sleep } from '../support/wait.js';
import { mbPerSecond, readLog, waitForLog } from './fault-helpers.js';

const RECEIVERS = 4;
const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const RECEIVER_CLI = fileURLToPath(new URL('../../dist/receiver/cli.js', import.meta.url));
const RECEIVER_HEAD_START_MS = 500;
const RUN_TIMEOUT_MS = 60_000;
const CASE_TIMEOUT_MS = 180_000;
const MiB = 1 << 20;
const TMPFS_BYTES = 8 * MiB;
const DISK_FULL_IMAGE = 32 * MiB;
const KILL_IMAGE = 128 * MiB;

const skipReason = labSkipReason();
if (skipReason !== undefined) console.log(`netns-faults.test.ts: skipped: ${skipReason}`);

interface Run {
  readonly name: string;
  readonly child: ChildProcess;
  readonly result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; exitAt: number; timedOut: boolean }>;
}
type Result = Awaited<Run['result']>;

/** rack.exec with the child kept (to kill it by PID: `ip netns exec` execs the command itself). */
function start(rack: Rack, ns: string, name: string, argv: readonly string[]): Run {
  const child = rack.exec(ns, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = new Promise<Result>((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, exitAt: Date.now(), timedOut });
    });
  });
  return { name, child, result };
}

function describeResult(name: string, r: Result): string {
  return `${name}: exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (timed out, killed)' : ''}\n  stdout: ${r.stdout.trim().slice(-1500)}\n  stderr: ${r.stderr.trim().slice(-1500)}`;
}

function failureLines(r: Result): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '');
}

describe.skipIf(skipReason !== undefined)('faults in a namespaced rack: 1 sender, 4 receivers', () => {
  let lock: LabLock | undefined;
  let rack: Rack | undefined;
  let dir = '';
  let mountpoint = '';

  function unmount(): void {
    if (mountpoint === '') return;
    // -l: even if a receiver still has a file open there, the mount goes.
    spawnSync('umount', [mountpoint], { stdio: 'ignore' });
    spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
  }

  beforeAll(async () => {
    lock = await acquireLabLock({ waitSeconds: 540 });
    rack = await createRack({ receivers: RECEIVERS });
    dir = await mkdtemp(join(tmpdir(), 'rackcast-netns-faults-'));
  }, 600_000);

  afterAll(async () => {
    try {
      unmount();
      await rack?.destroy();
    } finally {
      await lock?.release();
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  /** Receivers 0..n-1 writing to `outputs[i]`, then the sender; all with --json and --log. */
  function transfer(name: string, image: string, outputs: readonly string[], senderArgs: string[] = []) {
    const r = rack!;
    const logs = outputs.map((_, i) => join(dir, `${name}-receiver${i + 1}.log`));
    const receivers = outputs.map((out, i) =>
      start(r, r.receiverNs[i]!, `receiver ${i + 1}`, [
        process.execPath,
        RECEIVER_CLI,
        '--file',
        out,
        '--interface',
        r.receiverAddrs[i]!,
        '--json',
        '--log',
        logs[i]!,
      ]),
    );
    const senderLog = join(dir, `${name}-sender.log`);
    const sender = sleep(RECEIVER_HEAD_START_MS).then(() =>
      start(r, r.senderNs, 'sender', [
        process.execPath,
        SENDER_CLI,
        '--file',
        image,
        '--nokbd',
        '--min-receivers',
        String(outputs.length),
        '--interface',
        r.senderAddr,
        '--json',
        '--log',
        senderLog,
        ...senderArgs,
      ]),
    );
    return { receivers, sender, senderLog };
  }

  it(
    'a receiver whose disk fills reports the write error to the sender and exits 3; the others verify',
    async () => {
      expect(existsSync(SENDER_CLI) && existsSync(RECEIVER_CLI), 'run npm run build').toBe(true);
      const image = join(dir, 'image32.bin');
      await writeRandomFile(image, DISK_FULL_IMAGE);
      const sha = await sha256File(image);
      mountpoint = join(dir, 'small-disk');
      await mkdir(mountpoint);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0755`, 'rackcast-test', mountpoint], { encoding: 'utf8' });
      expect(m.status, `mount tmpfs: ${m.stderr}`).toBe(0);
      try {
        const outputs = [join(mountpoint, 'out1.img'), join(dir, 'full-out2.img'), join(dir, 'full-out3.img')];
        const t = transfer('diskfull', image, outputs);
        const sender = await t.sender;
        const [s, ...rr] = await Promise.all([sender.result, ...t.receivers.map((x) => x.result)]);
        const all = [describeResult('sender', s), ...rr.map((x, i) => describeResult(`receiver ${i + 1}`, x))].join('\n');

        // The full one: I/O error (exit 3), one line naming the cause, nothing left on the disk.
        const full = rr[0]!;
        expect(full.timedOut, all).toBe(false);
        expect(full.code, all).toBe(3);
        const lines = failureLines(full);
        expect(lines, all).toHaveLength(1);
        expect(lines[0], all).toMatch(/ENOSPC|no space/i);
        expect(parseLastJson(full.stdout)?.reason, all).toBe('write error');
        expect(await readdir(mountpoint), 'the full receiver left files on its disk').toEqual([]);

        // The others verify; the sender lists the full one as having left, with the reason.
        for (const i of [1, 2]) {
          expect(rr[i]!.code, all).toBe(0);
          expect(await sha256File(outputs[i]!)).toBe(sha);
        }
        expect(s.code, all).toBe(1);
        const report = parseLastJson(s.stdout) as { receivers: { id: string; state: string; reason?: string; bytes: number }[] } | undefined;
        expect(report, all).toBeDefined();
        const fullId = String(parseLastJson(full.stdout)?.receiverId);
        const entry = report!.receivers.find((x) => x.id === fullId);
        expect(entry?.state, JSON.stringify(report!.receivers)).toBe('left');
        expect(entry?.reason ?? '', JSON.stringify(entry)).toMatch(/ENOSPC|no space/i);
        expect(report!.receivers.filter((x) => x.state === 'verified')).toHaveLength(2);
        const log = await readLog(t.senderLog);
        const startAt = log.find((x) => x.evt === 'transfer.start')?.time ?? 0;
        const leftAt = log.find((x) => x.evt === 'receiver.left')?.time ?? 0;
        console.log(
          `disk full (${TMPFS_BYTES / MiB} MiB tmpfs, ${DISK_FULL_IMAGE / MiB} MiB image): receiver exit ${full.code} "${lines[0]}"; ` +
            `the sender heard its LEAVE ${((leftAt - startAt) / 1000).toFixed(2)} s after START and lists it "${entry?.state}: ${entry?.reason}"; ` +
            `the other two verified (exit ${rr[1]!.code}, ${rr[2]!.code}); sender exit ${s.code}`,
        );
      } finally {
        unmount();
      }
    },
    CASE_TIMEOUT_MS,
  );

  it(
    'a receiver killed mid-transfer is dropped after the bounded effort; the survivors finish at full speed',
    async () => {
      const image = join(dir, 'image128.bin');
      await writeRandomFile(image, KILL_IMAGE);
      const sha = await sha256File(image);

      // Without the fault first: the survivors' speed to compare with.
      const base = transfer(
        'base',
        image,
        [1, 2, 3, 4].map((i) => join(dir, `base-out${i}.img`)),
      );
      const baseSender = await base.sender;
      const [bs, ...brr] = await Promise.all([baseSender.result, ...base.receivers.map((x) => x.result)]);
      expect(bs.code, describeResult('sender', bs)).toBe(0);
      const baseSecs = Math.max(...brr.map((x) => Number(parseLastJson(x.stdout)?.seconds)));
      for (let i = 1; i <= 4; i++) await rm(join(dir, `base-out${i}.img`), { force: true });

      const outputs = [1, 2, 3, 4].map((i) => join(dir, `kill-out${i}.img`));
      const t = transfer('kill', image, outputs);
      const sender = await t.sender;
      const [started] = await waitForLog(t.senderLog, 'transfer.start', { timeoutMs: 30_000 });
      await sleep(200);
      const victim = t.receivers[3]!;
      const killedAt = Date.now();
      expect(victim.child.kill('SIGKILL')).toBe(true);
      const [s, ...rr] = await Promise.all([sender.result, ...t.receivers.map((x) => x.result)]);
      const all = [describeResult('sender', s), ...rr.map((x, i) => describeResult(`receiver ${i + 1}`, x))].join('\n');
      expect(rr[3]!.signal, all).toBe('SIGKILL');
      for (const i of [0, 1, 2]) {
        expect(rr[i]!.code, all).toBe(0);
        expect(await sha256File(outputs[i]!)).toBe(sha);
      }
      expect(existsSync(outputs[3]!)).toBe(false);
      expect(s.code, all).toBe(1);
      const log = await readLog(t.senderLog);
      const drop = log.find((x) => x.evt === 'receiver.dropped');
      const done = log.find((x) => x.evt === 'transfer.done');
      expect(drop, all).toBeDefined();
      const dropMs = drop!.time - killedAt;
      expect(dropMs).toBeLessThan(200 * 25 + 5000);
      const secs = rr.slice(0, 3).map((x) => Number(parseLastJson(x.stdout)?.seconds));
      const survivorSecs = Math.max(...secs);
      const afterDrop = (done!.time - drop!.time) / 1000;
      console.log(
        `dead receiver in the rack (${KILL_IMAGE / MiB} MiB, 4 receivers): killed ${((killedAt - started!.time) / 1000).toFixed(2)} s after START, ` +
          `dropped ${(dropMs / 1000).toFixed(2)} s later (${String(drop!.detail)}); survivors verified in ${survivorSecs.toFixed(2)} s ` +
          `(${mbPerSecond(KILL_IMAGE, survivorSecs).toFixed(0)} MB/s) against ${baseSecs.toFixed(2)} s (${mbPerSecond(KILL_IMAGE, baseSecs).toFixed(0)} MB/s) ` +
          `without the fault; the sender was done ${afterDrop.toFixed(2)} s after the drop`,
      );
      // The fault costs the drop delay, not a slower transfer: generous, the machine is shared.
      expect(survivorSecs).toBeLessThan(baseSecs * 3 + dropMs / 1000 + 5);
    },
    CASE_TIMEOUT_MS,
  );
});
