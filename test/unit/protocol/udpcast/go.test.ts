import { decodeGo, encodeGo, GO_SIZE, type UdpcastGo } from '../../../../protocol/udpcast/go.js';
import { OP_GO } from '../../../../protocol/udpcast/wire.js';
import { codecCases } from '../../../support/codec-cases.js';
import { recorded, recordedFile, type UdpcastCodec, udpcastFamily } from './harness.js';

const codec: UdpcastCodec<UdpcastGo> = { decode: decodeGo, encode: encodeGo, length: () => GO_SIZE };

codecCases({
  name: 'udpcast GO',
  codec,
  family: udpcastFamily(codec, OP_GO),
  golden: [{ msg: {}, what: "the GO Debian's udp-receiver sent", from: 'the recording', hex: '00020000', stored: recordedFile('go') }],
  roundTrips: [['the only GO', {}]],
  prefixes: { of: [recorded('go')], error: 'ERR_TRUNCATED' },
  trailing: { of: [recorded('go')], counts: [1], fill: 0, error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: new Uint8Array([0, 0x0f, 0, 0]), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x00020000, valid: [recorded('go')] },
});
