import { describe, expect, it } from 'vitest';
import { decodeRetransmit, encodeRetransmit, RETRANSMIT_SIZE, type UdpcastRetransmit } from '../../../../protocol/udpcast/retransmit.js';
import { BITMAP_BYTES, bitIsSet, OP_RETRANSMIT } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { encodeToBytes, expectErr, recorded, toHex, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastRetransmit> = { decode: decodeRetransmit, encode: encodeRetransmit, length: () => RETRANSMIT_SIZE };

codecCases({
  name: 'udpcast RETRANSMIT',
  codec,
  family: udpcastFamily(codec, OP_RETRANSMIT),
  roundTrips: [['every block held, a negative round', { sliceNo: 7, rxmit: -5, haveMap: new Uint8Array(BITMAP_BYTES).fill(0xff) }]],
  prefixes: { of: [recorded('retransmit')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('retransmit')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  random: { seed: 0x7e7, valid: [recorded('retransmit')] },
});

describe('udpcast RETRANSMIT', () => {
  it("decodes the RETRANSMIT Debian's udp-receiver sent after losing DATA block 3 of 19: bit i = block i held", () => {
    const bytes = recorded('retransmit');
    expect(bytes.byteLength).toBe(140);
    const r = decodeRetransmit(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.sliceNo).toBe(0);
    expect(r.value.rxmit).toBe(0);
    const held = Array.from({ length: 19 }, (_, i) => bitIsSet(r.value.haveMap, i));
    expect(held.map((h, i) => (h ? -1 : i)).filter((i) => i >= 0)).toEqual([3]);
    expect(toHex(encodeToBytes(codec, r.value))).toBe(toHex(bytes));
  });

  it('a negative slice number is ERR_BAD_FIELD', () => {
    const b = recorded('retransmit');
    b[4] = 0x80;
    expectErr(decodeRetransmit(b), 'ERR_BAD_FIELD');
  });
});
