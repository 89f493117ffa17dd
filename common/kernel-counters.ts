// What the kernel counted while a transfer ran, for the line a node prints when it stalls:
// datagrams the UDP layer dropped (no room in a socket's buffer, a bad checksum) and frames
// the NIC took or dropped never reach the receiver's own counters. Linux keeps them in
// /proc/net/snmp (per network namespace) and /sys/class/net/NAME/statistics. Elsewhere, or
// without /proc, a snapshot is empty and the line says nothing.

import { readdirSync, readFileSync } from 'node:fs';

/** The Udp counters of /proc/net/snmp worth a line: what reached sockets and what the kernel dropped. */
export const UDP_COUNTERS = ['InDatagrams', 'NoPorts', 'InErrors', 'RcvbufErrors', 'InCsumErrors'] as const;
export type UdpCounter = (typeof UDP_COUNTERS)[number];

/** Per interface (loopback left out): frames received, and frames the driver or the stack dropped. */
export interface NicCounters {
  readonly rxPackets: number;
  readonly rxDropped: number;
}

export interface KernelCounters {
  readonly udp: Partial<Record<UdpCounter, number>>;
  readonly nics: ReadonlyMap<string, NicCounters>;
}

/** The Udp counters of a /proc/net/snmp text (a header line of names, then a line of values). */
export function parseSnmpUdp(text: string): Partial<Record<UdpCounter, number>> {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const out: Partial<Record<UdpCounter, number>> = {};
  if (lines.length < 2) return out;
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  for (const c of UDP_COUNTERS) {
    const i = names.indexOf(c);
    const v = i < 1 ? Number.NaN : Number(values[i]);
    if (Number.isFinite(v)) out[c] = v;
  }
  return out;
}

function readNumber(path: string): number | undefined {
  try {
    const v = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The counters now (what cannot be read is left out). */
export function readKernelCounters(): KernelCounters {
  let udp: Partial<Record<UdpCounter, number>> = {};
  try {
    udp = parseSnmpUdp(readFileSync('/proc/net/snmp', 'utf8'));
  } catch {
    // not Linux, or no /proc
  }
  const nics = new Map<string, NicCounters>();
  let names: string[] = [];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    // no sysfs
  }
  for (const name of names) {
    if (name === 'lo') continue;
    const rxPackets = readNumber(`/sys/class/net/${name}/statistics/rx_packets`);
    const rxDropped = readNumber(`/sys/class/net/${name}/statistics/rx_dropped`);
    if (rxPackets !== undefined && rxDropped !== undefined) nics.set(name, { rxPackets, rxDropped });
  }
  return { udp, nics };
}

/**
 * One line of what changed from `before` to `after`: every UDP counter (zeros too: a zero
 * RcvbufErrors is an answer), and each interface that received anything. Empty when nothing
 * could be read.
 */
export function kernelCountersLine(before: KernelCounters, after: KernelCounters): string {
  const parts: string[] = [];
  const udp: string[] = [];
  for (const c of UDP_COUNTERS) {
    const a = after.udp[c];
    const b = before.udp[c];
    if (a !== undefined && b !== undefined) udp.push(`${c} ${a - b}`);
  }
  if (udp.length > 0) parts.push(`UDP ${udp.join(', ')}`);
  for (const [name, a] of after.nics) {
    const b = before.nics.get(name);
    if (b === undefined || a.rxPackets === b.rxPackets) continue;
    parts.push(`${name} received ${a.rxPackets - b.rxPackets} frames, dropped ${a.rxDropped - b.rxDropped}`);
  }
  return parts.length === 0 ? '' : `kernel counters during the transfer: ${parts.join('; ')}`;
}
