import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../../protocol/header.js';
import { decodeLeave, encodeLeave, LEAVE_HEADER_SIZE, type Leave, leaveLength } from '../../../../protocol/messages/leave.js';
import { MAX_REASON, Reason } from '../../../../protocol/reasons.js';
import { MAX_DETAIL_BYTES } from '../../../../protocol/text.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, expectRoundTrip, goldenFile, hex, messageFamily, patched } from './codec-harness.js';
import { BOUNDARY_DETAILS, DETAILS, detailReencodes, longestPrefixWithin, utf8 } from './detail-text.js';

const codec: CodecUnderTest<Leave> = {
  type: MessageType.Leave,
  decode: decodeLeave,
  encode: encodeLeave,
  length: leaveLength,
  reencodes: (b) => detailReencodes(b.subarray(LEAVE_HEADER_SIZE)),
};

const GOLDEN: Leave = { sessionId: 0x01020304, receiverId: 42, reason: Reason.Interrupted, detail: 'SIGINT' };

// Written from the layout table in protocol/messages/leave.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0c', //       3  type LEAVE (12)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '05', //      12  reason 5 = interrupted
  '00', //      13  reserved
  '0006', //    14  detailBytes 6
  '534947494e54', //16  detail 'SIGINT'
);

const MIN: Leave = { sessionId: 0, receiverId: 1, reason: 1 as Reason, detail: '' };
const MAX: Leave = { sessionId: 0xffff_ffff, receiverId: 0xffff_ffff, reason: MAX_REASON, detail: '∑'.repeat(80) };

codecCases({
  name: 'LEAVE',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: LEAVE_HEADER_SIZE + 6, stored: goldenFile('leave') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field, 240-byte detail', MAX],
  ],
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN, MIN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Drop)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x1ea7e, valid: [GOLDEN, MIN, { ...MAX, detail: 'ünïcødé ✗' }] },
});

describe('LEAVE round trip', () => {
  it('every reason but None', () => {
    for (let reason = 1; reason <= MAX_REASON; reason++) expectRoundTrip(codec, { ...GOLDEN, reason });
  });

  it.each(DETAILS)('detail: %s', (_name, detail) => {
    const kept = longestPrefixWithin(detail, MAX_DETAIL_BYTES);
    const msg = { ...GOLDEN, detail };
    expect(leaveLength(msg)).toBe(LEAVE_HEADER_SIZE + utf8.encode(kept).byteLength);
    const bytes = expectRoundTrip(codec, msg, { ...msg, detail: kept });
    expect(bytes.byteLength).toBeLessThanOrEqual(LEAVE_HEADER_SIZE + MAX_DETAIL_BYTES);
  });

  it('encode returns leaveLength', () => {
    for (const msg of [GOLDEN, MIN, MAX, { ...GOLDEN, detail: 'z'.repeat(500) }]) {
      expect(encodeLeave(msg, new Uint8Array(leaveLength(msg)))).toBe(leaveLength(msg));
    }
    expect(leaveLength(MIN)).toBe(LEAVE_HEADER_SIZE);
  });

  // protocol/text.ts detailBytes: a complete character that ends exactly at byte 240 is kept.
  it.each(BOUNDARY_DETAILS)('detail cut exactly at a character boundary keeps it: %s', (_n, detail) => {
    const msg = { ...GOLDEN, detail };
    expectRoundTrip(codec, msg, { ...msg, detail: longestPrefixWithin(detail, MAX_DETAIL_BYTES) });
  });

  // protocol/text.ts decodeDetail: a leading U+FEFF is text, not a byte-order mark to strip.
  it('a detail starting with U+FEFF survives the round trip', () => {
    expectRoundTrip(codec, { ...GOLDEN, detail: '\uFEFFSIGTERM' });
  });
});

describe('LEAVE truncation and length', () => {
  it('detailBytes larger than the text present is ERR_TRUNCATED, smaller is ERR_BAD_LENGTH', () => {
    expectErr(decodeLeave(patched(codec, GOLDEN, (v) => v.setUint16(14, 7, false))), 'ERR_TRUNCATED');
    expectErr(decodeLeave(patched(codec, GOLDEN, (v) => v.setUint16(14, 5, false))), 'ERR_BAD_LENGTH');
  });
});

describe('LEAVE field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeLeave(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('detailBytes is at most 240, even when that many bytes follow', () => {
    for (const n of [MAX_DETAIL_BYTES + 1, 0xffff]) {
      const b = new Uint8Array(LEAVE_HEADER_SIZE + n).fill(0x41);
      b.set(encodeToBytes(codec, { ...GOLDEN, detail: '' }));
      new DataView(b.buffer).setUint16(14, n, false);
      expectBadField(b, /detailBytes/);
    }
  });

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('reason is not None and at most MAX_REASON', () => {
    for (const reason of [Reason.None, MAX_REASON + 1, 255]) {
      expectBadField(encodeToBytes(codec, { ...GOLDEN, reason }), /reason/);
    }
  });

  it('the reserved byte is 0', () => {
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint8(13, 1)),
      /reserved/,
    );
  });
});
