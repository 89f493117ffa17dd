import { CONNECT_REQ_SIZE, decodeConnectReq, encodeConnectReq, type UdpcastConnectReq } from '../../../../protocol/udpcast/connect-req.js';
import { OP_CONNECT_REQ } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastConnectReq> = { decode: decodeConnectReq, encode: encodeConnectReq, length: () => CONNECT_REQ_SIZE };

codecCases({
  name: 'udpcast CONNECT_REQ',
  codec,
  family: udpcastFamily(codec, OP_CONNECT_REQ),
  golden: [
    {
      msg: { capabilities: 9, rcvbufBytes: 212992 },
      what: "the CONNECT_REQ Debian's udp-receiver sent (caps 0x9, the kernel's default SO_RCVBUF)",
      from: 'the recording',
      hex: '0003' + '0000' + '00000009' + '00034000',
      stored: recordedFile('connect-req'),
    },
  ],
  roundTrips: [
    ['maximum of every field', { capabilities: 0xffff_ffff, rcvbufBytes: 0xffff_ffff }],
    ['zero in every field', { capabilities: 0, rcvbufBytes: 0 }],
  ],
  prefixes: { of: [recorded('connect-req')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('connect-req')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: new Uint8Array([0, 4, 0, 0, 0, 0, 0, 9, 0, 3, 0x40, 0]), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xc0ec7, valid: [recorded('connect-req')] },
});
