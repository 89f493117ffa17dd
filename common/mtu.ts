// The MTU of the interface rackcast sends on, so the block size can follow it (jumbo
// frames: MTU 9000 → ~8900-byte blocks). Linux exposes it in /sys/class/net/NAME/mtu;
// the interface is the one holding --interface's address, or the default route's.

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** IPv4 (20) + UDP (8): what a datagram adds to its payload on the wire. */
export const IP_UDP_HEADER_BYTES = 28;
/**
 * Blocks never grow past what a 9000-byte MTU carries: loopback's 65536 would make
 * datagrams whose kernel cost (and loss cost) is out of proportion to their gain.
 */
export const MAX_USEFUL_MTU = 9000;

export interface InterfaceMtu {
  readonly name: string;
  readonly mtu: number;
}

function readMtu(name: string): number | undefined {
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isInteger(n) && n >= 576 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The interface of the IPv4 default route, from /proc/net/route (first match). */
function defaultRouteInterface(): string | undefined {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 7 && f[1] === '00000000' && f[7] === '00000000') return f[0];
    }
  } catch {
    // not Linux, or no /proc: the caller falls back to the default block size
  }
  return undefined;
}

/** The MTU for an interface address (undefined: the default route's interface); undefined if unknown. */
export function interfaceMtu(address: string | undefined): InterfaceMtu | undefined {
  let name: string | undefined;
  if (address === undefined) {
    name = defaultRouteInterface();
  } else {
    for (const [n, list] of Object.entries(networkInterfaces())) {
      if (list?.some((a) => a.family === 'IPv4' && a.address === address)) {
        name = n;
        break;
      }
    }
  }
  if (name === undefined) return undefined;
  const mtu = readMtu(name);
  return mtu === undefined ? undefined : { name, mtu };
}

/** Payload bytes per datagram for an MTU: what is left after IP, UDP, the DATA header and a trailer. */
export function blockBytesForMtu(mtu: number, dataHeaderBytes: number, trailerBytes: number): number {
  return Math.min(mtu, MAX_USEFUL_MTU) - IP_UDP_HEADER_BYTES - dataHeaderBytes - trailerBytes;
}
