import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { CLONE_REPORT_ACK_SIZE, type CloneReportAck, decodeCloneReportAck, encodeCloneReportAck } from '../../../../protocol/messages/clone-report-ack.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

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

codecCases({
  name: 'CLONE_REPORT_ACK',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: CLONE_REPORT_ACK_SIZE, stored: goldenFile('clone-report-ack') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
  ],
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: {
    bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.ReportAck)),
    error: 'ERR_BAD_TYPE',
    title: 'REPORT_ACK (the same layout) is not a CLONE_REPORT_ACK: the type byte tells them apart',
  },
  random: { seed: 0xc1a, valid: [GOLDEN, MIN, MAX] },
});

describe('CLONE_REPORT_ACK field ranges', () => {
  it('receiverId is not 0', () => {
    const r = decodeCloneReportAck(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(/receiverId/);
  });
});
