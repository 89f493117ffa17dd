import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeStart, encodeStart, START_SIZE, type Start } from '../../../../protocol/messages/start.js';
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

describe('START golden bytes', () => {
  it('encodes the fixed START to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * START_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/start.hex back to the fixed START', () => {
    const golden = readGolden('start');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeStart(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('START round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: Start) => {
    expectRoundTrip(codec, msg);
  });

  it('encode returns START_SIZE', () => {
    expect(START_SIZE).toBe(12);
    expect(encodeStart(GOLDEN, new Uint8Array(START_SIZE))).toBe(START_SIZE);
  });
});

describe('START truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeStart(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeStart(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept))), 'ERR_BAD_TYPE');
  });
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

describe('START random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0x57a27,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
