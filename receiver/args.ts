// udp-receiver's options: commander → parse → validate (docs/ARCHITECTURE.md, principle 5). Kept apart from
// cli.ts so tests can parse without starting a receiver.

import { Command, Option } from 'commander';
import type { AuthMode } from '../common/auth/seal.js';
import { UsageError } from '../common/errors.js';
import { checkMulticast, resolveInterface } from '../common/net.js';
import { defaultIoChoice, IO_CHOICES, type IoChoice } from '../common/udp/select.js';
import { parseIntIn, parseSeconds } from '../common/units.js';
import type { DecompressMode } from './decompress.js';
import type { ReceiverCoreOptions, ReceiverNetConfig } from './driver.js';

export const DEFAULT_PORTBASE = 9000;
export const DEFAULT_RDV_GROUP = '239.192.67.2';

interface RawOptions {
  file?: string;
  pipe?: string;
  portbase: string;
  interface?: string;
  mcastRdvAddress: string;
  ttl: string;
  startTimeout?: string;
  receiveTimeout: string;
  nokbd?: boolean;
  log?: string;
  json?: boolean;
  unpack?: string;
  decompress: DecompressMode;
  sparse?: boolean;
  force?: boolean;
  io: IoChoice;
  keyFile?: string;
  encrypt?: boolean;
}

export interface ReceiverArgs {
  readonly core: Omit<ReceiverCoreOptions, 'coder'>;
  readonly net: ReceiverNetConfig;
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  readonly log: string | undefined;
  readonly json: boolean;
  /** Extract the (decompressed) cpio archive into this directory. */
  readonly unpack: string | undefined;
  readonly decompress: DecompressMode;
  readonly sparse: boolean;
  readonly force: boolean;
  /** --key-file and the mode: only sealed datagrams from key holders are heard. */
  readonly auth: { readonly keyFile: string; readonly mode: AuthMode } | undefined;
}

export function program(): Command {
  return new Command('udp-receiver')
    .description('Receive an image from udp-sender over UDP multicast and verify it (rackcast).')
    .option('-f, --file <path>', 'where to write the image: a file or block device (default: stdout)')
    .option('-p, --pipe <cmd>', 'write the image through this shell command, e.g. "gzip -dc"')
    .option('--portbase <n>', 'UDP ports: data on N, control on N+1', String(DEFAULT_PORTBASE))
    .option('-i, --interface <if|addr>', 'network interface (name or IPv4 address) to use')
    .option('--mcast-rdv-address <addr>', 'multicast group for control (rendezvous)', DEFAULT_RDV_GROUP)
    .option('--ttl <n>', 'multicast TTL', '1')
    .option('--start-timeout <s>', 'give up if the transfer has not started after S seconds')
    .option('--receive-timeout <s>', 'give up when the sender is silent for S seconds', '30')
    .option('--nokbd', 'accepted for udpcast compatibility (the receiver never reads the keyboard)')
    .option('--log <file>', 'write JSON logs (pino) to this file')
    .option('--json', 'print a machine-readable report on stdout at the end (needs --file or --unpack)')
    .option('--unpack <dir>', 'extract the image, a cpio archive (newc, crc, odc), into DIR')
    .addOption(
      new Option('--decompress <format>', 'decompress the stream: auto (by its first bytes), gzip, lz4, zstd or none')
        .choices(['auto', 'gzip', 'lz4', 'zstd', 'none'])
        .default('auto'),
    )
    .option('--sparse', 'leave all-zero blocks unwritten on a device (it must read as zeros) and in unpacked files')
    .option('--force', 'write a block device even if it is mounted or in use')
    .option('--key-file <file>', 'pre-shared secret (>= 16 bytes, mode 600): every datagram is authenticated (HMAC-SHA-256)')
    .option('--encrypt', 'with --key-file: also encrypt every datagram (AES-256-GCM)')
    .addOption(new Option('--io <path>', 'UDP path: native (batched, GRO) when available, or node:dgram').choices(IO_CHOICES).default(defaultIoChoice()))
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

export function parseReceiverArgs(argv: readonly string[]): ReceiverArgs {
  const cmd = program();
  cmd.parse(argv as string[], { from: 'user' });
  if (cmd.args.length > 0) throw new UsageError(`unexpected argument: ${cmd.args[0]}`);
  const o = cmd.opts<RawOptions>();
  if (o.json === true && o.file === undefined && o.unpack === undefined) {
    throw new UsageError('--json needs --file or --unpack: without them stdout carries the image');
  }
  if (o.unpack !== undefined && o.file !== undefined) throw new UsageError('--unpack and --file exclude each other');
  if (o.encrypt === true && o.keyFile === undefined) throw new UsageError('--encrypt needs --key-file');
  const receiveTimeoutMs = parseSeconds(o.receiveTimeout, '--receive-timeout');
  if (receiveTimeoutMs <= 0) throw new UsageError('--receive-timeout: must be > 0');
  return {
    core: {
      startTimeoutMs: o.startTimeout === undefined ? undefined : parseSeconds(o.startTimeout, '--start-timeout'),
      receiveTimeoutMs,
      joinIntervalMs: 100,
      heartbeatIntervalMs: 250,
      statusIntervalMs: 500,
      nakBackoffMs: 8,
      repairWaitMs: 30,
      reportIntervalMs: 100,
      reportTries: 30,
      maxQueuedSlices: 16,
    },
    net: {
      interfaceAddress: resolveInterface(o.interface),
      rdvGroup: checkMulticast(o.mcastRdvAddress, '--mcast-rdv-address'),
      portbase: parseIntIn(o.portbase, '--portbase', 1, 65534),
      ttl: parseIntIn(o.ttl, '--ttl', 0, 255),
      rcvBufBytes: 8 << 20,
      io: o.io,
    },
    file: o.file,
    pipe: o.pipe,
    log: o.log,
    json: o.json === true,
    unpack: o.unpack,
    decompress: o.decompress,
    sparse: o.sparse === true,
    force: o.force === true,
    auth: o.keyFile === undefined ? undefined : { keyFile: o.keyFile, mode: o.encrypt === true ? 'encrypt' : 'mac' },
  };
}
