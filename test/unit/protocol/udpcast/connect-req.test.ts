import { describe, expect, it } from 'vitest';
import { CONNECT_REQ_SIZE, decodeConnectReq, encodeConnectReq, type UdpcastConnectReq } from '../../../../protocol/udpcast/connect-req.js';
import { OP_CONNECT_REQ } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastConnectReq> = { decode: decodeConnectReq, encode: encodeConnectReq, length: () => CONNECT_REQ_SIZE };

describe('udpcast CONNECT_REQ', () => {
  it("decodes the CONNECT_REQ Debian's udp-receiver sent (caps 0x9, the kernel's default SO_RCVBUF)", () => {
    const bytes = recorded('connect-req');
    expect(toHex(bytes)).toBe('0003' + '0000' + '00000009' + '00034000');
    expect(decodeConnectReq(bytes)).toEqual({ ok: true, value: { capabilities: 9, rcvbufBytes: 212992 } });
    expect(toHex(encodeToBytes(codec, { capabilities: 9, rcvbufBytes: 212992 }))).toBe(toHex(bytes));
  });

  it('round trip, prefixes, length, random input', () => {
    expectRoundTrip(codec, { capabilities: 0xffff_ffff, rcvbufBytes: 0xffff_ffff });
    expectRoundTrip(codec, { capabilities: 0, rcvbufBytes: 0 });
    expectEveryPrefixFails(codec, recorded('connect-req'));
    expectErr(decodeConnectReq(new Uint8Array([0, 3, 0, 0, 0, 0, 0, 9, 0, 3, 0x40, 0, 0])), 'ERR_BAD_LENGTH');
    expectErr(decodeConnectReq(new Uint8Array([0, 4, 0, 0, 0, 0, 0, 9, 0, 3, 0x40, 0])), 'ERR_BAD_TYPE');
    expect(fuzz(codec, OP_CONNECT_REQ, 0xc0ec7, [recorded('connect-req')])).toBeGreaterThan(0);
  });
});
