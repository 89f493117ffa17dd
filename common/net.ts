// --interface IF|ADDR → the IPv4 address multicast is sent from and joined on;
// multicast address checks.

import { networkInterfaces } from 'node:os';
import { isIpv4, isMulticastU32, parseIpv4 } from '../protocol/ipv4.js';
import { UsageError } from './errors.js';

export function isMulticast(s: string): boolean {
  const n = parseIpv4(s);
  return n !== undefined && isMulticastU32(n);
}

export function checkMulticast(s: string, option: string): string {
  if (!isMulticast(s)) throw new UsageError(`${option}: not an IPv4 multicast address (224.0.0.0/4): "${s}"`);
  return s;
}

/** An interface name or one of this host's IPv4 addresses; undefined lets the kernel choose by route. */
export function resolveInterface(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  const ifs = networkInterfaces();
  if (isIpv4(spec)) {
    for (const list of Object.values(ifs)) {
      if (list?.some((a) => a.family === 'IPv4' && a.address === spec)) return spec;
    }
    throw new UsageError(`--interface: no interface has address ${spec}`);
  }
  const list = ifs[spec];
  if (list === undefined) throw new UsageError(`--interface: no such interface: "${spec}"`);
  const a = list.find((x) => x.family === 'IPv4');
  if (a === undefined) throw new UsageError(`--interface: ${spec} has no IPv4 address`);
  return a.address;
}
