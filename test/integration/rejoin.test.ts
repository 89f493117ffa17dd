// A receiver restarted mid-transfer rejoins (udp-sender --streaming), with real
// processes on loopback multicast: the restarted process (a new receiver id, same file)
// takes the rest of the image live with the others, then the head by repair, re-read from
// the sender's --file, and verifies by reading its file back. A restarted receiver whose
// output takes the image only in order (stdout, --unpack, a compressed image it
// decompresses) takes the whole image in the sender's catch-up pass, after the first, and
// verifies too. Where a rejoin cannot work (no --streaming; such an output with
// --no-catch-up; a sender source that cannot be read again) every party says so in one
// line and exits non-zero. Times are printed, not asserted. Assumes `npm run build`.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { INCOMPLETE_MARKER } from '../../receiver/cpio/unpack.js';
import { diffTrees, gnuPack, makeTree, snapshot } from '../support/cpio-tree.js';
import { haveCommand } from '../support/host.js';
import { faultSession, readLog, waitForLog } from './fault-helpers.js';
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
} from './helpers.js';

const MiB = 1 << 20;
const RECEIVER_HEAD_START_MS = 300;
/** 64 MiB at 200 Mbit/s: about 2.7 s of first pass, so a restart 1 s in rejoins mid-image. */
const RATE = '200m';
const HAVE_CPIO = haveCommand('cpio');
if (!HAVE_CPIO) console.log('rejoin: GNU cpio is not installed (apt-get install cpio): the --unpack rejoin is skipped');

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

/** The one line that says why a CLI failed ("udp-receiver: failed: ...", "udp-sender: --streaming ..."). */
function failureLine(r: RunResult, prefix: string): string {
  const lines = stderrLines(r).filter((l) => l.startsWith(prefix));
  expect(lines, describeRun(r)).toHaveLength(1);
  return lines[0]!;
}

/** The temporary file of a receiver writing out3.img that was killed. */
function killedPart(p: Proc): string {
  return `.out3.img.rackcast-${p.pid}.part`;
}

type LateSenderReport = Omit<SenderReport, 'receivers' | 'stats'> & {
  readonly receivers: readonly { id: string; state: string; joinSlice: number; replacedBy?: string }[];
  readonly stats: { lateJoins: number; reloads: number; dataResends: number; repairPackets: number };
};
type LateReceiverReport = ReceiverReport & { readonly joinSlice: number; readonly seconds: number };

describe('a restarted receiver rejoins (--streaming), real processes on loopback', () => {
  const fx = loopbackFixture('rejoin', 64 * MiB);
  const { procs, testDir } = fx;

  function receiver(name: string, s: Session, out: string[], extra: string[] = []): Proc {
    return procs.start(name, RECEIVER_CLI, [...receiverNetArgs(s), ...out, '--json', ...extra]);
  }

  function sender(s: Session, dir: string, file: string, extra: string[]): { proc: Proc; log: string } {
    const log = join(dir, 'sender.log');
    const proc = procs.start('sender', SENDER_CLI, [
      ...senderNetArgs(s),
      '--file',
      file,
      '--min-receivers',
      '3',
      '--max-bitrate',
      RATE,
      // The dead receiver is dropped after 1 s instead of 5: it holds the rack until then.
      '--retries-until-drop',
      '40',
      '--json',
      '--log',
      log,
      ...extra,
    ]);
    return { proc, log };
  }

  /** Three receivers into out1..3.img, a sender, and receiver 3 killed 1 s after START. */
  async function startAndKill(dir: string, file: string, senderExtra: string[], receiverExtra: string[] = []) {
    const s = faultSession();
    const rs = [1, 2, 3].map((i) => receiver(`receiver${i}`, s, ['--file', join(dir, `out${i}.img`)], receiverExtra));
    await sleep(RECEIVER_HEAD_START_MS);
    const snd = sender(s, dir, file, senderExtra);
    await waitForLog(snd.log, 'transfer.start');
    await sleep(1000);
    const killedAt = Date.now();
    rs[2]!.kill('SIGKILL');
    return { s, rs, snd, killedAt };
  }

  it('killed and restarted mid-transfer, it gets the rest live and the head by repair, and verifies; the sender counts the rack imaged', async () => {
    const dir = await testDir();
    const { s, rs, snd, killedAt } = await startAndKill(dir, fx.image, ['--streaming']);
    const restartedAt = Date.now();
    const again = receiver('receiver3-again', s, ['--file', join(dir, 'out3.img')]);
    const [sr, [r1, r2, r3, r4]] = await senderThenReceivers(snd.proc, [...rs, again]);
    expect(r3!.signal).toBe('SIGKILL');
    for (const r of [r1!, r2!, r4!]) expectExit(r, 0);
    // The dropped record is replaced by the rejoined one: the whole rack has verified images.
    expectExit(sr, 0);
    for (const i of [1, 2, 3]) expect(await sha256File(join(dir, `out${i}.img`)), `out${i}.img`).toBe(fx.imageSha);
    // The killed process's partial file too: the restarted one removed it (its PID is gone).
    expect(await partFiles(dir)).toEqual([]);

    const rep = parseJsonReport<LateSenderReport>(sr);
    const late = parseJsonReport<LateReceiverReport>(r4!);
    const totalSlices = Math.ceil((64 * MiB) / (8948 * 128));
    expect(late.joinSlice, 'joined mid-image').toBeGreaterThan(0);
    expect(late.joinSlice).toBeLessThan(totalSlices);
    const dead = rep.receivers.find((x) => x.state === 'dropped')!;
    expect(dead.replacedBy).toBe(late.receiverId);
    expect(rep.receivers.find((x) => x.id === late.receiverId)).toMatchObject({ state: 'verified', joinSlice: late.joinSlice });
    expect(rep.stats.lateJoins).toBe(1);
    // Slices below the sender's retention window were read again from the file.
    expect(rep.stats.reloads).toBeGreaterThan(0);
    expect(rep.stats.dataResends).toBeGreaterThan(0);
    expect(stderrLines(r4!).some((l) => /joined late: slices \d+\.\. with the others, then the head/.test(l))).toBe(true);
    const log = await readLog(snd.log);
    const drop = log.find((x) => x.evt === 'receiver.dropped')!;
    const joined = log.find((x) => x.evt === 'receiver.joined' && Number(x.joinSlice) > 0)!;
    const done = log.find((x) => x.evt === 'transfer.done')!;
    const sent = log.find((x) => x.evt === 'transfer.sent')!;
    console.log(
      `restart: receiver killed 1 s after START and started again; the new process joined ` +
        `${((joined.time - restartedAt) / 1000).toFixed(2)} s after its start, at slice ${late.joinSlice} of ${totalSlices}; ` +
        `the dead one was dropped ${((drop.time - killedAt) / 1000).toFixed(2)} s after the kill; first pass over ${((sent.time - killedAt) / 1000).toFixed(2)} s ` +
        `after the kill; the rejoined receiver verified in ${late.seconds.toFixed(2)} s (${(64 / late.seconds).toFixed(1)} MiB/s for the whole image), ` +
        `the sender done ${((done.time - sent.time) / 1000).toFixed(2)} s after its first pass; ${rep.stats.reloads} slices re-read, ` +
        `${rep.stats.dataResends} data blocks sent again, ${rep.stats.repairPackets} repair datagrams in all`,
    );
  });

  it('without --streaming the restarted receiver exits 1 at once with one line naming --streaming', async () => {
    const dir = await testDir();
    const { s, rs, snd } = await startAndKill(dir, fx.image, []);
    const again = receiver('receiver3-again', s, ['--file', join(dir, 'again.img')]);
    const r4 = await again.result;
    expectExit(r4, 1);
    expect(stderrLines(r4), describeRun(r4)).toHaveLength(1);
    expect(failureLine(r4, 'udp-receiver: failed:')).toMatch(
      /the transfer is already under way, and the sender takes no late receivers \(udp-sender --streaming\)/,
    );
    expect(existsSync(join(dir, 'again.img'))).toBe(false);
    const [sr, [r1, r2]] = await senderThenReceivers(snd.proc, rs);
    expectExit(r1!, 0);
    expectExit(r2!, 0);
    expectExit(sr, 1); // one receiver dropped, none replaced it
    // Only the killed process's partial file is left (SIGKILL gives it no chance to clean up).
    expect(await partFiles(dir)).toEqual([killedPart(rs[2]!)]);
  });

  it('--no-catch-up: a restarted receiver writing to stdout or unpacking says it cannot take the image out of order, exits 1, writes nothing', async () => {
    const dir = await testDir();
    const { s, rs, snd } = await startAndKill(dir, fx.image, ['--streaming', '--no-catch-up']);
    const toStdout = procs.start('stdout-again', RECEIVER_CLI, receiverNetArgs(s), { stdoutFile: join(dir, 'stdout.bin') });
    await mkdir(join(dir, 'root'));
    const unpack = receiver('unpack-again', s, ['--unpack', join(dir, 'root')]);
    const [a, b] = await Promise.all([toStdout.result, unpack.result]);
    expectExit(a, 1);
    expectExit(b, 1);
    for (const r of [a, b]) expect(stderrLines(r), describeRun(r)).toHaveLength(1);
    expect(failureLine(a, 'udp-receiver: failed:')).toMatch(
      /already under way, and a late receiver writes the head of the image last, in place: stdout takes the image only in order/,
    );
    expect(failureLine(b, 'udp-receiver: failed:')).toMatch(/in place: --unpack takes the archive only in order/);
    const [sr, [r1, r2]] = await senderThenReceivers(snd.proc, rs);
    expectExit(r1!, 0);
    expectExit(r2!, 0);
    expectExit(sr, 1);
    expect((await import('node:fs')).statSync(join(dir, 'stdout.bin')).size).toBe(0);
  });

  it('--no-catch-up, a compressed image with auto-decompression: the restarted receiver fails when the head shows it, one line, no file', async () => {
    const dir = await testDir();
    // gzip of random data: a real gzip stream (it does not shrink, which keeps it 16 MiB).
    const raw = randomBytes(16 * MiB);
    const gz = join(dir, 'image.gz');
    await writeFile(gz, gzipSync(raw, { level: 1 }));
    const rawSha = createHash('sha256').update(raw).digest('hex');
    // out*.img: not named .gz, so the receivers decompress by the stream's magic bytes.
    const { s, rs, snd } = await startAndKill(dir, gz, ['--streaming', '--no-catch-up', '--max-bitrate', '40m']);
    const again = receiver('receiver3-again', s, ['--file', join(dir, 'again.img')]);
    const [sr, [r1, r2, , r4]] = await senderThenReceivers(snd.proc, [...rs, again]);
    expectExit(r1!, 0);
    expectExit(r2!, 0);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(rawSha);
    expectExit(r4!, 3); // as a write error: the output cannot take the image this way
    expect(failureLine(r4!, 'udp-receiver: failed:')).toMatch(
      /the image is gzip-compressed, and a receiver that joins late writes it at offsets, so it cannot decompress it/,
    );
    expect(existsSync(join(dir, 'again.img'))).toBe(false);
    expect(await partFiles(dir)).toEqual([killedPart(rs[2]!)]);
    expectExit(sr, 1);
  });

  it('a compressed image with auto-decompression: the restarted receiver takes all of it in the catch-up pass and verifies', async () => {
    const dir = await testDir();
    const raw = randomBytes(16 * MiB);
    const gz = join(dir, 'image.gz');
    await writeFile(gz, gzipSync(raw, { level: 1 }));
    const rawSha = createHash('sha256').update(raw).digest('hex');
    const { s, rs, snd } = await startAndKill(dir, gz, ['--streaming', '--max-bitrate', '40m']);
    const again = receiver('receiver3-again', s, ['--file', join(dir, 'again.img')]);
    const [sr, [r1, r2, , r4]] = await senderThenReceivers(snd.proc, [...rs, again]);
    for (const r of [r1!, r2!, r4!]) expectExit(r, 0);
    for (const f of ['out1.img', 'out2.img', 'again.img']) expect(await sha256File(join(dir, f)), f).toBe(rawSha);
    expect(stderrLines(r4!)).toContain(
      'udp-receiver: joined late: the output takes the image only in order, so the whole image comes in the catch-up pass, after the first',
    );
    expect(stderrLines(r4!)).toContain('udp-receiver: the first pass is over: the catch-up pass sends the rest, from slice 0');
    expectExit(sr, 0);
    const rep = parseJsonReport<LateSenderReport & { stats: { movedToCatchUp: number } }>(sr);
    expect(rep.stats.movedToCatchUp).toBe(1);
    expect(rep.stats.reloads).toBeGreaterThan(0);
  });

  it.skipIf(!HAVE_CPIO)(
    'node.cpio.gz: restarted receivers unpacking (--unpack) and writing to stdout take it in the catch-up pass, in order, and verify',
    async () => {
      const dir = await testDir();
      const src = join(dir, 'src');
      makeTree(src, { sparseBytes: 4 * MiB });
      // Random bytes do not shrink: the first pass lasts seconds at 40 Mbit/s, so the restart
      // lands in it; and the image is larger than a receiver holds (16 MiB), so the first pass
      // outruns the restarted ones, which lack the head.
      await writeFile(join(src, 'big.bin'), randomBytes(24 * MiB));
      const cpio = join(dir, 'node.cpio');
      gnuPack(src, 'crc', cpio);
      const nodeGz = join(dir, 'node.cpio.gz');
      await writeFile(nodeGz, gzipSync(await readFile(cpio), { level: 1 }));
      const s = faultSession();
      const roots = [1, 2, 3, 4, 5].map((i) => join(dir, `root${i}`));
      const rs = [0, 1, 2].map((i) => receiver(`receiver${i + 1}`, s, ['--unpack', roots[i]!]));
      await sleep(RECEIVER_HEAD_START_MS);
      const snd = sender(s, dir, nodeGz, ['--streaming', '--max-bitrate', '40m']);
      await waitForLog(snd.log, 'transfer.start');
      await sleep(1000);
      rs[2]!.kill('SIGKILL');
      const againLog = join(dir, 'receiver3-again.log');
      const again = receiver('receiver3-again', s, ['--unpack', roots[3]!, '--log', againLog]);
      const toStdout = procs.start('stdout-late', RECEIVER_CLI, receiverNetArgs(s), { stdoutFile: join(dir, 'stdout.bin') });
      const [sr, [r1, r2, r3, r4, r5]] = await senderThenReceivers(snd.proc, [...rs, again, toStdout]);
      expect(r3!.signal).toBe('SIGKILL');
      for (const r of [r1!, r2!, r4!, r5!]) expectExit(r, 0);
      const want = snapshot(src);
      for (const i of [0, 1, 3]) {
        const root = roots[i]!;
        expect(existsSync(join(root, INCOMPLETE_MARKER)), root).toBe(false);
        expect(diffTrees(want, snapshot(root)), root).toEqual([]);
      }
      // stdout decompresses by magic too: the archive itself comes out.
      expect(await sha256File(join(dir, 'stdout.bin'))).toBe(await sha256File(cpio));
      for (const r of [r4!, r5!]) {
        expect(stderrLines(r), describeRun(r)).toContain(
          'udp-receiver: joined late: the output takes the image only in order, so the whole image comes in the catch-up pass, after the first',
        );
      }
      // It lacked the head, so once the first pass ran past what it holds it left the data
      // group (receiver/core/passes.ts: IP_DROP_MEMBERSHIP through the native addon) and joined
      // it again for the catch-up pass, and still verified. On one host the kernel keeps
      // handing it the group's datagrams while the other receivers here are members (a
      // socket's IP_MULTICAST_ALL), so what it saved shows only with a host of its own (the
      // namespace lab); here the moves and their order are what is checked. The last leave
      // is at the end: every slice delivered, nothing more of the group is of use.
      const moves = (await readLog(againLog)).filter((l) => l.evt === 'dataGroup.leave' || l.evt === 'dataGroup.join').map((l) => l.evt);
      expect(moves, describeRun(r4!)).toEqual(['dataGroup.leave', 'dataGroup.join', 'dataGroup.leave']);
      const late = parseJsonReport<ReceiverReport & { stats: { drops: { ERR_AHEAD?: number } } }>(r4!);
      expect(late.stats.drops.ERR_AHEAD ?? 0).toBeGreaterThan(0);
      const rep = parseJsonReport<LateSenderReport & { stats: { movedToCatchUp: number } }>(sr);
      expect(rep.stats.movedToCatchUp).toBe(2);
      expect(rep.receivers.filter((x) => x.state === 'verified')).toHaveLength(4);
    },
  );

  it('--streaming refuses a source it cannot read again: exit 2, one line', async () => {
    const dir = await testDir();
    const s = faultSession();
    const fromStdin = procs.start('sender-stdin', SENDER_CLI, [...senderNetArgs(s), '--streaming', '--min-receivers', '1'], { stdin: { file: fx.image } });
    const withPipe = procs.start('sender-pipe', SENDER_CLI, [...senderNetArgs(s), '--streaming', '--file', fx.image, '--pipe', 'cat', '--min-receivers', '1']);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const fromFifo = procs.start('sender-fifo', SENDER_CLI, [...senderNetArgs(s), '--streaming', '--file', fifo, '--min-receivers', '1']);
    for (const p of [fromStdin, withPipe]) {
      const r = await p.result;
      expectExit(r, 2);
      expect(failureLine(r, 'udp-sender:')).toMatch(/--streaming needs --file/);
    }
    await writeFile(fifo, ''); // lets the sender's open of the fifo complete
    const r = await fromFifo.result;
    expectExit(r, 2);
    expect(failureLine(r, 'udp-sender:')).toMatch(/--streaming needs --file to be a regular file or block device/);
  });
});
