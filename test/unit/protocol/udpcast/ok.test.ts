import { describe, it } from 'vitest';
import { decodeOk, encodeOk, OK_SIZE, type UdpcastOk } from '../../../../protocol/udpcast/ok.js';
import { OP_OK } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { expectErr, recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastOk> = { decode: decodeOk, encode: encodeOk, length: () => OK_SIZE };

codecCases({
  name: 'udpcast OK',
  codec,
  family: udpcastFamily(codec, OP_OK),
  golden: [
    { msg: { sliceNo: 0 }, what: "the OK Debian's udp-receiver sent", from: 'the recording', hex: '0000' + '0000' + '00000000', stored: recordedFile('ok') },
  ],
  roundTrips: [['the largest slice number', { sliceNo: 0x7fff_ffff }]],
  prefixes: { of: [recorded('ok')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('ok')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  random: { seed: 0x0c, valid: [recorded('ok')] },
});

describe('udpcast OK', () => {
  it('a negative slice number is ERR_BAD_FIELD', () => {
    expectErr(decodeOk(new Uint8Array([0, 0, 0, 0, 0x80, 0, 0, 0])), 'ERR_BAD_FIELD');
  });
});
