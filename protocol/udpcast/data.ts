// DATA — sender → data address:portbase (group, or a receiver's own address point-to-point).
// One block of one slice. Slices are numbered 0, 1, 2, … without gaps; every slice but the
// last non-empty one is a whole number of blocks (the receiver's ring aborts on "Bad base"
// otherwise).
//
// off size field
//   0    2 opcode      8
//   2    2 reserved    0 (ignored)
//   4    4 sliceNo     i32 >= 0
//   8    2 blockNo     u16 < 1024 (no receiver range-checks its 128-byte bitmap)
//  10    2 reserved2   0 (ignored)
//  12    4 sliceBytes  i32 > 0: the WHOLE slice's byte count, the same in DATA, FEC and REQACK
//  16    n payload     n = min(blockBytes, sliceBytes - blockNo * blockBytes): the last block is short
//
// The header is encoded on its own (encodeDataHeader) so a sender can send [header, payload]
// without copying the payload.

import { err, ok, type Result } from '../result.js';
import { MAX_SLICE_BLOCKS, OP_DATA, view } from './wire.js';

export const DATA_HEADER_SIZE = 16;
const OFF_SLICE_NO = 4;
const OFF_BLOCK_NO = 8;
const OFF_SLICE_BYTES = 12;

export interface UdpcastDataHeader {
  readonly sliceNo: number;
  readonly blockNo: number;
  readonly sliceBytes: number;
}

export interface UdpcastData extends UdpcastDataHeader {
  /** A view into the datagram. */
  readonly payload: Uint8Array;
}

export function encodeDataHeader(msg: UdpcastDataHeader, buf: Uint8Array, off = 0): number {
  const v = view(buf.subarray(off, off + DATA_HEADER_SIZE));
  v.setUint16(0, OP_DATA, false);
  v.setUint16(2, 0, false);
  v.setInt32(OFF_SLICE_NO, msg.sliceNo, false);
  v.setUint16(OFF_BLOCK_NO, msg.blockNo, false);
  v.setUint16(10, 0, false);
  v.setInt32(OFF_SLICE_BYTES, msg.sliceBytes, false);
  return DATA_HEADER_SIZE;
}

export function dataLength(msg: UdpcastData): number {
  return DATA_HEADER_SIZE + msg.payload.byteLength;
}

export function encodeData(msg: UdpcastData, buf: Uint8Array, off = 0): number {
  encodeDataHeader(msg, buf, off);
  buf.set(msg.payload, off + DATA_HEADER_SIZE);
  return dataLength(msg);
}

/** Payload bytes of block blockNo of a slice of sliceBytes (0 if the block is past its end). */
export function dataPayloadBytes(blockBytes: number, sliceBytes: number, blockNo: number): number {
  return Math.max(0, Math.min(blockBytes, sliceBytes - blockNo * blockBytes));
}

/** blockBytes: the session's, from CONNECT_REPLY; it fixes each block's payload length. */
export function decodeData(bytes: Uint8Array, blockBytes: number): Result<UdpcastData> {
  if (bytes.byteLength <= DATA_HEADER_SIZE) return err('ERR_TRUNCATED', 'DATA');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_DATA) return err('ERR_BAD_TYPE', 'DATA');
  const sliceNo = v.getInt32(OFF_SLICE_NO, false);
  const blockNo = v.getUint16(OFF_BLOCK_NO, false);
  const sliceBytes = v.getInt32(OFF_SLICE_BYTES, false);
  const payload = bytes.subarray(DATA_HEADER_SIZE);
  if (sliceNo < 0) return err('ERR_BAD_FIELD', `DATA sliceNo ${sliceNo}`);
  if (blockNo >= MAX_SLICE_BLOCKS) return err('ERR_BAD_FIELD', `DATA blockNo ${blockNo}`);
  if (sliceBytes <= 0 || sliceBytes > MAX_SLICE_BLOCKS * blockBytes) return err('ERR_BAD_FIELD', `DATA sliceBytes ${sliceBytes}`);
  const want = dataPayloadBytes(blockBytes, sliceBytes, blockNo);
  if (want === 0) return err('ERR_BAD_FIELD', `DATA block ${blockNo} past the slice's ${sliceBytes} bytes`);
  if (payload.byteLength < want) return err('ERR_TRUNCATED', 'DATA payload');
  if (payload.byteLength > want) return err('ERR_BAD_LENGTH', 'DATA payload');
  return ok({ sliceNo, blockNo, sliceBytes, payload });
}
