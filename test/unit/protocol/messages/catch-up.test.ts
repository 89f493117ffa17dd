import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { CATCH_UP_SIZE, CATCH_UP_WHY_MAX, type CatchUp, CatchUpWhy, decodeCatchUp, encodeCatchUp } from '../../../../protocol/messages/catch-up.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<CatchUp> = {
  type: MessageType.CatchUp,
  decode: decodeCatchUp,
  encode: encodeCatchUp,
  length: () => CATCH_UP_SIZE,
};

const GOLDEN: CatchUp = { sessionId: 0x01020304, receiverId: 42, why: CatchUpWhy.Slow, rateKBps: 8000, paceKBps: 15000 };

// Written from the layout table in protocol/messages/catch-up.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '11', //       3  type CATCHUP (17)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '01', //      12  why 1 = slow
  '000000', //  13  reserved
  '00001f40', //16  rateKBps 8000
  '00003a98', //20  paceKBps 15000
);

const MIN: CatchUp = { sessionId: 0, receiverId: 1, why: CatchUpWhy.Slow, rateKBps: 0, paceKBps: 0 };
const MAX: CatchUp = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, why: CATCH_UP_WHY_MAX, rateKBps: 0xffff_ffff, paceKBps: 0xffff_ffff };

codecCases({
  name: 'CATCHUP',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: CATCH_UP_SIZE, stored: goldenFile('catch-up') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['below --min-rate', { ...GOLDEN, why: CatchUpWhy.BelowMinRate }],
    ['late, in order', { ...GOLDEN, why: CatchUpWhy.LateInOrder, rateKBps: 0, paceKBps: 0 }],
  ],
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Drop)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xca7c, valid: [GOLDEN, MIN, MAX] },
});

describe('CATCHUP field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeCatchUp(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('why is 1..CATCH_UP_WHY_MAX', () => {
    for (const why of [0, CATCH_UP_WHY_MAX + 1, 0xff])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint8(12, why)),
        /why/,
      );
  });

  it('each reserved byte is 0', () => {
    for (const off of [13, 14, 15])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint8(off, 1)),
        /reserved/,
      );
  });
});
