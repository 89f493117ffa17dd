import { describe, expect, it } from 'vitest';
import { MAX_U53, MessageType } from '../../../../protocol/header.js';
import { DIGEST_BYTES, decodeEnd, END_SIZE, type End, encodeEnd } from '../../../../protocol/messages/end.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched, toHex } from './codec-harness.js';

const codec: CodecUnderTest<End> = {
  type: MessageType.End,
  decode: decodeEnd,
  encode: encodeEnd,
  length: () => END_SIZE,
};

const COUNTING_DIGEST = Uint8Array.from({ length: DIGEST_BYTES }, (_, i) => i);

// 2^32 + 5 bytes in slices of 128 x 1456 = 186368 bytes: 23045 full slices and one of 116741 bytes.
const GOLDEN: End = { sessionId: 0x01020304, totalBytes: 2 ** 32 + 5, totalSlices: 23046, digest: COUNTING_DIGEST };

// Written from the layout table in protocol/messages/end.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '09', //       3  type END
  '01020304', // 4  sessionId
  '00000001', // 8  totalBytes 2^32 + 5, high word
  '00000005', //12  totalBytes low word
  '00005a06', //16  totalSlices 23046
  '0001020304050607', //20  digest 00 01 .. 1f
  '08090a0b0c0d0e0f',
  '1011121314151617',
  '18191a1b1c1d1e1f',
);

const EMPTY: End = { sessionId: 0, totalBytes: 0, totalSlices: 0, digest: new Uint8Array(DIGEST_BYTES) };
const MAX: End = {
  sessionId: 0xffff_ffff,
  totalBytes: MAX_U53,
  totalSlices: 0xffff_ffff,
  digest: new Uint8Array(DIGEST_BYTES).fill(0xff),
};

codecCases({
  name: 'END',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: END_SIZE, stored: goldenFile('end') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['empty image', EMPTY],
    ['maximum of every field', MAX],
    ['one byte in one slice', { ...GOLDEN, totalBytes: 1, totalSlices: 1 }],
    ['one slice per byte', { ...GOLDEN, totalBytes: 0xffff_ffff, totalSlices: 0xffff_ffff }],
  ],
  size: { name: 'END_SIZE', value: END_SIZE, expected: 52 },
  prefixes: { of: [GOLDEN, EMPTY, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Report)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xe9d, valid: [GOLDEN, EMPTY, MAX] },
});

describe('END round trip', () => {
  it('the decoded digest is a copy, not a view into the datagram', () => {
    const b = encodeToBytes(codec, GOLDEN);
    const r = decodeEnd(b);
    b.fill(0xaa, 20);
    expect(r.ok && toHex(r.value.digest)).toBe(toHex(COUNTING_DIGEST));
  });

  it('a digest that is not 32 bytes is caller misuse (RangeError)', () => {
    expect(() => encodeEnd({ ...GOLDEN, digest: new Uint8Array(31) }, new Uint8Array(END_SIZE))).toThrow(RangeError);
  });
});

describe('END field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeEnd(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('totalBytes fits in 53 bits', () => {
    for (const hi of [0x0020_0000, 0xffff_ffff]) {
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint32(8, hi, false)),
        /totalBytes/,
      );
    }
  });

  it('totalSlices is 0 exactly when totalBytes is 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, totalBytes: 0, totalSlices: 1 }), /totalSlices/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, totalBytes: 5, totalSlices: 0 }), /totalSlices/);
  });

  it('totalSlices is at most totalBytes (a slice holds at least one byte)', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, totalBytes: 3, totalSlices: 4 }), /totalSlices/);
    expect(decodeEnd(encodeToBytes(codec, { ...GOLDEN, totalBytes: 3, totalSlices: 3 })).ok).toBe(true);
  });
});
