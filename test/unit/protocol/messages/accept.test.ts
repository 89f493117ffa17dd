import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { ACCEPT_SIZE, type Accept, decodeAccept, encodeAccept } from '../../../../protocol/messages/accept.js';
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

const codec: CodecUnderTest<Accept> = {
  type: MessageType.Accept,
  decode: decodeAccept,
  encode: encodeAccept,
  length: () => ACCEPT_SIZE,
};

const GOLDEN: Accept = { sessionId: 0xcafebabe, receiverId: 0x0badf00d, joinSlice: 0x00012345 };

// Written from the layout table in protocol/messages/accept.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '03', //       3  type ACCEPT
  'cafebabe', // 4  sessionId
  '0badf00d', // 8  receiverId
  '00012345', // 12 joinSlice
);

const MIN: Accept = { sessionId: 0, receiverId: 1, joinSlice: 0 };
const MAX: Accept = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, joinSlice: 0xffff_ffff };

describe('ACCEPT golden bytes', () => {
  it('encodes the fixed ACCEPT to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * ACCEPT_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/accept.hex back to the fixed ACCEPT', () => {
    const golden = readGolden('accept');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeAccept(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('ACCEPT round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: Accept) => {
    expectRoundTrip(codec, msg);
  });

  it('encode returns ACCEPT_SIZE', () => {
    expect(ACCEPT_SIZE).toBe(16);
    expect(encodeAccept(GOLDEN, new Uint8Array(ACCEPT_SIZE))).toBe(ACCEPT_SIZE);
  });
});

describe('ACCEPT truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeAccept(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    expectErr(decodeAccept(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.ReportAck))), 'ERR_BAD_TYPE');
  });
});

describe('ACCEPT field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeAccept(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});

describe('ACCEPT random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0xacce97,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
