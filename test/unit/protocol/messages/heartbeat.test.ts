import { describe, expect, it } from 'vitest';
import { MAX_U53, MessageType } from '../../../../protocol/header.js';
import {
  decodeHeartbeat,
  encodeHeartbeat,
  HEARTBEAT_FLAG_CATCH_UP,
  HEARTBEAT_SIZE,
  type Heartbeat,
  LIMIT_MAX,
  Limit,
} from '../../../../protocol/messages/heartbeat.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched } from './codec-harness.js';

const codec: CodecUnderTest<Heartbeat> = {
  type: MessageType.Heartbeat,
  decode: decodeHeartbeat,
  encode: encodeHeartbeat,
  length: () => HEARTBEAT_SIZE,
};

const GOLDEN: Heartbeat = {
  sessionId: 0x01020304,
  receiverId: 42,
  limit: Limit.Disk,
  flags: HEARTBEAT_FLAG_CATCH_UP,
  cpuPermille: 1000,
  elapsedMs: 120_000,
  bytesWritten: 0x1_2345_6789,
  outputBytes: 128 << 20,
  sinkBusyMs: 60_000,
  outputBusyMs: 30_000,
  packetsRead: 0xffff_fffe,
  packetsSent: 0xffff_ffff,
  repairedBlocks: 100,
  deliveredSlices: 1000,
};

// Written from the layout table in protocol/messages/heartbeat.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '10', //       3  type HEARTBEAT (16)
  '01020304', // 4  sessionId
  '0000002a', // 8  receiverId 42
  '02', //      12  limit 2 = disk
  '01', //      13  flags = HEARTBEAT_FLAG_CATCH_UP
  '03e8', //    14  cpuPermille 1000
  '0001d4c0', //16  elapsedMs 120000
  '00000001', //20  bytesWritten 0x1_2345_6789, high word
  '23456789', //24  bytesWritten low word
  '00000000', //28  outputBytes 128 MiB, high word
  '08000000', //32  outputBytes low word
  '0000ea60', //36  sinkBusyMs 60000
  '00007530', //40  outputBusyMs 30000
  'fffffffe', //44  packetsRead 2^32 - 2
  'ffffffff', //48  packetsSent 2^32 - 1
  '00000064', //52  repairedBlocks 100
  '000003e8', //56  deliveredSlices 1000
);

const MIN: Heartbeat = {
  sessionId: 0,
  receiverId: 1,
  limit: Limit.Unknown,
  flags: 0,
  cpuPermille: 0,
  elapsedMs: 0,
  bytesWritten: 0,
  outputBytes: 0,
  sinkBusyMs: 0,
  outputBusyMs: 0,
  packetsRead: 0,
  packetsSent: 0,
  repairedBlocks: 0,
  deliveredSlices: 0,
};
const MAX: Heartbeat = {
  sessionId: 0xffff_ffff,
  receiverId: 0xffff_ffff,
  limit: LIMIT_MAX,
  flags: HEARTBEAT_FLAG_CATCH_UP,
  cpuPermille: 1000,
  elapsedMs: 0xffff_ffff,
  bytesWritten: MAX_U53,
  outputBytes: MAX_U53,
  sinkBusyMs: 0xffff_ffff,
  outputBusyMs: 0xffff_ffff,
  packetsRead: 0xffff_ffff,
  packetsSent: 0xffff_ffff,
  repairedBlocks: 0xffff_ffff,
  deliveredSlices: 0xffff_ffff,
};

codecCases({
  name: 'HEARTBEAT',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: HEARTBEAT_SIZE, stored: goldenFile('heartbeat') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['every limit', { ...GOLDEN, limit: Limit.Network }],
    ['cpu', { ...GOLDEN, limit: Limit.Cpu, cpuPermille: 999 }],
  ],
  size: { name: 'HEARTBEAT_SIZE', value: HEARTBEAT_SIZE, expected: 60 },
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 4, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Status)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x4ea7, valid: [GOLDEN, MIN, MAX] },
});

describe('HEARTBEAT field ranges', () => {
  const expectBadField = (b: Uint8Array, field: RegExp): void => {
    const r = decodeHeartbeat(b);
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };

  it('receiverId is not 0', () => {
    expectBadField(encodeToBytes(codec, { ...GOLDEN, receiverId: 0 }), /receiverId/);
  });

  it('limit is at most LIMIT_MAX', () => {
    for (const limit of [LIMIT_MAX + 1, 0xff])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint8(12, limit)),
        /limit/,
      );
  });

  it('flags has no unknown bits', () => {
    for (const bit of [1, 2, 7])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint8(13, 1 << bit)),
        /flags/,
      );
  });

  it('cpuPermille is at most 1000', () => {
    for (const cpu of [1001, 0xffff])
      expectBadField(
        patched(codec, GOLDEN, (v) => v.setUint16(14, cpu, false)),
        /cpuPermille/,
      );
  });

  it('bytesWritten and outputBytes fit in 53 bits', () => {
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint32(20, 0x0020_0000, false)),
      /bytesWritten/,
    );
    expectBadField(
      patched(codec, GOLDEN, (v) => v.setUint32(28, 0xffff_ffff, false)),
      /outputBytes/,
    );
  });
});
