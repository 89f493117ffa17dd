// REQACK — sender → data address:portbase: "answer for this slice". Receivers whose bit is
// set in readySet stay silent; the others answer OK (all blocks held, or the slice is old)
// or RETRANSMIT (what they hold). sliceBytes = 0 marks the end of the image (a zero-byte
// slice with no DATA).
//
// off size field
//   0    2 opcode      6
//   2    2 reserved    0 (ignored)
//   4    4 sliceNo     i32 >= 0
//   8    4 sliceBytes  i32 >= 0, the slice's byte count as in DATA; 0 = end of image
//  12    4 rxmit       i32 >= 0, the round; RETRANSMIT echoes it
//  16  128 readySet    bit clNr = that receiver said OK already
//
// All 144 bytes must be sent: a stock receiver reads readySet from where its next block
// would land whatever the datagram's length, so a 16-byte REQACK makes it read stale image
// bytes and may silence it (docs/udpcast-wire.md §7, quirk 1).

import { err, ok, type Result } from '../result.js';
import { OP_REQACK, READY_SET_BYTES, view } from './wire.js';

export const REQACK_SIZE = 16 + READY_SET_BYTES;
const OFF_SLICE_NO = 4;
const OFF_SLICE_BYTES = 8;
const OFF_RXMIT = 12;
const OFF_READY_SET = 16;

export interface UdpcastReqack {
  readonly sliceNo: number;
  readonly sliceBytes: number;
  readonly rxmit: number;
  /** READY_SET_BYTES bytes. */
  readonly readySet: Uint8Array;
}

export function encodeReqack(msg: UdpcastReqack, buf: Uint8Array, off = 0): number {
  if (msg.readySet.byteLength !== READY_SET_BYTES) throw new RangeError(`readySet must be ${READY_SET_BYTES} bytes`);
  const b = buf.subarray(off, off + REQACK_SIZE);
  const v = view(b);
  v.setUint16(0, OP_REQACK, false);
  v.setUint16(2, 0, false);
  v.setInt32(OFF_SLICE_NO, msg.sliceNo, false);
  v.setInt32(OFF_SLICE_BYTES, msg.sliceBytes, false);
  v.setInt32(OFF_RXMIT, msg.rxmit, false);
  b.set(msg.readySet, OFF_READY_SET);
  return REQACK_SIZE;
}

export function decodeReqack(bytes: Uint8Array): Result<UdpcastReqack> {
  if (bytes.byteLength < REQACK_SIZE) return err('ERR_TRUNCATED', 'REQACK');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_REQACK) return err('ERR_BAD_TYPE', 'REQACK');
  if (bytes.byteLength !== REQACK_SIZE) return err('ERR_BAD_LENGTH', 'REQACK');
  const sliceNo = v.getInt32(OFF_SLICE_NO, false);
  const sliceBytes = v.getInt32(OFF_SLICE_BYTES, false);
  const rxmit = v.getInt32(OFF_RXMIT, false);
  if (sliceNo < 0) return err('ERR_BAD_FIELD', `REQACK sliceNo ${sliceNo}`);
  if (sliceBytes < 0) return err('ERR_BAD_FIELD', `REQACK sliceBytes ${sliceBytes}`);
  if (rxmit < 0) return err('ERR_BAD_FIELD', `REQACK rxmit ${rxmit}`);
  return ok({ sliceNo, sliceBytes, rxmit, readySet: bytes.subarray(OFF_READY_SET, OFF_READY_SET + READY_SET_BYTES) });
}
