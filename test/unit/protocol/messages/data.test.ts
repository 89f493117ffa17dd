import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import {
  DATA_FLAG_FINAL_SLICE,
  DATA_FLAG_LAST,
  DATA_FLAG_PARITY,
  DATA_FLAG_REPAIR,
  DATA_HEADER_SIZE,
  type Data,
  dataLength,
  decodeData,
  encodeData,
  encodeDataHeader,
} from '../../../../protocol/messages/data.js';
import { codecCases } from '../../../support/codec-cases.js';
import { mulberry32 } from '../../../support/prng.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched, toHex, withTrailing } from './codec-harness.js';

const codec: CodecUnderTest<Data> = {
  type: MessageType.Data,
  decode: decodeData,
  encode: encodeData,
  length: dataLength,
};

const ALL_FLAGS = DATA_FLAG_PARITY | DATA_FLAG_LAST | DATA_FLAG_REPAIR | DATA_FLAG_FINAL_SLICE;

// A repair parity symbol: stripe 3, parity index 2, of slice 7 (a full slice of 128 x 1456 bytes).
const GOLDEN: Data = {
  sessionId: 0x01020304,
  seq: 256,
  sliceNo: 7,
  sliceBytes: 128 * 1456,
  flags: DATA_FLAG_PARITY | DATA_FLAG_REPAIR,
  stripe: 3,
  blockNo: 2,
  payload: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
};

// Written from the layout table in protocol/messages/data.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '05', //       3  type DATA
  '01020304', // 4  sessionId
  '00000100', // 8  seq 256
  '00000007', //12  sliceNo 7
  '0002d800', //16  sliceBytes 186368 = 128 * 1456
  '05', //      20  flags = PARITY (1) | REPAIR (4)
  '03', //      21  stripe 3
  '0002', //    22  blockNo: parity index 2
  'deadbeef', //24  payload
);

const MIN: Data = {
  sessionId: 0,
  seq: 0,
  sliceNo: 0,
  sliceBytes: 1,
  flags: 0,
  stripe: 0,
  blockNo: 0,
  payload: Uint8Array.of(0),
};

const rand = mulberry32(0xda7a);
const MAX: Data = {
  sessionId: 0xffff_ffff,
  seq: 0xffff_ffff,
  sliceNo: 0xffff_ffff,
  sliceBytes: 0xffff_ffff,
  flags: ALL_FLAGS,
  stripe: 255,
  blockNo: 0xffff,
  payload: Uint8Array.from({ length: 65000 }, () => Math.floor(rand() * 256)),
};

const LAST_DATA_BLOCK: Data = {
  ...GOLDEN,
  sliceBytes: 1000 * 3 + 17,
  flags: DATA_FLAG_LAST | DATA_FLAG_FINAL_SLICE,
  stripe: 0,
  blockNo: 3,
  payload: new Uint8Array(17).fill(0x5a),
};

codecCases({
  name: 'DATA',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: DATA_HEADER_SIZE + 4, stored: goldenFile('data') }],
  roundTrips: [
    ['golden parity symbol', GOLDEN],
    ['minimum of every field, one-byte payload', MIN],
    ['maximum of every field, 65000-byte payload', MAX],
    ['short last block of the final slice', LAST_DATA_BLOCK],
  ],
  prefixes: {
    of: [GOLDEN, MIN, MAX],
    below: DATA_HEADER_SIZE + 1,
    error: 'ERR_TRUNCATED',
    title: 'every prefix shorter than the header plus one payload byte fails',
  },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Hello)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xda7a, valid: [GOLDEN, MIN, { ...MAX, payload: MAX.payload.subarray(0, 60) }, LAST_DATA_BLOCK] },
});

describe('DATA golden bytes', () => {
  it('encodeDataHeader writes the same first 24 bytes and nothing else (the hot path sends [header, payload])', () => {
    const buf = new Uint8Array(DATA_HEADER_SIZE + 8).fill(0xee);
    expect(encodeDataHeader(GOLDEN, buf)).toBe(DATA_HEADER_SIZE);
    expect(toHex(buf.subarray(0, DATA_HEADER_SIZE))).toBe(GOLDEN_HEX.slice(0, 2 * DATA_HEADER_SIZE));
    expect(buf.subarray(DATA_HEADER_SIZE).every((b) => b === 0xee)).toBe(true);
  });
});

describe('DATA round trip', () => {
  it('encode returns dataLength: the header plus the payload', () => {
    for (const msg of [GOLDEN, MIN, MAX, LAST_DATA_BLOCK]) {
      expect(dataLength(msg)).toBe(DATA_HEADER_SIZE + msg.payload.byteLength);
      expect(encodeData(msg, new Uint8Array(dataLength(msg)))).toBe(dataLength(msg));
    }
  });

  it('the decoded payload is a view into the datagram, not a copy', () => {
    const b = encodeToBytes(codec, GOLDEN);
    const r = decodeData(b);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.payload.buffer).toBe(b.buffer);
    expect(r.value.payload.byteOffset).toBe(b.byteOffset + DATA_HEADER_SIZE);
  });
});

describe('DATA truncation and length', () => {
  it('a header with no payload (24 bytes) is ERR_TRUNCATED', () => {
    expectErr(decodeData(encodeToBytes(codec, GOLDEN).subarray(0, DATA_HEADER_SIZE)), 'ERR_TRUNCATED');
  });

  // The datagram alone cannot say how long the payload must be: a cut or padded DATA is
  // a valid DATA with another payload, and checkDataAgainstSession rejects it.
  it('a longer prefix, or trailing bytes, is a DATA with another payload', () => {
    const b = encodeToBytes(codec, GOLDEN);
    const cut = decodeData(b.subarray(0, DATA_HEADER_SIZE + 1));
    expect(cut.ok && cut.value.payload.byteLength).toBe(1);
    const padded = decodeData(withTrailing(b, 3));
    expect(padded.ok && padded.value.payload.byteLength).toBe(7);
  });
});

describe('DATA field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeData(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('flags has no unknown bits', () => {
    for (let bit = 4; bit < 8; bit++) {
      expectBadField(encodeToBytes(codec, { ...GOLDEN, flags: GOLDEN.flags | (1 << bit) }), /flags/);
    }
    expect(decodeData(encodeToBytes(codec, { ...GOLDEN, flags: ALL_FLAGS })).ok).toBe(true);
  });

  it('sliceBytes is at least 1', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, sliceBytes: 0 }), /sliceBytes/);
  });

  it('a data block (not parity) has stripe 0', () => {
    for (const stripe of [1, 255]) {
      expectBadField(encodeToBytes(codec, { ...LAST_DATA_BLOCK, stripe }), /stripe/);
    }
    expect(decodeData(encodeToBytes(codec, { ...GOLDEN, stripe: 255 })).ok).toBe(true);
  });
});
