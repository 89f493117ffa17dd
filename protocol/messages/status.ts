// STATUS — receiver → the sender's control endpoint (unicast: the source of the HELLO the
// receiver took its session from), so no other receiver spends anything on it.
// Progress and flow control: how far the receiver has read the sender's transmissions
// (seenSeq) and how many slices it holds complete (deliveredSlices; the sender frees a
// slice once every receiver has it).
//
// When it is sent depends on the feedback mode the sender chose (docs/ARCHITECTURE.md,
// "How feedback scales"). In a small session every receiver sends one each quarter of the
// flow window and of the retention window, in reply to REQACK and as a heartbeat. In a
// quiet session (REQACK_FLAG_QUIET) only a receiver behind a REQACK's thresholds answers it,
// and keeps reporting as it goes while it holds the sender back; the others send one only
// as a heartbeat, as often as the REQACK says.
//
// off size field
//   0    8 header          (type 7)
//   8    4 receiverId      u32, nonzero
//  12    1 flags           u8 STATUS_FLAG_* bits
//  13    3 reserved        0
//  16    4 seenSeq         u32 highest DATA seq read from the socket (0 = none yet)
//  20    4 deliveredSlices u32 slices 0..n-1 are complete at the receiver
//  24    8 bytesWritten    u64 image bytes the sink has taken
//  32    4 reqackId        u32 the REQACK this answers (STATUS_FLAG_REPLY set); 0 for none,
//                          or for an answer to END
//  36    4 lossPpm         u32 DATA datagrams lost per million, over the sequence numbers from
//                          the first DATA the receiver read to seenSeq, 0..1000000

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const STATUS_SIZE = 40;
const OFF_RECEIVER_ID = 8;
const OFF_FLAGS = 12;
const OFF_RESERVED = 13;
const OFF_SEEN_SEQ = 16;
const OFF_DELIVERED = 20;
const OFF_BYTES_WRITTEN = 24;
const OFF_REQACK_ID = 32;
const OFF_LOSS_PPM = 36;

/** Sent in answer to a REQACK (reqackId names it) or to END (reqackId 0). */
export const STATUS_FLAG_REPLY = 1 << 0;
/** Every slice is in; the receiver is finishing its sink and verifying. */
export const STATUS_FLAG_COMPLETE = 1 << 1;
const STATUS_FLAGS_KNOWN = STATUS_FLAG_REPLY | STATUS_FLAG_COMPLETE;

/** lossPpm's scale: a receiver that lost everything reports this. */
export const LOSS_PPM_ALL = 1_000_000;

export interface Status {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly flags: number;
  readonly seenSeq: number;
  readonly deliveredSlices: number;
  readonly bytesWritten: number;
  /** The REQACK answered (nonzero only with STATUS_FLAG_REPLY); 0 for none or for END. */
  readonly reqackId: number;
  /** DATA lost per million since the receiver's first DATA (0..LOSS_PPM_ALL). */
  readonly lossPpm: number;
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
  v.setUint32(OFF_REQACK_ID, msg.reqackId >>> 0, false);
  v.setUint32(OFF_LOSS_PPM, msg.lossPpm >>> 0, false);
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
  const reqackId = v.getUint32(OFF_REQACK_ID, false);
  const lossPpm = v.getUint32(OFF_LOSS_PPM, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'STATUS receiverId');
  if ((flags & ~STATUS_FLAGS_KNOWN) !== 0) return err('ERR_BAD_FIELD', 'STATUS flags');
  if (v.getUint8(OFF_RESERVED) !== 0 || v.getUint16(OFF_RESERVED + 1, false) !== 0) {
    return err('ERR_BAD_FIELD', 'STATUS reserved');
  }
  if (bytesWritten < 0) return err('ERR_BAD_FIELD', 'STATUS bytesWritten');
  if (reqackId !== 0 && (flags & STATUS_FLAG_REPLY) === 0) return err('ERR_BAD_FIELD', 'STATUS reqackId');
  if (lossPpm > LOSS_PPM_ALL) return err('ERR_BAD_FIELD', 'STATUS lossPpm');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    flags,
    seenSeq: v.getUint32(OFF_SEEN_SEQ, false),
    deliveredSlices: v.getUint32(OFF_DELIVERED, false),
    bytesWritten,
    reqackId,
    lossPpm,
  });
}
