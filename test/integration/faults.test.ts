// Faults with real processes on loopback multicast: a receiver killed
// mid-transfer, one frozen (SIGSTOP) and woken after it was dropped, the sender killed
// while announcing and mid-transfer (receivers writing a file and stdout), and two
// transfers at once on different port bases and on the same port base with different
// groups. Times come from the sender's --log records (pino, epoch ms) and the CLIs' --json
// reports; they are printed, not asserted (beyond generous sanity bounds), because this
// machine is shared. loopback.test.ts has the basic kill cases; these add the numbers and
// the cases it lacks. Assumes `npm run build` (npm test builds first).

import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultSession, mbPerSecond, readLog, sameBaseOtherGroups, waitForLog } from './fault-helpers.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  loopbackFixture,
  type Proc,
  parseJsonReport,
  partFiles,
  RECEIVER_CLI,
  type ReceiverReport,
  type RunResult,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  type Session,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  stderrLines,
  writeRandomFile,
} from './helpers.js';

const MiB = 1 << 20;
const RECEIVER_HEAD_START_MS = 300;
/** 64 MiB at 400 Mbit/s: about 1.3 s of transfer, so a fault 0.5 s in lands mid-transfer. */
const RATE = '400m';
/** The CLI's defaults: --retries-until-drop 200 rounds of 25 ms. */
const DEFAULT_DROP_MS = 200 * 25;

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

/** A failure is one complete, non-empty line on stderr. */
function expectOneLine(r: RunResult): string {
  const lines = stderrLines(r);
  expect(r.stderr.endsWith('\n'), describeRun(r)).toBe(true);
  expect(lines, describeRun(r)).toHaveLength(1);
  expect(lines[0]!.trim().length, describeRun(r)).toBeGreaterThan(0);
  return lines[0]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

describe('faults with real processes on loopback', () => {
  const fx = loopbackFixture('faults', 64 * MiB);
  const { procs, testDir } = fx;

  function startReceivers(s: Session, dir: string, n: number, extra: string[] = []): Proc[] {
    return Array.from({ length: n }, (_, i) =>
      procs.start(`receiver${i + 1}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i + 1}.img`), '--json', ...extra]),
    );
  }

  function startSender(s: Session, dir: string, receivers: number, extra: string[] = []): { proc: Proc; log: string } {
    const log = join(dir, 'sender.log');
    const proc = procs.start('sender', SENDER_CLI, [
      ...senderNetArgs(s),
      '--file',
      fx.image,
      '--min-receivers',
      String(receivers),
      '--max-bitrate',
      RATE,
      '--json',
      '--log',
      log,
      ...extra,
    ]);
    return { proc, log };
  }

  /** Three receivers, no fault: what "full speed" is on this machine right now. */
  async function baseline(): Promise<{ seconds: number; mbps: number }> {
    const dir = await testDir();
    const s = faultSession();
    const receivers = startReceivers(s, dir, 3);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = startSender(s, dir, 3);
    const [sr, rr] = await senderThenReceivers(sender.proc, receivers);
    expectExit(sr, 0);
    const reps = rr.map((r) => parseJsonReport<ReceiverReport>(r));
    const secs = Math.max(...reps.map((r) => r.seconds));
    return { seconds: secs, mbps: mbPerSecond(64 * MiB, secs) };
  }

  it('a receiver killed (SIGKILL) mid-transfer is dropped after the bounded effort; the others verify at full speed', async () => {
    const base = await baseline();
    const dir = await testDir();
    const s = faultSession();
    const receivers = startReceivers(s, dir, 3);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = startSender(s, dir, 3);
    const [start] = await waitForLog(sender.log, 'transfer.start');
    await sleep(500);
    const killedAt = Date.now();
    receivers[2]!.kill('SIGKILL');

    const [sr, [r1, r2, r3]] = await senderThenReceivers(sender.proc, receivers);
    expect(r3!.signal, describeRun(r3!)).toBe('SIGKILL');
    expectExit(r1!, 0);
    expectExit(r2!, 0);
    expectExit(sr, 1);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(fx.imageSha);
    expect(existsSync(join(dir, 'out3.img'))).toBe(false);

    const report = parseJsonReport<SenderReport>(sr);
    const survivors = [r1!, r2!].map((r) => parseJsonReport<ReceiverReport>(r));
    const dead = report.receivers.filter((x) => !survivors.some((v) => v.receiverId === x.id));
    expect(dead).toHaveLength(1);
    expect(dead[0]!.state).toBe('dropped');
    expect(report.receivers.filter((x) => x.state === 'verified')).toHaveLength(2);
    const [drop] = (await readLog(sender.log)).filter((x) => x.evt === 'receiver.dropped');
    expect(drop?.rcv, 'the sender logged the drop').toBe(dead[0]!.id);
    const dropMs = drop!.time - killedAt;
    // Bounded: the retries (5 s by default) plus scheduling slack; never the whole transfer's worth of waiting.
    expect(dropMs).toBeGreaterThan(0);
    expect(dropMs).toBeLessThan(DEFAULT_DROP_MS + 5000);
    const secs = Math.max(...survivors.map((r) => r.seconds));
    // The fault costs the drop delay, not a slower transfer (generous: the machine is shared).
    expect(secs).toBeLessThan(base.seconds * 3 + dropMs / 1000 + 5);
    const [done] = (await readLog(sender.log)).filter((x) => x.evt === 'transfer.done');
    console.log(
      `receiver killed ${seconds(killedAt - start!.time)} after START: dropped ${seconds(dropMs)} later (${dead[0]!.reason}); ` +
        `survivors verified in ${seconds(secs * 1000)} (${mbPerSecond(64 * MiB, secs).toFixed(0)} MB/s overall), against ` +
        `${seconds(base.seconds * 1000)} (${base.mbps.toFixed(0)} MB/s) without the fault: the fault cost ${seconds(secs * 1000 - base.seconds * 1000)} ` +
        `of which the drop delay is ${seconds(dropMs)}; the sender was done ${seconds(done!.time - drop!.time)} after the drop`,
    );
  });

  it('a receiver frozen (SIGSTOP) mid-transfer is dropped like a dead one; woken, it learns so and exits 1 with one line and no file', async () => {
    const dir = await testDir();
    const s = faultSession();
    const receivers = startReceivers(s, dir, 3, ['--receive-timeout', '10']);
    await sleep(RECEIVER_HEAD_START_MS);
    // 40 rounds (1 s) instead of the default 200: the SIGKILL case above measures the default.
    const sender = startSender(s, dir, 3, ['--retries-until-drop', '40']);
    await waitForLog(sender.log, 'transfer.start');
    await sleep(500);
    const frozenAt = Date.now();
    const frozen = receivers[2]!;
    frozen.kill('SIGSTOP');
    let woke = 0;
    try {
      const [drop] = await waitForLog(sender.log, 'receiver.dropped', { timeoutMs: DEFAULT_DROP_MS + 20_000 });
      await sleep(500);
      woke = Date.now();
      const wokePerf = performance.now();
      frozen.kill('SIGCONT');
      const [sr, [r1, r2, r3]] = await senderThenReceivers(sender.proc, receivers, 15_000);
      expectExit(r1!, 0);
      expectExit(r2!, 0);
      expectExit(sr, 1);
      expectExit(r3!, 1);
      const line = expectOneLine(r3!);
      expect(line).toMatch(/dropped by the sender: no answer/);
      expect(existsSync(join(dir, 'out3.img'))).toBe(false);
      expect(await partFiles(dir)).toEqual([]);
      const report = parseJsonReport<SenderReport>(sr);
      expect(report.receivers.map((x) => x.state).sort()).toEqual(['dropped', 'verified', 'verified']);
      console.log(
        `receiver frozen: dropped ${seconds(drop!.time - frozenAt)} after SIGSTOP; woken ${seconds(woke - frozenAt)} after it, ` +
          `it exited 1 ${seconds(r3!.exitAtMs - wokePerf)} later: "${line}"`,
      );
    } finally {
      if (woke === 0) frozen.kill('SIGCONT');
    }
  });

  it('the sender killed while announcing: joined receivers exit 1 after --receive-timeout, one line, no file', async () => {
    const dir = await testDir();
    const s = faultSession();
    const receivers = startReceivers(s, dir, 2, ['--receive-timeout', '2']);
    await sleep(RECEIVER_HEAD_START_MS);
    // Three wanted, two come: it announces until killed.
    const sender = startSender(s, dir, 3);
    await waitForLog(sender.log, 'receiver.joined', { count: 2 });
    const killedAt = performance.now();
    sender.proc.kill('SIGKILL');
    expect((await sender.proc.result).signal).toBe('SIGKILL');
    const lines: string[] = [];
    for (const p of receivers) {
      const r = await p.result;
      expectExit(r, 1);
      lines.push(expectOneLine(r));
      expect(r.exitAtMs - killedAt, describeRun(r)).toBeLessThan(2000 + 4000);
      expect(parseJsonReport<ReceiverReport>(r).reason).toBe('receive timeout');
    }
    expect(existsSync(join(dir, 'out1.img')) || existsSync(join(dir, 'out2.img'))).toBe(false);
    expect(await partFiles(dir)).toEqual([]);
    const exits = await Promise.all(receivers.map(async (p) => (await p.result).exitAtMs - killedAt));
    console.log(`sender killed while announcing: receivers exited ${exits.map(seconds).join(', ')} later (--receive-timeout 2): "${lines[0]}"`);
  });

  it('the sender killed mid-transfer: a --file receiver and a stdout receiver exit 1 after --receive-timeout; nothing complete-looking is left', async () => {
    const dir = await testDir();
    const s = faultSession();
    const fileOut = join(dir, 'out.img');
    const stdoutOut = join(dir, 'stdout.img');
    const toFile = procs.start('receiver-file', RECEIVER_CLI, [...receiverNetArgs(s), '--file', fileOut, '--receive-timeout', '2', '--json']);
    const toStdout = procs.start('receiver-stdout', RECEIVER_CLI, [...receiverNetArgs(s), '--receive-timeout', '2'], { stdoutFile: stdoutOut });
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = startSender(s, dir, 2);
    await waitForLog(sender.log, 'transfer.start');
    await sleep(500);
    const killedAt = performance.now();
    sender.proc.kill('SIGKILL');
    const [rf, rs] = [await toFile.result, await toStdout.result];
    for (const r of [rf, rs]) {
      expectExit(r, 1);
      expectOneLine(r);
      expect(r.exitAtMs - killedAt, describeRun(r)).toBeLessThan(2000 + 4000);
    }
    expect(existsSync(fileOut)).toBe(false);
    expect(await partFiles(dir)).toEqual([]);
    // stdout is a stream: what was written stays, but it is short and the exit code says so.
    const written = (await stat(stdoutOut)).size;
    expect(written).toBeLessThan(64 * MiB);
    console.log(
      `sender killed mid-transfer: --file receiver exit 1 ${seconds(rf.exitAtMs - killedAt)} later ("${stderrLines(rf)[0]}"), ` +
        `stdout receiver exit 1 ${seconds(rs.exitAtMs - killedAt)} later with ${(written / MiB).toFixed(1)} of 64 MiB written ("${stderrLines(rs)[0]}")`,
    );
  });

  /** Two transfers at once, each of its own 16 MiB image to its own two receivers. */
  async function twoSessions(a: Session, b: Session): Promise<string> {
    const dir = await testDir();
    const sessions = [a, b];
    const images = sessions.map((_, i) => join(dir, `image-${i}.bin`));
    const shas = await Promise.all(images.map((p) => writeRandomFile(p, 16 * MiB)));
    const receivers = sessions.map((s, i) =>
      [1, 2].map((j) =>
        procs.start(`s${i}-receiver${j}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `s${i}-out${j}.img`), '--json'], {
          timeoutMs: 25_000,
        }),
      ),
    );
    await sleep(RECEIVER_HEAD_START_MS);
    const senders = sessions.map((s, i) =>
      procs.start(`s${i}-sender`, SENDER_CLI, [...senderNetArgs(s), '--file', images[i]!, '--min-receivers', '2', '--max-bitrate', '200m', '--json'], {
        timeoutMs: 25_000,
      }),
    );
    const results = await Promise.all(sessions.map((_, i) => senderThenReceivers(senders[i]!, receivers[i]!, 5000)));
    // First what each receiver holds: its own session's image, the other's, or nothing.
    const holds: string[] = [];
    for (let i = 0; i < 2; i++) {
      for (const j of [1, 2]) {
        const out = join(dir, `s${i}-out${j}.img`);
        const sha = existsSync(out) ? await sha256File(out) : undefined;
        holds.push(`session ${i} receiver ${j}: ${sha === shas[i] ? 'its own image' : sha === shas[1 - i] ? 'THE OTHER SESSION’S IMAGE' : 'no image'}`);
      }
    }
    const all = results
      .flatMap(([sr, rr]) => [sr, ...rr])
      .map(describeRun)
      .join('\n');
    expect(
      holds.filter((h) => !h.endsWith('its own image')),
      `${holds.join('; ')}\n${all}`,
    ).toEqual([]);
    const lines: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [sr, rr] = results[i]!;
      expectExit(sr, 0);
      for (const r of rr) expectExit(r, 0);
      const rep = parseJsonReport<SenderReport>(sr);
      const reps = rr.map((r) => parseJsonReport<ReceiverReport>(r));
      // Each sender lists exactly its own receivers.
      expect(rep.receivers.map((x) => x.id).sort()).toEqual(reps.map((x) => x.receiverId).sort());
      expect(rep.digest).toBe(shas[i]);
      lines.push(`session ${i}: sender drops ${JSON.stringify(rep.stats.drops)}, receivers ${reps.map((r) => JSON.stringify(r.stats.drops)).join(' ')}`);
    }
    return lines.join('; ');
  }

  it('two transfers at once on different port bases (same groups) do not mix', async () => {
    const a = faultSession();
    const b: Session = { ...a, portbase: a.portbase === 39_998 ? 39_000 : a.portbase + 2 };
    const line = await twoSessions(a, b);
    console.log(`two sessions, ports ${a.portbase} and ${b.portbase}, groups ${a.dataGroup}/${a.rdvGroup}: ${line}`);
  });

  it('two transfers at once on the same port base with different groups do not mix', async () => {
    const a = faultSession();
    const b = sameBaseOtherGroups(a);
    const line = await twoSessions(a, b);
    console.log(`two sessions on port ${a.portbase}, groups ${a.rdvGroup} and ${b.rdvGroup}: ${line}`);
  });
});
