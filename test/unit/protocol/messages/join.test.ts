import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, MessageType } from '../../../../protocol/header.js';
import { decodeJoin, encodeJoin, JOIN_SIZE, type Join } from '../../../../protocol/messages/join.js';
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

const codec: CodecUnderTest<Join> = {
  type: MessageType.Join,
  decode: decodeJoin,
  encode: encodeJoin,
  length: () => JOIN_SIZE,
};

const GOLDEN: Join = { sessionId: 0xcafebabe, receiverId: 0x0badf00d, caps: CAP_PARITY_REPAIR, rcvBufBytes: 212_992 };

// Written from the layout table in protocol/messages/join.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '02', //       3  type JOIN
  'cafebabe', // 4  sessionId
  '0badf00d', // 8  receiverId
  '00000001', //12  caps = CAP_PARITY_REPAIR
  '00034000', //16  rcvBufBytes 212992 = 0x34000
);

const MIN: Join = { sessionId: 0, receiverId: 1, caps: 0, rcvBufBytes: 0 };
const MAX: Join = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, caps: 0xffff_ffff, rcvBufBytes: 0xffff_ffff };

describe('JOIN golden bytes', () => {
  it('encodes the fixed JOIN to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * JOIN_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/join.hex back to the fixed JOIN', () => {
    const golden = readGolden('join');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeJoin(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('JOIN round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: Join) => {
    expectRoundTrip(codec, msg);
  });

  it('encode returns JOIN_SIZE', () => {
    expect(JOIN_SIZE).toBe(20);
    expect(encodeJoin(GOLDEN, new Uint8Array(JOIN_SIZE))).toBe(JOIN_SIZE);
  });
});

describe('JOIN truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeJoin(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeJoin(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept))), 'ERR_BAD_TYPE');
  });
});

describe('JOIN field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeJoin(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });

  it('caps and rcvBufBytes take any u32', () => {
    expect(decodeJoin(encodeToBytes(codec, { ...GOLDEN, caps: 0xffff_ffff, rcvBufBytes: 0 })).ok).toBe(true);
  });
});

describe('JOIN random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0x1017,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
