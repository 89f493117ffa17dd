import { describe, expect, it } from 'vitest';
import { decodeHello, encodeHello, HELLO_SIZE, type UdpcastHello } from '../../../../protocol/udpcast/hello.js';
import { OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { expectErr, recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastHello> = { decode: decodeHello, encode: encodeHello, length: () => HELLO_SIZE };
// Recorded: Debian's udp-sender --mcast-data-address 239.192.77.1 (test/fixtures/udpcast/record.sh).
const RECORDED: UdpcastHello = { opcode: OP_HELLO, capabilities: 0x09, dataAddress: '239.192.77.1', blockBytes: 1456 };

codecCases({
  name: 'udpcast HELLO',
  codec,
  family: udpcastFamily(codec, OP_HELLO),
  golden: [
    {
      msg: RECORDED,
      what: "the HELLO Debian's udp-sender sent",
      from: 'the recording',
      hex: '0500' + '0000' + '00000009' + 'efc04d01' + '00'.repeat(12) + '05b0' + '0000',
      stored: recordedFile('hello'),
    },
  ],
  roundTrips: ([OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING] as const).map(
    (opcode) =>
      [`opcode 0x${opcode.toString(16)}, extreme fields`, { opcode, capabilities: 0xffff_ffff, dataAddress: '255.0.0.1', blockBytes: 0xffff }] as const,
  ),
  prefixes: { of: [recorded('hello')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('hello')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  random: { seed: 0x4e110, valid: [recorded('hello')] },
});

describe('udpcast HELLO', () => {
  it('ignores the uninitialized address tail and padding', () => {
    const b = recorded('hello');
    b.fill(0xa5, 12, 24);
    b.fill(0x5a, 26, 28);
    expect(decodeHello(b)).toEqual({ ok: true, value: RECORDED });
  });

  it('other opcodes and block size 0 are refused', () => {
    const other = recorded('hello');
    other[0] = 0x00;
    other[1] = 0x05;
    expectErr(decodeHello(other), 'ERR_BAD_TYPE');
    const zero = recorded('hello');
    zero[24] = 0;
    zero[25] = 0;
    expectErr(decodeHello(zero), 'ERR_BAD_FIELD');
  });
});
