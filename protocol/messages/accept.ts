// ACCEPT — sender → one receiver (unicast, to the endpoint its JOIN came from). Tells it
// that its JOIN was taken.
//
// off size field
//   0    8 header          (type 3)
//   8    4 receiverId      u32, nonzero
//  12    4 joinSlice       u32: the first slice the receiver gets live
//
// A JOIN taken while announcing gets joinSlice 0: the receiver gets every slice from the
// first. A JOIN taken after START (the sender runs with --streaming) gets the slice the
// first pass is about to send: the receiver takes slices joinSlice.. live with the
// others, then the head (slices 0..joinSlice-1) by repair.

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const ACCEPT_SIZE = 16;
const OFF_RECEIVER_ID = 8;
const OFF_JOIN_SLICE = 12;

export interface Accept {
  readonly sessionId: number;
  readonly receiverId: number;
  /** The first slice the receiver gets live; 0 unless it joined after START. */
  readonly joinSlice: number;
}

export function encodeAccept(msg: Accept, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + ACCEPT_SIZE);
  encodeHeader(MessageType.Accept, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint32(OFF_JOIN_SLICE, msg.joinSlice >>> 0, false);
  return ACCEPT_SIZE;
}

export function decodeAccept(bytes: Uint8Array): Result<Accept> {
  const h = expectHeader(bytes, MessageType.Accept, ACCEPT_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== ACCEPT_SIZE) return err('ERR_BAD_LENGTH', 'ACCEPT');
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'ACCEPT receiverId');
  return ok({ sessionId: h.value.sessionId, receiverId, joinSlice: v.getUint32(OFF_JOIN_SLICE, false) });
}
