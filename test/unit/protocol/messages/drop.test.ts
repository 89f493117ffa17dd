import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { DROP_ALL, DROP_SIZE, type Drop, decodeDrop, encodeDrop } from '../../../../protocol/messages/drop.js';
import { MAX_REASON, Reason } from '../../../../protocol/reasons.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, expectRoundTrip, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Drop> = {
  type: MessageType.Drop,
  decode: decodeDrop,
  encode: encodeDrop,
  length: () => DROP_SIZE,
};

const GOLDEN: Drop = { sessionId: 0x01020304, receiverId: 42, reason: Reason.NoAnswer };

// Written from the layout table in protocol/messages/drop.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0d', //       3  type DROP (13)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '07', //      12  reason 7 = no answer
  '000000', //  13  reserved
);

const ALL: Drop = { sessionId: 0, receiverId: DROP_ALL, reason: Reason.SenderAbort };
const MAX: Drop = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, reason: MAX_REASON };

codecCases({
  name: 'DROP',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: DROP_SIZE, stored: goldenFile('drop') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['to every receiver (receiverId 0)', ALL],
    ['maximum of every field', MAX],
    ['reason none', { ...GOLDEN, reason: Reason.None }],
  ],
  size: { name: 'DROP_SIZE', value: DROP_SIZE, expected: 16 },
  prefixes: { of: [GOLDEN, ALL, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Leave)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xd209, valid: [GOLDEN, ALL, MAX] },
});

describe('DROP round trip', () => {
  it('every reason round-trips', () => {
    for (let reason = 0; reason <= MAX_REASON; reason++) expectRoundTrip(codec, { ...GOLDEN, reason });
  });
});

describe('DROP field ranges', () => {
  it('reason is at most MAX_REASON', () => {
    for (const reason of [MAX_REASON + 1, 0x80, 0xff]) {
      const r = decodeDrop(encodeToBytes(codec, { ...GOLDEN, reason }));
      expectErr(r, 'ERR_BAD_FIELD');
      if (!r.ok) expect(r.detail).toMatch(/reason/);
    }
  });

  it('each reserved byte is 0', () => {
    for (const off of [13, 14, 15]) {
      const r = decodeDrop(patched(codec, GOLDEN, (v) => v.setUint8(off, 1)));
      expectErr(r, 'ERR_BAD_FIELD');
      if (!r.ok) expect(r.detail).toMatch(/reserved/);
    }
  });
});
