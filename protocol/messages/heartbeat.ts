// HEARTBEAT — receiver → sender (rendezvous group). A low-rate report of how this receiver
// is doing, sent every heartbeat interval while it is in a session (never with --async):
// cumulative counters, so a lost one costs nothing but resolution, and the receiver's own
// clock to divide them by. The sender's live table, its per-node figures and its
// slow-node policy (sender/core/health.ts) are computed from them, and the loss the
// automatic parity follows (sender/core/auto-parity.ts) from packetsSent and packetsRead;
// nothing in flow control or NAK repair depends on them.
//
// off size field
//   0    8 header          (type 16)
//   8    4 receiverId      u32, nonzero
//  12    1 limit           u8 Limit: what holds this receiver back, as it judges (0..LIMIT_MAX)
//  13    1 flags           u8 HEARTBEAT_FLAG_* bits; unknown bits must be 0
//  14    2 cpuPermille     u16 share of the last interval its event loop was busy, 0..1000
//  16    4 elapsedMs       u32 ms since the receiver's session began: the clock of the counters below
//  20    8 bytesWritten    u64 image bytes the sink has taken
//  28    8 outputBytes     u64 bytes the last stage wrote (disk, unpacked files, pipe), after decompression
//  36    4 sinkBusyMs      u32 ms during which a delivered slice waited for the sink (its back-pressure)
//  40    4 outputBusyMs    u32 ms the last stage spent writing
//  44    4 packetsRead     u32 DATA datagrams of the session read from the socket (wraps)
//  48    4 packetsSent     u32 DATA sequence numbers from the first one read to the newest (wraps): lost = sent - read
//  52    4 repairedBlocks  u32 data blocks rebuilt from parity or taken from a resend (wraps)
//  56    4 deliveredSlices u32 slices handed to the sink in this pass

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const HEARTBEAT_SIZE = 60;
const OFF_RECEIVER_ID = 8;
const OFF_LIMIT = 12;
const OFF_FLAGS = 13;
const OFF_CPU = 14;
const OFF_ELAPSED = 16;
const OFF_BYTES_WRITTEN = 20;
const OFF_OUTPUT_BYTES = 28;
const OFF_SINK_BUSY = 36;
const OFF_OUTPUT_BUSY = 40;
const OFF_PACKETS_READ = 44;
const OFF_PACKETS_SENT = 48;
const OFF_REPAIRED = 52;
const OFF_DELIVERED = 56;

/** What holds a receiver back, as it judges from its own counters (receiver/core/load.ts). */
export enum Limit {
  /** Too early to say. */
  Unknown = 0,
  /** Waiting for data: the network, the sender, or the rest of the rack. */
  Network = 1,
  /** The last stage (disk writer, unpacked files, a --pipe command, stdout) cannot take more. */
  Disk = 2,
  /** The decompressor in front of the last stage cannot take more. */
  Decompress = 3,
  /** The receiver's event loop is saturated. */
  Cpu = 4,
}
export const LIMIT_MAX = Limit.Cpu;
export const LIMIT_NAMES: Readonly<Record<number, string>> = {
  [Limit.Unknown]: '-',
  [Limit.Network]: 'net',
  [Limit.Disk]: 'disk',
  [Limit.Decompress]: 'decomp',
  [Limit.Cpu]: 'cpu',
};

/** The receiver is in the catch-up pass (it was moved there, or joined late and takes the image in order). */
export const HEARTBEAT_FLAG_CATCH_UP = 1 << 0;
const HEARTBEAT_FLAGS_KNOWN = HEARTBEAT_FLAG_CATCH_UP;

export interface Heartbeat {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly limit: Limit;
  readonly flags: number;
  readonly cpuPermille: number;
  readonly elapsedMs: number;
  readonly bytesWritten: number;
  readonly outputBytes: number;
  readonly sinkBusyMs: number;
  readonly outputBusyMs: number;
  readonly packetsRead: number;
  readonly packetsSent: number;
  readonly repairedBlocks: number;
  readonly deliveredSlices: number;
}

export function encodeHeartbeat(msg: Heartbeat, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + HEARTBEAT_SIZE);
  encodeHeader(MessageType.Heartbeat, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_LIMIT, msg.limit);
  v.setUint8(OFF_FLAGS, msg.flags);
  v.setUint16(OFF_CPU, msg.cpuPermille, false);
  v.setUint32(OFF_ELAPSED, msg.elapsedMs >>> 0, false);
  setU64(v, OFF_BYTES_WRITTEN, msg.bytesWritten);
  setU64(v, OFF_OUTPUT_BYTES, msg.outputBytes);
  v.setUint32(OFF_SINK_BUSY, msg.sinkBusyMs >>> 0, false);
  v.setUint32(OFF_OUTPUT_BUSY, msg.outputBusyMs >>> 0, false);
  v.setUint32(OFF_PACKETS_READ, msg.packetsRead >>> 0, false);
  v.setUint32(OFF_PACKETS_SENT, msg.packetsSent >>> 0, false);
  v.setUint32(OFF_REPAIRED, msg.repairedBlocks >>> 0, false);
  v.setUint32(OFF_DELIVERED, msg.deliveredSlices >>> 0, false);
  return HEARTBEAT_SIZE;
}

export function decodeHeartbeat(bytes: Uint8Array): Result<Heartbeat> {
  const h = expectHeader(bytes, MessageType.Heartbeat, HEARTBEAT_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== HEARTBEAT_SIZE) return err('ERR_BAD_LENGTH', 'HEARTBEAT');
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const limit = v.getUint8(OFF_LIMIT);
  const flags = v.getUint8(OFF_FLAGS);
  const cpuPermille = v.getUint16(OFF_CPU, false);
  const bytesWritten = getU64(v, OFF_BYTES_WRITTEN);
  const outputBytes = getU64(v, OFF_OUTPUT_BYTES);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'HEARTBEAT receiverId');
  if (limit > LIMIT_MAX) return err('ERR_BAD_FIELD', 'HEARTBEAT limit');
  if ((flags & ~HEARTBEAT_FLAGS_KNOWN) !== 0) return err('ERR_BAD_FIELD', 'HEARTBEAT flags');
  if (cpuPermille > 1000) return err('ERR_BAD_FIELD', 'HEARTBEAT cpuPermille');
  if (bytesWritten < 0) return err('ERR_BAD_FIELD', 'HEARTBEAT bytesWritten');
  if (outputBytes < 0) return err('ERR_BAD_FIELD', 'HEARTBEAT outputBytes');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    limit: limit as Limit,
    flags,
    cpuPermille,
    elapsedMs: v.getUint32(OFF_ELAPSED, false),
    bytesWritten,
    outputBytes,
    sinkBusyMs: v.getUint32(OFF_SINK_BUSY, false),
    outputBusyMs: v.getUint32(OFF_OUTPUT_BUSY, false),
    packetsRead: v.getUint32(OFF_PACKETS_READ, false),
    packetsSent: v.getUint32(OFF_PACKETS_SENT, false),
    repairedBlocks: v.getUint32(OFF_REPAIRED, false),
    deliveredSlices: v.getUint32(OFF_DELIVERED, false),
  });
}
