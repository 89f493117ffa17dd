import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeReqack, encodeReqack, REQACK_SIZE, type Reqack } from '../../../../protocol/messages/reqack.js';
import {
  type CodecUnderTest,
  encodeToBytes,
  expectErr,
  expectEveryPrefixFails,
  expectRoundTrip,
  fromHex,
  fuzzDecoder,
  hex,
  patched,
  readGolden,
  toHex,
  withTrailing,
} from './codec-harness.js';

const codec: CodecUnderTest<Reqack> = {
  type: MessageType.Reqack,
  decode: decodeReqack,
  encode: encodeReqack,
  length: () => REQACK_SIZE,
};

const GOLDEN: Reqack = { sessionId: 0x01020304, reqackId: 5, needSlices: 64, needSeq: 0x8000_0000 };

// Written from the layout table in protocol/messages/reqack.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '01', //       2  version 1
  '08', //       3  type REQACK
  '01020304', // 4  sessionId
  '00000005', // 8  reqackId 5
  '00000040', //12  needSlices 64
  '80000000', //16  needSeq 2^31
);

const MIN: Reqack = { sessionId: 0, reqackId: 0, needSlices: 0, needSeq: 0 };
const MAX: Reqack = { sessionId: 0xffff_ffff, reqackId: 0xffff_ffff, needSlices: 0xffff_ffff, needSeq: 0xffff_ffff };

describe('REQACK golden bytes', () => {
  it('encodes the fixed REQACK to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * REQACK_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/reqack.hex back to the fixed REQACK', () => {
    const golden = readGolden('reqack');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeReqack(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('REQACK round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: Reqack) => {
    expectRoundTrip(codec, msg);
  });

  it('encode returns REQACK_SIZE', () => {
    expect(REQACK_SIZE).toBe(20);
    expect(encodeReqack(GOLDEN, new Uint8Array(REQACK_SIZE))).toBe(REQACK_SIZE);
  });
});

describe('REQACK truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeReqack(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeReqack(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Join))), 'ERR_BAD_TYPE');
  });
});

describe('REQACK field ranges', () => {
  // The layout has no range to check: reqackId and needSeq are wrapping counters and
  // needSlices is compared, never used as an index. Every u32 must therefore decode.
  it('accepts every u32 in every field', () => {
    for (const n of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      expect(decodeReqack(encodeToBytes(codec, { sessionId: n, reqackId: n, needSlices: n, needSeq: n })).ok).toBe(true);
    }
  });
});

describe('REQACK random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(codec, 0x2e9ac, [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)));
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
