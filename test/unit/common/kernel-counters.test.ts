import { describe, expect, it } from 'vitest';
import { type KernelCounters, kernelCountersLine, parseSnmpUdp, readKernelCounters } from '../../../common/kernel-counters.js';

// The Udp lines of a real /proc/net/snmp (Linux 6.1), other lines around them.
const SNMP = [
  'Ip: Forwarding DefaultTTL InReceives',
  'Ip: 1 64 12345',
  'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
  'Udp: 23408 3 7 3000 5 0 2 0 0',
  'UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
  'UdpLite: 0 0 0 0 0 0 0 0 0',
  '',
].join('\n');

describe('kernel counters', () => {
  it('reads the Udp counters by name, not by position', () => {
    expect(parseSnmpUdp(SNMP)).toEqual({ InDatagrams: 23408, NoPorts: 3, InErrors: 7, RcvbufErrors: 5, InCsumErrors: 2 });
    // An older kernel without InCsumErrors: the others still read.
    const old = 'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\nUdp: 10 1 2 3 4\n';
    expect(parseSnmpUdp(old)).toEqual({ InDatagrams: 10, NoPorts: 1, InErrors: 2, RcvbufErrors: 4 });
    expect(parseSnmpUdp('')).toEqual({});
    expect(parseSnmpUdp('Udp: InDatagrams\nUdp: x\n')).toEqual({});
  });

  it('says what changed, zeros included, and each interface that received anything', () => {
    const before: KernelCounters = {
      udp: { InDatagrams: 100, NoPorts: 0, InErrors: 0, RcvbufErrors: 0, InCsumErrors: 0 },
      nics: new Map([
        ['eth0', { rxPackets: 50, rxDropped: 1 }],
        ['eth1', { rxPackets: 9, rxDropped: 0 }],
      ]),
    };
    const after: KernelCounters = {
      udp: { InDatagrams: 472, NoPorts: 0, InErrors: 12, RcvbufErrors: 0, InCsumErrors: 12 },
      nics: new Map([
        ['eth0', { rxPackets: 16050, rxDropped: 4 }],
        ['eth1', { rxPackets: 9, rxDropped: 0 }],
      ]),
    };
    expect(kernelCountersLine(before, after)).toBe(
      'kernel counters during the transfer: UDP InDatagrams 372, NoPorts 0, InErrors 12, RcvbufErrors 0, InCsumErrors 12; eth0 received 16000 frames, dropped 3',
    );
    const none: KernelCounters = { udp: {}, nics: new Map() };
    expect(kernelCountersLine(none, none)).toBe('');
  });

  it('reads this machine', () => {
    const k = readKernelCounters();
    if (process.platform !== 'linux') return expect(k.udp).toEqual({});
    // Linux has had these since 2.6 (InCsumErrors since 3.10).
    expect(k.udp.InDatagrams).toBeGreaterThanOrEqual(0);
    expect(k.udp.RcvbufErrors).toBeGreaterThanOrEqual(0);
  });
});
