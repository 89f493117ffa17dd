#!/usr/bin/env node
// udp-receiver: joins a udp-sender session, writes the image and verifies it.

import { CommanderError } from 'commander';
import type { AuthStats } from '../common/auth/seal.js';
import { EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, IoError, oneLine, UsageError } from '../common/errors.js';
import { loadErasureCoder } from '../common/fec.js';
import { makeLogger } from '../common/log.js';
import { ProgressLine } from '../common/progress.js';
import { type UdpFactory, udpFactory } from '../common/udp/select.js';
import { formatBytes, formatRate } from '../common/units.js';
import { CatchUpWhy } from '../protocol/messages/catch-up.js';
import { Reason, reasonName } from '../protocol/reasons.js';
import { parseReceiverArgs, type ReceiverArgs } from './args.js';
import { ReceiverDriver, type ReceiverOutcome } from './driver.js';
import { effectiveDecompress, openSink } from './sink.js';
import type { SinkReport } from './sink-types.js';

async function main(): Promise<number> {
  let args: ReceiverArgs;
  let udp: UdpFactory;
  let authStats: (() => AuthStats) | undefined; // with --key-file
  try {
    args = parseReceiverArgs(process.argv.slice(2));
    udp = udpFactory(args.net.io);
    if (args.auth !== undefined) {
      // Loaded only for --key-file (its crypto setup is not free at every start).
      const { sealedUdpFactory } = await import('../common/auth/sealed-socket.js');
      ({ udp, authStats } = await sealedUdpFactory(udp, args.auth));
    }
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_OK; // --help
      process.stderr.write(`udp-receiver: ${e.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`udp-receiver: ${oneLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_IO;
  }
  const log = await makeLogger(args.log, 'receiver');
  const fec = loadErasureCoder();
  if (fec.fallbackReason !== undefined) process.stderr.write(`udp-receiver: ${fec.fallbackReason}; FEC runs on the TypeScript coder\n`);
  log.info({ evt: 'fec.coder', kind: fec.kind, fallback: fec.fallbackReason }, 'erasure coder');
  const warnings: string[] = []; // bounded: the first few are kept for the summary line
  let warningCount = 0;
  const sink = await openSink({
    file: args.file,
    pipe: args.pipe,
    unpack: args.unpack,
    decompress: args.decompress,
    sparse: args.sparse,
    force: args.force,
    warn: (message) => {
      warningCount++;
      if (warnings.length < 3) warnings.push(message);
      log.warn({ evt: 'output.warning', detail: message }, message);
    },
  });
  log.info({ evt: 'io', path: udp.path, description: udp.description }, 'udp path');
  const progress = new ProgressLine(process.stderr, process.stderr.isTTY === true);
  const decompressesByMagic = effectiveDecompress(args) === 'auto';
  const driver = new ReceiverDriver({ ...args.core, coder: fec.coder, decompressesByMagic }, args.net, udp, sink, log, (ev) => {
    if (ev.kind === 'accepted' && ev.joinSlice > 0) {
      progress.end();
      process.stderr.write(`udp-receiver: joined late: slices ${ev.joinSlice}.. with the others, then the head 0..${ev.joinSlice - 1} by repair\n`);
    } else if (ev.kind === 'catchUp') {
      progress.end();
      process.stderr.write(`udp-receiver: ${catchUpLine(ev.why, ev.rateKBps, ev.paceKBps)}\n`);
    } else if (ev.kind === 'catchUpBegan') {
      progress.end();
      process.stderr.write(`udp-receiver: the first pass is over: the catch-up pass sends the rest, from slice ${ev.fromSlice}\n`);
    }
  });
  const onSignal = (sig: string) => driver.abort(Reason.Interrupted, `receiver interrupted (${sig})`);
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const ticker = setInterval(() => {
    const core = driver.receiver;
    if (core === undefined || core.currentState === 'listening' || core.currentState === 'joining') return;
    const p = core.progress;
    const pct = p.imageBytes > 0 ? ` ${((100 * p.bytesWritten) / p.imageBytes).toFixed(0)}%` : '';
    progress.update(performance.now(), p.bytesWritten, `${core.currentState}${pct}  repaired ${core.stats.decodedBlocks} blocks`);
  }, 250);
  ticker.unref();
  let out: ReceiverOutcome;
  try {
    out = await driver.run();
  } catch (e) {
    clearInterval(ticker);
    await sink.discard();
    process.stderr.write(`udp-receiver: ${oneLine(e)}\n`);
    return EXIT_IO;
  } finally {
    clearInterval(ticker);
    progress.end();
  }
  const usage = process.resourceUsage();
  if (out.ok) {
    process.stderr.write(
      `udp-receiver: ${formatBytes(out.bytes)} in ${out.seconds.toFixed(2)} s (${formatRate(out.bytes, out.seconds * 1000)}), verified sha256 ${out.digest}\n`,
    );
    for (const line of outputSummary(sink.report())) process.stderr.write(`udp-receiver: ${line}\n`);
    const io = out.io.data;
    process.stderr.write(
      `udp-receiver: UDP I/O ${out.io.description}: ${io.datagramsReceived} data datagrams in ${io.recvCalls || io.datagramsReceived} reads\n`,
    );
    if (warningCount > 0) process.stderr.write(`udp-receiver: ${warningCount} warning(s), e.g. ${warnings.join('; ')}\n`);
  } else {
    // No sender found, but datagrams failed authentication: say so, it is the likely cause.
    const auth = authStats?.();
    const hint =
      auth !== undefined && out.sender === '' && auth.badTag + auth.tooShort > 0
        ? ` (${auth.badTag + auth.tooShort} datagrams failed authentication: is the sender using the same --key-file and --encrypt?)`
        : '';
    process.stderr.write(`udp-receiver: failed: ${out.detail || reasonName(out.reason)}${hint}\n`);
  }
  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        ok: out.ok,
        receiverId: out.receiverId.toString(16).padStart(8, '0'),
        sender: out.sender,
        bytes: out.bytes,
        seconds: out.seconds,
        digest: out.digest,
        reason: out.ok ? undefined : reasonName(out.reason),
        detail: out.ok ? undefined : out.detail,
        rcvBufBytes: out.rcvBufBytes,
        joinSlice: out.joinSlice,
        stats: out.stats,
        io: out.io,
        auth: authStats?.(),
        cpuUserMs: usage.userCPUTime / 1000,
        cpuSystemMs: usage.systemCPUTime / 1000,
        cpu: out.cpu,
        maxRssKiB: usage.maxRSS,
        output: sink.report(),
      }) + '\n',
    );
  }
  if (out.ok) return EXIT_OK;
  return out.ioError ? EXIT_IO : EXIT_FAILED;
}

/** Why this receiver is in the catch-up pass, in one line. */
function catchUpLine(why: CatchUpWhy, rateKBps: number, paceKBps: number): string {
  const mb = (kB: number): string => `${(kB / 1000).toFixed(1)} MB/s`;
  switch (why) {
    case CatchUpWhy.Slow:
      return `moved to the catch-up pass: this node writes ${mb(rateKBps)}, below the rack's pace (${mb(paceKBps)}, half what the others could take); it keeps its place and gets the rest after the first pass`;
    case CatchUpWhy.BelowMinRate:
      return `moved to the catch-up pass: this node writes ${mb(rateKBps)}, below the sender's --min-rate (${mb(paceKBps)}); it keeps its place and gets the rest after the first pass`;
    case CatchUpWhy.LateInOrder:
      return 'joined late: the output takes the image only in order, so the whole image comes in the catch-up pass, after the first';
  }
}

/** One line per pipeline stage, after success. */
function outputSummary(r: SinkReport): string[] {
  const lines: string[] = [];
  if (r.decompress !== undefined && r.decompress.format !== 'none') {
    lines.push(`${r.decompress.format}: ${formatBytes(r.decompress.inBytes)} decompressed to ${formatBytes(r.decompress.outBytes)}`);
  }
  if (r.disk !== undefined) {
    const d = r.disk;
    const holes = d.holeBytes > 0 ? ` (${formatBytes(d.holeBytes)} of zeros left as holes)` : '';
    const written = d.bytes - d.holeBytes;
    lines.push(
      `wrote ${formatBytes(d.bytes)} to ${d.path}${holes} in ${d.seconds.toFixed(2)} s; ` +
        `disk busy ${d.busySeconds.toFixed(2)} s (${formatRate(written, d.busySeconds * 1000)}, fsync ${d.fsyncSeconds.toFixed(2)} s)`,
    );
  }
  if (r.unpack !== undefined) {
    const u = r.unpack;
    const skipped = u.skipped > 0 ? `, ${u.skipped} skipped` : '';
    lines.push(
      `unpacked ${u.entries} entries (${u.format ?? '-'}) into ${u.dir} in ${u.seconds.toFixed(2)} s: ${u.files} files, ` +
        `${u.directories} directories, ${u.symlinks} symlinks, ${u.hardLinks} hard links, ${u.devices} devices, ${u.fifos} fifos${skipped}; ` +
        `${formatBytes(u.dataBytes)} of data (${formatRate(u.dataBytes, u.seconds * 1000)})`,
    );
  }
  return lines;
}

main().then(
  (code) => {
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`udp-receiver: ${e instanceof IoError ? oneLine(e) : `internal error: ${oneLine(e)}`}\n`);
    process.exit(e instanceof IoError ? EXIT_IO : EXIT_FAILED);
  },
);
