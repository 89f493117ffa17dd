// LEAVE — receiver → the sender's control endpoint (unicast). The receiver gives up
// before the end (interrupted, its disk failed, a timeout) and says why, so the sender
// stops waiting for it at once instead of after --retries-until-drop.
//
// off size field
//   0    8 header          (type 12)
//   8    4 receiverId      u32, nonzero
//  12    1 reason          u8 Reason, not None
//  13    1 reserved        0
//  14    2 detailBytes     u16 length of detail, 0..240
//  16    n detail          UTF-8 text

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { MAX_REASON, Reason } from '../reasons.js';
import { err, ok, type Result } from '../result.js';
import { decodeDetail, detailBytes, MAX_DETAIL_BYTES } from '../text.js';

export const LEAVE_HEADER_SIZE = 16;
const OFF_RECEIVER_ID = 8;
const OFF_REASON = 12;
const OFF_RESERVED = 13;
const OFF_DETAIL_BYTES = 14;

export interface Leave {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly reason: Reason;
  readonly detail: string;
}

export function leaveLength(msg: Leave): number {
  return LEAVE_HEADER_SIZE + detailBytes(msg.detail).byteLength;
}

export function encodeLeave(msg: Leave, buf: Uint8Array, off = 0): number {
  const detail = detailBytes(msg.detail);
  const len = LEAVE_HEADER_SIZE + detail.byteLength;
  const b = buf.subarray(off, off + len);
  encodeHeader(MessageType.Leave, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_REASON, msg.reason);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint16(OFF_DETAIL_BYTES, detail.byteLength, false);
  b.set(detail, LEAVE_HEADER_SIZE);
  return len;
}

export function decodeLeave(bytes: Uint8Array): Result<Leave> {
  const h = expectHeader(bytes, MessageType.Leave, LEAVE_HEADER_SIZE);
  if (!h.ok) return h;
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const reason = v.getUint8(OFF_REASON);
  const n = v.getUint16(OFF_DETAIL_BYTES, false);
  if (n > MAX_DETAIL_BYTES) return err('ERR_BAD_FIELD', 'LEAVE detailBytes');
  if (bytes.byteLength < LEAVE_HEADER_SIZE + n) return err('ERR_TRUNCATED', 'LEAVE');
  if (bytes.byteLength !== LEAVE_HEADER_SIZE + n) return err('ERR_BAD_LENGTH', 'LEAVE');
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'LEAVE receiverId');
  if (reason === Reason.None || reason > MAX_REASON) return err('ERR_BAD_FIELD', 'LEAVE reason');
  if (v.getUint8(OFF_RESERVED) !== 0) return err('ERR_BAD_FIELD', 'LEAVE reserved');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    reason,
    detail: decodeDetail(bytes.subarray(LEAVE_HEADER_SIZE, LEAVE_HEADER_SIZE + n)),
  });
}
