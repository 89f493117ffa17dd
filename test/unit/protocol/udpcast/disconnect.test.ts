import { DISCONNECT_SIZE, decodeDisconnect, encodeDisconnect, type UdpcastDisconnect } from '../../../../protocol/udpcast/disconnect.js';
import { OP_DISCONNECT } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastDisconnect> = { decode: decodeDisconnect, encode: encodeDisconnect, length: () => DISCONNECT_SIZE };

codecCases({
  name: 'udpcast DISCONNECT',
  codec,
  family: udpcastFamily(codec, OP_DISCONNECT),
  golden: [{ msg: {}, what: "the DISCONNECT Debian's udp-receiver sent", from: 'the recording', hex: '00040000', stored: recordedFile('disconnect') }],
  roundTrips: [['the only DISCONNECT', {}]],
  prefixes: { of: [recorded('disconnect')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('disconnect')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: new Uint8Array([0, 0x0f, 0, 0]), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x00040000, valid: [recorded('disconnect')] },
});
