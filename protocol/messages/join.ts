// JOIN — receiver → the sender's control endpoint (unicast: the source of the HELLO).
// Asks to take part in the announced session; repeated until the sender's ACCEPT arrives.
// The endpoint it comes from is where the sender answers this receiver alone (ACCEPT,
// REPORT_ACK).
//
// off size field
//   0    8 header          (type 2; sessionId of the HELLO being answered)
//   8    4 receiverId      u32, nonzero, chosen at random by the receiver (addresses are not unique on one host)
//  12    4 caps            u32 capability bits the receiver supports
//  16    4 rcvBufBytes     u32 receive buffer the kernel granted the data socket; bounds the sender's window

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const JOIN_SIZE = 20;
const OFF_RECEIVER_ID = 8;
const OFF_CAPS = 12;
const OFF_RCVBUF = 16;

export interface Join {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly caps: number;
  readonly rcvBufBytes: number;
}

export function encodeJoin(msg: Join, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + JOIN_SIZE);
  encodeHeader(MessageType.Join, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint32(OFF_CAPS, msg.caps >>> 0, false);
  v.setUint32(OFF_RCVBUF, msg.rcvBufBytes >>> 0, false);
  return JOIN_SIZE;
}

export function decodeJoin(bytes: Uint8Array): Result<Join> {
  const h = expectHeader(bytes, MessageType.Join, JOIN_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== JOIN_SIZE) return err('ERR_BAD_LENGTH', 'JOIN');
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'JOIN receiverId');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    caps: v.getUint32(OFF_CAPS, false),
    rcvBufBytes: v.getUint32(OFF_RCVBUF, false),
  });
}
