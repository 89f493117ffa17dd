// udp-sender's options: commander → parse → validate → a plain config the CLI freezes
// (STYLE 10). Kept apart from cli.ts so tests can parse without starting a sender.

import { Command, Option } from 'commander';
import { UsageError } from '../common/errors.js';
import { checkMulticast, resolveInterface } from '../common/net.js';
import { parseBitrate, parseIntIn, parseSeconds } from '../common/units.js';
import { DATA_HEADER_SIZE } from '../protocol/messages/data.js';
import { MAX_BLOCK_BYTES, MIN_BLOCK_BYTES } from '../protocol/messages/hello.js';
import type { SenderConfig } from './core.js';
import type { SenderNetConfig } from './driver.js';

export const DEFAULT_PORTBASE = 9000;
export const DEFAULT_DATA_GROUP = '239.192.67.1';
export const DEFAULT_RDV_GROUP = '239.192.67.2';
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
  sliceBlocks: string;
  minReceivers?: string;
  minWait?: string;
  maxWait?: string;
  kbd: boolean;
  retriesUntilDrop: string;
  maxBitrate?: string;
  log?: string;
  json?: boolean;
}

export interface SenderArgs {
  readonly core: Omit<SenderConfig, 'sessionId' | 'imageBytes' | 'coder'>;
  readonly net: SenderNetConfig;
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  readonly keyboard: boolean;
  readonly log: string | undefined;
  readonly json: boolean;
}

export function program(): Command {
  return new Command('udp-sender')
    .description('Send an image to every udp-receiver over UDP multicast (rackcast).')
    .option('-f, --file <path>', 'image to send: a file or block device (default: stdin)')
    .option('-p, --pipe <cmd>', 'send the image through this shell command first, e.g. "gzip -c"')
    .option('--portbase <n>', 'UDP ports: data on N, control on N+1', String(DEFAULT_PORTBASE))
    .option('-i, --interface <if|addr>', 'network interface (name or IPv4 address) to use')
    .option('--mcast-data-address <addr>', 'multicast group for the data', DEFAULT_DATA_GROUP)
    .option('--mcast-rdv-address <addr>', 'multicast group for control (rendezvous)', DEFAULT_RDV_GROUP)
    .option('--ttl <n>', 'multicast TTL', '1')
    .option('--blocksize <bytes>', `payload bytes per datagram (default ${DEFAULT_BLOCK_BYTES}, for MTU 1500)`)
    .addOption(new Option('--slice-blocks <n>', 'blocks per slice').default('128').hideHelp())
    .option('--min-receivers <n>', 'start as soon as N receivers have joined')
    .option('--min-wait <s>', 'with --min-receivers: wait at least S seconds after the first join')
    .option('--max-wait <s>', 'start S seconds after the first join even with fewer receivers')
    .option('--nokbd', 'do not wait for Enter on the terminal to start')
    .option('--retries-until-drop <n>', 'drop a receiver after N unanswered rounds (25 ms apart)', '200')
    .option('--max-bitrate <rate>', 'pace the data, e.g. 600m for 600 Mbit/s')
    .option('--log <file>', 'write JSON logs (pino) to this file')
    .option('--json', 'print a machine-readable report on stdout at the end')
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
  const blockBytes =
    o.blocksize === undefined ? DEFAULT_BLOCK_BYTES : parseIntIn(o.blocksize, '--blocksize', MIN_BLOCK_BYTES, MAX_BLOCK_BYTES);
  const sliceBlocks = parseIntIn(o.sliceBlocks, '--slice-blocks', 1, 255);
  const minReceivers = o.minReceivers === undefined ? 0 : parseIntIn(o.minReceivers, '--min-receivers', 1, 65535);
  const minWaitMs = o.minWait === undefined ? 0 : parseSeconds(o.minWait, '--min-wait');
  const maxWaitMs = o.maxWait === undefined ? undefined : parseSeconds(o.maxWait, '--max-wait');
  const dataGroup = checkMulticast(o.mcastDataAddress, '--mcast-data-address');
  const rdvGroup = checkMulticast(o.mcastRdvAddress, '--mcast-rdv-address');
  // The data source is stdin unless --file: then Enter cannot be read from it.
  const keyboard = o.kbd !== false && stdinIsTty && o.file !== undefined;
  if (!keyboard && minReceivers === 0 && maxWaitMs === undefined) {
    throw new UsageError(
      o.kbd === false || o.file === undefined
        ? 'nothing would start the transfer: give --min-receivers N or --max-wait S'
        : 'stdin is not a terminal, so Enter cannot start the transfer: give --min-receivers N or --max-wait S',
    );
  }
  return {
    core: {
      blockBytes,
      sliceBlocks,
      stripes: 1,
      dataGroup,
      dataPort: portbase,
      retainSlices: 64,
      minReceivers,
      minWaitMs,
      maxWaitMs,
      waitForKey: keyboard,
      maxReceivers: 1024,
      retriesUntilDrop: parseIntIn(o.retriesUntilDrop, '--retries-until-drop', 1, 1_000_000),
      maxBitrateBps: o.maxBitrate === undefined ? undefined : parseBitrate(o.maxBitrate),
      helloIntervalMs: 200,
      reqackIntervalMs: 25,
      endIntervalMs: 100,
      nakHoldMs: 15,
      windowPacketsMax: 4096,
    },
    net: {
      interfaceAddress: resolveInterface(o.interface),
      rdvGroup,
      portbase,
      ttl: parseIntIn(o.ttl, '--ttl', 0, 255),
    },
    file: o.file,
    pipe: o.pipe,
    keyboard,
    log: o.log,
    json: o.json === true,
  };
}

