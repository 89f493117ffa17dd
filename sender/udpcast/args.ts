// udp-sender --protocol udpcast: the options FOG and Clonezilla pass to udpcast's sender,
// parsed and checked once (commander → validate → a plain config the CLI freezes). Options
// only rackcast's own protocol has are refused in one line, and so are udpcast-only options
// under rackcast's protocol (udpcastOnlyOptionIn).

import { Command, Option } from 'commander';
import { UsageError } from '../../common/errors.js';
import { IP_UDP_HEADER_BYTES, interfaceMtu } from '../../common/mtu.js';
import { checkMulticast } from '../../common/net.js';
import { defaultIoChoice, IO_CHOICES, type IoChoice } from '../../common/udp/select.js';
import { parseBitrate, parseIntIn, parseSeconds } from '../../common/units.js';
import { DATA_HEADER_SIZE } from '../../protocol/udpcast/data.js';
import { minStripes } from '../../protocol/udpcast/fec-code.js';
import { DEFAULT_BLOCK_BYTES, MAX_FEC_STRIPES, MAX_SLICE_BLOCKS, MAX_STRIPE_BLOCKS } from '../../protocol/udpcast/wire.js';
import type { UdpcastSenderConfig } from './core.js';
import type { UdpcastNetConfig } from './driver.js';
import { checkRendezvous, defaultDataGroup, helloDestinations, rendezvousAddress, resolveUdpcastInterface } from './net.js';

/** Options of rackcast's own protocol that mean nothing to a stock udp-receiver, and why. */
const RACKCAST_ONLY: Readonly<Record<string, string>> = {
  '--key-file': 'stock udp-receivers cannot check tags or decrypt',
  '--encrypt': 'stock udp-receivers cannot decrypt',
  '--compress': 'stock udp-receivers do not decompress by themselves (compress the image, and give them --pipe "gzip -dc")',
  '--compress-level': 'stock udp-receivers do not decompress by themselves',
  '--pack': 'send a ready archive with --file (stock receivers take any byte stream)',
  '--pack-format': 'send a ready archive with --file',
  '--streaming': 'a stock udp-receiver cannot join a transfer under way (it expects slice 0)',
  '--async': 'not implemented for stock receivers here',
  '--slice-blocks': 'use --max-slice-size',
};

/** Options only udpcast's protocol has (refused under --protocol rackcast). */
const UDPCAST_ONLY = [
  '--full-duplex',
  '--half-duplex',
  '--pointopoint',
  '--nopointopoint',
  '--mcast-all-address',
  '--max-slice-size',
  '--rexmit-hello-interval',
  '--repair',
];

function optionName(arg: string): string {
  return arg.split('=')[0]!;
}

/** The protocol asked for with --protocol NAME or --protocol=NAME (default rackcast). */
export function protocolOf(argv: readonly string[]): 'rackcast' | 'udpcast' {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = a === '--protocol' ? argv[i + 1] : a.startsWith('--protocol=') ? a.slice('--protocol='.length) : undefined;
    if (v === undefined) continue;
    if (v === 'rackcast' || v === 'udpcast') return v;
    throw new UsageError(`--protocol: expected rackcast or udpcast, got "${v ?? ''}"`);
  }
  return 'rackcast';
}

/** The first udpcast-only option in argv, with the line that refuses it under rackcast's protocol. */
export function udpcastOnlyOptionIn(argv: readonly string[]): string | undefined {
  const hit = argv.map(optionName).find((a) => UDPCAST_ONLY.includes(a));
  return hit === undefined ? undefined : `${hit} is an option of udpcast's protocol: add --protocol udpcast (for stock udp-receivers)`;
}

export interface UdpcastArgs {
  readonly core: Omit<UdpcastSenderConfig, 'coder'>;
  readonly net: UdpcastNetConfig;
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  readonly keyboard: boolean;
  readonly log: string | undefined;
  readonly json: boolean;
  readonly io: IoChoice;
}

interface Raw {
  file?: string;
  pipe?: string;
  portbase: string;
  interface?: string;
  mcastDataAddress?: string;
  mcastRdvAddress?: string;
  mcastAllAddress?: string;
  ttl: string;
  blocksize?: string;
  maxSliceSize?: string;
  minReceivers?: string;
  minWait?: string;
  maxWait?: string;
  nokbd?: boolean;
  retriesUntilDrop: string;
  maxBitrate?: string;
  fullDuplex?: boolean;
  halfDuplex?: boolean;
  pointopoint?: boolean;
  nopointopoint?: boolean;
  fec?: string;
  rexmitHelloInterval?: string;
  repair: 'auto' | 'parity' | 'data';
  log?: string;
  json?: boolean;
  io: IoChoice;
}

export function udpcastProgram(): Command {
  const cmd = new Command('udp-sender')
    .description("Send an image to stock udp-receivers (udpcast's protocol)")
    .addOption(new Option('--protocol <name>', 'wire protocol').choices(['rackcast', 'udpcast']))
    .option('-f, --file <path>', 'image to send (default: stdin)')
    .option('-p, --pipe <cmd>', 'send the image through this shell command first')
    .option('--portbase <n>', 'receivers on port N, this sender on N+1', '9000')
    .option('-i, --interface <if|addr>', 'network interface')
    .option('--mcast-data-address <addr>', 'data group (default: 239.x.y.z from the interface address)')
    .option('--mcast-rdv-address <addr>', 'rendezvous address: a group, or a unicast address')
    .option('--mcast-all-address <addr>', 'old name of --mcast-rdv-address')
    .option('--ttl <n>', 'multicast TTL', '1')
    .option('--blocksize <bytes>', `payload bytes per datagram (default ${DEFAULT_BLOCK_BYTES})`)
    .option('--max-slice-size <blocks>', `blocks per slice (default ${MAX_SLICE_BLOCKS}; with --fec, stripes x stripesize)`)
    .option('--min-receivers <n>', 'start as soon as N receivers have connected')
    .option('--min-wait <s>', 'with --min-receivers: wait at least S seconds after the first connection')
    .option('--max-wait <s>', 'start S seconds after the first connection, even with fewer receivers')
    .option('--nokbd', 'do not wait for Enter to start')
    .option('--retries-until-drop <n>', 'drop a receiver after N REQACK rounds without an answer, or a slice it cannot finish in N rounds', '200')
    .option('--max-bitrate <rate>', 'never send faster than this, e.g. 600m (the pacer adapts below it)')
    .option('--full-duplex', 'send the next slice while one awaits its acknowledgements (the default)')
    .option('--half-duplex', 'one slice at a time')
    .option('--pointopoint', 'unicast the data to the single receiver')
    .option('--nopointopoint', 'multicast even to a single receiver')
    .option('--fec <SxR/Z>', 'udpcast FEC: S stripes of Z blocks per slice, R parity blocks per stripe sent with the data (e.g. 8x4/128)')
    .option('--rexmit-hello-interval <ms>', 'HELLO repeat interval before the start', '1000')
    .addOption(
      new Option('--repair <how>', 'repair: auto or data (the missing data blocks), or parity (fresh udpcast FEC rows; see the README)')
        .choices(['auto', 'parity', 'data'])
        .default('auto'),
    )
    .option('--log <file>', 'JSON logs (pino)')
    .option('--json', 'a machine-readable report on stdout at the end')
    .addOption(new Option('--io <path>', 'UDP path').choices(IO_CHOICES).default(defaultIoChoice()))
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  for (const name of Object.keys(RACKCAST_ONLY)) cmd.addOption(new Option(`${name} [value]`).hideHelp());
  return cmd;
}

export function parseUdpcastArgs(argv: readonly string[], stdinIsTty: boolean): UdpcastArgs {
  const cmd = udpcastProgram();
  cmd.parse(argv as string[], { from: 'user' });
  if (cmd.args.length > 0) throw new UsageError(`unexpected argument: ${cmd.args[0]}`);
  for (const a of argv.map(optionName)) {
    if (RACKCAST_ONLY[a] !== undefined) throw new UsageError(`${a} is not for --protocol udpcast: ${RACKCAST_ONLY[a]}`);
  }
  const o = cmd.opts<Raw>();
  if (o.fullDuplex === true && o.halfDuplex === true) throw new UsageError('--full-duplex and --half-duplex exclude each other');
  if (o.pointopoint === true && o.nopointopoint === true) throw new UsageError('--pointopoint and --nopointopoint exclude each other');
  if (o.mcastRdvAddress !== undefined && o.mcastAllAddress !== undefined && o.mcastRdvAddress !== o.mcastAllAddress) {
    throw new UsageError('--mcast-rdv-address and --mcast-all-address (its old name) disagree');
  }
  const portbase = parseIntIn(o.portbase, '--portbase', 1, 65534);
  const ttl = parseIntIn(o.ttl, '--ttl', 1, 255);
  const iface = resolveUdpcastInterface(o.interface);
  const rdvArg = o.mcastRdvAddress ?? o.mcastAllAddress;
  const rendezvous = rendezvousAddress(
    iface,
    rdvArg === undefined ? undefined : checkRendezvous(rdvArg, o.mcastRdvAddress !== undefined ? '--mcast-rdv-address' : '--mcast-all-address'),
    ttl,
  );
  const dataGroup = o.mcastDataAddress === undefined ? defaultDataGroup(iface) : checkMulticast(o.mcastDataAddress, '--mcast-data-address');
  // udpcast rounds the block size down to a multiple of 4; datagrams must not fragment.
  const mtu = interfaceMtu(iface.address);
  const maxBlock = mtu === undefined ? DEFAULT_BLOCK_BYTES : Math.min(65507, mtu.mtu) - IP_UDP_HEADER_BYTES - DATA_HEADER_SIZE;
  let blockBytes = o.blocksize === undefined ? Math.min(DEFAULT_BLOCK_BYTES, maxBlock) : parseIntIn(o.blocksize, '--blocksize', 4, 65535);
  blockBytes -= blockBytes % 4;
  if (blockBytes > maxBlock)
    throw new UsageError(
      `--blocksize ${blockBytes}: datagrams would exceed the MTU ${mtu?.mtu} of ${iface.name} and fragment; at most ${maxBlock - (maxBlock % 4)}`,
    );
  let fec: { stripes: number; redundancy: number } | undefined;
  let sliceBlocks = o.maxSliceSize === undefined ? MAX_SLICE_BLOCKS : parseIntIn(o.maxSliceSize, '--max-slice-size', 1, MAX_SLICE_BLOCKS);
  if (o.fec !== undefined) {
    const m = /^(\d+)x(\d+)(?:\/(\d+))?$/.exec(o.fec.trim());
    if (m === null) throw new UsageError(`--fec: expected <stripes>x<redundancy>/<stripesize>, e.g. 8x4/128, got "${o.fec}"`);
    const stripes = Number(m[1]);
    const redundancy = Number(m[2]);
    const stripeSize = m[3] === undefined ? MAX_STRIPE_BLOCKS : Number(m[3]);
    if (stripes < 1 || stripes > MAX_FEC_STRIPES) throw new UsageError(`--fec: stripes must be 1..${MAX_FEC_STRIPES}, got ${stripes}`);
    if (redundancy < 0 || redundancy > MAX_STRIPE_BLOCKS) throw new UsageError(`--fec: redundancy must be 0..${MAX_STRIPE_BLOCKS}, got ${redundancy}`);
    if (stripeSize < 1 || stripeSize > MAX_STRIPE_BLOCKS) throw new UsageError(`--fec: stripesize must be 1..${MAX_STRIPE_BLOCKS}, got ${stripeSize}`);
    sliceBlocks = Math.min(o.maxSliceSize === undefined ? MAX_SLICE_BLOCKS : sliceBlocks, stripes * stripeSize, MAX_SLICE_BLOCKS);
    if (minStripes(sliceBlocks) > stripes)
      throw new UsageError(`--fec ${o.fec}: a slice of ${sliceBlocks} blocks needs at least ${minStripes(sliceBlocks)} stripes`);
    fec = { stripes, redundancy };
  }
  const minReceivers = o.minReceivers === undefined ? 0 : parseIntIn(o.minReceivers, '--min-receivers', 1, 1024);
  const minWaitMs = o.minWait === undefined ? 0 : parseSeconds(o.minWait, '--min-wait');
  const maxWaitMs = o.maxWait === undefined ? undefined : parseSeconds(o.maxWait, '--max-wait');
  const keyboard = o.nokbd !== true && stdinIsTty && o.file !== undefined;
  if (!keyboard && minReceivers === 0 && maxWaitMs === undefined) {
    throw new UsageError(
      o.nokbd === true || o.file === undefined
        ? 'nothing would start the transfer: give --min-receivers N or --max-wait S (or press a key on a receiver: GO)'
        : 'stdin is not a terminal, so Enter cannot start the transfer: give --min-receivers N or --max-wait S',
    );
  }
  const maxBitrate = o.maxBitrate === undefined ? undefined : parseBitrate(o.maxBitrate);
  const maxRateBps = maxBitrate ?? 10e9;
  return {
    core: {
      blockBytes,
      sliceBlocks,
      fec,
      // Parity takes fewer datagrams when receivers lose different blocks, but a stock
      // receiver decodes it on its own CPU (k x lost x block bytes per stripe): in the lab
      // (2 cores for sender and receivers) data repair was faster. And udpcast's own sender
      // never sends FEC rows beyond --fec's in a repair round: with them, a stock receiver
      // exited mid-transfer in 2 of about 30 lab runs (cause not found). So repairs are the
      // missing data blocks unless --repair parity asks for parity.
      parityRepair: o.repair === 'parity',
      dataGroup,
      pointToPoint: o.pointopoint === true ? 'always' : o.nopointopoint === true ? 'never' : 'auto',
      maxInFlightSlices: o.halfDuplex === true ? 1 : 2,
      minReceivers,
      minWaitMs,
      maxWaitMs,
      waitForKey: keyboard,
      startGraceMs: 500,
      helloIntervalMs: parseIntIn(o.rexmitHelloInterval ?? '1000', '--rexmit-hello-interval', 10, 3_600_000),
      // A receiver that missed the HELLO cost the start a whole interval (about 1 s in a fifth
      // of the lab runs at 5% loss and 4 receivers); a 28-byte HELLO every 100 ms until
      // --min-receivers are in costs nothing, and connected receivers ignore it.
      helloShortMs: 100,
      retriesUntilDrop: parseIntIn(o.retriesUntilDrop, '--retries-until-drop', 1, 1_000_000),
      roundMinMs: 25,
      roundMaxMs: 1000,
      // A lost REQACK used to cost a whole round timeout (25 ms, more than a slice's first
      // pass): at 10% loss and 4 receivers a third of the rounds timed out. Two copies, and
      // a repeat after twice the usual answer delay, cost a few 144-byte datagrams per round.
      reqackCopies: 2,
      reqackRepeatMinMs: 2,
      pacing: {
        startRateBps: Math.min(maxRateBps, 800e6),
        minRateBps: Math.min(maxRateBps, 100e6),
        maxRateBps,
        burstBytes: 64 * (blockBytes + DATA_HEADER_SIZE + 66),
        fixed: false,
      },
    },
    net: { iface, portbase, ttl, rendezvous, helloTo: helloDestinations(iface, rendezvous) },
    file: o.file,
    pipe: o.pipe,
    keyboard,
    log: o.log,
    json: o.json === true,
    io: o.io,
  };
}
