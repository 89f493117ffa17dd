// FEC — sender → data address:portbase. One parity block of one stripe of one slice
// (fec-code.ts computes it). The receiver takes the slice's stripe count from its first FEC
// datagram and ignores FEC datagrams of that slice with another count ("Interleave
// mismatch"); FEC is switched on in a stock receiver by the first one it sees, nothing is
// negotiated.
//
// off size field
//   0    2 opcode      9
//   2    2 stripes     u16 1..256, in place of DATA's reserved field
//   4    4 sliceNo     i32 >= 0
//   8    2 fecBlockNo  u16: stripe = fecBlockNo % stripes, row = fecBlockNo / stripes (< 128)
//  10    2 reserved2   0 (ignored)
//  12    4 sliceBytes  i32 > 0, the slice's byte count as in DATA
//  16    B parity      always a full block (the last data block is zero-padded for coding)

import { err, ok, type Result } from '../result.js';
import { MAX_FEC_ROWS, MAX_FEC_STRIPES, OP_FEC, view } from './wire.js';

export const FEC_HEADER_SIZE = 16;
const OFF_STRIPES = 2;
const OFF_SLICE_NO = 4;
const OFF_FEC_BLOCK_NO = 8;
const OFF_SLICE_BYTES = 12;

export interface UdpcastFecHeader {
  readonly stripes: number;
  readonly sliceNo: number;
  readonly fecBlockNo: number;
  readonly sliceBytes: number;
}

export interface UdpcastFecBlock extends UdpcastFecHeader {
  readonly parity: Uint8Array;
}

/** udpcast's numbering: row r of stripe s is FEC block r * stripes + s. */
export function fecBlockNo(stripes: number, stripe: number, row: number): number {
  return row * stripes + stripe;
}

export function encodeFecHeader(msg: UdpcastFecHeader, buf: Uint8Array, off = 0): number {
  const v = view(buf.subarray(off, off + FEC_HEADER_SIZE));
  v.setUint16(0, OP_FEC, false);
  v.setUint16(OFF_STRIPES, msg.stripes, false);
  v.setInt32(OFF_SLICE_NO, msg.sliceNo, false);
  v.setUint16(OFF_FEC_BLOCK_NO, msg.fecBlockNo, false);
  v.setUint16(10, 0, false);
  v.setInt32(OFF_SLICE_BYTES, msg.sliceBytes, false);
  return FEC_HEADER_SIZE;
}

export function fecBlockLength(msg: UdpcastFecBlock): number {
  return FEC_HEADER_SIZE + msg.parity.byteLength;
}

export function encodeFecBlock(msg: UdpcastFecBlock, buf: Uint8Array, off = 0): number {
  encodeFecHeader(msg, buf, off);
  buf.set(msg.parity, off + FEC_HEADER_SIZE);
  return fecBlockLength(msg);
}

/** blockBytes: the session's, from CONNECT_REPLY; parity is always a full block. */
export function decodeFecBlock(bytes: Uint8Array, blockBytes: number): Result<UdpcastFecBlock> {
  if (bytes.byteLength <= FEC_HEADER_SIZE) return err('ERR_TRUNCATED', 'FEC');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_FEC) return err('ERR_BAD_TYPE', 'FEC');
  const stripes = v.getUint16(OFF_STRIPES, false);
  const sliceNo = v.getInt32(OFF_SLICE_NO, false);
  const fecBlockNo = v.getUint16(OFF_FEC_BLOCK_NO, false);
  const sliceBytes = v.getInt32(OFF_SLICE_BYTES, false);
  if (stripes < 1 || stripes > MAX_FEC_STRIPES) return err('ERR_BAD_FIELD', `FEC stripes ${stripes}`);
  if (sliceNo < 0) return err('ERR_BAD_FIELD', `FEC sliceNo ${sliceNo}`);
  if (fecBlockNo >= stripes * MAX_FEC_ROWS) return err('ERR_BAD_FIELD', `FEC block ${fecBlockNo} (row >= ${MAX_FEC_ROWS})`);
  if (sliceBytes <= 0) return err('ERR_BAD_FIELD', `FEC sliceBytes ${sliceBytes}`);
  if (bytes.byteLength < FEC_HEADER_SIZE + blockBytes) return err('ERR_TRUNCATED', 'FEC parity');
  if (bytes.byteLength > FEC_HEADER_SIZE + blockBytes) return err('ERR_BAD_LENGTH', 'FEC parity');
  return ok({ stripes, sliceNo, fecBlockNo, sliceBytes, parity: bytes.subarray(FEC_HEADER_SIZE) });
}
