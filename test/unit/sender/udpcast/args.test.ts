import { describe, expect, it } from 'vitest';
import { parseUdpcastArgs } from '../../../../sender/udpcast/args.js';

const base = ['--protocol', 'udpcast', '--file', '/dev/null', '--min-receivers', '1'];

describe('udp-sender --protocol udpcast: the keyboard', () => {
  it('is read when stdin is a terminal and the image comes from --file', () => {
    expect(parseUdpcastArgs(base, true).keyboard).toBe(true);
    expect(parseUdpcastArgs(base, false).keyboard).toBe(false);
  });

  it('--nokbd turns it off on a terminal (FOG and Clonezilla pass it)', () => {
    expect(parseUdpcastArgs([...base, '--nokbd'], true).keyboard).toBe(false);
  });

  it('--nokbd with no other start condition is refused', () => {
    expect(() => parseUdpcastArgs(['--protocol', 'udpcast', '--file', '/dev/null', '--nokbd'], true)).toThrow(/start/);
  });
});
