import { describe, expect, it } from 'vitest';
import { MAX_U53, MessageType } from '../../../../protocol/header.js';
import {
  decodeStatus,
  encodeStatus,
  LOSS_PPM_ALL,
  STATUS_FLAG_COMPLETE,
  STATUS_FLAG_REPLY,
  STATUS_SIZE,
  type Status,
} from '../../../../protocol/messages/status.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched, toHex } from './codec-harness.js';

const codec: CodecUnderTest<Status> = {
  type: MessageType.Status,
  decode: decodeStatus,
  encode: encodeStatus,
  length: () => STATUS_SIZE,
};

const GOLDEN: Status = {
  sessionId: 0x01020304,
  receiverId: 42,
  flags: STATUS_FLAG_REPLY,
  seenSeq: 0xffff_fffe,
  deliveredSlices: 1000,
  bytesWritten: 0x1_2345_6789,
  reqackId: 7,
  lossPpm: 10_000,
};

// Written from the layout table in protocol/messages/status.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '07', //       3  type STATUS
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '01', //      12  flags = STATUS_FLAG_REPLY
  '000000', //  13  reserved
  'fffffffe', //16  seenSeq 2^32 - 2
  '000003e8', //20  deliveredSlices 1000
  '00000001', //24  bytesWritten 0x1_2345_6789, high word
  '23456789', //28  bytesWritten low word
  '00000007', //32  reqackId 7
  '00002710', //36  lossPpm 10000
);

const MIN: Status = { sessionId: 0, receiverId: 1, flags: 0, seenSeq: 0, deliveredSlices: 0, bytesWritten: 0, reqackId: 0, lossPpm: 0 };
const MAX: Status = {
  sessionId: 0xffff_ffff,
  receiverId: 0xffff_ffff,
  flags: STATUS_FLAG_REPLY | STATUS_FLAG_COMPLETE,
  seenSeq: 0xffff_ffff,
  deliveredSlices: 0xffff_ffff,
  bytesWritten: MAX_U53,
  reqackId: 0xffff_ffff,
  lossPpm: LOSS_PPM_ALL,
};

codecCases({
  name: 'STATUS',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: STATUS_SIZE, stored: goldenFile('status') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['complete, not a reply', { ...GOLDEN, flags: STATUS_FLAG_COMPLETE, reqackId: 0 }],
    ['a heartbeat: no flag, no REQACK, no loss', { ...GOLDEN, flags: 0, reqackId: 0, lossPpm: 0 }],
    ['bytesWritten 2^32', { ...GOLDEN, bytesWritten: 2 ** 32 }],
    ['bytesWritten 2^32 - 1', { ...GOLDEN, bytesWritten: 2 ** 32 - 1 }],
  ],
  size: { name: 'STATUS_SIZE', value: STATUS_SIZE, expected: 40 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Reqack)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x57a7, valid: [GOLDEN, MIN, MAX] },
});

describe('STATUS golden bytes', () => {
  it('writes 2^53 - 1 as 001fffff ffffffff', () => {
    expect(toHex(encodeToBytes(codec, MAX).subarray(24, 32))).toBe('001fffffffffffff');
  });
});

describe('STATUS field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeStatus(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('flags has no unknown bits', () => {
    for (const bit of [2, 3, 7]) expectBadField(encodeToBytes(codec, { ...GOLDEN, flags: 1 << bit }), /flags/);
  });

  it('each reserved byte is 0', () => {
    for (const off of [13, 14, 15])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint8(off, 0x40)),
        /reserved/,
      );
  });

  it('a reqackId comes only with the REPLY flag (an answer to END names none)', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, flags: 0 }), /reqackId/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, flags: STATUS_FLAG_COMPLETE }), /reqackId/);
    expect(decodeStatus(encodeToBytes(codec, { ...GOLDEN, reqackId: 0 })).ok).toBe(true);
    expect(decodeStatus(encodeToBytes(codec, { ...GOLDEN, flags: 0, reqackId: 0 })).ok).toBe(true);
  });

  it('lossPpm is at most a million', () => {
    expect(decodeStatus(encodeToBytes(codec, { ...GOLDEN, lossPpm: LOSS_PPM_ALL })).ok).toBe(true);
    for (const ppm of [LOSS_PPM_ALL + 1, 0xffff_ffff]) expectBadField(encodeToBytes(codec, { ...GOLDEN, lossPpm: ppm }), /lossPpm/);
  });

  it('bytesWritten fits in 53 bits', () => {
    for (const hi of [0x0020_0000, 0xffff_ffff]) {
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint32(24, hi, false)),
        /bytesWritten/,
      );
    }
  });
});
