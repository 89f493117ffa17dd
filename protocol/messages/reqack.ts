// REQACK — sender → rendezvous group. A probe: receivers that have not yet read up to
// needSeq, or hold fewer than needSlices complete slices, answer with a STATUS that names
// this reqackId (and NAK what they miss). Those already past both stay silent, so the
// answers come only from the receivers holding the sender back. (udpcast's REQACK,
// without the per-slice answer from everyone.)
//
// Without REQACK_FLAG_QUIET (a small session) it goes out only while the sender's window is
// full, and a receiver behind answers at once. With it (a quiet session, see
// docs/ARCHITECTURE.md, "How feedback scales") it goes out as the data flows too, and
// the sender counts a receiver's silence as "not behind": a receiver behind answers after
// a random wait in [0, answerWindowMs), the further behind the sooner, and the sender's
// next REQACK of the round carries the worst answer heard so far as its thresholds, so the
// receivers not worse than that stay silent. groupSize scales the receivers' random waits
// (for answers and NAKs); heartbeatMs is how often each receiver must send a STATUS anyway,
// so that silence is never taken from a receiver that is gone.
//
// off size field
//   0    8 header          (type 8)
//   8    4 reqackId        u32, nonzero, counting up (a STATUS answering it names it)
//  12    4 needSlices      u32 answer if deliveredSlices < needSlices
//  16    4 needSeq         u32 answer if seenSeq < needSeq (seq arithmetic, wraps)
//  20    1 flags           u8 REQACK_FLAG_* bits
//  21    1 reserved        0
//  22    2 answerWindowMs  u16 quiet: answers spread over [0, answerWindowMs) ms; 0 = at once
//  24    4 groupSize       u32 receivers the sender serves
//  28    4 heartbeatMs     u32 quiet: a STATUS at least this often, >= 1; 0 without the flag

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const REQACK_SIZE = 32;
const OFF_REQACK_ID = 8;
const OFF_NEED_SLICES = 12;
const OFF_NEED_SEQ = 16;
const OFF_FLAGS = 20;
const OFF_RESERVED = 21;
const OFF_ANSWER_WINDOW = 22;
const OFF_GROUP_SIZE = 24;
const OFF_HEARTBEAT = 28;

/** A quiet session: silence counts as "not behind"; receivers report only when behind (and as heartbeat). */
export const REQACK_FLAG_QUIET = 1 << 0;
const REQACK_FLAGS_KNOWN = REQACK_FLAG_QUIET;

export interface Reqack {
  readonly sessionId: number;
  readonly reqackId: number;
  readonly needSlices: number;
  readonly needSeq: number;
  readonly flags: number;
  readonly answerWindowMs: number;
  readonly groupSize: number;
  readonly heartbeatMs: number;
}

export function encodeReqack(msg: Reqack, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + REQACK_SIZE);
  encodeHeader(MessageType.Reqack, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_REQACK_ID, msg.reqackId >>> 0, false);
  v.setUint32(OFF_NEED_SLICES, msg.needSlices >>> 0, false);
  v.setUint32(OFF_NEED_SEQ, msg.needSeq >>> 0, false);
  v.setUint8(OFF_FLAGS, msg.flags);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint16(OFF_ANSWER_WINDOW, msg.answerWindowMs, false);
  v.setUint32(OFF_GROUP_SIZE, msg.groupSize >>> 0, false);
  v.setUint32(OFF_HEARTBEAT, msg.heartbeatMs >>> 0, false);
  return REQACK_SIZE;
}

export function decodeReqack(bytes: Uint8Array): Result<Reqack> {
  const h = expectHeader(bytes, MessageType.Reqack, REQACK_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== REQACK_SIZE) return err('ERR_BAD_LENGTH', 'REQACK');
  const v = view(bytes);
  const reqackId = v.getUint32(OFF_REQACK_ID, false);
  const flags = v.getUint8(OFF_FLAGS);
  const heartbeatMs = v.getUint32(OFF_HEARTBEAT, false);
  if (reqackId === 0) return err('ERR_BAD_FIELD', 'REQACK reqackId');
  if ((flags & ~REQACK_FLAGS_KNOWN) !== 0) return err('ERR_BAD_FIELD', 'REQACK flags');
  if (v.getUint8(OFF_RESERVED) !== 0) return err('ERR_BAD_FIELD', 'REQACK reserved');
  if (((flags & REQACK_FLAG_QUIET) !== 0) !== (heartbeatMs !== 0)) return err('ERR_BAD_FIELD', 'REQACK heartbeatMs');
  return ok({
    sessionId: h.value.sessionId,
    reqackId,
    needSlices: v.getUint32(OFF_NEED_SLICES, false),
    needSeq: v.getUint32(OFF_NEED_SEQ, false),
    flags,
    answerWindowMs: v.getUint16(OFF_ANSWER_WINDOW, false),
    groupSize: v.getUint32(OFF_GROUP_SIZE, false),
    heartbeatMs,
  });
}
