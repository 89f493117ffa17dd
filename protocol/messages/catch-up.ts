// CATCHUP — sender → rendezvous group. Moves one receiver to the catch-up pass: it no
// longer holds the first pass back (the flow window and the slices the sender keeps), takes
// what it can of the first pass in order, asks for nothing until the first pass is over
// (END), and then asks for the rest, which the sender reads again from its source. Sent
// when the slow-node policy moves a receiver there, and to a late receiver that takes the
// image only in order; repeated if the receiver still asks for repairs before END.
//
// off size field
//   0    8 header          (type 17)
//   8    4 receiverId      u32, nonzero
//  12    1 why             u8 CatchUpWhy (1..CATCH_UP_WHY_MAX)
//  13    3 reserved        0
//  16    4 rateKBps        u32 the receiver's pace as the sender measured it, kB/s (0: not measured)
//  20    4 paceKBps        u32 the pace it fell below (half the rack's median, or --min-rate), kB/s (0: none)

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const CATCH_UP_SIZE = 24;
const OFF_RECEIVER_ID = 8;
const OFF_WHY = 12;
const OFF_RESERVED = 13;
const OFF_RATE = 16;
const OFF_PACE = 20;

export enum CatchUpWhy {
  /** It takes the image well below the rack's pace (half the median of what the others could take). */
  Slow = 1,
  /** It takes the image below the sender's --min-rate. */
  BelowMinRate = 2,
  /** It joined late (--streaming), and its output takes the image only in order. */
  LateInOrder = 3,
}
export const CATCH_UP_WHY_MAX = CatchUpWhy.LateInOrder;

export interface CatchUp {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly why: CatchUpWhy;
  readonly rateKBps: number;
  readonly paceKBps: number;
}

export function encodeCatchUp(msg: CatchUp, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + CATCH_UP_SIZE);
  encodeHeader(MessageType.CatchUp, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_WHY, msg.why);
  v.setUint8(OFF_RESERVED, 0);
  v.setUint16(OFF_RESERVED + 1, 0, false);
  v.setUint32(OFF_RATE, msg.rateKBps >>> 0, false);
  v.setUint32(OFF_PACE, msg.paceKBps >>> 0, false);
  return CATCH_UP_SIZE;
}

export function decodeCatchUp(bytes: Uint8Array): Result<CatchUp> {
  const h = expectHeader(bytes, MessageType.CatchUp, CATCH_UP_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== CATCH_UP_SIZE) return err('ERR_BAD_LENGTH', 'CATCHUP');
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const why = v.getUint8(OFF_WHY);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'CATCHUP receiverId');
  if (why < 1 || why > CATCH_UP_WHY_MAX) return err('ERR_BAD_FIELD', 'CATCHUP why');
  if (v.getUint8(OFF_RESERVED) !== 0 || v.getUint16(OFF_RESERVED + 1, false) !== 0) return err('ERR_BAD_FIELD', 'CATCHUP reserved');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    why: why as CatchUpWhy,
    rateKBps: v.getUint32(OFF_RATE, false),
    paceKBps: v.getUint32(OFF_PACE, false),
  });
}
