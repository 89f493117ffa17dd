#!/usr/bin/env node
// udp-receiver: joins a udp-sender session, writes the image and verifies it.

import { CommanderError } from 'commander';
import { EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, IoError, oneLine, UsageError } from '../common/errors.js';
import { makeLogger } from '../common/log.js';
import { ProgressLine } from '../common/progress.js';
import { formatBytes, formatRate } from '../common/units.js';
import { CauchyReedSolomon } from '../protocol/fec/cauchy-rs.js';
import { Reason, reasonName } from '../protocol/reasons.js';
import { parseReceiverArgs, type ReceiverArgs } from './args.js';
import { ReceiverDriver, type ReceiverOutcome } from './driver.js';
import { openSink } from './sink.js';

async function main(): Promise<number> {
  let args: ReceiverArgs;
  try {
    args = parseReceiverArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_OK; // --help
      process.stderr.write(`udp-receiver: ${e.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`udp-receiver: ${oneLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_IO;
  }
  const log = makeLogger(args.log, 'receiver');
  const sink = await openSink({ file: args.file, pipe: args.pipe });
  const progress = new ProgressLine(process.stderr, process.stderr.isTTY === true);
  const driver = new ReceiverDriver({ ...args.core, coder: new CauchyReedSolomon() }, args.net, sink, log);
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
  } else {
    process.stderr.write(`udp-receiver: failed: ${out.detail || reasonName(out.reason)}\n`);
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
        stats: out.stats,
        cpuUserMs: usage.userCPUTime / 1000,
        cpuSystemMs: usage.systemCPUTime / 1000,
        maxRssKiB: usage.maxRSS,
      }) + '\n',
    );
  }
  if (out.ok) return EXIT_OK;
  return out.ioError ? EXIT_IO : EXIT_FAILED;
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
