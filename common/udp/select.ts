// Picks the drivers' UDP path once at start-up: `--io auto|native|dgram`.
//
// auto: the native addon (common/udp/native.ts: GSO/GRO, batched syscalls) when it loads
// and the kernel has what it needs, else node:dgram; the caller logs the choice once.
// native: the addon or a one-line error (exit 2). dgram: always node:dgram.

import { UsageError } from '../errors.js';
import { DgramUdpSocket } from './dgram.js';
import { loadNativeUdp, NativeUdpSocket } from './native.js';
import type { IoPath, UdpSocket } from './socket.js';

export type IoChoice = 'auto' | IoPath;

export const IO_CHOICES: readonly IoChoice[] = ['auto', 'native', 'dgram'];

/** Environment variable that sets --io's default (tests run the integration suite on each path). */
export const IO_ENV = 'RACKCAST_IO';

/** --io's default: $RACKCAST_IO when it names a path, else auto. */
export function defaultIoChoice(): IoChoice {
  const v = process.env[IO_ENV];
  if (v === undefined || v === '') return 'auto';
  if (!(IO_CHOICES as readonly string[]).includes(v)) throw new UsageError(`${IO_ENV}=${v}: expected one of ${IO_CHOICES.join(', ')}`);
  return v as IoChoice;
}

export interface UdpFactory {
  readonly path: IoPath;
  /** "native (gso+gro)" or "dgram (native: <why not>)", for the one start-up line. */
  readonly description: string;
  /** sendThread: the native path makes this socket's send syscalls on a thread of their own (dgram ignores it). */
  create(opts: { readonly reuseAddr?: boolean; readonly sendThread?: boolean }): UdpSocket;
}

export function udpFactory(choice: IoChoice): UdpFactory {
  if (choice !== 'dgram') {
    const n = loadNativeUdp();
    if (n.ok) {
      return { path: 'native', description: `native (${n.features})`, create: (o) => new NativeUdpSocket(o) };
    }
    if (choice === 'native') throw new UsageError(`--io native: the native UDP addon is not available: ${n.reason}`);
    return { path: 'dgram', description: `dgram (native unavailable: ${n.reason})`, create: (o) => new DgramUdpSocket(o) };
  }
  return { path: 'dgram', description: 'dgram (--io dgram)', create: (o) => new DgramUdpSocket(o) };
}

/**
 * A factory whose sockets are `wrap`ped (e.g. sealed with --key-file); the description
 * gains `what`.
 */
export function decorateUdp(f: UdpFactory, what: string, wrap: (s: UdpSocket) => UdpSocket): UdpFactory {
  return { path: f.path, description: `${f.description}, ${what}`, create: (o) => wrap(f.create(o)) };
}
