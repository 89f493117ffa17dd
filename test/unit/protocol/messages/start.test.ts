import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeStart, encodeStart, START_SIZE, type Start } from '../../../../protocol/messages/start.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Start> = {
  type: MessageType.Start,
  decode: decodeStart,
  encode: encodeStart,
  length: () => START_SIZE,
};

const GOLDEN: Start = { sessionId: 0x11223344, receivers: 16, windowPackets: 512 };

// Written from the layout table in protocol/messages/start.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '04', //       3  type START
  '11223344', // 4  sessionId
  '0010', //     8  receivers 16
  '0200', //    10  windowPackets 512
);

const MIN: Start = { sessionId: 0, receivers: 0, windowPackets: 1 };
const MAX: Start = { sessionId: 0xffff_ffff, receivers: 0xffff, windowPackets: 0xffff };

codecCases({
  name: 'START',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: START_SIZE, stored: goldenFile('start') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ],
  size: { name: 'START_SIZE', value: START_SIZE, expected: 12 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x57a27, valid: [GOLDEN, MIN, MAX] },
});

describe('START field ranges', () => {
  it('windowPackets is at least 1', () => {
    const r = decodeStart(encodeToBytes(codec, { ...GOLDEN, windowPackets: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/windowPackets/);
    expect(decodeStart(encodeToBytes(codec, { ...GOLDEN, windowPackets: 1 })).ok).toBe(true);
  });

  it('receivers takes any u16, including 0', () => {
    for (const receivers of [0, 1, 0xffff]) {
      expect(decodeStart(encodeToBytes(codec, { ...GOLDEN, receivers })).ok).toBe(true);
    }
  });
});
