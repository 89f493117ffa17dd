import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeReportAck, encodeReportAck, REPORT_ACK_SIZE, type ReportAck } from '../../../../protocol/messages/report-ack.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

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

codecCases({
  name: 'REPORT_ACK',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: REPORT_ACK_SIZE, stored: goldenFile('report-ack') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ],
  size: { name: 'REPORT_ACK_SIZE', value: REPORT_ACK_SIZE, expected: 12 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  // ACCEPT has the same layout; the type byte alone tells them apart.
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Accept)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x2e9a, valid: [GOLDEN, MIN, MAX] },
});

describe('REPORT_ACK field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeReportAck(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});
