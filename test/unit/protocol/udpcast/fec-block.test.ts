import { describe, expect, it } from 'vitest';
import { decodeFecBlock, encodeFecBlock, fecBlockLength, fecBlockNo, type UdpcastFecBlock } from '../../../../protocol/udpcast/fec-block.js';
import { OP_FEC } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { encodeToBytes, expectErr, expectRoundTrip, RECORDED_BLOCK_BYTES, recorded, toHex, type UdpcastCodec, udpcastFamily } from './harness.js';

const B = RECORDED_BLOCK_BYTES;
const codec: UdpcastCodec<UdpcastFecBlock> = { decode: (b) => decodeFecBlock(b, B), encode: encodeFecBlock, length: fecBlockLength };

codecCases({
  name: 'udpcast FEC',
  codec,
  family: udpcastFamily(codec, OP_FEC),
  prefixes: { of: [recorded('fec-block')], error: 'ERR_TRUNCATED' },
  random: { seed: 0xfec, valid: [recorded('fec-block')], rounds: 2000 },
});

describe('udpcast FEC', () => {
  it("decodes the FEC datagram Debian's udp-sender --fec 8x4/32 sent: stripes in place of reserved", () => {
    const bytes = recorded('fec-block');
    expect(toHex(bytes.subarray(0, 16))).toBe('0009' + '0008' + '00000000' + '0000' + '0000' + '00006c10');
    const r = decodeFecBlock(bytes, B);
    expect(r.ok && r.value.stripes === 8 && r.value.fecBlockNo === 0 && r.value.sliceBytes === 27664 && r.value.parity.byteLength === B).toBe(true);
    if (r.ok) expect(toHex(encodeToBytes(codec, r.value))).toBe(toHex(bytes));
  });

  it('numbering: row r of stripe s is r * stripes + s; rows stop at 128', () => {
    expect(fecBlockNo(8, 3, 2)).toBe(19);
    const p = new Uint8Array(B);
    expectRoundTrip(codec, { stripes: 256, sliceNo: 9, fecBlockNo: 256 * 128 - 1, sliceBytes: 1, parity: p });
    expectErr(decodeFecBlock(encodeToBytes(codec, { stripes: 8, sliceNo: 0, fecBlockNo: 8 * 128, sliceBytes: 1, parity: p }), B), 'ERR_BAD_FIELD');
    expectErr(decodeFecBlock(encodeToBytes(codec, { stripes: 0, sliceNo: 0, fecBlockNo: 0, sliceBytes: 1, parity: p }), B), 'ERR_BAD_FIELD');
    expectErr(decodeFecBlock(encodeToBytes(codec, { stripes: 257, sliceNo: 0, fecBlockNo: 0, sliceBytes: 1, parity: p }), B), 'ERR_BAD_FIELD');
    expectErr(decodeFecBlock(encodeToBytes(codec, { stripes: 8, sliceNo: 0, fecBlockNo: 0, sliceBytes: 0, parity: p }), B), 'ERR_BAD_FIELD');
    expectErr(
      decodeFecBlock(encodeToBytes(codec, { stripes: 8, sliceNo: 0, fecBlockNo: 0, sliceBytes: 1, parity: new Uint8Array(B + 1) }), B),
      'ERR_BAD_LENGTH',
    );
  });
});
