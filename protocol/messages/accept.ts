// ACCEPT — sender → rendezvous group. Tells one receiver that its JOIN was taken.
//
// off size field
//   0    8 header          (type 3)
//   8    4 receiverId      u32, nonzero

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const ACCEPT_SIZE = 12;
const OFF_RECEIVER_ID = 8;

export interface Accept {
  readonly sessionId: number;
  readonly receiverId: number;
}

export function encodeAccept(msg: Accept, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + ACCEPT_SIZE);
  encodeHeader(MessageType.Accept, msg.sessionId, b);
  view(b).setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  return ACCEPT_SIZE;
}

export function decodeAccept(bytes: Uint8Array): Result<Accept> {
  const h = expectHeader(bytes, MessageType.Accept, ACCEPT_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== ACCEPT_SIZE) return err('ERR_BAD_LENGTH', 'ACCEPT');
  const receiverId = view(bytes).getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'ACCEPT receiverId');
  return ok({ sessionId: h.value.sessionId, receiverId });
}
