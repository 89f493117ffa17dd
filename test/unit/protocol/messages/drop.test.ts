import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { DROP_ALL, DROP_SIZE, type Drop, decodeDrop, encodeDrop } from '../../../../protocol/messages/drop.js';
import { MAX_REASON, Reason } from '../../../../protocol/reasons.js';
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

const codec: CodecUnderTest<Drop> = {
  type: MessageType.Drop,
  decode: decodeDrop,
  encode: encodeDrop,
  length: () => DROP_SIZE,
};

const GOLDEN: Drop = { sessionId: 0x01020304, receiverId: 42, reason: Reason.NoAnswer };

// Written from the layout table in protocol/messages/drop.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0d', //       3  type DROP (13)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '07', //      12  reason 7 = no answer
  '000000', //  13  reserved
);

const ALL: Drop = { sessionId: 0, receiverId: DROP_ALL, reason: Reason.SenderAbort };
const MAX: Drop = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, reason: MAX_REASON };

describe('DROP golden bytes', () => {
  it('encodes the fixed DROP to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * DROP_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/drop.hex back to the fixed DROP', () => {
    const golden = readGolden('drop');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeDrop(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('DROP round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['to every receiver (receiverId 0)', ALL],
    ['maximum of every field', MAX],
    ['reason none', { ...GOLDEN, reason: Reason.None }],
  ])('%s', (_name, msg: Drop) => {
    expectRoundTrip(codec, msg);
  });

  it('every reason round-trips', () => {
    for (let reason = 0; reason <= MAX_REASON; reason++) expectRoundTrip(codec, { ...GOLDEN, reason });
  });

  it('encode returns DROP_SIZE', () => {
    expect(DROP_SIZE).toBe(16);
    expect(encodeDrop(GOLDEN, new Uint8Array(DROP_SIZE))).toBe(DROP_SIZE);
  });
});

describe('DROP truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, ALL, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeDrop(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeDrop(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Leave))), 'ERR_BAD_TYPE');
  });
});

describe('DROP field ranges', () => {
  it('reason is at most MAX_REASON', () => {
    for (const reason of [MAX_REASON + 1, 0x80, 0xff]) {
      const r = decodeDrop(encodeToBytes(codec, { ...GOLDEN, reason }));
      expectErr(r, 'ERR_BAD_FIELD');
      if (!r.ok) expect(r.detail).toMatch(/reason/);
    }
  });

  it('each reserved byte is 0', () => {
    for (const off of [13, 14, 15]) {
      const r = decodeDrop(patched(codec, GOLDEN, (v) => v.setUint8(off, 1)));
      expectErr(r, 'ERR_BAD_FIELD');
      if (!r.ok) expect(r.detail).toMatch(/reserved/);
    }
  });
});

describe('DROP random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0xd209,
      [GOLDEN, ALL, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
