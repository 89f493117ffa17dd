// OK — receiver → sender portbase+1: every block of this slice is held (data plus useful FEC
// blocks reach the slice's block count), or the slice is older than the receiver's ring.
//
// off size field
//   0    2 opcode    0
//   2    2 reserved  0 (ignored)
//   4    4 sliceNo   i32 >= 0

import { err, ok, type Result } from '../result.js';
import { OP_OK, view } from './wire.js';

export const OK_SIZE = 8;
const OFF_SLICE_NO = 4;

export interface UdpcastOk {
  readonly sliceNo: number;
}

export function encodeOk(msg: UdpcastOk, buf: Uint8Array, off = 0): number {
  const v = view(buf.subarray(off, off + OK_SIZE));
  v.setUint16(0, OP_OK, false);
  v.setUint16(2, 0, false);
  v.setInt32(OFF_SLICE_NO, msg.sliceNo, false);
  return OK_SIZE;
}

export function decodeOk(bytes: Uint8Array): Result<UdpcastOk> {
  if (bytes.byteLength < OK_SIZE) return err('ERR_TRUNCATED', 'OK');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_OK) return err('ERR_BAD_TYPE', 'OK');
  if (bytes.byteLength !== OK_SIZE) return err('ERR_BAD_LENGTH', 'OK');
  const sliceNo = v.getInt32(OFF_SLICE_NO, false);
  if (sliceNo < 0) return err('ERR_BAD_FIELD', `OK sliceNo ${sliceNo}`);
  return ok({ sliceNo });
}
