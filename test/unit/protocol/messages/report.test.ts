import { describe, expect, it } from 'vitest';
import { MAX_U53, MessageType } from '../../../../protocol/header.js';
import { DIGEST_BYTES } from '../../../../protocol/messages/end.js';
import { decodeReport, encodeReport, Outcome, REPORT_HEADER_SIZE, type Report, reportLength } from '../../../../protocol/messages/report.js';
import { MAX_REASON, Reason } from '../../../../protocol/reasons.js';
import { MAX_DETAIL_BYTES } from '../../../../protocol/text.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, expectRoundTrip, goldenFile, hex, messageFamily, patched } from './codec-harness.js';
import { BOUNDARY_DETAILS, DETAILS, detailReencodes, longestPrefixWithin, utf8 } from './detail-text.js';

const codec: CodecUnderTest<Report> = {
  type: MessageType.Report,
  decode: decodeReport,
  encode: encodeReport,
  length: reportLength,
  reencodes: (b) => detailReencodes(b.subarray(REPORT_HEADER_SIZE)),
};

const GOLDEN: Report = {
  sessionId: 0x01020304,
  receiverId: 42,
  outcome: Outcome.Failed,
  reason: Reason.WriteError,
  bytesWritten: 2 ** 32,
  digest: new Uint8Array(DIGEST_BYTES).fill(0xab),
  detail: 'ENOSPC é',
};

// Written from the layout table in protocol/messages/report.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0a', //       3  type REPORT (10)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '01', //      12  outcome failed
  '02', //      13  reason 2 = write error
  '0009', //    14  detailBytes 9
  '00000001', //16  bytesWritten 2^32, high word
  '00000000', //20  bytesWritten low word
  'ab'.repeat(32), //24  digest
  '454e4f535043', //56  detail 'ENOSPC'
  '20', //            ' '
  'c3a9', //          'é' (U+00E9 in UTF-8)
);

const VERIFIED: Report = {
  sessionId: 0xffff_ffff,
  receiverId: 0xffff_ffff,
  outcome: Outcome.Verified,
  reason: Reason.None,
  bytesWritten: MAX_U53,
  digest: Uint8Array.from({ length: DIGEST_BYTES }, (_, i) => 255 - i),
  detail: '',
};

const MIN: Report = {
  sessionId: 0,
  receiverId: 1,
  outcome: Outcome.Verified,
  reason: Reason.None,
  bytesWritten: 0,
  digest: new Uint8Array(DIGEST_BYTES),
  detail: '',
};

codecCases({
  name: 'REPORT',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: REPORT_HEADER_SIZE + 9, stored: goldenFile('report') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['verified, maximum of every field', VERIFIED],
    ['verified, minimum of every field', MIN],
  ],
  prefixes: { of: [GOLDEN, MIN, { ...GOLDEN, detail: '💾'.repeat(60) }], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN, MIN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Leave)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x2e9027, valid: [GOLDEN, MIN, { ...VERIFIED, detail: 'ok ✓ 💾' }] },
});

describe('REPORT round trip', () => {
  it('every failure reason', () => {
    for (let reason = 1; reason <= MAX_REASON; reason++) expectRoundTrip(codec, { ...GOLDEN, reason });
  });

  it.each(DETAILS)('detail: %s', (_name, detail) => {
    const kept = longestPrefixWithin(detail, MAX_DETAIL_BYTES);
    const msg = { ...GOLDEN, detail };
    expect(reportLength(msg)).toBe(REPORT_HEADER_SIZE + utf8.encode(kept).byteLength);
    const bytes = expectRoundTrip(codec, msg, { ...msg, detail: kept });
    expect(bytes.byteLength).toBeLessThanOrEqual(REPORT_HEADER_SIZE + MAX_DETAIL_BYTES);
  });

  it('encode returns reportLength', () => {
    for (const msg of [GOLDEN, VERIFIED, { ...GOLDEN, detail: 'z'.repeat(500) }]) {
      expect(encodeReport(msg, new Uint8Array(reportLength(msg)))).toBe(reportLength(msg));
    }
    expect(reportLength(MIN)).toBe(REPORT_HEADER_SIZE);
  });

  it('a digest that is not 32 bytes is caller misuse (RangeError)', () => {
    expect(() => encodeReport({ ...GOLDEN, digest: new Uint8Array(33) }, new Uint8Array(200))).toThrow(RangeError);
  });

  // protocol/text.ts detailBytes: when the 240-byte cut falls right after a complete
  // multi-byte character, that character fits and is kept.
  it.each(BOUNDARY_DETAILS)('detail cut exactly at a character boundary keeps it: %s', (_n, detail) => {
    const msg = { ...GOLDEN, detail };
    expectRoundTrip(codec, msg, { ...msg, detail: longestPrefixWithin(detail, MAX_DETAIL_BYTES) });
  });

  // protocol/text.ts decodeDetail: a detail that starts with U+FEFF keeps it (ignoreBOM).
  it('a detail starting with U+FEFF survives the round trip', () => {
    expectRoundTrip(codec, { ...GOLDEN, detail: '\uFEFFdisk full' });
  });
});

describe('REPORT truncation and length', () => {
  it('detailBytes larger than the text present is ERR_TRUNCATED, smaller is ERR_BAD_LENGTH', () => {
    expectErr(decodeReport(patched(codec, GOLDEN, (v) => v.setUint16(14, 10, false))), 'ERR_TRUNCATED');
    expectErr(decodeReport(patched(codec, GOLDEN, (v) => v.setUint16(14, 8, false))), 'ERR_BAD_LENGTH');
  });
});

describe('REPORT field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeReport(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('detailBytes is at most 240, even when that many bytes follow', () => {
    for (const n of [MAX_DETAIL_BYTES + 1, 0xffff]) {
      const b = new Uint8Array(REPORT_HEADER_SIZE + n).fill(0x41);
      b.set(encodeToBytes(codec, { ...GOLDEN, detail: '' }));
      new DataView(b.buffer).setUint16(14, n, false);
      expectBadField(b, /detailBytes/);
    }
  });

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('outcome is verified or failed', () => {
    for (const outcome of [2, 255]) expectBadField(encodeToBytes(codec, { ...GOLDEN, outcome: outcome as Outcome }), /outcome/);
  });

  it('reason is at most MAX_REASON', () => {
    for (const reason of [MAX_REASON + 1, 255]) expectBadField(encodeToBytes(codec, { ...GOLDEN, reason }), /reason/);
  });

  it('reason is None exactly when the outcome is verified', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, outcome: Outcome.Verified, reason: Reason.WriteError }), /reason/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, outcome: Outcome.Failed, reason: Reason.None }), /reason/);
  });

  it('bytesWritten fits in 53 bits', () => {
    for (const hi of [0x0020_0000, 0xffff_ffff]) {
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint32(16, hi, false)),
        /bytesWritten/,
      );
    }
  });

  it('detail bytes that are not UTF-8 decode with replacement characters, never an error', () => {
    const b = patched(codec, { ...GOLDEN, detail: 'abc' }, (_v, bytes) => bytes.set([0xff, 0xc3, 0x28], 56));
    const r = decodeReport(b);
    expect(r.ok && r.value.detail).toBe('\uFFFD\uFFFD(');
  });
});
