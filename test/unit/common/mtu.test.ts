import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockBytesForMtu, IP_UDP_HEADER_BYTES, interfaceMtu, MAX_USEFUL_MTU } from '../../../common/mtu.js';
import { DATA_HEADER_SIZE } from '../../../protocol/messages/data.js';
import { DEFAULT_BLOCK_BYTES, parseSenderArgs } from '../../../sender/args.js';

describe('block size from the MTU', () => {
  it('fills a 1500-byte frame exactly: the default block size', () => {
    expect(blockBytesForMtu(1500, DATA_HEADER_SIZE, 0)).toBe(DEFAULT_BLOCK_BYTES);
    expect(DEFAULT_BLOCK_BYTES + DATA_HEADER_SIZE + IP_UDP_HEADER_BYTES).toBe(1500);
  });

  it('uses jumbo frames and leaves room for a trailer', () => {
    expect(blockBytesForMtu(9000, DATA_HEADER_SIZE, 0)).toBe(9000 - 28 - DATA_HEADER_SIZE);
    expect(blockBytesForMtu(9000, DATA_HEADER_SIZE, 28)).toBe(9000 - 28 - DATA_HEADER_SIZE - 28);
  });

  it('stops at a 9000-byte MTU (loopback says 65536)', () => {
    expect(blockBytesForMtu(65536, DATA_HEADER_SIZE, 0)).toBe(MAX_USEFUL_MTU - 28 - DATA_HEADER_SIZE);
  });

  it('reads the MTU of the interface holding an address from /sys', () => {
    const lo = interfaceMtu('127.0.0.1');
    expect(lo?.name).toBe('lo');
    expect(lo?.mtu).toBe(Number(readFileSync('/sys/class/net/lo/mtu', 'utf8').trim()));
    expect(interfaceMtu('198.18.255.254')).toBeUndefined(); // no interface has it
  });

  it('the sender follows --interface MTU unless --blocksize is given', () => {
    const base = ['--interface', '127.0.0.1', '--min-receivers', '1'];
    const auto = parseSenderArgs(base, false);
    expect(auto.core.blockBytes).toBe(blockBytesForMtu(interfaceMtu('127.0.0.1')!.mtu, DATA_HEADER_SIZE, 0));
    expect(auto.blockSizeFrom).toMatch(/^MTU \d+ of lo$/);
    const fixed = parseSenderArgs([...base, '--blocksize', '1000'], false);
    expect(fixed.core.blockBytes).toBe(1000);
    expect(fixed.blockSizeFrom).toBe('--blocksize');
  });
});
