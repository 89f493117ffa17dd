// `udp-sender --protocol udpcast`: serves stock udp-receivers (FOG's and Clonezilla's boot
// images carry Debian's udpcast 20120424). sender/cli.ts hands argv here. Exit codes (README):
//   0  every receiver that connected confirmed every slice and the end ("complete": stock
//      receivers send no digest, so nothing is verified)
//   1  some receiver was dropped, left, or did not confirm the end; or none connected; or interrupted
//   2  wrong options (one line)
//   3  local I/O error: the image cannot be read, a port cannot be bound

import { createInterface } from 'node:readline';
import { CommanderError } from 'commander';
import { EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, oneLine, UsageError } from '../../common/errors.js';
import { makeLogger } from '../../common/log.js';
import { ProgressLine } from '../../common/progress.js';
import { type UdpFactory, udpFactory } from '../../common/udp/select.js';
import { formatBytes, formatRate } from '../../common/units.js';
import { openSource } from '../source.js';
import { parseUdpcastArgs, type UdpcastArgs } from './args.js';
import type { UdpcastReceiverRecord, UdpcastSenderConfig } from './core.js';
import { type UdpcastOutcome, UdpcastSenderDriver } from './driver.js';
import { loadUdpcastParityCoder } from './parity.js';

/** What the table says a stock receiver's "complete" means. */
export const NOT_VERIFIED_NOTE =
  'complete = the receiver confirmed every slice and the end; not verified: stock udp-receivers send no digest (UDP checksums only)';

export function receiverTable(receivers: readonly Readonly<UdpcastReceiverRecord>[]): string {
  const rows = [['receiver', 'address', 'slices', 'state', 'detail']];
  for (const r of receivers) {
    const state = r.state === 'complete' ? 'complete, not verified' : r.state;
    const detail = r.state === 'complete' ? '' : r.detail;
    rows.push([`#${r.clNr}`, r.address, String(r.slicesAcked), state, detail]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function runUdpcastSender(argv: readonly string[]): Promise<number> {
  let args: UdpcastArgs;
  let udp: UdpFactory;
  try {
    args = parseUdpcastArgs(argv, process.stdin.isTTY === true);
    udp = udpFactory(args.io);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_OK;
      process.stderr.write(`udp-sender: ${e.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_IO;
  }
  const log = await makeLogger(args.log, 'sender');
  const coder = loadUdpcastParityCoder();
  if (coder.fallbackReason !== undefined) {
    log.info(
      { evt: 'fec.coder', coder: coder.coder.name, fallback: coder.fallbackReason },
      coder.native ? 'udpcast FEC on another native kernel' : 'udpcast FEC on the TypeScript coder',
    );
  }
  let source;
  try {
    source = await openSource({
      file: args.file,
      pipe: args.pipe,
      warn: (m) => process.stderr.write(`udp-sender: warning: ${m}\n`),
    });
  } catch (e) {
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return EXIT_IO;
  }
  const cfg: UdpcastSenderConfig = Object.freeze({ ...args.core, coder: coder.coder });
  const progress = new ProgressLine(process.stderr, process.stderr.isTTY === true);
  process.stderr.write(
    `udp-sender: udpcast protocol on ${args.net.iface.name} (${args.net.iface.address}), port ${args.net.portbase + 1}; ` +
      `HELLO to ${args.net.helloTo.join(' and ')}; data group ${cfg.dataGroup}; ${cfg.blockBytes}-byte blocks, ${cfg.sliceBlocks}-block slices` +
      `${cfg.fec === undefined ? '' : `, FEC ${cfg.fec.stripes}x${cfg.fec.redundancy}`}; ${udp.description}\n`,
  );
  let keyboard: ReturnType<typeof createInterface> | undefined;
  const driver = new UdpcastSenderDriver(cfg, args.net, udp, source, log, (ev, core) => {
    if (ev.kind === 'connected' && !ev.again) {
      progress.update(
        performance.now(),
        0,
        `${core.receivers().filter((r) => r.state === 'connected').length} receiver(s) connected${args.keyboard ? ' — press Enter to start' : ''}`,
        true,
      );
    } else if (ev.kind === 'started') {
      keyboard?.close();
      progress.end();
      process.stderr.write(`udp-sender: starting with ${ev.receivers} receiver(s), data to ${ev.dataAddress}\n`);
    } else if (ev.kind === 'dropped' || ev.kind === 'left') {
      progress.end();
      process.stderr.write(`udp-sender: receiver #${ev.clNr} (${ev.address}) ${ev.kind}: ${ev.detail}\n`);
    } else if (ev.kind === 'late-connect') {
      progress.end();
      process.stderr.write(
        `udp-sender: ${ev.address} asked to connect after the start: a stock udp-receiver cannot join late (start it before the sender starts)\n`,
      );
    }
  });
  if (args.keyboard) {
    keyboard = createInterface({ input: process.stdin });
    keyboard.once('line', () => driver.start());
  }
  let interrupted = false;
  const onSignal = (sig: string): void => {
    interrupted = true;
    driver.abort(`sender interrupted (${sig})`);
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const ticker = setInterval(() => {
    const core = driver.core;
    if (core.phase === 'waiting') return;
    const s = core.stats;
    const repair = s.dataBlocks > 0 ? ((100 * (s.rexmitBlocks + s.repairFecBlocks)) / s.dataBlocks).toFixed(1) : '0.0';
    progress.update(
      performance.now(),
      core.bytesRead,
      `${core.receivers().filter((r) => r.state === 'connected').length} receiver(s)  repair ${repair}%  ${(core.rateBps / 1e6).toFixed(0)} Mbit/s`,
    );
  }, 250);
  ticker.unref();
  let out: UdpcastOutcome;
  try {
    out = await driver.run();
  } catch (e) {
    clearInterval(ticker);
    progress.end();
    keyboard?.close();
    await source.close().catch(() => undefined);
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return EXIT_IO;
  } finally {
    clearInterval(ticker);
  }
  keyboard?.close();
  progress.end();
  const s = out.stats;
  process.stderr.write(
    `udp-sender: ${formatBytes(out.bytes)} in ${out.seconds.toFixed(2)} s (${formatRate(out.bytes, out.seconds * 1000)}) to ${out.dataAddress}; ` +
      `${s.dataBlocks} data blocks, repair ${s.rexmitBlocks} data + ${s.repairFecBlocks} FEC, ${s.fecBlocks} FEC sent ahead, ${s.rounds} extra REQACK rounds\n` +
      `${receiverTable(out.receivers)}\n${NOT_VERIFIED_NOTE}\n`,
  );
  if (out.receivers.length === 0) process.stderr.write('udp-sender: no receiver connected\n');
  if (out.error !== undefined) process.stderr.write(`udp-sender: ${out.error}\n`);
  if (args.json) {
    const usage = process.resourceUsage();
    process.stdout.write(
      JSON.stringify({
        protocol: 'udpcast',
        ok: out.ok,
        bytes: out.bytes,
        seconds: out.seconds,
        dataAddress: out.dataAddress,
        verified: false,
        receivers: out.receivers.map((r) => ({ clNr: r.clNr, address: r.address, state: r.state, slices: r.slicesAcked, detail: r.detail })),
        stats: out.stats,
        io: out.io,
        timer: out.timer,
        fecCoder: coder.coder.name,
        error: out.error,
        cpuUserMs: usage.userCPUTime / 1000,
        cpuSystemMs: usage.systemCPUTime / 1000,
      }) + '\n',
    );
  }
  log.flush?.();
  if (interrupted) return EXIT_FAILED;
  if (out.ioError) return EXIT_IO;
  return out.ok ? EXIT_OK : EXIT_FAILED;
}
