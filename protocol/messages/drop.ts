// DROP — sender → rendezvous group. Tells a receiver it is no longer part of the
// session (it stopped answering, or the sender is aborting) so it exits with an error
// instead of waiting for data that will not come.
//
// off size field
//   0    8 header          (type 13)
//   8    4 receiverId      u32; 0 = every receiver (the sender is aborting)
//  12    1 reason          u8 Reason
//  13    3 reserved        0

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { MAX_REASON, type Reason } from '../reasons.js';
import { err, ok, type Result } from '../result.js';

export const DROP_SIZE = 16;
const OFF_RECEIVER_ID = 8;
const OFF_REASON = 12;
const OFF_RESERVED = 13;

export const DROP_ALL = 0;

export interface Drop {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly reason: Reason;
}

export function encodeDrop(msg: Drop, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + DROP_SIZE);
  encodeHeader(MessageType.Drop, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_REASON, msg.reason);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint16(OFF_RESERVED + 1, 0, false);
  return DROP_SIZE;
}

export function decodeDrop(bytes: Uint8Array): Result<Drop> {
  const h = expectHeader(bytes, MessageType.Drop, DROP_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== DROP_SIZE) return err('ERR_BAD_LENGTH', 'DROP');
  const v = view(bytes);
  const reason = v.getUint8(OFF_REASON);
  if (reason > MAX_REASON) return err('ERR_BAD_FIELD', 'DROP reason');
  if (v.getUint8(OFF_RESERVED) !== 0 || v.getUint16(OFF_RESERVED + 1, false) !== 0) {
    return err('ERR_BAD_FIELD', 'DROP reserved');
  }
  return ok({ sessionId: h.value.sessionId, receiverId: v.getUint32(OFF_RECEIVER_ID, false), reason });
}
