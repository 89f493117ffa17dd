import { describe, expect, it } from 'vitest';
import { DISCONNECT_SIZE, decodeDisconnect, encodeDisconnect, type UdpcastDisconnect } from '../../../../protocol/udpcast/disconnect.js';
import { OP_DISCONNECT } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastDisconnect> = { decode: decodeDisconnect, encode: encodeDisconnect, length: () => DISCONNECT_SIZE };

describe('udpcast DISCONNECT', () => {
  it("decodes the DISCONNECT Debian's udp-receiver sent, and encodes back to its bytes", () => {
    const bytes = recorded('disconnect');
    expect(toHex(bytes)).toBe('00040000');
    expect(decodeDisconnect(bytes)).toEqual({ ok: true, value: {} });
    expect(toHex(encodeToBytes(codec, {}))).toBe('00040000');
  });

  it('round trip, prefixes, length, opcode, random input', () => {
    expectRoundTrip(codec, {});
    expectEveryPrefixFails(codec, recorded('disconnect'));
    expectErr(decodeDisconnect(new Uint8Array([...recorded('disconnect'), 0])), 'ERR_BAD_LENGTH');
    expectErr(decodeDisconnect(new Uint8Array([0, 0x0f, 0, 0])), 'ERR_BAD_TYPE');
    expect(fuzz(codec, OP_DISCONNECT, 0x00040000, [recorded('disconnect')])).toBeGreaterThan(0);
  });
});
