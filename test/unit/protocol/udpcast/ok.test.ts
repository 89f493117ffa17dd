import { describe, expect, it } from 'vitest';
import { decodeOk, encodeOk, OK_SIZE, type UdpcastOk } from '../../../../protocol/udpcast/ok.js';
import { OP_OK } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastOk> = { decode: decodeOk, encode: encodeOk, length: () => OK_SIZE };

describe('udpcast OK', () => {
  it("decodes the OK Debian's udp-receiver sent, and encodes back to its bytes", () => {
    const bytes = recorded('ok');
    expect(toHex(bytes)).toBe('0000' + '0000' + '00000000');
    expect(decodeOk(bytes)).toEqual({ ok: true, value: { sliceNo: 0 } });
    expect(toHex(encodeToBytes(codec, { sliceNo: 0 }))).toBe(toHex(bytes));
  });

  it('round trip, negative slice, prefixes, random input', () => {
    expectRoundTrip(codec, { sliceNo: 0x7fff_ffff });
    expectErr(decodeOk(new Uint8Array([0, 0, 0, 0, 0x80, 0, 0, 0])), 'ERR_BAD_FIELD');
    expectErr(decodeOk(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0])), 'ERR_BAD_LENGTH');
    expectEveryPrefixFails(codec, recorded('ok'));
    expect(fuzz(codec, OP_OK, 0x0c, [recorded('ok')])).toBeGreaterThan(0);
  });
});
