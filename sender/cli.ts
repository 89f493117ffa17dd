#!/usr/bin/env node
// udp-sender: streams an image to every udp-receiver on the segment over multicast.
// Flow: commander → parse → validate → frozen config → driver (docs/ARCHITECTURE.md, principle 5).

import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { CommanderError } from 'commander';
import type { AuthStats } from '../common/auth/seal.js';
import { EXIT_CLONE, EXIT_FAILED, EXIT_IO, EXIT_OK, EXIT_USAGE, IoError, oneLine, UsageError } from '../common/errors.js';
import { loadErasureCoder } from '../common/fec.js';
import { makeLogger } from '../common/log.js';
import { type UdpFactory, udpFactory } from '../common/udp/select.js';
import { formatBytes, formatRate } from '../common/units.js';
import { CatchUpWhy } from '../protocol/messages/catch-up.js';
import { reasonName } from '../protocol/reasons.js';
import { ASYNC_DEFAULT_PASSES, defaultGeometry, parseSenderArgs, retainSlicesFor, type SenderArgs } from './args.js';
import { cloneColumns, cloneJson, cloneProblems } from './clone-table.js';
import type { ReceiverRecord, RosterHost, SenderConfig } from './core.js';
import { LINGER_MIN_RECEIVERS, REPORT_LINGER_MS, SenderDriver, type SenderOutcome } from './driver.js';
import { EventsLog, nodeFields } from './events-log.js';
import { loadHosts } from './hosts-file.js';
import { hex } from './log-events.js';
import { Monitor } from './monitor.js';
import { openSource } from './source.js';
import { protocolOf, udpcastOnlyOptionIn } from './udpcast/args.js';

/**
 * The final table: one row per receiver, and with --hosts one per host that never joined, in
 * file order; with --clone-reports the clone agents' columns (host, table, fixups, bootloader).
 */
function table(out: SenderOutcome, cloneWaitS: number | undefined): string {
  const withHosts = out.hosts.length > 0;
  const clones = out.cloneReports;
  const cloneOf = new Map(clones === undefined ? [] : out.receivers.map((r, i) => [r.id, clones[i]]));
  const rows = [
    [
      ...(withHosts ? ['host'] : []),
      'receiver',
      'address',
      'bytes',
      'state',
      ...(clones === undefined ? [] : [withHosts ? 'clone host' : 'host', 'table', 'fixups', 'bootloader']),
      'detail',
    ],
  ];
  const row = (r: Readonly<ReceiverRecord>): void => {
    const detail = r.state === 'verified' ? (r.joinSlice > 0 ? `joined late at slice ${r.joinSlice}` : '') : r.detail || reasonName(r.reason);
    const replaced = r.replacedBy !== 0 ? `; rejoined as ${hex(r.replacedBy)}, verified` : '';
    const cr = cloneOf.get(r.id);
    const c = cr === undefined ? undefined : cloneColumns(cr, cloneWaitS ?? 0);
    const more = [detail + replaced, c?.detail ?? ''].filter((s) => s !== '').join('; ');
    rows.push([
      ...(withHosts ? [r.host ?? '-'] : []),
      hex(r.id),
      r.address,
      String(r.bytesWritten),
      r.state,
      ...(clones === undefined ? [] : c === undefined ? ['—', '—', '—', '—'] : [c.host, c.table, c.fixups, c.bootloader]),
      more,
    ]);
  };
  if (withHosts) {
    const byId = new Map(out.receivers.map((r) => [r.id, r]));
    for (const { host, receiverIds } of out.hosts) {
      if (receiverIds.length === 0) {
        rows.push([host.name, '-', host.addresses.join(',') || '-', '0', 'missing', ...(clones === undefined ? [] : ['—', '—', '—', '—']), 'never joined']);
      }
      for (const id of receiverIds) row(byId.get(id)!);
    }
  } else {
    for (const r of out.receivers) row(r);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A listed host's outcome: missing (never joined), verified (every receiver of it verified, or was replaced by a rejoin that did), or failed. */
function hostState(out: SenderOutcome, ids: readonly number[]): 'missing' | 'verified' | 'failed' {
  if (ids.length === 0) return 'missing';
  const recs = ids.map((id) => out.receivers.find((r) => r.id === id)!);
  return recs.every((r) => r.state === 'verified' || r.replacedBy !== 0) ? 'verified' : 'failed';
}

async function main(): Promise<number> {
  let args: SenderArgs;
  let udp: UdpFactory;
  let authStats: (() => AuthStats) | undefined; // with --key-file
  let roster: RosterHost[] = [];
  try {
    // --protocol udpcast: stock udp-receivers (sender/udpcast/). Loaded only then: it is 22
    // modules, a fifth of the 119 every other start would load.
    if (protocolOf(process.argv.slice(2)) === 'udpcast') {
      const { runUdpcastSender } = await import('./udpcast/cli.js');
      return await runUdpcastSender(process.argv.slice(2));
    }
    const foreign = udpcastOnlyOptionIn(process.argv.slice(2));
    if (foreign !== undefined) throw new UsageError(foreign);
    args = parseSenderArgs(process.argv.slice(2), process.stdin.isTTY === true);
    udp = udpFactory(args.net.io);
    if (args.auth !== undefined) {
      // Loaded only for --key-file (its crypto setup is not free at every start).
      const { sealedUdpFactory } = await import('../common/auth/sealed-socket.js');
      ({ udp, authStats } = await sealedUdpFactory(udp, args.auth));
    }
    if (args.hostsFile !== undefined) roster = await loadHosts(args.hostsFile);
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
  // The catch-up pass reads the source again: without that, the slowest receiver sets the pace.
  let catchUp = args.core.catchUp;
  if (catchUp && source.readAt === undefined) {
    catchUp = false;
    process.stderr.write(
      `udp-sender: ${source.description} cannot be read again, so there is no catch-up pass: a slow receiver holds the rack to its pace (save the image to a file and give --file)\n`,
    );
  }
  // --async repeats the image (a carousel) when the source can be read again.
  let carouselPasses = args.carousel ?? 1;
  if (args.core.async && args.carousel === undefined) {
    if (source.readAt !== undefined) carouselPasses = ASYNC_DEFAULT_PASSES;
    else process.stderr.write(`udp-sender: --async: ${source.description} cannot be read again, so the image goes once (no carousel)\n`);
  }
  // A rack --hosts names is known only now: it may call for larger slices (defaultGeometry).
  const geometry = args.geometryFixed || roster.length === 0 ? undefined : defaultGeometry(roster.length);
  const cfg: SenderConfig = Object.freeze({
    ...args.core,
    ...(geometry === undefined ? {} : { ...geometry, retainSlices: retainSlicesFor(geometry.sliceBlocks, args.core.blockBytes) }),
    catchUp,
    canReload: source.readAt !== undefined,
    carouselPasses,
    roster,
    sessionId: randomInt(1, 0xffff_ffff),
    imageBytes: source.sizeBytes,
    coder: fec.coder,
  });
  let events: EventsLog | undefined;
  if (args.events !== undefined) {
    events = new EventsLog(args.events, performance.now());
    try {
      await events.open();
    } catch (e) {
      await source.close().catch(() => undefined);
      process.stderr.write(`udp-sender: --events ${args.events}: ${oneLine(e)}\n`);
      return EXIT_IO;
    }
  }
  let keyboard: ReturnType<typeof createInterface> | undefined;
  // The driver is made below; the monitor reads its core between turns.
  let driverRef: SenderDriver | undefined;
  const monitor = new Monitor(() => driverRef!.sender, source.sizeBytes, events, process.stderr.isTTY === true ? process.stderr : undefined);
  const driver = new SenderDriver(
    cfg,
    args.net,
    udp,
    source,
    log,
    (ev, core) => {
      const now = performance.now();
      monitor.onEvent(ev, now);
      if (ev.kind === 'joined' && ev.joinSlice > 0) {
        monitor.message(
          `udp-sender: receiver ${hex(ev.receiverId)} (${ev.address}) joined late: slices ${ev.joinSlice}.. with the others, then the head again from ${args.file}`,
        );
      } else if (ev.kind === 'startTimedOut') {
        const joined = roster.length > 0 ? `${core.hostsJoined()} of ${roster.length} hosts` : `${ev.receivers} receiver(s)`;
        const wanted = args.core.minReceivers > 0 ? ` of --min-receivers ${args.core.minReceivers}` : '';
        monitor.message(`udp-sender: --start-timeout: the transfer did not start: ${joined}${wanted} joined; nothing was sent`);
      } else if (ev.kind === 'started') {
        keyboard?.close();
      } else if (ev.kind === 'dropped' || ev.kind === 'left') {
        monitor.message(`udp-sender: receiver ${hex(ev.receiverId)} ${ev.kind}: ${ev.detail}`);
      } else if (ev.kind === 'movedToCatchUp') {
        const r = core.receiverList().find((x) => x.id === ev.receiverId);
        const who = `receiver ${hex(ev.receiverId)} (${r?.host ?? r?.address ?? '?'})`;
        const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB/s`;
        monitor.message(
          ev.why === CatchUpWhy.LateInOrder
            ? `udp-sender: ${who} joined late and takes the image only in order: all of it in the catch-up pass`
            : `udp-sender: ${who} writes ${mb(ev.rateBps)}, below ${ev.why === CatchUpWhy.BelowMinRate ? '--min-rate' : "the rack's pace"} (${mb(ev.paceBps)}): moved to the catch-up pass`,
        );
      }
    },
    undefined,
    { ms: REPORT_LINGER_MS, minReceivers: LINGER_MIN_RECEIVERS },
  );
  driverRef = driver;
  if (args.keyboard) {
    keyboard = createInterface({ input: process.stdin });
    keyboard.once('line', () => driver.start());
    monitor.message('udp-sender: press Enter to start the transfer');
  }
  let interrupted = false;
  const onSignal = (sig: string) => {
    interrupted = true;
    driver.abort(`sender interrupted (${sig})`);
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  // The image's SHA-256 off the send loop's thread, when the source is read into the slice ring.
  driver.useHashThread();
  monitor.start();
  let out: SenderOutcome;
  try {
    out = await driver.run();
  } catch (e) {
    monitor.stop();
    keyboard?.close();
    await events?.close();
    await source.close().catch(() => undefined);
    process.stderr.write(`udp-sender: ${oneLine(e)}\n`);
    return EXIT_IO;
  }
  monitor.stop();
  keyboard?.close();
  const finalNodes = monitor.nodes();
  await events?.close();
  const usage = process.resourceUsage();
  const cloneWaitS = args.core.cloneReportsMs === undefined ? undefined : args.core.cloneReportsMs / 1000;
  process.stderr.write(
    `udp-sender: ${formatBytes(out.bytes)} in ${out.seconds.toFixed(2)} s (${formatRate(out.bytes, out.seconds * 1000)}), ` +
      `sha256 ${out.digest || '-'}\n${table(out, cloneWaitS)}\n`,
  );
  const missing = out.hosts.filter((h) => h.receiverIds.length === 0).map((h) => h.host.name);
  if (missing.length > 0) {
    process.stderr.write(`udp-sender: ${missing.length} of ${out.hosts.length} hosts never joined: ${missing.join(', ')}\n`);
  }
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
        receivers: out.receivers.map((r, i) => {
          const v = finalNodes.find((n) => n.id === hex(r.id));
          return {
            ...(v === undefined ? {} : nodeFields(v)),
            id: hex(r.id),
            address: r.address,
            state: r.state,
            bytes: r.bytesWritten,
            reason: r.state === 'verified' ? undefined : r.detail || reasonName(r.reason),
            joinSlice: r.joinSlice,
            replacedBy: r.replacedBy === 0 ? undefined : hex(r.replacedBy),
            clone: out.cloneReports?.[i] === undefined ? undefined : cloneJson(out.cloneReports[i]!),
          };
        }),
        hosts:
          out.hosts.length === 0
            ? undefined
            : out.hosts.map((h) => ({ name: h.host.name, state: hostState(out, h.receiverIds), receivers: h.receiverIds.map(hex) })),
        startTimedOut: out.startTimedOut || undefined,
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
