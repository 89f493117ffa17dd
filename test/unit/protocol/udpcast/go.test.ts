import { describe, expect, it } from 'vitest';
import { decodeGo, encodeGo, GO_SIZE, type UdpcastGo } from '../../../../protocol/udpcast/go.js';
import { OP_GO } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastGo> = { decode: decodeGo, encode: encodeGo, length: () => GO_SIZE };

describe('udpcast GO', () => {
  it("decodes the GO Debian's udp-receiver sent, and encodes back to its bytes", () => {
    const bytes = recorded('go');
    expect(toHex(bytes)).toBe('00020000');
    expect(decodeGo(bytes)).toEqual({ ok: true, value: {} });
    expect(toHex(encodeToBytes(codec, {}))).toBe('00020000');
  });

  it('round trip, prefixes, length, opcode, random input', () => {
    expectRoundTrip(codec, {});
    expectEveryPrefixFails(codec, recorded('go'));
    expectErr(decodeGo(new Uint8Array([...recorded('go'), 0])), 'ERR_BAD_LENGTH');
    expectErr(decodeGo(new Uint8Array([0, 0x0f, 0, 0])), 'ERR_BAD_TYPE');
    expect(fuzz(codec, OP_GO, 0x00020000, [recorded('go')])).toBeGreaterThan(0);
  });
});
