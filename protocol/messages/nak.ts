// NAK — receiver → rendezvous group (so other receivers hear it and stay quiet).
// Says how many more symbols each stripe of one slice needs: any fresh parity symbol
// repairs any lost block of its stripe, so "how many" is the whole request, and one
// answer sized to the largest request serves every receiver (NORM-style suppression).
// `heard` tells the sender whether the request was made before or after the receiver
// heard its latest repair burst: a request older than the burst only tops it up, a
// newer one starts a fresh burst at once (udpcast's rxmitId, per stripe). `seenSeq` tells
// it when the receiver lost the whole burst: a receiver that has read DATA sent after the
// burst's last symbol, and heard none of it, needs a fresh one too.
//
// off size field
//   0    8 header          (type 6)
//   8    4 receiverId      u32, nonzero
//  12    4 sliceNo         u32
//  16    1 stripes         u8 n, 1..128: entries in each array (the session's stripe count)
//  17    1 reserved        0
//  18    4 seenSeq         u32 highest DATA seq the receiver had read when it asked (0 = none)
//  22    n need[]          u8 per stripe: symbols still missing (0..255)
//  22+n  n heard[]         u8 per stripe: 1 + the highest parity index received, 0 = none

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';
import { MAX_STRIPES } from './hello.js';

export const NAK_HEADER_SIZE = 22;
const OFF_RECEIVER_ID = 8;
const OFF_SLICE_NO = 12;
const OFF_STRIPES = 16;
const OFF_RESERVED = 17;
const OFF_SEEN_SEQ = 18;

export interface Nak {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly sliceNo: number;
  /** The highest DATA seq the receiver had read when it asked (0: none). */
  readonly seenSeq: number;
  /** need[stripe]: symbols still missing in that stripe. */
  readonly need: readonly number[];
  /** heard[stripe]: 1 + the highest parity index received for that stripe, 0 for none. */
  readonly heard: readonly number[];
}

export function nakLength(msg: Nak): number {
  return NAK_HEADER_SIZE + 2 * msg.need.length;
}

export function encodeNak(msg: Nak, buf: Uint8Array, off = 0): number {
  const n = msg.need.length;
  if (n < 1 || n > MAX_STRIPES) throw new RangeError(`NAK needs 1..${MAX_STRIPES} stripes, got ${n}`);
  if (msg.heard.length !== n) throw new RangeError('NAK heard[] and need[] differ in length');
  const len = nakLength(msg);
  const b = buf.subarray(off, off + len);
  encodeHeader(MessageType.Nak, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint32(OFF_SLICE_NO, msg.sliceNo >>> 0, false);
  v.setUint8(OFF_STRIPES, msg.need.length);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint32(OFF_SEEN_SEQ, msg.seenSeq >>> 0, false);
  for (let i = 0; i < n; i++) {
    v.setUint8(NAK_HEADER_SIZE + i, Math.min(255, msg.need[i]!));
    v.setUint8(NAK_HEADER_SIZE + n + i, Math.min(255, msg.heard[i]!));
  }
  return len;
}

export function decodeNak(bytes: Uint8Array): Result<Nak> {
  const h = expectHeader(bytes, MessageType.Nak, NAK_HEADER_SIZE + 2);
  if (!h.ok) return h;
  const v = view(bytes);
  const stripes = v.getUint8(OFF_STRIPES);
  if (stripes < 1 || stripes > MAX_STRIPES) return err('ERR_BAD_FIELD', 'NAK stripes');
  if (bytes.byteLength < NAK_HEADER_SIZE + 2 * stripes) return err('ERR_TRUNCATED', 'NAK');
  if (bytes.byteLength !== NAK_HEADER_SIZE + 2 * stripes) return err('ERR_BAD_LENGTH', 'NAK');
  if (v.getUint8(OFF_RESERVED) !== 0) return err('ERR_BAD_FIELD', 'NAK reserved');
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'NAK receiverId');
  const need: number[] = [];
  const heard: number[] = [];
  for (let i = 0; i < stripes; i++) {
    need.push(v.getUint8(NAK_HEADER_SIZE + i));
    heard.push(v.getUint8(NAK_HEADER_SIZE + stripes + i));
  }
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    sliceNo: v.getUint32(OFF_SLICE_NO, false),
    seenSeq: v.getUint32(OFF_SEEN_SEQ, false),
    need,
    heard,
  });
}
