import { describe, expect, it } from 'vitest';
import { decodeReqack, encodeReqack, REQACK_SIZE, type UdpcastReqack } from '../../../../protocol/udpcast/reqack.js';
import { OP_REQACK, READY_SET_BYTES } from '../../../../protocol/udpcast/wire.js';
import { encodeToBytes, expectErr, expectEveryPrefixFails, expectRoundTrip, fuzz, recorded, recordedSession, toHex, type UdpcastCodec } from './harness.js';

const codec: UdpcastCodec<UdpcastReqack> = { decode: decodeReqack, encode: encodeReqack, length: () => REQACK_SIZE };

describe('udpcast REQACK', () => {
  it("decodes the REQACKs Debian's udp-sender sent: 144 bytes, round ids, readySet, the zero-byte end slice", () => {
    const first = recorded('reqack');
    expect(first.byteLength).toBe(144);
    expect(decodeReqack(first)).toEqual({ ok: true, value: { sliceNo: 0, sliceBytes: 27664, rxmit: 0, readySet: new Uint8Array(READY_SET_BYTES) } });
    expect(toHex(encodeToBytes(codec, { sliceNo: 0, sliceBytes: 27664, rxmit: 0, readySet: new Uint8Array(READY_SET_BYTES) }))).toBe(toHex(first));
    const end = decodeReqack(recorded('reqack-end'));
    expect(end.ok && end.value.sliceBytes === 0 && end.value.sliceNo === 2).toBe(true);
    // The second round of slice 0: receiver #1 (clNr 1) said OK, so its bit is set.
    const rounds = recordedSession('plain')
      .filter((d) => d.note.includes('REQACK'))
      .map((d) => decodeReqack(d.bytes));
    const second = rounds[1]!;
    expect(second.ok && second.value.rxmit === 1 && second.value.readySet[0] === 0x02).toBe(true);
  });

  it('round trip, ranges, prefixes, random input', () => {
    const ready = new Uint8Array(READY_SET_BYTES);
    ready[127] = 0x80;
    expectRoundTrip(codec, { sliceNo: 0x7fff_ffff, sliceBytes: 0, rxmit: 200, readySet: ready });
    for (const off of [4, 8, 12]) {
      const b = recorded('reqack');
      b[off] = 0x80;
      expectErr(decodeReqack(b), 'ERR_BAD_FIELD');
    }
    expectErr(decodeReqack(recorded('reqack').subarray(0, 16)), 'ERR_TRUNCATED');
    expectErr(decodeReqack(new Uint8Array([...recorded('reqack'), 0])), 'ERR_BAD_LENGTH');
    expectEveryPrefixFails(codec, recorded('reqack'));
    expect(fuzz(codec, OP_REQACK, 0x6ac, [recorded('reqack'), recorded('reqack-end')])).toBeGreaterThan(0);
  });
});
