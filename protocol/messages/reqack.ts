// REQACK — sender → rendezvous group. The sender's window is full: receivers that have
// not yet read up to needSeq, or hold fewer than needSlices complete slices, answer
// with a STATUS (and NAK what they miss). Those already past both stay silent, so the
// answers come only from the receivers holding the window back. (udpcast's REQACK,
// without the per-slice answer from everyone.)
//
// off size field
//   0    8 header          (type 8)
//   8    4 reqackId        u32 counter; a STATUS reply carries no id, the sender counts per receiver
//  12    4 needSlices      u32 answer if deliveredSlices < needSlices
//  16    4 needSeq         u32 answer if seenSeq < needSeq (seq arithmetic, wraps)

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const REQACK_SIZE = 20;
const OFF_REQACK_ID = 8;
const OFF_NEED_SLICES = 12;
const OFF_NEED_SEQ = 16;

export interface Reqack {
  readonly sessionId: number;
  readonly reqackId: number;
  readonly needSlices: number;
  readonly needSeq: number;
}

export function encodeReqack(msg: Reqack, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + REQACK_SIZE);
  encodeHeader(MessageType.Reqack, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_REQACK_ID, msg.reqackId >>> 0, false);
  v.setUint32(OFF_NEED_SLICES, msg.needSlices >>> 0, false);
  v.setUint32(OFF_NEED_SEQ, msg.needSeq >>> 0, false);
  return REQACK_SIZE;
}

export function decodeReqack(bytes: Uint8Array): Result<Reqack> {
  const h = expectHeader(bytes, MessageType.Reqack, REQACK_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== REQACK_SIZE) return err('ERR_BAD_LENGTH', 'REQACK');
  const v = view(bytes);
  return ok({
    sessionId: h.value.sessionId,
    reqackId: v.getUint32(OFF_REQACK_ID, false),
    needSlices: v.getUint32(OFF_NEED_SLICES, false),
    needSeq: v.getUint32(OFF_NEED_SEQ, false),
  });
}
