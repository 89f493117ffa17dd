import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { CLONE_REPORT_ACK_SIZE, type CloneReportAck, decodeCloneReportAck, encodeCloneReportAck } from '../../../../protocol/messages/clone-report-ack.js';
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

const codec: CodecUnderTest<CloneReportAck> = {
  type: MessageType.CloneReportAck,
  decode: decodeCloneReportAck,
  encode: encodeCloneReportAck,
  length: () => CLONE_REPORT_ACK_SIZE,
};

const GOLDEN: CloneReportAck = { sessionId: 0x01020304, receiverId: 42 };

// Written from the layout table in protocol/messages/clone-report-ack.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0f', //       3  type CLONE_REPORT_ACK (15)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
);

const MIN: CloneReportAck = { sessionId: 0, receiverId: 1 };
const MAX: CloneReportAck = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff };

describe('CLONE_REPORT_ACK golden bytes', () => {
  it('encodes the fixed CLONE_REPORT_ACK to the bytes of the layout table', () => {
    expect(GOLDEN_HEX.length).toBe(2 * CLONE_REPORT_ACK_SIZE);
    expect(toHex(encodeToBytes(codec, GOLDEN))).toBe(GOLDEN_HEX);
  });

  it('decodes test/fixtures/golden/clone-report-ack.hex back to the fixed CLONE_REPORT_ACK', () => {
    const golden = readGolden('clone-report-ack');
    expect(golden).toBe(GOLDEN_HEX);
    expect(decodeCloneReportAck(fromHex(golden))).toEqual({ ok: true, value: GOLDEN });
  });
});

describe('CLONE_REPORT_ACK round trip', () => {
  it.each([
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ])('%s', (_name, msg: CloneReportAck) => {
    expectRoundTrip(codec, msg);
  });
});

describe('CLONE_REPORT_ACK truncation and length', () => {
  it('every truncated prefix fails', () => {
    for (const msg of [GOLDEN, MIN, MAX]) expectEveryPrefixFails(codec, encodeToBytes(codec, msg));
  });

  it('trailing garbage is ERR_BAD_LENGTH', () => {
    const b = encodeToBytes(codec, GOLDEN);
    for (const n of [1, 4, 64]) expectErr(decodeCloneReportAck(withTrailing(b, n)), 'ERR_BAD_LENGTH');
  });

  it('REPORT_ACK (the same layout) is not a CLONE_REPORT_ACK: the type byte tells them apart', () => {
    expectErr(decodeCloneReportAck(patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.ReportAck))), 'ERR_BAD_TYPE');
  });
});

describe('CLONE_REPORT_ACK field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeCloneReportAck(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});

describe('CLONE_REPORT_ACK random input', () => {
  it('never throws, and whatever decodes re-encodes to the same bytes', () => {
    const counts = fuzzDecoder(
      codec,
      0xc1a,
      [GOLDEN, MIN, MAX].map((m) => encodeToBytes(codec, m)),
    );
    expect(counts.mutationsDecodedOk).toBeGreaterThan(0);
  });
});
