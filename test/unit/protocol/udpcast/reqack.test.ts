import { describe, expect, it } from 'vitest';
import { decodeReqack, encodeReqack, REQACK_SIZE, type UdpcastReqack } from '../../../../protocol/udpcast/reqack.js';
import { OP_REQACK, READY_SET_BYTES } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { expectErr, recorded, recordedFile, recordedSession, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastReqack> = { decode: decodeReqack, encode: encodeReqack, length: () => REQACK_SIZE };

const LAST_READY = new Uint8Array(READY_SET_BYTES);
LAST_READY[127] = 0x80;

codecCases({
  name: 'udpcast REQACK',
  codec,
  family: udpcastFamily(codec, OP_REQACK),
  golden: [
    {
      msg: { sliceNo: 0, sliceBytes: 27664, rxmit: 0, readySet: new Uint8Array(READY_SET_BYTES) },
      what: "the first REQACK Debian's udp-sender sent (144 bytes)",
      from: 'the recording',
      bytes: 144,
      stored: recordedFile('reqack'),
    },
  ],
  roundTrips: [
    ['the last readySet bit, the largest slice, the end-of-transfer size', { sliceNo: 0x7fff_ffff, sliceBytes: 0, rxmit: 200, readySet: LAST_READY }],
  ],
  prefixes: { of: [recorded('reqack')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('reqack')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  random: { seed: 0x6ac, valid: [recorded('reqack'), recorded('reqack-end')] },
});

describe('udpcast REQACK', () => {
  it("decodes the REQACKs Debian's udp-sender sent: round ids, readySet, the zero-byte end slice", () => {
    const end = decodeReqack(recorded('reqack-end'));
    expect(end.ok && end.value.sliceBytes === 0 && end.value.sliceNo === 2).toBe(true);
    // The second round of slice 0: receiver #1 (clNr 1) said OK, so its bit is set.
    const rounds = recordedSession('plain')
      .filter((d) => d.note.includes('REQACK'))
      .map((d) => decodeReqack(d.bytes));
    const second = rounds[1]!;
    expect(second.ok && second.value.rxmit === 1 && second.value.readySet[0] === 0x02).toBe(true);
  });

  it('negative slice, size or round is ERR_BAD_FIELD; 16 bytes are ERR_TRUNCATED', () => {
    for (const off of [4, 8, 12]) {
      const b = recorded('reqack');
      b[off] = 0x80;
      expectErr(decodeReqack(b), 'ERR_BAD_FIELD');
    }
    expectErr(decodeReqack(recorded('reqack').subarray(0, 16)), 'ERR_TRUNCATED');
  });
});
