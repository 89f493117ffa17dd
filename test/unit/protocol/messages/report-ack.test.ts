import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeReportAck, encodeReportAck, REPORT_ACK_SIZE, type ReportAck } from '../../../../protocol/messages/report-ack.js';
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

const codec: CodecUnderTest<ReportAck> = {
  type: MessageType.ReportAck,
  decode: decodeReportAck,
  encode: encodeReportAck,
  length: () => REPORT_ACK_SIZE,
};

const GOLDEN: ReportAck = { sessionId: 0x01020304, receiverId: 42 };

// Written from the layout table in protocol/messages/report-ack.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0b', //       3  type REPORT_ACK (11)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
);

const MIN: ReportAck = { sessionId: 0, receiverId: 1 };
const MAX: ReportAck = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff };

describe('REPORT_ACK golden bytes', () => {
  it('encodes the fixed REPORT_ACK to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * REPORT_ACK_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/report-ack.hex back to the fixed REPORT_ACK', () => {
    const golden = readGolden('report-ack');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeReportAck(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('REPORT_ACK round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: ReportAck) => {
    expectRoundTrip(codec, msg);
  });

  it('encode returns REPORT_ACK_SIZE', () => {
    expect(REPORT_ACK_SIZE).toBe(12);
    expect(encodeReportAck(GOLDEN, new Uint8Array(REPORT_ACK_SIZE))).toBe(REPORT_ACK_SIZE);
  });
});

describe('REPORT_ACK truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeReportAck(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('another message type is ERR_BAD_TYPE', () => {
    // ACCEPT has the same layout; the type byte alone tells them apart.
    expectErr(decodeReportAck(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept))), 'ERR_BAD_TYPE');
  });
});

describe('REPORT_ACK field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeReportAck(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});

describe('REPORT_ACK random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0x2e9a,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
