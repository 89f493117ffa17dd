import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeReqack, encodeReqack, REQACK_FLAG_QUIET, REQACK_SIZE, type Reqack } from '../../../../protocol/messages/reqack.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Reqack> = {
  type: MessageType.Reqack,
  decode: decodeReqack,
  encode: encodeReqack,
  length: () => REQACK_SIZE,
};

const GOLDEN: Reqack = {
  sessionId: 0x01020304,
  reqackId: 5,
  needSlices: 64,
  needSeq: 0x8000_0000,
  flags: REQACK_FLAG_QUIET,
  answerWindowMs: 4,
  groupSize: 1000,
  heartbeatMs: 1000,
};

// Written from the layout table in protocol/messages/reqack.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '08', //       3  type REQACK
  '01020304', // 4  sessionId
  '00000005', // 8  reqackId 5
  '00000040', //12  needSlices 64
  '80000000', //16  needSeq 2^31
  '01', //      20  flags = REQACK_FLAG_QUIET
  '00', //      21  reserved
  '0004', //    22  answerWindowMs 4
  '000003e8', //24  groupSize 1000
  '000003e8', //28  heartbeatMs 1000
);

const MIN: Reqack = { sessionId: 0, reqackId: 1, needSlices: 0, needSeq: 0, flags: 0, answerWindowMs: 0, groupSize: 0, heartbeatMs: 0 };
const MAX: Reqack = {
  sessionId: 0xffff_ffff,
  reqackId: 0xffff_ffff,
  needSlices: 0xffff_ffff,
  needSeq: 0xffff_ffff,
  flags: REQACK_FLAG_QUIET,
  answerWindowMs: 0xffff,
  groupSize: 0xffff_ffff,
  heartbeatMs: 0xffff_ffff,
};
/** A small session's REQACK: sent only while the window is full, answered at once. */
const LOUD: Reqack = { ...GOLDEN, flags: 0, answerWindowMs: 0, groupSize: 3, heartbeatMs: 0 };

codecCases({
  name: 'REQACK',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: REQACK_SIZE, stored: goldenFile('reqack') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['without REQACK_FLAG_QUIET', LOUD],
  ],
  size: { name: 'REQACK_SIZE', value: REQACK_SIZE, expected: 32 },
  prefixes: { of: [GOLDEN, MIN, MAX, LOUD], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Join)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x2e9ac, valid: [GOLDEN, MIN, MAX, LOUD] },
});

describe('REQACK field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeReqack(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  // needSeq is a wrapping counter and needSlices is compared, never used as an index;
  // groupSize only scales random waits. Every u32 in them must decode.
  it('accepts every u32 in needSlices, needSeq and groupSize, and every u16 answer window', () => {
    for (const n of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      const msg = { ...GOLDEN, sessionId: n, needSlices: n, needSeq: n, groupSize: n, answerWindowMs: n & 0xffff };
      expect(decodeReqack(encodeToBytes(codec, msg)).ok).toBe(true);
    }
  });

  it('reqackId is not 0 (a STATUS names the REQACK it answers, and 0 names none)', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, reqackId: 0 }), /reqackId/);
  });

  it('flags has no unknown bits, and the reserved byte is 0', () => {
    for (const bit of [1, 2, 7]) expectBadField(encodeToBytes(codec, { ...GOLDEN, flags: REQACK_FLAG_QUIET | (1 << bit) }), /flags/);
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint8(21, 1)),
      /reserved/,
    );
  });

  it('heartbeatMs is set exactly when REQACK_FLAG_QUIET is', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, heartbeatMs: 0 }), /heartbeatMs/);
    expectBadField(encodeToBytes(codec, { ...LOUD, heartbeatMs: 500 }), /heartbeatMs/);
  });
});
