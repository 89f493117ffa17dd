// protocol/ipv4.ts: the one IPv4 codec (options, the native socket wrapper and the cores
// all use it).

import { describe, expect, it } from 'vitest';
import { formatIpv4, ipv4ToU32, isIpv4, isMulticastU32, parseIpv4 } from '../../../protocol/ipv4.js';
import { mulberry32 } from '../../support/prng.js';

describe('IPv4 codec', () => {
  it('golden values both ways', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('127.0.0.1')).toBe(0x7f00_0001);
    expect(parseIpv4('239.192.67.1')).toBe(0xefc0_4301);
    expect(parseIpv4('255.255.255.255')).toBe(0xffff_ffff);
    expect(parseIpv4('010.001.000.009')).toBe(0x0a01_0009); // leading zeros are decimal, not octal
    expect(formatIpv4(0xefc0_4301)).toBe('239.192.67.1');
    expect(formatIpv4(0xffff_ffff)).toBe('255.255.255.255');
  });

  it('round-trips random addresses', () => {
    const rand = mulberry32(0x1f4);
    for (let i = 0; i < 10_000; i++) {
      const n = Math.floor(rand() * 2 ** 32);
      if (parseIpv4(formatIpv4(n)) !== n) expect.fail(`${n} -> ${formatIpv4(n)}`);
    }
  });

  it('refuses what is not a dotted quad: undefined from parseIpv4, RangeError from ipv4ToU32', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '1.2.3.-1',
      'a.b.c.d',
      '1..2.3',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1.2.3.1000',
      '::1',
      '0x7f.0.0.1',
      '１.2.3.4',
    ]) {
      expect(parseIpv4(bad), JSON.stringify(bad)).toBeUndefined();
      expect(isIpv4(bad)).toBe(false);
      expect(() => ipv4ToU32(bad)).toThrow(RangeError);
    }
  });

  it('random text never throws from parseIpv4', () => {
    const rand = mulberry32(0x1f5);
    const alphabet = '0123456789.. -x:a\u0661';
    for (let i = 0; i < 10_000; i++) {
      let s = '';
      const len = Math.floor(rand() * 20);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(rand() * alphabet.length)];
      const n = parseIpv4(s);
      if (n !== undefined && formatIpv4(n).split('.').length !== 4) expect.fail(s);
    }
  });

  it('multicast is 224.0.0.0/4', () => {
    expect(isMulticastU32(ipv4ToU32('224.0.0.0'))).toBe(true);
    expect(isMulticastU32(ipv4ToU32('239.255.255.255'))).toBe(true);
    expect(isMulticastU32(ipv4ToU32('223.255.255.255'))).toBe(false);
    expect(isMulticastU32(ipv4ToU32('240.0.0.0'))).toBe(false);
  });
});
