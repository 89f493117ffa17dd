#!/usr/bin/env node
// udp-sender: streams an image to every udp-receiver on the segment over multicast.
// Flow: commander → parse → validate → frozen config → driver (docs/ARCHITECTURE.md, principle 5).

import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { CommanderError } from 'commander';
import type { AuthStats } from '../common/auth/seal.js';
import { EXIT_CLONE, EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, IoError, oneLine, UsageError } from '../common/errors.js';
import { makeLogger } from '../common/log.js';
import { ProgressLine } from '../common/progress.js';
import { formatBytes, formatRate } from '../common/units.js';
import { loadErasureCoder } from '../common/fec.js';
import { udpFactory, type UdpFactory } from '../common/udp/select.js';
import { reasonName } from '../protocol/reasons.js';
import { parseSenderArgs, type SenderArgs } from './args.js';
import { cloneColumns, cloneJson, cloneProblems } from './clone-table.js';
import type { SenderConfig } from './core.js';
import { hex, SenderDriver, type SenderOutcome } from './driver.js';
import { openSource } from './source.js';
import { protocolOf, udpcastOnlyOptionIn } from './udpcast/args.js';
import { runUdpcastSender } from './udpcast/cli.js';

function table(out: SenderOutcome, cloneWaitS: number | undefined): string {
  const clones = out.cloneReports;
  const rows = [['receiver', 'address', 'bytes', 'state', ...(clones === undefined ? [] : ['host', 'table', 'fixups', 'bootloader']), 'detail']];
  out.receivers.forEach((r, i) => {
    const detail = r.state === 'verified' ? (r.joinSlice > 0 ? `joined late at slice ${r.joinSlice}` : '') : r.detail || reasonName(r.reason);
    const replaced = r.replacedBy !== 0 ? `; rejoined as ${hex(r.replacedBy)}, verified` : '';
    const c = clones?.[i] === undefined ? undefined : cloneColumns(clones[i]!, cloneWaitS ?? 0);
    const more = [detail + replaced, c?.detail ?? ''].filter((s) => s !== '').join('; ');
    rows.push([hex(r.id), r.address, String(r.bytesWritten), r.state, ...(c === undefined ? [] : [c.host, c.table, c.fixups, c.bootloader]), more]);
  });
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<number> {
  let args: SenderArgs;
  let udp: UdpFactory;
  let authStats: (() => AuthStats) | undefined; // with --key-file
  try {
    // --protocol udpcast: stock udp-receivers (sender/udpcast/).
    if (protocolOf(process.argv.slice(2)) === 'udpcast') return await runUdpcastSender(process.argv.slice(2));
    const foreign = udpcastOnlyOptionIn(process.argv.slice(2));
    if (foreign !== undefined) throw new UsageError(foreign);
    args = parseSenderArgs(process.argv.slice(2), process.stdin.isTTY === true);
    udp = udpFactory(args.net.io);
    if (args.auth !== undefined) {
      // Loaded only for --key-file (its crypto setup is not free at every start).
      const { sealedUdpFactory } = await import('../common/auth/sealed-socket.js');
      ({ udp, authStats } = await sealedUdpFactory(udp, args.auth));
    }
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_OK; // --help
      process.stderr.write(`udp-sender: ${e.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_IO;
  }
  const log = await makeLogger(args.log, 'sender');
  const fec = loadErasureCoder();
  if (fec.fallbackReason !== undefined) process.stderr.write(`udp-sender: ${fec.fallbackReason}; FEC runs on the TypeScript coder\n`);
  log.info({ evt: 'fec.coder', kind: fec.kind, fallback: fec.fallbackReason }, 'erasure coder');
  log.info({ evt: 'io', path: udp.path, description: udp.description, blockBytes: args.core.blockBytes, blockSizeFrom: args.blockSizeFrom }, 'udp path');
  const source = await openSource({
    file: args.file,
    pipe: args.pipe,
    pack: args.pack,
    compress: args.compress,
    warn: (message) => {
      log.warn({ evt: 'source.warning', detail: message }, message);
      process.stderr.write(`udp-sender: warning: ${message}\n`);
    },
  });
  if (args.core.streaming && source.readAt === undefined) {
    await source.close().catch(() => undefined);
    process.stderr.write(`udp-sender: --streaming needs --file to be a regular file or block device: ${source.description} cannot be read again\n`);
    return EXIT_USAGE;
  }
  const cfg: SenderConfig = Object.freeze({
    ...args.core,
    sessionId: randomInt(1, 0xffff_ffff),
    imageBytes: source.sizeBytes,
    coder: fec.coder,
  });
  const progress = new ProgressLine(process.stderr, process.stderr.isTTY === true);
  let keyboard: ReturnType<typeof createInterface> | undefined;
  const driver = new SenderDriver(cfg, args.net, udp, source, log, (ev, core) => {
    const now = performance.now();
    if (ev.kind === 'joined' && ev.joinSlice > 0) {
      progress.end();
      process.stderr.write(
        `udp-sender: receiver ${hex(ev.receiverId)} (${ev.address}) joined late: slices ${ev.joinSlice}.. with the others, then the head again from ${args.file}\n`,
      );
    } else if (ev.kind === 'joined' && core.currentPhase === 'announcing') {
      const n = core.receiverList().length;
      progress.update(now, 0, `${n} receiver(s) joined${args.keyboard ? ' — press Enter to start' : ''}`, true);
    } else if (ev.kind === 'started') {
      keyboard?.close();
    } else if (ev.kind === 'dropped' || ev.kind === 'left') {
      progress.end();
      process.stderr.write(`udp-sender: receiver ${hex(ev.receiverId)} ${ev.kind}: ${ev.detail}\n`);
    }
  });
  if (args.keyboard) {
    keyboard = createInterface({ input: process.stdin });
    keyboard.once('line', () => driver.start());
  }
  let interrupted = false;
  const onSignal = (sig: string) => {
    interrupted = true;
    driver.abort(`sender interrupted (${sig})`);
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const ticker = setInterval(() => {
    const core = driver.sender;
    const active = core.receiverList().filter((r) => r.state === 'active').length;
    const s = core.stats;
    const repairPct = s.dataPackets > 0 ? ((100 * s.repairPackets) / s.dataPackets).toFixed(1) : '0.0';
    if (core.currentPhase !== 'announcing') {
      progress.update(performance.now(), core.bytesRead, `${active} receiver(s)  repair ${repairPct}%  ${core.currentPhase}`);
    }
  }, 250);
  ticker.unref();
  let out: SenderOutcome;
  try {
    out = await driver.run();
  } catch (e) {
    clearInterval(ticker);
    progress.end();
    keyboard?.close();
    await source.close().catch(() => undefined);
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return EXIT_IO;
  }
  clearInterval(ticker);
  keyboard?.close();
  progress.end();
  const usage = process.resourceUsage();
  const cloneWaitS = args.core.cloneReportsMs === undefined ? undefined : args.core.cloneReportsMs / 1000;
  process.stderr.write(
    `udp-sender: ${formatBytes(out.bytes)} in ${out.seconds.toFixed(2)} s (${formatRate(out.bytes, out.seconds * 1000)}), ` +
      `sha256 ${out.digest || '-'}\n${table(out, cloneWaitS)}\n`,
  );
  const io = out.io.data;
  process.stderr.write(
    `udp-sender: UDP I/O ${out.io.description}: ${io.datagramsSent} data datagrams in ${io.sendCalls} sends; ` +
      `${args.core.blockBytes}-byte blocks (${args.blockSizeFrom})\n`,
  );
  if (out.error !== undefined) process.stderr.write(`udp-sender: ${out.error}\n`);
  if (out.cloneReports !== undefined && cloneProblems(out.cloneReports) > 0) {
    process.stderr.write(`udp-sender: ${cloneProblems(out.cloneReports)} node(s) verified the image but did not finish their clone (see the table)\n`);
  }
  const compressed = source.report?.().compress;
  if (compressed !== undefined && compressed.outBytes > 0) {
    process.stderr.write(
      `udp-sender: --compress ${compressed.format}: ${formatBytes(compressed.inBytes)} of image sent as ${formatBytes(compressed.outBytes)} ` +
        `(ratio ${(compressed.inBytes / compressed.outBytes).toFixed(2)})\n`,
    );
  }
  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        ok: out.ok,
        bytes: out.bytes,
        seconds: out.seconds,
        digest: out.digest,
        windowPackets: out.windowPackets,
        receivers: out.receivers.map((r, i) => ({
          id: hex(r.id),
          address: r.address,
          state: r.state,
          bytes: r.bytesWritten,
          reason: r.state === 'verified' ? undefined : r.detail || reasonName(r.reason),
          joinSlice: r.joinSlice,
          replacedBy: r.replacedBy === 0 ? undefined : hex(r.replacedBy),
          clone: out.cloneReports?.[i] === undefined ? undefined : cloneJson(out.cloneReports[i]!),
        })),
        stats: out.stats,
        error: out.error,
        cpuUserMs: usage.userCPUTime / 1000,
        cpuSystemMs: usage.systemCPUTime / 1000,
        cpu: out.cpu,
        maxRssKiB: usage.maxRSS,
        compress: compressed,
        io: out.io,
        auth: authStats?.(),
      }) + '\n',
    );
  }
  log.flush?.();
  if (interrupted) return EXIT_FAILED;
  if (out.error !== undefined && out.receivers.every((r) => r.state !== 'verified')) return EXIT_IO;
  if (!out.ok) return EXIT_FAILED;
  return out.cloneReports !== undefined && cloneProblems(out.cloneReports) > 0 ? EXIT_CLONE : EXIT_OK;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Nothing is left to do; stdin may still be open for the keyboard.
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`udp-sender: ${e instanceof IoError ? oneLine(e) : `internal error: ${oneLine(e)}`}\n`);
    process.exit(e instanceof IoError ? EXIT_IO : EXIT_FAILED);
  },
);
