// The built CLIs on loopback multicast: real processes, real sockets, real files.
// Each test has its own portbase and groups (helpers.newSession) and ends only the
// processes it started. Receivers are started first and given time to bind before
// the sender starts, as an operator would. Every process has a hard deadline, so a
// hang fails its test with the process's output instead of stalling the run.

import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitForLog } from './fault-helpers.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  loopbackFixture,
  newSession,
  parseJsonReport,
  partFiles,
  RECEIVER_CLI,
  type ReceiverReport,
  type RunResult,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  SPRAY_SCRIPT,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  stderrLines,
  sumCounts,
  writeRandomFile,
} from './helpers.js';

const MiB = 1 << 20;
/** Receivers bind and join before the sender announces. */
const RECEIVER_HEAD_START_MS = 300;

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

/** A usage or I/O error is one complete line on stderr. */
function expectOneLine(r: RunResult): void {
  const lines = stderrLines(r);
  expect(r.stderr.endsWith('\n'), describeRun(r)).toBe(true);
  expect(lines, describeRun(r)).toHaveLength(1);
  expect(lines[0]!.trim().length, describeRun(r)).toBeGreaterThan(0);
}

describe('rackcast CLIs on loopback multicast', () => {
  const fx = loopbackFixture('loopback', 64 * MiB);
  const { procs, testDir } = fx;

  it('1 sender, 3 receivers, 64 MiB: every copy is byte-identical and verified', async () => {
    const dir = await testDir();
    const s = newSession();
    const receivers = [1, 2, 3].map((i) => procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`), '--json']));
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--min-receivers', '3', '--json']);

    const [sr, rr] = await senderThenReceivers(sender, receivers);
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);

    const report = parseJsonReport<SenderReport>(sr);
    expect(report.ok).toBe(true);
    expect(report.bytes).toBe(64 * MiB);
    expect(report.digest).toBe(fx.imageSha);
    expect(report.receivers).toHaveLength(3);
    expect(report.receivers.map((x) => x.state)).toEqual(['verified', 'verified', 'verified']);
    const ids = rr.map((r) => parseJsonReport<ReceiverReport>(r).receiverId).sort();
    expect(report.receivers.map((x) => x.id).sort()).toEqual(ids);
    for (const r of rr) {
      const rep = parseJsonReport<ReceiverReport>(r);
      expect(rep.ok).toBe(true);
      expect(rep.digest).toBe(fx.imageSha);
    }
    for (const i of [1, 2, 3]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(fx.imageSha);
    expect(await partFiles(dir)).toEqual([]);
    console.log(`64 MiB to 3 receivers: sender ${(sr.wallMs / 1000).toFixed(2)} s wall`);
  });

  // 5 MB + 17 bytes: several slices and a short last block; then the edge sizes.
  it.each([
    ['5 MB + 17 bytes', 5_000_017],
    ['1 byte', 1],
    ['empty', 0],
  ])('stdin → stdout, %s: sender reads a pipe, receiver writes stdout, identical', async (_label, bytes) => {
    const dir = await testDir();
    const s = newSession();
    const input = join(dir, 'input.bin');
    const inputSha = await writeRandomFile(input, bytes);
    const out = join(dir, 'stdout.bin');
    const receiver = procs.start('receiver', RECEIVER_CLI, receiverNetArgs(s), { stdoutFile: out });
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--json'], {
      stdin: { file: input },
    });

    const [sr, [rr]] = await senderThenReceivers(sender, [receiver]);
    expectExit(sr, 0);
    expectExit(rr!, 0);
    const report = parseJsonReport<SenderReport>(sr);
    expect(report.bytes).toBe(bytes);
    expect(report.receivers.map((x) => x.state)).toEqual(['verified']);
    expect((await stat(out)).size).toBe(bytes);
    expect(await sha256File(out)).toBe(inputSha);
  });

  it('--pipe on both sides: "gzip -c" at the sender, "gzip -dc" at the receiver restores the input', async () => {
    const dir = await testDir();
    const s = newSession();
    const input = join(dir, 'input.bin');
    const inputSha = await writeRandomFile(input, 8 * MiB + 5);
    const out = join(dir, 'out.img');
    const receiver = procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--pipe', 'gzip -dc', '--file', out, '--json']);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', input, '--pipe', 'gzip -c', '--min-receivers', '1', '--json']);

    const [sr, [rr]] = await senderThenReceivers(sender, [receiver]);
    expectExit(sr, 0);
    expectExit(rr!, 0);
    expect(parseJsonReport<SenderReport>(sr).receivers.map((x) => x.state)).toEqual(['verified']);
    expect(await sha256File(out)).toBe(inputSha);
    expect(await partFiles(dir)).toEqual([]);
  });

  it('a receiver whose --pipe fails exits 3 and leaves no file; the sender exits 1 and reports it, the other verifies', async () => {
    const dir = await testDir();
    const s = newSession();
    const input = join(dir, 'input.bin');
    const inputSha = await writeRandomFile(input, 8 * MiB);
    const badOut = join(dir, 'bad.img');
    const goodOut = join(dir, 'good.img');
    const bad = procs.start('receiver-pipe-false', RECEIVER_CLI, [...receiverNetArgs(s), '--pipe', 'false', '--file', badOut, '--json']);
    const good = procs.start('receiver-good', RECEIVER_CLI, [...receiverNetArgs(s), '--file', goodOut, '--json']);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', input, '--min-receivers', '2', '--json']);

    const [sr, [badR, goodR]] = await senderThenReceivers(sender, [bad, good]);
    expectExit(badR!, 3);
    expectExit(goodR!, 0);
    expectExit(sr, 1);
    expect(existsSync(badOut)).toBe(false);
    expect(await sha256File(goodOut)).toBe(inputSha);
    expect(await partFiles(dir)).toEqual([]);

    const badId = parseJsonReport<ReceiverReport>(badR!).receiverId;
    const goodId = parseJsonReport<ReceiverReport>(goodR!).receiverId;
    const report = parseJsonReport<SenderReport>(sr);
    expect(report.ok).toBe(false);
    expect(report.receivers).toHaveLength(2);
    expect(report.receivers.find((x) => x.id === goodId)?.state).toBe('verified');
    const badEntry = report.receivers.find((x) => x.id === badId);
    expect(badEntry, JSON.stringify(report.receivers)).toBeDefined();
    expect(badEntry!.state).not.toBe('verified');
    console.log(`--pipe false: receiver says "${stderrLines(badR!).join(' | ')}"; sender lists it ${badEntry!.state}: ${badEntry!.reason ?? '-'}`);
  });

  it('a receiver killed mid-transfer is dropped; the other two still verify', async () => {
    const dir = await testDir();
    const s = newSession();
    const receivers = [1, 2, 3].map((i) => procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`), '--json']));
    await sleep(RECEIVER_HEAD_START_MS);
    const log = join(dir, 'sender.log');
    const sender = procs.start('sender', SENDER_CLI, [
      ...senderNetArgs(s),
      '--file',
      fx.image,
      '--min-receivers',
      '3',
      '--max-bitrate',
      '200m',
      '--retries-until-drop',
      '20',
      '--json',
      '--log',
      log,
    ]);
    // Kill only once all three are in the transfer: on a loaded machine a receiver can still be
    // starting a second after the sender, and killed before it joined the sender would wait for
    // it forever (--min-receivers 3). 64 MiB at 200 Mbit/s takes about 2.7 s: 0.5 s after START
    // the transfer is well under way.
    await waitForLog(log, 'transfer.start');
    await sleep(500);
    const victim = receivers[2]!;
    victim.kill('SIGKILL');

    const [sr, [r1, r2, r3]] = await senderThenReceivers(sender, receivers);
    expect(r3!.signal, describeRun(r3!)).toBe('SIGKILL');
    expectExit(r1!, 0);
    expectExit(r2!, 0);
    expectExit(sr, 1);
    expect(await sha256File(join(dir, 'out1.img'))).toBe(fx.imageSha);
    expect(await sha256File(join(dir, 'out2.img'))).toBe(fx.imageSha);
    // Killed before verification: nothing under the final name (its .part may remain: SIGKILL cannot be cleaned up after).
    expect(existsSync(join(dir, 'out3.img'))).toBe(false);

    const survivors = [r1!, r2!].map((r) => parseJsonReport<ReceiverReport>(r).receiverId);
    const report = parseJsonReport<SenderReport>(sr);
    expect(report.ok).toBe(false);
    expect(report.receivers).toHaveLength(3);
    for (const id of survivors) expect(report.receivers.find((x) => x.id === id)?.state).toBe('verified');
    const killed = report.receivers.filter((x) => !survivors.includes(x.id));
    expect(killed).toHaveLength(1);
    expect(killed[0]!.state).toBe('dropped');
    console.log(
      `receiver killed at 1.0 s: survivors exited ${((r1!.exitAtMs - sender.startedAtMs) / 1000).toFixed(2)} s and ` +
        `${((r2!.exitAtMs - sender.startedAtMs) / 1000).toFixed(2)} s after the sender started ` +
        `(transfer ${[r1!, r2!].map((r) => parseJsonReport<{ seconds: number }>(r).seconds.toFixed(2)).join(' s, ')} s; ` +
        `sender exit at ${((sr.exitAtMs - sender.startedAtMs) / 1000).toFixed(2)} s, reason: ${killed[0]!.reason ?? '-'})`,
    );
  });

  it('the sender killed mid-transfer: receivers time out, exit 1 with one line and leave no file', async () => {
    const dir = await testDir();
    const s = newSession();
    const receivers = [1, 2].map((i) =>
      procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`), '--receive-timeout', '2', '--json']),
    );
    await sleep(RECEIVER_HEAD_START_MS);
    const log = join(dir, 'sender.log');
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--min-receivers', '2', '--max-bitrate', '200m', '--log', log]);
    // Killed before both joined, the receivers would never be in a session and never time out.
    await waitForLog(log, 'transfer.start');
    await sleep(500);
    const killedAtMs = performance.now();
    sender.kill('SIGKILL');

    const sr = await sender.result;
    expect(sr.signal).toBe('SIGKILL');
    for (const p of receivers) {
      const r = await p.result;
      expectExit(r, 1);
      expectOneLine(r);
      // --receive-timeout 2, plus start-up and scheduling slack.
      expect(r.exitAtMs - killedAtMs, describeRun(r)).toBeLessThan(5000);
      const rep = parseJsonReport<ReceiverReport>(r);
      expect(rep.ok).toBe(false);
      console.log(`${r.name}: exit 1 ${((r.exitAtMs - killedAtMs) / 1000).toFixed(2)} s after the kill: ${stderrLines(r)[0]}`);
    }
    expect(existsSync(join(dir, 'out1.img'))).toBe(false);
    expect(existsSync(join(dir, 'out2.img'))).toBe(false);
    expect(await partFiles(dir)).toEqual([]);
  });

  describe('usage errors exit 2 with exactly one line on stderr', () => {
    const s = newSession();
    const cases: [string, string, string[], Uint8Array | undefined][] = [
      ['sender: unknown option', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--no-such-option'], undefined],
      ['receiver: unknown option', RECEIVER_CLI, [...receiverNetArgs(s), '--no-such-option'], undefined],
      ['sender: --portbase 0', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--portbase', '0'], undefined],
      ['receiver: --portbase 0', RECEIVER_CLI, [...receiverNetArgs(s), '--portbase', '0'], undefined],
      ['sender: --max-bitrate abc', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--max-bitrate', 'abc'], undefined],
      ['sender: --mcast-data-address 10.1.2.3', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--mcast-data-address', '10.1.2.3'], undefined],
      ['receiver: --json without --file', RECEIVER_CLI, [...receiverNetArgs(s), '--json'], undefined],
      ['sender: stdin data, --nokbd and no start condition', SENDER_CLI, [...senderNetArgs(s), '--nokbd'], new Uint8Array([1, 2, 3])],
      ['sender: --interface nosuchif0', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--interface', 'nosuchif0'], undefined],
      ['receiver: --interface nosuchif0', RECEIVER_CLI, [...receiverNetArgs(s), '--interface', 'nosuchif0'], undefined],
    ];
    it.each(cases)('%s', async (name, cli, args, stdin) => {
      const p = procs.start(name, cli, args, { timeoutMs: 10_000, stdin: stdin === undefined ? undefined : { bytes: stdin } });
      const r = await p.result;
      expectExit(r, 2);
      expectOneLine(r);
      expect(r.stdout, describeRun(r)).toBe('');
    });
  });

  it('sender --file /nonexistent exits 3 with one line', async () => {
    const s = newSession();
    const p = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', '/nonexistent', '--min-receivers', '1', '--json'], {
      timeoutMs: 10_000,
    });
    const r = await p.result;
    expectExit(r, 3);
    expectOneLine(r);
  });

  it('foreign datagrams during a transfer are dropped and counted; both receivers still verify', async () => {
    const dir = await testDir();
    const s = newSession();
    const input = join(dir, 'input.bin');
    const inputSha = await writeRandomFile(input, 32 * MiB);
    const receivers = [1, 2].map((i) => procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`), '--json']));
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', input, '--min-receivers', '2', '--max-bitrate', '300m', '--json']);
    // The receivers join within a HELLO interval or two; spray once the transfer runs.
    await sleep(200);
    const spray = procs.start('spray', SPRAY_SCRIPT, [String(s.portbase), s.dataGroup, s.rdvGroup]);

    const [sr, rr] = await senderThenReceivers(sender, receivers);
    spray.kill('SIGTERM');
    const sprayR = await spray.result;
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);
    expectExit(sprayR, 0);
    const sprayed = JSON.parse(sprayR.stdout) as { sent: number; rounds: number; errors: number };
    expect(sprayed.sent).toBeGreaterThan(0);

    const report = parseJsonReport<SenderReport>(sr);
    expect(report.receivers.map((x) => x.state)).toEqual(['verified', 'verified']);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(inputSha);
    expect(await partFiles(dir)).toEqual([]);
    const reps = rr.map((r) => parseJsonReport<ReceiverReport>(r));
    for (const rep of reps) expect(sumCounts(rep.stats.drops), JSON.stringify(rep.stats)).toBeGreaterThan(0);
    console.log(
      `foreign datagrams: sprayed ${sprayed.sent} in ${sprayed.rounds} rounds; drops ` +
        reps.map((rep, i) => `receiver${i + 1} ${JSON.stringify(rep.stats.drops)}`).join(', ') +
        `, sender ${JSON.stringify(report.stats.drops)}`,
    );
  });

  it('receiver --start-timeout 1 with no sender exits 1 within 3 s with one line', async () => {
    const dir = await testDir();
    const s = newSession();
    const out = join(dir, 'out.img');
    const p = procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--start-timeout', '1', '--file', out], { timeoutMs: 10_000 });
    const r = await p.result;
    expectExit(r, 1);
    expectOneLine(r);
    expect(r.wallMs, describeRun(r)).toBeLessThan(3000);
    expect(existsSync(out)).toBe(false);
    expect(await partFiles(dir)).toEqual([]);
  });
});
