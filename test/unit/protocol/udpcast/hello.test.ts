import { describe, expect, it } from 'vitest';
import { decodeHello, encodeHello, HELLO_SIZE, type UdpcastHello } from '../../../../protocol/udpcast/hello.js';
import { OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastHello> = { decode: decodeHello, encode: encodeHello, length: () => HELLO_SIZE };
// Recorded: Debian's udp-sender --mcast-data-address 239.192.77.1 (test/fixtures/udpcast/record.sh).
const RECORDED: UdpcastHello = { opcode: OP_HELLO, capabilities: 0x09, dataAddress: '239.192.77.1', blockBytes: 1456 };

describe('udpcast HELLO', () => {
  it("decodes the HELLO Debian's udp-sender sent, and encodes back to its bytes", () => {
    const bytes = recorded('hello');
    expect(toHex(bytes)).toBe('0500' + '0000' + '00000009' + 'efc04d01' + '00'.repeat(12) + '05b0' + '0000');
    expect(decodeHello(bytes)).toEqual({ ok: true, value: RECORDED });
    expect(toHex(encodeToBytes(codec, RECORDED))).toBe(toHex(bytes));
  });

  it('round trip of all three opcodes and extreme fields', () => {
    for (const opcode of [OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING] as const) {
      expectRoundTrip(codec, { opcode, capabilities: 0xffff_ffff, dataAddress: '255.0.0.1', blockBytes: 0xffff });
    }
  });

  it('ignores the uninitialized address tail and padding', () => {
    const b = recorded('hello');
    b.fill(0xa5, 12, 24);
    b.fill(0x5a, 26, 28);
    expect(decodeHello(b)).toEqual({ ok: true, value: RECORDED });
  });

  it('every truncated prefix fails; longer, other opcodes and block size 0 are refused', () => {
    expectEveryPrefixFails(codec, recorded('hello'));
    const long = new Uint8Array(HELLO_SIZE + 1);
    long.set(recorded('hello'));
    expectErr(decodeHello(long), 'ERR_BAD_LENGTH');
    const other = recorded('hello');
    other[0] = 0x00;
    other[1] = 0x05;
    expectErr(decodeHello(other), 'ERR_BAD_TYPE');
    const zero = recorded('hello');
    zero[24] = 0;
    zero[25] = 0;
    expectErr(decodeHello(zero), 'ERR_BAD_FIELD');
  });

  it('random input never throws', () => {
    expect(fuzz(codec, OP_HELLO, 0x4e110, [recorded('hello')])).toBeGreaterThan(0);
  });
});
