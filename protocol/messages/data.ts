// DATA — sender → data group. One block of a slice: a data block, or a parity
// (repair) symbol of one stripe of the slice. The hot path: the header is encoded into
// a preallocated buffer and sent with the payload as `[header, payload]`, never copied.
//
// off size field
//   0    8 header          (type 5)
//   8    4 seq             u32 transmission counter, +1 per DATA sent (flow control; wraps)
//  12    4 sliceNo         u32 slice index in the image
//  16    4 sliceBytes      u32 image bytes in this slice, >= 1 (only the image's last slice is short)
//  20    1 flags           u8 DATA_FLAG_* bits; unknown bits must be 0
//  21    1 stripe          u8 parity: stripe index; data: 0
//  22    2 blockNo         u16 data: block index in the slice; parity: parity index in the stripe
//  24    n payload         data: the block's bytes (short only for the slice's last block);
//                          parity: blockBytes bytes

import { encodeHeaderAt, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const DATA_HEADER_SIZE = 24;
const OFF_SEQ = 8;
const OFF_SLICE_NO = 12;
const OFF_SLICE_BYTES = 16;
const OFF_FLAGS = 20;
const OFF_STRIPE = 21;
const OFF_BLOCK_NO = 22;

/** A parity symbol, not a data block. */
export const DATA_FLAG_PARITY = 1 << 0;
/** The last block of the slice's first pass: the slice is due for repair after it. */
export const DATA_FLAG_LAST = 1 << 1;
/** Sent in answer to a NAK. */
export const DATA_FLAG_REPAIR = 1 << 2;
/** This slice is the image's last. */
export const DATA_FLAG_FINAL_SLICE = 1 << 3;
export const DATA_FLAGS_KNOWN = DATA_FLAG_PARITY | DATA_FLAG_LAST | DATA_FLAG_REPAIR | DATA_FLAG_FINAL_SLICE;

// The field offsets, for code that reads DATA's fixed header in place (the receiver's DATA
// placement, common/udp/placement.ts, and its C++ twin in native/udp-io.cc).
export {
  OFF_BLOCK_NO as DATA_OFF_BLOCK_NO,
  OFF_FLAGS as DATA_OFF_FLAGS,
  OFF_SEQ as DATA_OFF_SEQ,
  OFF_SLICE_BYTES as DATA_OFF_SLICE_BYTES,
  OFF_SLICE_NO as DATA_OFF_SLICE_NO,
  OFF_STRIPE as DATA_OFF_STRIPE,
};

export interface DataHeader {
  readonly sessionId: number;
  readonly seq: number;
  readonly sliceNo: number;
  readonly sliceBytes: number;
  readonly flags: number;
  readonly stripe: number;
  readonly blockNo: number;
}

export interface Data extends DataHeader {
  /** A view into the datagram, not a copy. */
  readonly payload: Uint8Array;
}

export function encodeDataHeader(msg: DataHeader, buf: Uint8Array, off = 0): number {
  return writeDataHeader(view(buf), off, msg);
}

/**
 * The hot path's encoder: writes at `off` through a DataView the caller keeps (the
 * sender encodes into a preallocated ring of headers, one DataView over all of them).
 */
export function writeDataHeader(v: DataView, off: number, msg: DataHeader): number {
  encodeHeaderAt(v, off, MessageType.Data, msg.sessionId);
  v.setUint32(off + OFF_SEQ, msg.seq >>> 0, false);
  v.setUint32(off + OFF_SLICE_NO, msg.sliceNo >>> 0, false);
  v.setUint32(off + OFF_SLICE_BYTES, msg.sliceBytes >>> 0, false);
  v.setUint8(off + OFF_FLAGS, msg.flags);
  v.setUint8(off + OFF_STRIPE, msg.stripe);
  v.setUint16(off + OFF_BLOCK_NO, msg.blockNo, false);
  return DATA_HEADER_SIZE;
}

/** Header and payload in one buffer (tests and tools; the drivers send the two parts). */
export function encodeData(msg: Data, buf: Uint8Array, off = 0): number {
  encodeDataHeader(msg, buf, off);
  buf.set(msg.payload, off + DATA_HEADER_SIZE);
  return DATA_HEADER_SIZE + msg.payload.byteLength;
}

export function dataLength(msg: Data): number {
  return DATA_HEADER_SIZE + msg.payload.byteLength;
}

/**
 * Checks what the datagram alone can tell; `checkDataAgainstSession` (protocol/geometry.ts)
 * checks the rest against the session's geometry.
 */
export function decodeData(bytes: Uint8Array): Result<Data> {
  const h = expectHeader(bytes, MessageType.Data, DATA_HEADER_SIZE + 1);
  if (!h.ok) return h;
  const v = view(bytes);
  const flags = v.getUint8(OFF_FLAGS);
  const stripe = v.getUint8(OFF_STRIPE);
  const sliceBytes = v.getUint32(OFF_SLICE_BYTES, false);
  if ((flags & ~DATA_FLAGS_KNOWN) !== 0) return err('ERR_BAD_FIELD', 'DATA flags');
  if (sliceBytes === 0) return err('ERR_BAD_FIELD', 'DATA sliceBytes');
  if ((flags & DATA_FLAG_PARITY) === 0 && stripe !== 0) return err('ERR_BAD_FIELD', 'DATA stripe');
  return ok({
    sessionId: h.value.sessionId,
    seq: v.getUint32(OFF_SEQ, false),
    sliceNo: v.getUint32(OFF_SLICE_NO, false),
    sliceBytes,
    flags,
    stripe,
    blockNo: v.getUint16(OFF_BLOCK_NO, false),
    payload: bytes.subarray(DATA_HEADER_SIZE),
  });
}
