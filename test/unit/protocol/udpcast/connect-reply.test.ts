import { describe, expect, it } from 'vitest';
import { CONNECT_REPLY_SIZE, decodeConnectReply, encodeConnectReply, type UdpcastConnectReply } from '../../../../protocol/udpcast/connect-reply.js';
import { OP_CONNECT_REPLY } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastConnectReply> = { decode: decodeConnectReply, encode: encodeConnectReply, length: () => CONNECT_REPLY_SIZE };
const RECORDED: UdpcastConnectReply = { clNr: 0, blockBytes: 1456, capabilities: 9, dataAddress: '239.192.77.1' };

describe('udpcast CONNECT_REPLY', () => {
  it("decodes the CONNECT_REPLY Debian's udp-sender sent, and encodes back to its bytes", () => {
    const bytes = recorded('connect-reply');
    expect(toHex(bytes)).toBe('0007' + '0000' + '00000000' + '000005b0' + '00000009' + 'efc04d01' + '00'.repeat(12));
    expect(decodeConnectReply(bytes)).toEqual({ ok: true, value: RECORDED });
    expect(toHex(encodeToBytes(codec, RECORDED))).toBe(toHex(bytes));
  });

  it('round trip, the refusal clNr -1, ranges, prefixes, random input', () => {
    expectRoundTrip(codec, { clNr: 1023, blockBytes: 0x7fff_ffff, capabilities: 0xffff_ffff, dataAddress: '198.18.0.11' });
    expectRoundTrip(codec, { clNr: -1, blockBytes: 1, capabilities: 0, dataAddress: '0.0.0.0' });
    const bad = (patch: (v: DataView) => void): Uint8Array => {
      const b = recorded('connect-reply');
      patch(new DataView(b.buffer, b.byteOffset, b.byteLength));
      return b;
    };
    expectErr(decodeConnectReply(bad((v) => v.setInt32(4, 1024, false))), 'ERR_BAD_FIELD');
    expectErr(decodeConnectReply(bad((v) => v.setInt32(4, -2, false))), 'ERR_BAD_FIELD');
    expectErr(decodeConnectReply(bad((v) => v.setInt32(8, 0, false))), 'ERR_BAD_FIELD');
    expect(decodeConnectReply(bad((v) => v.setUint32(24, 0xdeadbeef, false))).ok).toBe(true);
    expectEveryPrefixFails(codec, recorded('connect-reply'));
    expect(fuzz(codec, OP_CONNECT_REPLY, 0xc0e7, [recorded('connect-reply')])).toBeGreaterThan(0);
  });
});
