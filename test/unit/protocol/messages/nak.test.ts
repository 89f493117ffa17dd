import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { MAX_STRIPES } from '../../../../protocol/messages/hello.js';
import { decodeNak, encodeNak, NAK_HEADER_SIZE, type Nak, nakLength } from '../../../../protocol/messages/nak.js';
import { codecCases } from '../../../support/codec-cases.js';
import { mulberry32 } from '../../../support/prng.js';
import { type CodecUnderTest, encodeToBytes, expectErr, expectRoundTrip, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Nak> = {
  type: MessageType.Nak,
  decode: decodeNak,
  encode: encodeNak,
  length: nakLength,
};

const GOLDEN: Nak = { sessionId: 0x01020304, receiverId: 9, sliceNo: 65536, seenSeq: 0x8000_0001, need: [0, 3, 255], heard: [0, 1, 200] };

// Written from the layout table in protocol/messages/nak.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '06', //       3  type NAK
  '01020304', // 4  sessionId
  '00000009', // 8  receiverId 9
  '00010000', //12  sliceNo 65536
  '03', //      16  stripes 3
  '00', //      17  reserved
  '80000001', //18  seenSeq 2^31 + 1
  '00', //      22  need[0] 0
  '03', //      23  need[1] 3
  'ff', //      24  need[2] 255
  '00', //      25  heard[0] 0 (no parity yet)
  '01', //      26  heard[1] 1 (parity index 0 heard)
  'c8', //      27  heard[2] 200
);

const rand = mulberry32(0x9a4);
const ONE_STRIPE: Nak = { sessionId: 0, receiverId: 1, sliceNo: 0, seenSeq: 0, need: [0], heard: [0] };
const MAX: Nak = {
  sessionId: 0xffff_ffff,
  receiverId: 0xffff_ffff,
  sliceNo: 0xffff_ffff,
  seenSeq: 0xffff_ffff,
  need: Array.from({ length: MAX_STRIPES }, () => Math.floor(rand() * 256)),
  heard: Array.from({ length: MAX_STRIPES }, () => Math.floor(rand() * 256)),
};

codecCases({
  name: 'NAK',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: NAK_HEADER_SIZE + 6, stored: goldenFile('nak') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['one stripe, minimum of every field', ONE_STRIPE],
    ['128 stripes, maximum of every field', MAX],
    ['every need 255', { ...GOLDEN, need: new Array<number>(MAX_STRIPES).fill(255), heard: new Array<number>(MAX_STRIPES).fill(255) }],
  ],
  prefixes: { of: [GOLDEN, ONE_STRIPE, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN, ONE_STRIPE], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Status)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x9a4, valid: [GOLDEN, ONE_STRIPE, MAX] },
});

describe('NAK round trip', () => {
  it('a need above 255 is sent as 255', () => {
    expectRoundTrip(codec, { ...GOLDEN, need: [256, 1000, 7] }, { ...GOLDEN, need: [255, 255, 7] });
    expectRoundTrip(codec, { ...GOLDEN, heard: [256, 0, 9] }, { ...GOLDEN, heard: [255, 0, 9] });
  });

  it('encode returns nakLength: the header plus two bytes per stripe', () => {
    for (const msg of [GOLDEN, ONE_STRIPE, MAX]) {
      expect(nakLength(msg)).toBe(NAK_HEADER_SIZE + 2 * msg.need.length);
      expect(encodeNak(msg, new Uint8Array(nakLength(msg)))).toBe(nakLength(msg));
    }
  });
});

describe('NAK truncation and length', () => {
  it('a stripe count larger than the entries present is ERR_TRUNCATED', () => {
    expectErr(decodeNak(patched(codec, GOLDEN, (v) => v.setUint8(16, 4))), 'ERR_TRUNCATED');
  });

  it('a stripe count smaller than the entries present is ERR_BAD_LENGTH', () => {
    expectErr(decodeNak(patched(codec, GOLDEN, (v) => v.setUint8(16, 2))), 'ERR_BAD_LENGTH');
  });
});

describe('NAK field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeNak(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('stripes is 1..128', () => {
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint8(16, 0)),
      /stripes/,
    );
    // A valid header with stripes = 129 (or 255) and all 2n entries present: only the range can fail.
    for (const n of [MAX_STRIPES + 1, 255]) {
      const b = new Uint8Array(NAK_HEADER_SIZE + 2 * n).fill(1);
      b.set(encodeToBytes(codec, GOLDEN).subarray(0, NAK_HEADER_SIZE));
      b[16] = n;
      b[17] = 0;
      expectBadField(b, /stripes/);
    }
  });

  it('the encoder refuses what the decoder would reject (caller misuse is a RangeError)', () => {
    expect(() => encodeNak({ ...GOLDEN, need: [], heard: [] }, new Uint8Array(64))).toThrow(RangeError);
    const many = new Array<number>(MAX_STRIPES + 1).fill(1);
    expect(() => encodeNak({ ...GOLDEN, need: many, heard: many }, new Uint8Array(512))).toThrow(RangeError);
    expect(() => encodeNak({ ...GOLDEN, heard: [1] }, new Uint8Array(64))).toThrow(RangeError);
  });

  it('the reserved byte is 0', () => {
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint8(17, 1)),
      /reserved/,
    );
  });

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('seenSeq is a wrapping counter: every u32 decodes', () => {
    for (const n of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      expect(decodeNak(encodeToBytes(codec, { ...GOLDEN, seenSeq: n }))).toEqual({ ok: true, value: { ...GOLDEN, seenSeq: n } });
    }
  });
});
