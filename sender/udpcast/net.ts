// Where udpcast's sender talks (docs/udpcast-wire.md §2): the interface, its address and
// subnet broadcast, the rendezvous address C and the data group. udpcast's rules:
//   C = --mcast-rdv-address if given (a group or a unicast address); else, with --ttl 1,
//       the interface's subnet broadcast (on `lo`, which has none, its own address);
//       else 224.0.0.1.
//   data group = --mcast-data-address, else derived from the interface address. udpcast
//       derives 232.x.y.z up to 2020 (receivers of 2023 join 232/8 source-specifically) and
//       233.254/15 since; this sender derives 239.x.y.z (organization-local scope), which
//       every version joins plainly.

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { UsageError } from '../../common/errors.js';
import { isMulticast } from '../../common/net.js';
import { isIpv4 } from '../../protocol/ipv4.js';

export interface UdpcastInterface {
  readonly name: string;
  readonly address: string;
  /** Subnet broadcast address; undefined on loopback and point-to-point links. */
  readonly broadcast: string | undefined;
  readonly loopback: boolean;
}

function toInt(a: string): number {
  return a.split('.').reduce((n, p) => (n << 8) | Number(p), 0) >>> 0;
}

function toDotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function defaultRouteInterface(): string | undefined {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 7 && f[1] === '00000000' && f[7] === '00000000') return f[0];
    }
  } catch {
    // no /proc: fall back to the first interface below
  }
  return undefined;
}

/** --interface NAME|ADDRESS, or the default route's interface, or the first non-loopback one, or lo. */
export function resolveUdpcastInterface(spec: string | undefined): UdpcastInterface {
  const ifs = networkInterfaces();
  const entries = Object.entries(ifs).flatMap(([name, list]) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ name, a })));
  let pick: (typeof entries)[number] | undefined;
  if (spec !== undefined) {
    pick = isIpv4(spec) ? entries.find((e) => e.a.address === spec) : entries.find((e) => e.name === spec);
    if (pick === undefined) throw new UsageError(`--interface: no interface ${isIpv4(spec) ? 'has address' : 'named'} ${spec} (with an IPv4 address)`);
  } else {
    const route = defaultRouteInterface();
    pick = entries.find((e) => e.name === route) ?? entries.find((e) => !e.a.internal) ?? entries[0];
    if (pick === undefined) throw new UsageError('no network interface with an IPv4 address');
  }
  const loopback = pick.a.internal;
  const mask = toInt(pick.a.netmask);
  const broadcast = loopback || mask === 0xffffffff ? undefined : toDotted((toInt(pick.a.address) | ~mask) >>> 0);
  return { name: pick.name, address: pick.a.address, broadcast, loopback };
}

export function rendezvousAddress(iface: UdpcastInterface, rdv: string | undefined, ttl: number): string {
  if (rdv !== undefined) return rdv;
  if (ttl === 1) return iface.broadcast ?? iface.address;
  return '224.0.0.1';
}

/** Where HELLO goes: C, and the subnet broadcast too, which every stock receiver hears (its S_BCAST socket), so receivers started before the sender with a unicast rendezvous (FOG's) are found. */
export function helloDestinations(iface: UdpcastInterface, rendezvous: string): string[] {
  const out = [rendezvous];
  if (iface.broadcast !== undefined && iface.broadcast !== rendezvous) out.push(iface.broadcast);
  return out;
}

export function defaultDataGroup(iface: UdpcastInterface): string {
  return toDotted(((239 << 24) | (toInt(iface.address) & 0x00ffffff)) >>> 0);
}

export function checkRendezvous(a: string, option: string): string {
  if (!isIpv4(a)) throw new UsageError(`${option}: not an IPv4 address: "${a}"`);
  return a;
}

export { isMulticast };
