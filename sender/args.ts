// udp-sender's options: commander → parse → validate → a plain config the CLI freezes
// (docs/ARCHITECTURE.md, principle 5). Kept apart from cli.ts so tests can parse without starting a sender.

import { Command, Option } from 'commander';
import { type AuthMode, authTrailerBytes } from '../common/auth/seal.js';
import { UsageError } from '../common/errors.js';
import { MAX_RECEIVERS } from '../common/limits.js';
import { blockBytesForMtu, IP_UDP_HEADER_BYTES, interfaceMtu } from '../common/mtu.js';
import { checkMulticast, resolveInterface } from '../common/net.js';
import { defaultIoChoice, IO_CHOICES, type IoChoice } from '../common/udp/select.js';
import { parseBitrate, parseIntIn, parseSeconds } from '../common/units.js';
import { DATA_HEADER_SIZE } from '../protocol/messages/data.js';
import { MAX_BLOCK_BYTES, MAX_SLICE_BLOCKS, MAX_STRIPES, MIN_BLOCK_BYTES } from '../protocol/messages/hello.js';
import { MAX_ZSTD_LEVEL } from './compress-zstd.js';
import { MAX_STRIPE_BLOCKS, type SenderConfig } from './core.js';
import type { SenderNetConfig } from './driver.js';
import type { PackFormat } from './pack.js';
import type { CompressFormat } from './source-types.js';

export const DEFAULT_PORTBASE = 9000;
/**
 * --async without --min-wait: HELLOs for this long before the first slice. Receivers already
 * waiting hear the first HELLO within one HELLO interval (200 ms) and join the data group at
 * once; the rest is room for a switch's IGMP snooping to let the group through.
 */
export const ASYNC_DEFAULT_ANNOUNCE_MS = 2000;
/**
 * --async from a file or device without --carousel: the image goes twice, so one slice lost
 * beyond what --fec repairs, or a receiver that started a little late, does not fail the
 * node. Receivers that have everything after the first pass finish then.
 */
export const ASYNC_DEFAULT_PASSES = 2;
export const DEFAULT_DATA_GROUP = '239.192.67.1';
export const DEFAULT_RDV_GROUP = '239.192.67.2';
/**
 * Without --fec, a slice is cut into stripes of this many blocks: a fresh parity symbol
 * costs one multiply-add per block of its stripe (a 128-block stripe about 3x the encode
 * CPU of four of 32), and automatic parity comes in steps of 1/32 of a stripe.
 */
export const AUTO_STRIPE_BLOCKS = 32;
/**
 * Data blocks per slice without --fec (--slice-blocks, hidden, changes it): 8 stripes of
 * 32, the geometry of --fec 8xR/32. In the lab at 5% and 10% loss, slices of 128 blocks
 * with the same parity share were 20-30% slower than these (each slice costs the sender and
 * receivers per-slice work: NAK timers, delivery, repair state), and at 0% loss no faster.
 */
export const DEFAULT_SLICE_BLOCKS = 256;
/**
 * A rack named this large (--min-receivers N, or N hosts in --hosts) gets, without --fec
 * or --slice-blocks, slices of LARGE_RACK_SLICE_BLOCKS in stripes of
 * LARGE_RACK_STRIPE_BLOCKS. With many receivers the parity a stripe needs is set by the
 * worst of them, and a burst of loss that one of a thousand receivers suffers takes about
 * a quarter as many symbols from each of four 128-block stripes as from each of eight of
 * 32 relative to their size: see docs/ARCHITECTURE.md ("How feedback scales").
 */
export const LARGE_RACK_RECEIVERS = 100;
export const LARGE_RACK_SLICE_BLOCKS = 512;
export const LARGE_RACK_STRIPE_BLOCKS = 128;

/** The slices without --fec or --slice-blocks, for a rack of `expectedReceivers` (0: not named). */
export function defaultGeometry(expectedReceivers: number): { sliceBlocks: number; stripes: number } {
  if (expectedReceivers >= LARGE_RACK_RECEIVERS) {
    return { sliceBlocks: LARGE_RACK_SLICE_BLOCKS, stripes: LARGE_RACK_SLICE_BLOCKS / LARGE_RACK_STRIPE_BLOCKS };
  }
  return { sliceBlocks: DEFAULT_SLICE_BLOCKS, stripes: DEFAULT_SLICE_BLOCKS / AUTO_STRIPE_BLOCKS };
}

/** 1500-byte MTU − 20 (IPv4) − 8 (UDP) − the DATA header. */
export const DEFAULT_BLOCK_BYTES = 1472 - DATA_HEADER_SIZE;

interface RawOptions {
  file?: string;
  pipe?: string;
  portbase: string;
  interface?: string;
  mcastDataAddress: string;
  mcastRdvAddress: string;
  ttl: string;
  blocksize?: string;
  sliceBlocks?: string;
  minReceivers?: string;
  hosts?: string;
  startTimeout?: string;
  minWait?: string;
  maxWait?: string;
  nokbd?: boolean;
  retriesUntilDrop: string;
  maxBitrate?: string;
  fec?: string;
  async?: boolean;
  carousel?: string;
  streaming?: boolean;
  minRate?: string;
  catchUp: boolean;
  log?: string;
  events?: string;
  json?: boolean;
  compress?: CompressFormat;
  compressLevel?: string;
  pack?: string;
  packFormat: PackFormat;
  io: IoChoice;
  keyFile?: string;
  encrypt?: boolean;
  cloneReports?: string;
}

export interface SenderArgs {
  /** The roster is filled in by the CLI from hostsFile (it resolves names). */
  readonly core: Omit<SenderConfig, 'sessionId' | 'imageBytes' | 'coder' | 'roster'>;
  /** --hosts: the rack's hosts, one per line. */
  readonly hostsFile: string | undefined;
  /** --carousel N as given; undefined: the CLI picks (ASYNC_DEFAULT_PASSES if the source can be read again). */
  readonly carousel: number | undefined;
  readonly net: SenderNetConfig;
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  readonly keyboard: boolean;
  /** --fec or --slice-blocks chose the slices; otherwise the CLI may pick them for the rack --hosts names (defaultGeometry). */
  readonly geometryFixed: boolean;
  readonly log: string | undefined;
  /** --events FILE|-: JSON lines of what happens to each node. */
  readonly events: string | undefined;
  readonly json: boolean;
  /** Compress the image on the fly (the size becomes unknown to the receivers). */
  readonly compress: { readonly format: CompressFormat; readonly level?: number } | undefined;
  /** Send a cpio archive of this directory, made on the fly. */
  readonly pack: { readonly dir: string; readonly format: PackFormat } | undefined;
  /** Where the block size came from, for the start-up log: "--blocksize", "MTU 9000 (eth0)", … */
  readonly blockSizeFrom: string;
  /** --key-file and the mode: every datagram sealed (and with --encrypt, encrypted). */
  readonly auth: { readonly keyFile: string; readonly mode: AuthMode } | undefined;
}

export function program(): Command {
  return new Command('udp-sender')
    .description('Send an image to every udp-receiver over UDP multicast (rackcast).')
    .addOption(
      new Option('--protocol <name>', 'wire protocol: rackcast, or udpcast for stock udp-receivers (see udp-sender --protocol udpcast --help)')
        .choices(['rackcast', 'udpcast'])
        .default('rackcast'),
    )
    .option('-f, --file <path>', 'image to send: a file or block device (default: stdin)')
    .option('-p, --pipe <cmd>', 'send the image through this shell command first, e.g. "gzip -c"')
    .option('--portbase <n>', 'UDP ports: data on N, control on N+1', String(DEFAULT_PORTBASE))
    .option('-i, --interface <if|addr>', 'network interface (name or IPv4 address) to use')
    .option('--mcast-data-address <addr>', 'multicast group for the data', DEFAULT_DATA_GROUP)
    .option('--mcast-rdv-address <addr>', 'multicast group for control (rendezvous)', DEFAULT_RDV_GROUP)
    .option('--ttl <n>', 'multicast TTL', '1')
    .option('--blocksize <bytes>', `payload bytes per datagram (default: from the interface MTU, ${DEFAULT_BLOCK_BYTES} for 1500)`)
    .addOption(new Option('--slice-blocks <n>', 'blocks per slice').hideHelp())
    .option('--min-receivers <n>', 'start as soon as N receivers have joined')
    .option(
      '--hosts <file>',
      "the rack's hosts, one per line (name, IPv4 address or MAC; # comments): start once all joined, refuse others, fail for any missing",
    )
    .option('--start-timeout <s>', 'give up (exit 1) if the transfer has not started S seconds after start-up')
    .option('--min-wait <s>', 'with --min-receivers: wait at least S seconds after the first join')
    .option('--max-wait <s>', 'start S seconds after the first join even with fewer receivers')
    .option('--nokbd', 'do not wait for Enter on the terminal to start')
    .option('--retries-until-drop <n>', 'drop a receiver after N unanswered rounds (25 ms apart)', '200')
    .option('--max-bitrate <rate>', 'pace the data, e.g. 600m for 600 Mbit/s')
    .option('--fec <SxR/Z>', 'forward error correction: S stripes of Z blocks per slice, R parity blocks each sent ahead (e.g. 8x4/32)')
    .option('--async', 'no return channel: receivers send nothing (needs --fec and --max-bitrate)')
    .option(
      '--carousel <n>',
      `with --async: send the image N times, so a receiver that missed a slice or came late completes from a later pass (default ${ASYNC_DEFAULT_PASSES} from a file or device, else 1)`,
    )
    .option('--streaming', 'take receivers that join after the start (e.g. restarted): they get the rest live and the head re-read from --file')
    .option(
      '--min-rate <rate>',
      'move a receiver the rack waits for to the catch-up pass when it writes slower than RATE (bits/s like --max-bitrate: 80m = 10 MB/s)',
    )
    .option('--no-catch-up', 'no catch-up pass: the rack keeps the pace of its slowest receiver (as udpcast)')
    .option('--log <file>', 'write JSON logs (pino) to this file')
    .option('--json', 'print a machine-readable report on stdout at the end')
    .option(
      '--clone-reports <s>',
      'after the transfer, wait up to S seconds for the clone reports (rackcast-clone) of the receivers that verified; the table shows host, table, fixups, bootloader',
    )
    .option(
      '--events <file|->',
      'write JSON lines of what happens to each node (join, start, progress, slow, catch-up, dropped, verified, failed) to FILE or stdout',
    )
    .addOption(new Option('--compress <format>', 'compress the image on the fly: gzip, lz4 or zstd').choices(['gzip', 'lz4', 'zstd']))
    .option('--compress-level <n>', 'with --compress gzip: 1 (fast) .. 9 (small), default 6; zstd: 1 .. 19, default 3')
    .option('--pack <dir>', 'send a cpio archive of DIR, as `cd DIR && find . -xdev | cpio -o` would make it')
    .addOption(new Option('--pack-format <format>', 'cpio format for --pack').choices(['crc', 'newc']).default('crc'))
    .option('--key-file <file>', 'pre-shared secret (>= 16 bytes, mode 600): every datagram is authenticated (HMAC-SHA-256)')
    .option('--encrypt', 'with --key-file: also encrypt every datagram (AES-256-GCM)')
    .addOption(new Option('--io <path>', 'UDP path: native (batched, GSO) when available, or node:dgram').choices(IO_CHOICES).default(defaultIoChoice()))
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

export function parseSenderArgs(argv: readonly string[], stdinIsTty: boolean): SenderArgs {
  const cmd = program();
  cmd.parse(argv as string[], { from: 'user' });
  if (cmd.args.length > 0) throw new UsageError(`unexpected argument: ${cmd.args[0]}`);
  const o = cmd.opts<RawOptions>();
  const portbase = parseIntIn(o.portbase, '--portbase', 1, 65534);
  if (o.encrypt === true && o.keyFile === undefined) throw new UsageError('--encrypt needs --key-file');
  const auth = o.keyFile === undefined ? undefined : { keyFile: o.keyFile, mode: (o.encrypt === true ? 'encrypt' : 'mac') as AuthMode };
  const interfaceAddress = resolveInterface(o.interface);
  // The block size follows the interface's MTU (jumbo frames carry ~6x the payload per
  // datagram for the same per-packet cost); --blocksize wins.
  const mtu = interfaceMtu(interfaceAddress);
  const trailer = auth === undefined ? 0 : authTrailerBytes(auth.mode);
  const blockBytes =
    o.blocksize !== undefined
      ? parseIntIn(o.blocksize, '--blocksize', MIN_BLOCK_BYTES, MAX_BLOCK_BYTES)
      : mtu === undefined
        ? DEFAULT_BLOCK_BYTES - trailer
        : blockBytesForMtu(mtu.mtu, DATA_HEADER_SIZE, trailer);
  if (o.blocksize !== undefined && mtu !== undefined && blockBytes + DATA_HEADER_SIZE + trailer + IP_UDP_HEADER_BYTES > mtu.mtu) {
    // IP fragments: one lost fragment loses the datagram, and reassembly memory fills under loss.
    throw new UsageError(
      `--blocksize ${blockBytes}: datagrams would exceed the MTU ${mtu.mtu} of ${mtu.name} and fragment; ` +
        `at most ${mtu.mtu - IP_UDP_HEADER_BYTES - DATA_HEADER_SIZE - trailer}`,
    );
  }
  const blockSizeFrom = o.blocksize !== undefined ? '--blocksize' : mtu === undefined ? 'default (MTU unknown)' : `MTU ${mtu.mtu} of ${mtu.name}`;
  const fec = o.fec === undefined ? undefined : parseFec(o.fec);
  const chosenSliceBlocks = fec === undefined && o.sliceBlocks !== undefined ? parseIntIn(o.sliceBlocks, '--slice-blocks', 1, MAX_SLICE_BLOCKS) : undefined;
  const async = o.async === true;
  if (async && (fec === undefined || fec.redundancy === 0)) {
    throw new UsageError('--async needs --fec with redundancy (e.g. --fec 8x4/32): receivers cannot ask for repairs');
  }
  if (async && o.maxBitrate === undefined) {
    throw new UsageError('--async needs --max-bitrate: without feedback nothing else keeps the sender from overrunning the receivers');
  }
  const carousel = o.carousel === undefined ? undefined : parseIntIn(o.carousel, '--carousel', 1, 1000);
  if (carousel !== undefined && !async) throw new UsageError('--carousel needs --async: with a return channel, receivers ask for what they miss');
  if (carousel !== undefined && carousel > 1 && (o.file === undefined || o.pipe !== undefined || o.compress !== undefined)) {
    throw new UsageError('--carousel needs --file (a regular file or block device, without --pipe or --compress): every pass reads it again');
  }
  const streaming = o.streaming === true;
  const cloneReportsMs = o.cloneReports === undefined ? undefined : parseSeconds(o.cloneReports, '--clone-reports');
  if (cloneReportsMs !== undefined && async) throw new UsageError('--clone-reports needs a return channel: it cannot go with --async');
  const minRateBytesPerSec = o.minRate === undefined ? undefined : parseBitrate(o.minRate, '--min-rate') / 8;
  if (minRateBytesPerSec !== undefined && (async || !o.catchUp)) {
    throw new UsageError(`--min-rate needs the catch-up pass: it cannot go with ${async ? '--async' : '--no-catch-up'}`);
  }
  if (streaming && async) throw new UsageError('--streaming needs a return channel: it cannot go with --async');
  if (streaming && (o.file === undefined || o.pipe !== undefined || o.compress !== undefined)) {
    // The head a late receiver missed is read again: only a file or device can be.
    throw new UsageError(
      '--streaming needs --file (a regular file or block device, without --pipe or --compress): late receivers get the head re-read from it',
    );
  }
  const minReceivers = o.minReceivers === undefined ? 0 : parseIntIn(o.minReceivers, '--min-receivers', 1, 65535);
  if (o.hosts !== undefined && minReceivers > 0) {
    throw new UsageError('--hosts and --min-receivers exclude each other: with --hosts the transfer starts once every listed host joined');
  }
  if (o.hosts !== undefined && async) throw new UsageError('--hosts needs a return channel: async receivers never join');
  const startTimeoutMs = o.startTimeout === undefined ? undefined : parseSeconds(o.startTimeout, '--start-timeout');
  if (startTimeoutMs !== undefined && async) throw new UsageError('--start-timeout needs a return channel: an --async sender starts by itself');
  // --async without --min-wait announces long enough for receivers already waiting to hear a
  // HELLO and join the data group before the first slice goes.
  const minWaitMs = o.minWait === undefined ? (async ? ASYNC_DEFAULT_ANNOUNCE_MS : 0) : parseSeconds(o.minWait, '--min-wait');
  const maxWaitMs = o.maxWait === undefined ? undefined : parseSeconds(o.maxWait, '--max-wait');
  const dataGroup = checkMulticast(o.mcastDataAddress, '--mcast-data-address');
  const rdvGroup = checkMulticast(o.mcastRdvAddress, '--mcast-rdv-address');
  // The data source is stdin unless --file: then Enter cannot be read from it.
  if (o.pack !== undefined && o.file !== undefined) throw new UsageError('--pack and --file exclude each other');
  if (o.compressLevel !== undefined && o.compress !== 'gzip' && o.compress !== 'zstd') throw new UsageError('--compress-level needs --compress gzip or zstd');
  const compressLevel =
    o.compressLevel === undefined ? undefined : parseIntIn(o.compressLevel, '--compress-level', 1, o.compress === 'zstd' ? MAX_ZSTD_LEVEL : 9);
  const keyboard = o.nokbd !== true && stdinIsTty && (o.file !== undefined || o.pack !== undefined);
  // --fec is udpcast's fixed choice. Without it: stripes of AUTO_STRIPE_BLOCKS (or larger
  // for a large rack, defaultGeometry), and proactive parity that follows the loss the
  // receivers report (sender/core/auto-parity.ts).
  const geometryFixed = fec !== undefined || chosenSliceBlocks !== undefined;
  const { sliceBlocks, stripes } =
    fec !== undefined
      ? { sliceBlocks: fec.stripes * fec.stripeBlocks, stripes: fec.stripes }
      : chosenSliceBlocks !== undefined
        ? { sliceBlocks: chosenSliceBlocks, stripes: Math.ceil(chosenSliceBlocks / AUTO_STRIPE_BLOCKS) }
        : defaultGeometry(minReceivers);
  if (!async && !keyboard && minReceivers === 0 && maxWaitMs === undefined && o.hosts === undefined) {
    throw new UsageError(
      o.nokbd === true || (o.file === undefined && o.pack === undefined)
        ? 'nothing would start the transfer: give --min-receivers N, --hosts FILE or --max-wait S'
        : 'stdin is not a terminal, so Enter cannot start the transfer: give --min-receivers N, --hosts FILE or --max-wait S',
    );
  }
  return {
    core: {
      blockBytes,
      sliceBlocks,
      stripes,
      redundancy: fec?.redundancy ?? 0,
      autoParity: fec === undefined && !async,
      async,
      carouselPasses: carousel ?? 1,
      streaming,
      // The CLI turns it off when the source cannot be read again (and says so).
      catchUp: o.catchUp && !async,
      minRateBytesPerSec,
      dataGroup,
      dataPort: portbase,
      retainSlices: retainSlicesFor(sliceBlocks, blockBytes),
      minReceivers,
      minWaitMs,
      maxWaitMs,
      waitForKey: keyboard,
      startTimeoutMs,
      maxReceivers: MAX_RECEIVERS,
      retriesUntilDrop: parseIntIn(o.retriesUntilDrop, '--retries-until-drop', 1, 1_000_000),
      maxBitrateBps: o.maxBitrate === undefined ? undefined : parseBitrate(o.maxBitrate),
      // The trailer is on the wire too: pacing counts it.
      sealBytes: trailer,
      helloIntervalMs: 200,
      reqackIntervalMs: 25,
      endIntervalMs: 100,
      nakHoldMs: 15,
      windowPacketsMax: 4096,
      // Up to 8 receivers each report as they go (the quarter-window STATUS costs them 2-3 a
      // slice together); more make the session quiet (sender/core/probe.ts).
      maxReportingReceivers: 8,
      answerWindowMs: 4,
      heartbeatMs: 500,
      cloneReportsMs,
    },
    net: {
      interfaceAddress,
      rdvGroup,
      portbase,
      ttl: parseIntIn(o.ttl, '--ttl', 0, 255),
      io: o.io,
    },
    hostsFile: o.hosts,
    carousel,
    file: o.file,
    pipe: o.pipe,
    keyboard,
    geometryFixed,
    log: o.log,
    events: o.events,
    json: o.json === true,
    compress: o.compress === undefined ? undefined : { format: o.compress, level: compressLevel },
    pack: o.pack === undefined ? undefined : { dir: o.pack, format: o.packFormat },
    blockSizeFrom,
    auth,
  };
}

/** Slices held for repair: about 16 MiB whatever their size (and the receivers hold as much). */
export function retainSlicesFor(sliceBlocks: number, blockBytes: number): number {
  return Math.max(8, Math.min(256, Math.floor((16 << 20) / (sliceBlocks * blockBytes))));
}

/** udpcast's --fec <stripes>x<redundancy>/<stripesize>, e.g. 8x4/32. */
export function parseFec(text: string): { stripes: number; redundancy: number; stripeBlocks: number } {
  const m = /^(\d+)x(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--fec: expected <stripes>x<redundancy>/<stripesize>, e.g. 8x4/32, got "${text}"`);
  const stripes = Number(m[1]);
  const redundancy = Number(m[2]);
  const stripeBlocks = Number(m[3]);
  if (stripes < 1 || stripes > MAX_STRIPES) throw new UsageError(`--fec: stripes must be 1..${MAX_STRIPES}, got ${stripes}`);
  if (stripeBlocks < 1 || stripeBlocks > MAX_STRIPE_BLOCKS) {
    throw new UsageError(`--fec: stripesize must be 1..${MAX_STRIPE_BLOCKS} (room for fresh parity), got ${stripeBlocks}`);
  }
  if (stripeBlocks + redundancy > 255) {
    throw new UsageError(`--fec: stripesize + redundancy must be <= 255 (Reed-Solomon over GF(256)), got ${stripeBlocks + redundancy}`);
  }
  if (stripes * stripeBlocks > MAX_SLICE_BLOCKS) {
    throw new UsageError(`--fec: stripes x stripesize must be <= ${MAX_SLICE_BLOCKS} blocks per slice, got ${stripes * stripeBlocks}`);
  }
  return { stripes, redundancy, stripeBlocks };
}
