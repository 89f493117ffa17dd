import { describe, expect, it } from 'vitest';
import { STEPS } from '../../../../clone/steps.js';
import { MessageType } from '../../../../protocol/header.js';
import {
  CLONE_REPORT_HEADER_SIZE,
  CLONE_STEP_NAMES,
  CloneBootloader,
  CloneOutcome,
  type CloneReport,
  CloneStage,
  CloneTable,
  cloneReportLength,
  decodeCloneReport,
  encodeCloneReport,
  MAX_HOST_BYTES,
} from '../../../../protocol/messages/clone-report.js';
import { MAX_DETAIL_BYTES } from '../../../../protocol/text.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, expectRoundTrip, goldenFile, hex, messageFamily, patched } from './codec-harness.js';
import { DETAILS, detailReencodes, longestPrefixWithin, utf8 } from './detail-text.js';

const codec: CodecUnderTest<CloneReport> = {
  type: MessageType.CloneReport,
  decode: decodeCloneReport,
  encode: encodeCloneReport,
  length: cloneReportLength,
  reencodes: (b) => detailReencodes(b.subarray(CLONE_REPORT_HEADER_SIZE + (b[24] ?? 0))),
};

const GOLDEN: CloneReport = {
  sessionId: 0x01020304,
  receiverId: 42,
  outcome: CloneOutcome.Failed,
  failedStep: CLONE_STEP_NAMES.indexOf('bootloader'),
  table: CloneTable.Written,
  fixups: CloneStage.Ok,
  bootloader: CloneStage.Failed,
  bootloaderKind: CloneBootloader.Extlinux,
  partitionsFormatted: 2,
  partitionsKept: 1,
  elapsedMs: 61_234,
  host: 'node07',
  detail: 'no kernel',
};

// Written from the layout table in protocol/messages/clone-report.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '0e', //       3  type CLONE_REPORT (14)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '01', //      12  outcome failed
  '09', //      13  failedStep 9 = bootloader
  '01', //      14  table written
  '01', //      15  fixups ok
  '02', //      16  bootloader failed
  '01', //      17  bootloaderKind extlinux
  '02', //      18  partitionsFormatted 2
  '01', //      19  partitionsKept 1
  '0000ef32', //20  elapsedMs 61234
  '06', //      24  hostBytes 6
  '09', //      25  detailBytes 9
  '6e6f64653037', //26  host 'node07'
  '6e6f206b65726e656c', //32  detail 'no kernel'
);

const DONE: CloneReport = {
  sessionId: 0xffff_ffff,
  receiverId: 0xffff_ffff,
  outcome: CloneOutcome.Done,
  failedStep: 0,
  table: CloneTable.Kept,
  fixups: CloneStage.Ok,
  bootloader: CloneStage.Ok,
  bootloaderKind: CloneBootloader.Grub,
  partitionsFormatted: 255,
  partitionsKept: 255,
  elapsedMs: 0xffff_ffff,
  host: 'n'.repeat(MAX_HOST_BYTES),
  detail: '',
};

const MIN: CloneReport = {
  sessionId: 0,
  receiverId: 1,
  outcome: CloneOutcome.Done,
  failedStep: 0,
  table: CloneTable.NotReached,
  fixups: CloneStage.NotRun,
  bootloader: CloneStage.None,
  bootloaderKind: CloneBootloader.None,
  partitionsFormatted: 0,
  partitionsKept: 0,
  elapsedMs: 0,
  host: '',
  detail: '',
};

const expectBadField = (b: Uint8Array, field: RegExp): void => {
  const r = decodeCloneReport(b);
  expectErr(r, 'ERR_BAD_FIELD');
  if (!r.ok) expect(r.detail).toMatch(field);
};

codecCases({
  name: 'CLONE_REPORT',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: CLONE_REPORT_HEADER_SIZE + 6 + 9, stored: goldenFile('clone-report') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['done, maximum of every field', DONE],
    ['minimum of every field', MIN],
  ],
  prefixes: { of: [GOLDEN, MIN, DONE, { ...GOLDEN, detail: '💾'.repeat(60) }], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN, MIN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Report)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0xc10e, valid: [GOLDEN, MIN, DONE, { ...GOLDEN, detail: 'mkfs ✓ 💾' }] },
});

describe('CLONE_REPORT golden bytes', () => {
  it("the wire's step names are the agent's steps, in order (clone/steps.ts)", () => {
    expect(CLONE_STEP_NAMES.slice(1)).toEqual([...STEPS]);
  });
});

describe('CLONE_REPORT round trip', () => {
  it('every failed step, table and stage that goes with it', () => {
    for (let failedStep = 1; failedStep < CLONE_STEP_NAMES.length; failedStep++) {
      for (const table of [CloneTable.NotReached, CloneTable.Written, CloneTable.Kept, CloneTable.FromImage]) {
        for (const fixups of [CloneStage.NotRun, CloneStage.Ok, CloneStage.Failed, CloneStage.None]) {
          expectRoundTrip(codec, { ...GOLDEN, failedStep, table, fixups, bootloader: CloneStage.NotRun, bootloaderKind: CloneBootloader.None });
        }
      }
    }
  });

  it.each(DETAILS)('detail: %s', (_name, detail) => {
    const kept = longestPrefixWithin(detail, MAX_DETAIL_BYTES);
    const msg = { ...GOLDEN, detail };
    expect(cloneReportLength(msg)).toBe(CLONE_REPORT_HEADER_SIZE + 6 + utf8.encode(kept).byteLength);
    expectRoundTrip(codec, msg, { ...msg, detail: kept });
  });

  it('a host name the wire cannot carry is caller misuse (RangeError)', () => {
    for (const host of ['n'.repeat(MAX_HOST_BYTES + 1), 'node 7', 'nöde', 'a_b']) {
      expect(() => encodeCloneReport({ ...GOLDEN, host }, new Uint8Array(400)), host).toThrow(RangeError);
    }
  });

  it('a count past 255 is caller misuse (RangeError)', () => {
    expect(() => encodeCloneReport({ ...GOLDEN, partitionsKept: 256 }, new Uint8Array(400))).toThrow(RangeError);
  });
});

describe('CLONE_REPORT truncation and length', () => {
  it('lengths larger than the text present are ERR_TRUNCATED, smaller ERR_BAD_LENGTH', () => {
    expectErr(decodeCloneReport(patched(codec, GOLDEN, (v) => v.setUint8(25, 10))), 'ERR_TRUNCATED');
    expectErr(decodeCloneReport(patched(codec, GOLDEN, (v) => v.setUint8(25, 8))), 'ERR_BAD_LENGTH');
    expectErr(decodeCloneReport(patched(codec, GOLDEN, (v) => v.setUint8(24, 16))), 'ERR_TRUNCATED');
  });
});

describe('CLONE_REPORT field ranges', () => {
  it('hostBytes is at most 64 and detailBytes at most 240, even when that many bytes follow', () => {
    const b = new Uint8Array(CLONE_REPORT_HEADER_SIZE + 300).fill(0x41);
    b.set(encodeToBytes(codec, MIN));
    b[24] = MAX_HOST_BYTES + 1;
    expectBadField(b, /hostBytes/);
    b[24] = 0;
    b[25] = MAX_DETAIL_BYTES + 1;
    expectBadField(b, /detailBytes/);
  });

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('outcome is done or failed; failedStep is 0 exactly when done, and names a step', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, outcome: 2 as CloneOutcome }), /outcome/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, failedStep: 0 }), /failedStep/);
    expectBadField(encodeToBytes(codec, { ...DONE, failedStep: 3 }), /failedStep/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, failedStep: CLONE_STEP_NAMES.length }), /failedStep/);
  });

  it('table, fixups, bootloader and its kind in range, and consistent with the outcome', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, table: 4 as CloneTable }), /table/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, fixups: 4 as CloneStage }), /fixups/);
    expectBadField(encodeToBytes(codec, { ...DONE, fixups: CloneStage.Failed }), /fixups/);
    expectBadField(encodeToBytes(codec, { ...DONE, bootloader: CloneStage.Failed }), /bootloader/);
    expectBadField(encodeToBytes(codec, { ...GOLDEN, bootloaderKind: 3 as CloneBootloader }), /bootloaderKind/);
    expectBadField(encodeToBytes(codec, { ...DONE, bootloaderKind: CloneBootloader.None }), /bootloaderKind/);
    expectBadField(encodeToBytes(codec, { ...MIN, bootloaderKind: CloneBootloader.Extlinux }), /bootloaderKind/);
  });

  it('host bytes other than letters, digits, "-" and "." are refused', () => {
    for (const c of [0x20, 0x5f, 0x00, 0xc3, 0x2f]) {
      expectBadField(
        patched(codec, GOLDEN, (_v, b) => {
          b[CLONE_REPORT_HEADER_SIZE + 2] = c;
        }),
        /host/,
      );
    }
  });
});
