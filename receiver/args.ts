// udp-receiver's options: commander → parse → validate (STYLE 10). Kept apart from
// cli.ts so tests can parse without starting a receiver.

import { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import { checkMulticast, resolveInterface } from '../common/net.js';
import { parseIntIn, parseSeconds } from '../common/units.js';
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
}

export interface ReceiverArgs {
  readonly core: Omit<ReceiverCoreOptions, 'coder'>;
  readonly net: ReceiverNetConfig;
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  readonly log: string | undefined;
  readonly json: boolean;
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
    .option('--json', 'print a machine-readable report on stdout at the end (needs --file)')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

export function parseReceiverArgs(argv: readonly string[]): ReceiverArgs {
  const cmd = program();
  cmd.parse(argv as string[], { from: 'user' });
  if (cmd.args.length > 0) throw new UsageError(`unexpected argument: ${cmd.args[0]}`);
  const o = cmd.opts<RawOptions>();
  if (o.json === true && o.file === undefined) {
    throw new UsageError('--json needs --file: without it stdout carries the image');
  }
  const receiveTimeoutMs = parseSeconds(o.receiveTimeout, '--receive-timeout');
  if (receiveTimeoutMs <= 0) throw new UsageError('--receive-timeout: must be > 0');
  return {
    core: {
      startTimeoutMs: o.startTimeout === undefined ? undefined : parseSeconds(o.startTimeout, '--start-timeout'),
      receiveTimeoutMs,
      joinIntervalMs: 100,
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
    },
    file: o.file,
    pipe: o.pipe,
    log: o.log,
    json: o.json === true,
  };
}
