// Picks the drivers' UDP path once at start-up: `--io auto|native|dgram`.
//
// auto: the native addon (native/udp-native.ts: GSO/GRO, batched syscalls) when it loads
// and the kernel has what it needs, else node:dgram; the caller logs the choice once.
// native: the addon or a one-line error (exit 2). dgram: always node:dgram.

import { UsageError } from '../common/errors.js';
import { DgramUdpSocket, type IoPath, type UdpSocket } from './udp-socket.js';

export type IoChoice = 'auto' | IoPath;

export const IO_CHOICES: readonly IoChoice[] = ['auto', 'native', 'dgram'];

export interface UdpFactory {
  readonly path: IoPath;
  /** "native (gso+gro)" or "dgram (native: <why not>)", for the one start-up line. */
  readonly description: string;
  create(opts: { readonly reuseAddr?: boolean }): UdpSocket;
}

export function udpFactory(choice: IoChoice): UdpFactory {
  if (choice !== 'dgram') {
    const n = { ok: false, reason: 'not built yet' } as const; // NATIVE-WIRING: replaced by loadNativeUdp()
    if (choice === 'native') throw new UsageError(`--io native: the native UDP addon is not available: ${n.reason}`);
    return { path: 'dgram', description: `dgram (native unavailable: ${n.reason})`, create: (o) => new DgramUdpSocket(o) };
  }
  return { path: 'dgram', description: 'dgram (--io dgram)', create: (o) => new DgramUdpSocket(o) };
}
