// STATUS — receiver → rendezvous group. Progress and flow control: how far the receiver
// has read the sender's transmissions (seenSeq) and how many slices it holds complete
// (deliveredSlices; the sender frees a slice once every receiver has it). Sent when
// progress crosses a quarter of the window, in reply to REQACK, and as a heartbeat.
//
// off size field
//   0    8 header          (type 7)
//   8    4 receiverId      u32, nonzero
//  12    1 flags           u8 STATUS_FLAG_* bits
//  13    3 reserved        0
//  16    4 seenSeq         u32 highest DATA seq read from the socket (0 = none yet)
//  20    4 deliveredSlices u32 slices 0..n-1 are complete at the receiver
//  24    8 bytesWritten    u64 image bytes the sink has taken

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const STATUS_SIZE = 32;
const OFF_RECEIVER_ID = 8;
const OFF_FLAGS = 12;
const OFF_RESERVED = 13;
const OFF_SEEN_SEQ = 16;
const OFF_DELIVERED = 20;
const OFF_BYTES_WRITTEN = 24;

/** Sent in answer to a REQACK. */
export const STATUS_FLAG_REPLY = 1 << 0;
/** Every slice is in; the receiver is finishing its sink and verifying. */
export const STATUS_FLAG_COMPLETE = 1 << 1;
const STATUS_FLAGS_KNOWN = STATUS_FLAG_REPLY | STATUS_FLAG_COMPLETE;

export interface Status {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly flags: number;
  readonly seenSeq: number;
  readonly deliveredSlices: number;
  readonly bytesWritten: number;
}

export function encodeStatus(msg: Status, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + STATUS_SIZE);
  encodeHeader(MessageType.Status, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_FLAGS, msg.flags);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint16(OFF_RESERVED + 1, 0, false);
  v.setUint32(OFF_SEEN_SEQ, msg.seenSeq >>> 0, false);
  v.setUint32(OFF_DELIVERED, msg.deliveredSlices >>> 0, false);
  setU64(v, OFF_BYTES_WRITTEN, msg.bytesWritten);
  return STATUS_SIZE;
}

export function decodeStatus(bytes: Uint8Array): Result<Status> {
  const h = expectHeader(bytes, MessageType.Status, STATUS_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== STATUS_SIZE) return err('ERR_BAD_LENGTH', 'STATUS');
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const flags = v.getUint8(OFF_FLAGS);
  const bytesWritten = getU64(v, OFF_BYTES_WRITTEN);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'STATUS receiverId');
  if ((flags & ~STATUS_FLAGS_KNOWN) !== 0) return err('ERR_BAD_FIELD', 'STATUS flags');
  if (v.getUint8(OFF_RESERVED) !== 0 || v.getUint16(OFF_RESERVED + 1, false) !== 0) {
    return err('ERR_BAD_FIELD', 'STATUS reserved');
  }
  if (bytesWritten < 0) return err('ERR_BAD_FIELD', 'STATUS bytesWritten');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    flags,
    seenSeq: v.getUint32(OFF_SEEN_SEQ, false),
    deliveredSlices: v.getUint32(OFF_DELIVERED, false),
    bytesWritten,
  });
}
