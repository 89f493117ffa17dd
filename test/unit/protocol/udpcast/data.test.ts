import { describe, expect, it } from 'vitest';
import { dataLength, decodeData, encodeData, type UdpcastData } from '../../../../protocol/udpcast/data.js';
import { OP_DATA } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { encodeToBytes, expectErr, expectRoundTrip, RECORDED_BLOCK_BYTES, recorded, toHex, type UdpcastCodec, udpcastFamily } from './harness.js';

const B = RECORDED_BLOCK_BYTES;
const codec: UdpcastCodec<UdpcastData> = { decode: (b) => decodeData(b, B), encode: encodeData, length: dataLength };

codecCases({
  name: 'udpcast DATA',
  codec,
  family: udpcastFamily(codec, OP_DATA),
  prefixes: { of: [recorded('data'), recorded('data-short')], error: 'ERR_TRUNCATED' },
  random: { seed: 0xda7a, valid: [recorded('data'), recorded('data-short')], rounds: 2000 },
});

describe('udpcast DATA', () => {
  it("decodes the DATA Debian's udp-sender sent (a full block and the short last one), and encodes back", () => {
    const full = recorded('data');
    expect(toHex(full.subarray(0, 16))).toBe('0008' + '0000' + '00000000' + '0000' + '0000' + '00006c10');
    const r = decodeData(full, B);
    expect(r.ok && r.value.sliceNo === 0 && r.value.blockNo === 0 && r.value.sliceBytes === 27664 && r.value.payload.byteLength === B).toBe(true);
    // record.sh's file: byte i is (i * 7 + (i >> 8)) & 255.
    if (r.ok) expect(Array.from(r.value.payload.subarray(0, 4))).toEqual([0, 7, 14, 21]);
    if (r.ok) expect(toHex(encodeToBytes(codec, r.value))).toBe(toHex(full));
    const short = recorded('data-short');
    const s = decodeData(short, B);
    expect(s.ok && s.value.sliceNo === 1 && s.value.blockNo === 0 && s.value.sliceBytes === 756 && s.value.payload.byteLength === 756).toBe(true);
  });

  it('the payload length is fixed by the block size and the slice bytes', () => {
    const p = new Uint8Array(B);
    expectRoundTrip(codec, { sliceNo: 3, blockNo: 1023, sliceBytes: 1024 * B, payload: p });
    expectRoundTrip(codec, { sliceNo: 3, blockNo: 2, sliceBytes: 2 * B + 1, payload: new Uint8Array(1) });
    expectErr(decodeData(encodeToBytes(codec, { sliceNo: 3, blockNo: 2, sliceBytes: 2 * B, payload: new Uint8Array(1) }), B), 'ERR_BAD_FIELD');
    expectErr(decodeData(encodeToBytes(codec, { sliceNo: 0, blockNo: 0, sliceBytes: 10, payload: new Uint8Array(11) }), B), 'ERR_BAD_LENGTH');
    expectErr(decodeData(encodeToBytes(codec, { sliceNo: 0, blockNo: 1024, sliceBytes: 1025 * B, payload: p }), B), 'ERR_BAD_FIELD');
    expectErr(decodeData(encodeToBytes(codec, { sliceNo: -1, blockNo: 0, sliceBytes: B, payload: p }), B), 'ERR_BAD_FIELD');
  });
});
