import { describe, expect, it } from 'vitest';
import { CONNECT_REPLY_SIZE, decodeConnectReply, encodeConnectReply, type UdpcastConnectReply } from '../../../../protocol/udpcast/connect-reply.js';
import { OP_CONNECT_REPLY } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { expectErr, recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastConnectReply> = { decode: decodeConnectReply, encode: encodeConnectReply, length: () => CONNECT_REPLY_SIZE };
const RECORDED: UdpcastConnectReply = { clNr: 0, blockBytes: 1456, capabilities: 9, dataAddress: '239.192.77.1' };

codecCases({
  name: 'udpcast CONNECT_REPLY',
  codec,
  family: udpcastFamily(codec, OP_CONNECT_REPLY),
  golden: [
    {
      msg: RECORDED,
      what: "the CONNECT_REPLY Debian's udp-sender sent",
      from: 'the recording',
      hex: '0007' + '0000' + '00000000' + '000005b0' + '00000009' + 'efc04d01' + '00'.repeat(12),
      stored: recordedFile('connect-reply'),
    },
  ],
  roundTrips: [
    ['maximum of every field', { clNr: 1023, blockBytes: 0x7fff_ffff, capabilities: 0xffff_ffff, dataAddress: '198.18.0.11' }],
    ['the refusal clNr -1', { clNr: -1, blockBytes: 1, capabilities: 0, dataAddress: '0.0.0.0' }],
  ],
  prefixes: { of: [recorded('connect-reply')], error: 'ERR_TRUNCATED' },
  random: { seed: 0xc0e7, valid: [recorded('connect-reply')] },
});

describe('udpcast CONNECT_REPLY', () => {
  it('clNr is -1 or 0..1023, blockBytes is not 0, and the address tail is ignored', () => {
    const bad = (patch: (v: DataView) => void): Uint8Array => {
      const b = recorded('connect-reply');
      patch(new DataView(b.buffer, b.byteOffset, b.byteLength));
      return b;
    };
    expectErr(decodeConnectReply(bad((v) => v.setInt32(4, 1024, false))), 'ERR_BAD_FIELD');
    expectErr(decodeConnectReply(bad((v) => v.setInt32(4, -2, false))), 'ERR_BAD_FIELD');
    expectErr(decodeConnectReply(bad((v) => v.setInt32(8, 0, false))), 'ERR_BAD_FIELD');
    expect(decodeConnectReply(bad((v) => v.setUint32(24, 0xdeadbeef, false))).ok).toBe(true);
  });
});
