// RETRANSMIT — receiver → sender portbase+1: the answer to a REQACK when blocks are missing.
//
// off size field
//   0    2 opcode    1
//   2    2 reserved  0 (ignored)
//   4    4 sliceNo   i32 >= 0
//   8    4 rxmit     i32, echoed from the REQACK (stock senders compare it without ntohl, so
//                    their late-answer filter is broken; a stale map only asks for more)
//  12  128 haveMap   bit i = data block i RECEIVED (not "missing"); FEC blocks held do not show

import { err, ok, type Result } from '../result.js';
import { BITMAP_BYTES, OP_RETRANSMIT, view } from './wire.js';

export const RETRANSMIT_SIZE = 12 + BITMAP_BYTES;
const OFF_SLICE_NO = 4;
const OFF_RXMIT = 8;
const OFF_HAVE_MAP = 12;

export interface UdpcastRetransmit {
  readonly sliceNo: number;
  readonly rxmit: number;
  /** BITMAP_BYTES bytes, a view into the datagram. */
  readonly haveMap: Uint8Array;
}

export function encodeRetransmit(msg: UdpcastRetransmit, buf: Uint8Array, off = 0): number {
  if (msg.haveMap.byteLength !== BITMAP_BYTES) throw new RangeError(`haveMap must be ${BITMAP_BYTES} bytes`);
  const b = buf.subarray(off, off + RETRANSMIT_SIZE);
  const v = view(b);
  v.setUint16(0, OP_RETRANSMIT, false);
  v.setUint16(2, 0, false);
  v.setInt32(OFF_SLICE_NO, msg.sliceNo, false);
  v.setInt32(OFF_RXMIT, msg.rxmit, false);
  b.set(msg.haveMap, OFF_HAVE_MAP);
  return RETRANSMIT_SIZE;
}

export function decodeRetransmit(bytes: Uint8Array): Result<UdpcastRetransmit> {
  if (bytes.byteLength < RETRANSMIT_SIZE) return err('ERR_TRUNCATED', 'RETRANSMIT');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_RETRANSMIT) return err('ERR_BAD_TYPE', 'RETRANSMIT');
  if (bytes.byteLength !== RETRANSMIT_SIZE) return err('ERR_BAD_LENGTH', 'RETRANSMIT');
  const sliceNo = v.getInt32(OFF_SLICE_NO, false);
  if (sliceNo < 0) return err('ERR_BAD_FIELD', `RETRANSMIT sliceNo ${sliceNo}`);
  return ok({ sliceNo, rxmit: v.getInt32(OFF_RXMIT, false), haveMap: bytes.subarray(OFF_HAVE_MAP, OFF_HAVE_MAP + BITMAP_BYTES) });
}
