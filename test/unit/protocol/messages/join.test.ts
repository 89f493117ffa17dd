import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, MessageType } from '../../../../protocol/header.js';
import { decodeJoin, encodeJoin, JOIN_SIZE, type Join } from '../../../../protocol/messages/join.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Join> = {
  type: MessageType.Join,
  decode: decodeJoin,
  encode: encodeJoin,
  length: () => JOIN_SIZE,
};

const GOLDEN: Join = { sessionId: 0xcafebabe, receiverId: 0x0badf00d, caps: CAP_PARITY_REPAIR, rcvBufBytes: 212_992 };

// Written from the layout table in protocol/messages/join.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '02', //       3  type JOIN
  'cafebabe', // 4  sessionId
  '0badf00d', // 8  receiverId
  '00000001', //12  caps = CAP_PARITY_REPAIR
  '00034000', //16  rcvBufBytes 212992 = 0x34000
);

const MIN: Join = { sessionId: 0, receiverId: 1, caps: 0, rcvBufBytes: 0 };
const MAX: Join = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, caps: 0xffff_ffff, rcvBufBytes: 0xffff_ffff };

codecCases({
  name: 'JOIN',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: JOIN_SIZE, stored: goldenFile('join') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ],
  size: { name: 'JOIN_SIZE', value: JOIN_SIZE, expected: 20 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x1017, valid: [GOLDEN, MIN, MAX] },
});

describe('JOIN field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeJoin(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });

  it('caps and rcvBufBytes take any u32', () => {
    expect(decodeJoin(encodeToBytes(codec, { ...GOLDEN, caps: 0xffff_ffff, rcvBufBytes: 0 })).ok).toBe(true);
  });
});
