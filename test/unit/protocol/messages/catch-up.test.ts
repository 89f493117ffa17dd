import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { CATCH_UP_SIZE, CATCH_UP_WHY_MAX, type CatchUp, CatchUpWhy, decodeCatchUp, encodeCatchUp } from '../../../../protocol/messages/catch-up.js';
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

describe('CATCHUP golden bytes', () => {
  it('encodes the fixed CATCHUP to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * CATCH_UP_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/catch-up.hex back to the fixed CATCHUP', () => {
    const golden = readGolden('catch-up');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeCatchUp(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('CATCHUP round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['below --min-rate', { ...GOLDEN, why: CatchUpWhy.BelowMinRate }],
    ['late, in order', { ...GOLDEN, why: CatchUpWhy.LateInOrder, rateKBps: 0, paceKBps: 0 }],
  ])('%s', (_name, msg: CatchUp) => {
    expectRoundTrip(codec, msg);
  });
});

describe('CATCHUP truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    for (const n of [1, 4, 64]) expectErr(decodeCatchUp(withTrailing(encodeToBytes(codec, GOLDEN), n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeCatchUp(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Drop))), 'ERR_BAD_TYPE');
  });
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

describe('CATCHUP random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0xca7c,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
