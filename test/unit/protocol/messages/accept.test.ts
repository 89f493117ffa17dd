import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { ACCEPT_SIZE, type Accept, decodeAccept, encodeAccept } from '../../../../protocol/messages/accept.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Accept> = {
  type: MessageType.Accept,
  decode: decodeAccept,
  encode: encodeAccept,
  length: () => ACCEPT_SIZE,
};

const GOLDEN: Accept = { sessionId: 0xcafebabe, receiverId: 0x0badf00d, joinSlice: 0x00012345 };

// Written from the layout table in protocol/messages/accept.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '03', //       3  type ACCEPT
  'cafebabe', // 4  sessionId
  '0badf00d', // 8  receiverId
  '00012345', // 12 joinSlice
);

const MIN: Accept = { sessionId: 0, receiverId: 1, joinSlice: 0 };
const MAX: Accept = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, joinSlice: 0xffff_ffff };

codecCases({
  name: 'ACCEPT',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: ACCEPT_SIZE, stored: goldenFile('accept') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ],
  size: { name: 'ACCEPT_SIZE', value: ACCEPT_SIZE, expected: 16 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.ReportAck)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xacce97, valid: [GOLDEN, MIN, MAX] },
});

describe('ACCEPT field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeAccept(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});
